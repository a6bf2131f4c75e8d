"""Routing over the API: a number's plan document (read; replaced whole, guarded by its ETag)."""

from __future__ import annotations

from aiohttp import web

from smartnumbers import accounts, routing
from smartnumbers.errors import NotFound
from sync.keys import ACCOUNT_ID
from sync.openapi import EVERYONE, ApiRoutes
from sync.routing.models import PlanDocument
from sync.wire import reading, reply

routes = ApiRoutes()


@routes.get("/api/v1/numbers/{number}/plan", roles=EVERYONE, response=PlanDocument)
async def show_plan(request: web.Request) -> web.Response:
    """A number's plan document
    The document ``smartnumbers route show --json`` prints and ``route set --file`` reads."""
    account_id, text = request[ACCOUNT_ID], request.match_info["number"]

    def load(session) -> PlanDocument:
        number = accounts.visible_number(session, account_id, text)
        if number.plan is None:
            raise NotFound(f"plan: {number.e164} has no plan yet")
        return PlanDocument.of(routing.spec_of(number.plan))

    return reply(await reading(request, load))
