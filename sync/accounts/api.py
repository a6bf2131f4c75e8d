"""The token's account and its sub-accounts: show, create, rename, close. An account sees and
changes its own tree only; any other account answers 404 like one that does not exist."""

from __future__ import annotations

from aiohttp import web

from smartnumbers import accounts
from smartnumbers.models import Account, Role
from sync.accounts.models import AccountIn, AccountOut
from sync.keys import ACCOUNT_ID, ACTOR
from sync.openapi import EVERYONE, ApiRoutes
from sync.wire import creating, parsed, reading, reply, writing

routes = ApiRoutes()
ADMINS = frozenset({Role.OPERATOR, Role.ADMIN})


@routes.get("/api/v1/account", roles=EVERYONE, response=AccountOut)
async def show_account(request: web.Request) -> web.Response:
    """The token's account, with its sub-accounts"""
    account_id = request[ACCOUNT_ID]
    return reply(await reading(request, lambda s: AccountOut.of(s.get(Account, account_id))))


@routes.get("/api/v1/accounts/{account_id}", roles=EVERYONE, response=AccountOut)
async def show_sub_account(request: web.Request) -> web.Response:
    """An account of the token's tree"""
    account_id, wanted = request[ACCOUNT_ID], int(request.match_info["account_id"])
    return reply(await reading(request, lambda s: AccountOut.of(accounts.account_below(s, account_id, wanted))))


@routes.post("/api/v1/accounts", roles=ADMINS, body=AccountIn, response=AccountOut, status=201, errors=(422,),
             headers_in=("Idempotency-Key",))
async def create_sub_account(request: web.Request) -> web.Response:
    """Create a sub-account (a branch, a department) below the token's account"""
    body = await parsed(request, AccountIn)
    account_id, actor = request[ACCOUNT_ID], request[ACTOR]
    return await creating(request, lambda s: AccountOut.of(accounts.add_sub_account(s, actor, account_id, body.name)))


@routes.patch("/api/v1/accounts/{account_id}", roles=ADMINS, body=AccountIn, response=AccountOut, errors=(422,))
async def rename_account(request: web.Request) -> web.Response:
    """Rename the account or one of its sub-accounts"""
    body = await parsed(request, AccountIn)
    account_id, actor, wanted = request[ACCOUNT_ID], request[ACTOR], int(request.match_info["account_id"])
    return reply(await writing(request, lambda s: AccountOut.of(accounts.rename_account(
        s, actor, accounts.account_below(s, account_id, wanted), body.name))))


@routes.post("/api/v1/accounts/{account_id}/close", roles=ADMINS, response=AccountOut, errors=(422,))
async def close_sub_account(request: web.Request) -> web.Response:
    """Close a sub-account
    One that owns no number and has no open sub-account; it keeps its history, its tokens stop
    working at once. The token's own account is not closed here (404)."""
    account_id, actor, wanted = request[ACCOUNT_ID], request[ACTOR], int(request.match_info["account_id"])
    return reply(await writing(request, lambda s: AccountOut.of(accounts.close_account(
        s, actor, accounts.account_below(s, account_id, wanted, itself=False)))))
