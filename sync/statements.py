"""An account's monthly statement over the API, as JSON or PDF. An issued statement's PDF is
the one stored when it was issued, byte for byte; a draft's is rendered in an executor:
WeasyPrint takes a CPU for a while and the event loop must keep serving."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from rating import statements
from rating.statement_pdf import render
from smartnumbers.errors import InputError
from smartnumbers.models import Account
from smartnumbers.money import json_default
from sync.keys import ACCOUNT_ID, SESSIONS, SETTINGS

routes = web.RouteTableDef()


async def _build(request: web.Request, *, pdf: bool = False) -> tuple[statements.BuiltStatement, bytes | None]:
    """The statement and, when asked for and issued, its stored PDF."""
    account_id, month, settings = request[ACCOUNT_ID], request.match_info["month"], request.app[SETTINGS]

    def build(session) -> tuple[statements.BuiltStatement, bytes | None]:
        built = statements.build_statement(session, session.get(Account, account_id).name, month, settings)
        return built, statements.issued_pdf(session, built) if pdf else None

    async with request.app[SESSIONS]() as session:
        try:
            return await session.run_sync(build)
        except InputError as exc:
            raise web.HTTPBadRequest(text=json.dumps({"error": str(exc)}), content_type="application/json") from None


@routes.get("/api/v1/statements/{month}")
async def show_statement(request: web.Request) -> web.Response:
    built, _ = await _build(request)
    return web.json_response(statements.statement_dict(built), dumps=lambda value: json.dumps(value, default=json_default))


@routes.get("/api/v1/statements/{month}/pdf")
async def statement_pdf(request: web.Request) -> web.Response:
    built, pdf = await _build(request, pdf=True)
    if pdf is None:
        pdf = await asyncio.get_running_loop().run_in_executor(None, render, built)
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="statement-{built.period}.pdf"'})
