"""The account's numbers: list and show (each with its current tariffs and plan)."""

from __future__ import annotations

from aiohttp import web

from smartnumbers import accounts
from smartnumbers.models import Account
from sync.keys import ACCOUNT_ID
from sync.numbers.models import NumberList, NumberOut
from sync.openapi import EVERYONE, ApiRoutes
from sync.wire import reading, reply

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
