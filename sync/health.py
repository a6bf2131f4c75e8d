"""Probes for an orchestrator or a load balancer, without credentials: ``/health`` says the
process answers (restart it when it does not); ``/ready`` says it can do its work (send it
requests when it can): the database answers. A node that is down does not make the process
unready (the API, the portal and the other nodes go on); ``/ready`` lists every node's link."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import text

from sync.keys import SESSIONS
from sync.live import NODES

routes = web.RouteTableDef()
DATABASE_TIMEOUT_S = 2.0


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_S), request.app[SESSIONS]() as session:
            await session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is shown
        database = f"unreachable: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__}"
    nodes = request.app.get(NODES)
    document = {
        "database": database,
        "nodes": {status.name: status.state for status in nodes.snapshot()} if nodes is not None else {},
    }
    return web.json_response(document, status=200 if database == "ok" else 503)
