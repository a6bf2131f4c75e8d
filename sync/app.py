"""The aiohttp application of the serve process: API, (later) portal and switch endpoints."""

from __future__ import annotations

from aiohttp import web

from smartnumbers.db import async_session_factory, make_async_engine
from smartnumbers.settings import Settings
from sync import dashboard, health, json_cdr, live, metrics, statements, xml_curl
from sync.accounts import api as accounts_api
from sync.auth import require_token
from sync.blacklist import api as blacklist_api
from sync.keys import ENGINE, SESSIONS, SETTINGS
from sync.metrics import METRICS, Metrics
from sync.numbers import api as numbers_api
from sync.openapi import OPERATIONS, documentation_routes
from sync.problems import problem_documents
from sync.routing import api as routing_api
from sync.tariffs import api as tariffs_api
from sync.tokens import api as tokens_api

API_ROUTES = (accounts_api.routes, numbers_api.routes, routing_api.routes, blacklist_api.routes, live.routes,
              dashboard.routes, statements.routes, tokens_api.routes, tariffs_api.routes)


async def _database(app: web.Application):
    engine = make_async_engine(app[SETTINGS].database_url)
    app[ENGINE], app[SESSIONS] = engine, async_session_factory(engine)
    yield
    await engine.dispose()


def build_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[problem_documents, require_token], client_max_size=1024**2)
    app[SETTINGS] = settings
    app[METRICS] = Metrics(app)
    app.cleanup_ctx.append(_database)
    app.add_routes(health.routes)
    app.add_routes(metrics.routes)
    app[OPERATIONS] = tuple(op for routes in API_ROUTES for op in routes.operations)
    for routes in API_ROUTES:
        app.add_routes(routes.route_defs())
    app.add_routes(documentation_routes())
    app.add_routes(json_cdr.routes)
    app.cleanup_ctx.append(json_cdr.sweeper)
    app.cleanup_ctx.append(xml_curl.dialplans)
    return app
