"""The aiohttp application of the serve process: API, (later) portal and switch endpoints."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from smartnumbers.db import async_session_factory, make_async_engine
from smartnumbers.settings import Settings
from sync import dashboard, json_cdr, live, statements, xml_curl
from sync.accounts import api as accounts_api
from sync.auth import HEALTH_PATH, require_token
from sync.blacklist import api as blacklist_api
from sync.keys import ENGINE, SESSIONS, SETTINGS
from sync.numbers import api as numbers_api
from sync.openapi import OPERATIONS, documentation_routes
from sync.problems import problem_documents
from sync.routing import api as routing_api
from sync.tariffs import api as tariffs_api
from sync.tokens import api as tokens_api

API_ROUTES = (accounts_api.routes, numbers_api.routes, routing_api.routes, blacklist_api.routes, live.routes, dashboard.routes,
              statements.routes, tokens_api.routes, tariffs_api.routes)


async def _database(app: web.Application):
    engine = make_async_engine(app[SETTINGS].database_url)
    app[ENGINE], app[SESSIONS] = engine, async_session_factory(engine)
    yield
    await engine.dispose()


async def health(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        await session.execute(text("SELECT 1"))
    return web.json_response({"status": "ok"})


def build_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[problem_documents, require_token], client_max_size=1024**2)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database)
    app.router.add_get(HEALTH_PATH, health)
    app[OPERATIONS] = tuple(op for routes in API_ROUTES for op in routes.operations)
    for routes in API_ROUTES:
        app.add_routes(routes.route_defs())
    app.add_routes(documentation_routes())
    app.add_routes(json_cdr.routes)
    app.cleanup_ctx.append(json_cdr.sweeper)
    app.cleanup_ctx.append(xml_curl.dialplans)
    return app
