"""Authentication: every route but the health check needs a credential.

Programs present an API token scoped to one account (``Authorization: Bearer sn_...``); the
request then carries that account and acts for nobody else."""

from __future__ import annotations

from aiohttp import web

from smartnumbers.accounts import token_account_id
from sync.keys import ACCOUNT_ID, ACTOR, SESSIONS

PUBLIC_PATHS = frozenset({"/health"})


def _unauthorized(reason: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=f'{{"error": "{reason}"}}', content_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="smartnumbers"'},
    )


@web.middleware
async def require_token(request: web.Request, handler):
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise _unauthorized("missing bearer token")
    async with request.app[SESSIONS]() as session:
        found = await session.run_sync(lambda s: token_account_id(s, secret.strip()))
    if found is None:
        raise _unauthorized("invalid or revoked token")
    request[ACCOUNT_ID], request[ACTOR] = found[0], f"token:{found[1]}"
    return await handler(request)
