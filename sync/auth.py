"""Authentication: every route but the probes (``/health``, ``/ready``) and the API's
documentation needs a credential.

Programs present an API token scoped to one account (``Authorization: Bearer sn_...``); the
request then carries that account, the token as actor and its role, and acts for nobody else.
FreeSWITCH's own posts (under ``/freeswitch/``) use basic credentials from the settings and must
come from an allowed address. Prometheus presents the settings' metrics token on ``/metrics``,
which is refused without one."""

from __future__ import annotations

import base64
import hmac
import ipaddress

from aiohttp import web

from smartnumbers.accounts import token_holder
from smartnumbers.audit import Actor
from smartnumbers.models import ActorKind
from smartnumbers.settings import Settings
from sync.keys import ACCOUNT_ID, ACTOR, ROLE, SESSIONS, SETTINGS
from sync.openapi import is_public
from sync.problems import SWITCH_PREFIX

PROBE_PATHS = frozenset({"/health", "/ready"})
METRICS_PATH = "/metrics"
SWITCH_ACTOR = Actor(ActorKind.SYSTEM, "switch")


def switch_address_allowed(settings: Settings, host: str) -> bool:
    """A switch's post may come from this address (the settings' allow-list)."""
    try:
        peer = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return any(peer in network for network in settings.switch_networks)


def switch_credentials_valid(settings: Settings, authorization: str) -> bool:
    """An ``Authorization`` header carries the switches' basic credentials of the settings."""
    if settings.switch_http_password is None:
        return False
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user.encode(), settings.switch_http_user.encode()) & hmac.compare_digest(
        password.encode(), settings.switch_http_password.get_secret_value().encode())


def _switch_allowed(request: web.Request) -> bool:
    settings = request.app[SETTINGS]
    return switch_address_allowed(settings, request.remote or "") and switch_credentials_valid(
        settings, request.headers.get("Authorization", ""))


def _metrics_allowed(request: web.Request) -> bool:
    """The scraper presents the settings' metrics token (``Authorization: Bearer ...``)."""
    token = request.app[SETTINGS].metrics_token
    if token is None:
        raise web.HTTPForbidden(text="metrics are off: set SMARTNUMBERS_METRICS_TOKEN")
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(secret.strip().encode(), token.get_secret_value().encode())


def _unauthorized(reason: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text=reason, headers={"WWW-Authenticate": 'Bearer realm="smartnumbers"'})


@web.middleware
async def require_token(request: web.Request, handler):
    if request.path in PROBE_PATHS or is_public(request.path):
        return await handler(request)
    if request.path.startswith(SWITCH_PREFIX):
        if not _switch_allowed(request):
            raise web.HTTPUnauthorized(text="switch credentials or address refused",
                                       headers={"WWW-Authenticate": 'Basic realm="freeswitch"'})
        request[ACTOR] = SWITCH_ACTOR
        return await handler(request)
    if request.path == METRICS_PATH:
        if not _metrics_allowed(request):
            raise _unauthorized("missing or wrong metrics token")
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise _unauthorized("missing bearer token")
    async with request.app[SESSIONS]() as session:
        holder = await session.run_sync(lambda s: token_holder(s, secret.strip()))
    if holder is None:
        raise _unauthorized("invalid or revoked token")
    request[ACCOUNT_ID], request[ACTOR], request[ROLE] = holder.account_id, holder.actor, holder.role
    return await handler(request)
