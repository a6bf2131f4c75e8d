"""An account's monthly statement over the API, as JSON or PDF. An issued statement's PDF is
the one stored when it was issued, byte for byte; a draft's is rendered in an executor:
WeasyPrint takes a CPU for a while and the event loop must keep serving."""

from __future__ import annotations

import asyncio

from aiohttp import web

from rating import statements
from rating.statement_pdf import render
from smartnumbers.models import Account
from sync.billing.models import StatementOut
from sync.keys import ACCOUNT_ID, SETTINGS
from sync.openapi import BILLING_READ, ApiRoutes
from sync.wire import reading, reply

routes = ApiRoutes()


async def _build(request: web.Request, *, pdf: bool = False) -> tuple[statements.BuiltStatement, bytes | None]:
    """The statement and, when asked for and issued, its stored PDF."""
    account_id, month, settings = request[ACCOUNT_ID], request.match_info["month"], request.app[SETTINGS]

    def build(session) -> tuple[statements.BuiltStatement, bytes | None]:
        built = statements.build_statement(session, session.get(Account, account_id).name, month, settings)
        return built, statements.issued_pdf(session, built) if pdf else None

    return await reading(request, build)


@routes.get("/api/v1/statements/{month}", roles=BILLING_READ, response=StatementOut)
async def show_statement(request: web.Request) -> web.Response:
    """The statement of a month"""
    built, _ = await _build(request)
    return reply(StatementOut.of(built))


@routes.get("/api/v1/statements/{month}/pdf", roles=BILLING_READ, response=None, media_type="application/pdf")
async def statement_pdf(request: web.Request) -> web.Response:
    """The statement of a month as PDF: an issued one as it was issued"""
    built, pdf = await _build(request, pdf=True)
    if pdf is None:
        pdf = await asyncio.get_running_loop().run_in_executor(None, render, built)
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="statement-{built.period}.pdf"'})
