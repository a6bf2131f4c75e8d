"""The aiohttp application of the serve process: API, (later) portal and switch endpoints."""

from __future__ import annotations

from aiohttp import web

from smartnumbers.db import async_session_factory, make_async_engine
from smartnumbers.settings import Settings
from sync import api, dashboard, health, json_cdr, live, metrics, statements, xml_curl
from sync.auth import require_token
from sync.keys import ENGINE, SESSIONS, SETTINGS
from sync.metrics import METRICS, Metrics


async def _database(app: web.Application):
    engine = make_async_engine(app[SETTINGS].database_url)
    app[ENGINE], app[SESSIONS] = engine, async_session_factory(engine)
    yield
    await engine.dispose()


def build_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[require_token], client_max_size=1024**2)
    app[SETTINGS] = settings
    app[METRICS] = Metrics(app)
    app.cleanup_ctx.append(_database)
    app.add_routes(health.routes)
    app.add_routes(metrics.routes)
    app.add_routes(api.routes)
    app.add_routes(live.routes)
    app.add_routes(json_cdr.routes)
    app.add_routes(dashboard.routes)
    app.add_routes(statements.routes)
    app.cleanup_ctx.append(json_cdr.sweeper)
    app.cleanup_ctx.append(xml_curl.dialplans)
    return app
