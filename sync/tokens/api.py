"""The account's API tokens: list, create (the secret shown once), revoke. An account admin
manages them; an operator token only an operator may issue."""

from __future__ import annotations

from aiohttp import web

from smartnumbers import accounts
from smartnumbers.models import Role
from sync.keys import ACCOUNT_ID, ROLE
from sync.openapi import ApiRoutes
from sync.tokens.models import IssuedTokenOut, TokenIn, TokenList, TokenOut
from sync.wire import parsed, reading, reply, writing

routes = ApiRoutes()
ADMINS = frozenset({Role.OPERATOR, Role.ADMIN})


@routes.get("/api/v1/tokens", roles=ADMINS, response=TokenList)
async def list_tokens(request: web.Request) -> web.Response:
    """The account's API tokens, revoked ones included (never their secrets)"""
    account_id = request[ACCOUNT_ID]
    return reply(await reading(request, lambda s: TokenList(
        tokens=[TokenOut.of(t) for t in accounts.account_tokens(s, account_id)])))


@routes.post("/api/v1/tokens", roles=ADMINS, body=TokenIn, response=IssuedTokenOut, status=201, errors=(422,))
async def create_token(request: web.Request) -> web.Response:
    """Issue an API token for the account
    The answer holds the secret, shown this once. An operator token only an operator may issue.
    No ``Idempotency-Key`` here: keeping the answer would keep the secret."""
    body = await parsed(request, TokenIn)
    account_id, issuer = request[ACCOUNT_ID], request[ROLE]
    return reply(await writing(request, lambda s: IssuedTokenOut.issued(
        accounts.issue_token(s, issuer, account_id, body.name, body.role))), status=201)


@routes.post("/api/v1/tokens/{token_id}/revoke", roles=ADMINS, response=TokenOut)
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token at once"""
    account_id, token_id = request[ACCOUNT_ID], int(request.match_info["token_id"])
    return reply(await writing(request, lambda s: TokenOut.of(accounts.revoke_token(s, token_id, account_id))))
