"""The account's numbers: list and show (each with its current tariffs and plan), and change
what the owner may change of one."""

from __future__ import annotations

from aiohttp import web

from smartnumbers import accounts, numbers
from smartnumbers.models import Account
from sync.keys import ACCOUNT_ID, ACTOR, ROLE
from sync.numbers.models import NumberChangeIn, NumberList, NumberOut
from sync.openapi import CHANGING, EVERYONE, ApiRoutes
from sync.wire import parsed, reading, reply, writing

routes = ApiRoutes()


@routes.get("/api/v1/numbers", roles=EVERYONE, response=NumberList)
async def list_numbers(request: web.Request) -> web.Response:
    """The account's numbers
    Its own, its sub-accounts' and those granted to it, with their current tariffs and plans."""
    account_id = request[ACCOUNT_ID]
    return reply(await reading(request, lambda s: NumberList(numbers=[
        NumberOut.of(n) for n in accounts.visible_numbers(s, s.get(Account, account_id))])))


@routes.get("/api/v1/numbers/{number}", roles=EVERYONE, response=NumberOut)
async def show_number(request: web.Request) -> web.Response:
    """One number"""
    account_id, text = request[ACCOUNT_ID], request.match_info["number"]
    return reply(await reading(request, lambda s: NumberOut.of(accounts.visible_number(s, account_id, text))))


@routes.patch("/api/v1/numbers/{number}", roles=CHANGING, body=NumberChangeIn, response=NumberOut, errors=(422,))
async def change_number(request: web.Request) -> web.Response:
    """Change a number's options
    Only the options given change. A role changes its part only (routing: caller-ID; billing:
    payout option; admin: all): an option outside it refuses the whole change (403)."""
    body = await parsed(request, NumberChangeIn)
    account_id, actor, role, text = request[ACCOUNT_ID], request[ACTOR], request[ROLE], request.match_info["number"]
    return reply(await writing(request, lambda s: NumberOut.of(numbers.change_options(
        s, actor, role, accounts.visible_number(s, account_id, text), body.changes()))))
