"""The portal's dashboard over the API: the token's account's revenue, forecast, traffic and
top callers (``rating.aggregates``); amounts as decimal strings, never floats."""

from __future__ import annotations

import datetime as dt
import json

from aiohttp import web

from rating import aggregates
from smartnumbers.money import json_default
from sync.keys import ACCOUNT_ID, SESSIONS, SETTINGS

routes = web.RouteTableDef()


@routes.get("/api/v1/dashboard")
async def show_dashboard(request: web.Request) -> web.Response:
    account_id, zone = request[ACCOUNT_ID], request.app[SETTINGS].zone
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as session:
        board = await session.run_sync(lambda s: aggregates.dashboard(s, account_id, now, zone))
    return web.json_response(board, dumps=lambda value: json.dumps(value, default=json_default))
