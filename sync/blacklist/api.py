"""The account's blacklist over the API: entries in force, add, remove. The serve process
publishes every audited change to the switches within a second, as for the command line."""

from __future__ import annotations

from aiohttp import web

from smartnumbers import accounts, blacklist
from smartnumbers.models import Account
from sync.blacklist.models import BlacklistEntryOut, BlacklistIn, BlacklistList
from sync.keys import ACCOUNT_ID, ACTOR
from sync.openapi import EVERYONE, ROUTING, ApiRoutes
from sync.wire import creating, parsed, reading, reply, writing

routes = ApiRoutes()


@routes.get("/api/v1/blacklist", roles=EVERYONE, response=BlacklistList)
async def list_blacklist(request: web.Request) -> web.Response:
    """The account's blacklist entries in force"""
    account_id = request[ACCOUNT_ID]
    return reply(await reading(request, lambda s: BlacklistList(entries=[
        BlacklistEntryOut.of(e) for e in blacklist.entries_for(s, s.get(Account, account_id))])))


@routes.post("/api/v1/blacklist", roles=ROUTING, body=BlacklistIn, response=BlacklistEntryOut, status=201,
             errors=(404, 422), headers_in=("Idempotency-Key",))
async def add_to_blacklist(request: web.Request) -> web.Response:
    """Refuse a caller or a prefix
    For every number of the account, or for one of its own numbers (``number``); until an instant
    or for good. The same ``Idempotency-Key`` again gets the same answer and adds nothing."""
    body = await parsed(request, BlacklistIn)
    account_id, actor = request[ACCOUNT_ID], request[ACTOR]

    def add(session) -> BlacklistEntryOut:
        number = accounts.visible_number(session, account_id, body.number) if body.number else None
        entry = blacklist.add_entry(session, actor, session.get(Account, account_id), body.pattern, body.reason,
                                    number=number, until=body.until)
        return BlacklistEntryOut.of(entry)

    return await creating(request, add)


@routes.delete("/api/v1/blacklist/{entry_id}", roles=ROUTING, response=None, status=204)
async def remove_from_blacklist(request: web.Request) -> web.Response:
    """Remove a blacklist entry"""
    account_id, actor, entry_id = request[ACCOUNT_ID], request[ACTOR], int(request.match_info["entry_id"])
    await writing(request, lambda s: blacklist.remove_entry(s, actor, s.get(Account, account_id), entry_id))
    return web.Response(status=204)
