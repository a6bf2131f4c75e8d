"""Typed application keys: what the aiohttp application carries, instead of string keys."""

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from controller.dialplan.table import DialplanTable
from smartnumbers.audit import Actor
from smartnumbers.models import Role
from smartnumbers.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker)
# The dialplan table the fetches are answered from, while serve publishes dialplans.
DIALPLANS = web.AppKey("dialplans", DialplanTable)

# Set on each authenticated request by the authentication middleware.
ACCOUNT_ID = web.RequestKey("account_id", int)
ACTOR = web.RequestKey("actor", Actor)
ROLE = web.RequestKey("role", Role)
