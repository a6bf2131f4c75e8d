"""Routing over the API: a number's plan document, read and replaced whole; changes of a slot's
destinations now or at a date and time, listed and cancelled.

The plan's ETag is its version (``routing.plan_version``); a ``PUT`` with ``If-Match`` replaces
only the plan that was read, so two people editing the same plan cannot overwrite each other
(412). A stored plan reaches the switches as ``route set``'s does: the serve process publishes
every audited change within a second."""

from __future__ import annotations

from aiohttp import web

from smartnumbers import accounts, routing
from smartnumbers.models import Account, ChangeKind
from sync.keys import ACCOUNT_ID, ACTOR
from sync.openapi import EVERYONE, ROUTING, ApiRoutes
from sync.routing.models import ChangeIn, ChangeList, ChangeOut, PlanDocument
from sync.wire import creating, if_match, parsed, reading, reply, writing

routes = ApiRoutes()


def _plan_reply(spec: routing.PlanSpec) -> web.Response:
    return reply(PlanDocument.of(spec), headers={"ETag": f'"{routing.plan_version(spec)}"'})


@routes.get("/api/v1/numbers/{number}/plan", roles=EVERYONE, response=PlanDocument, headers_out=("ETag",))
async def show_plan(request: web.Request) -> web.Response:
    """A number's plan document
    The document ``smartnumbers route show --json`` prints and ``route set --file`` reads; its
    ETag is the version to send back in ``If-Match`` when replacing it."""
    account_id, text = request[ACCOUNT_ID], request.match_info["number"]
    return _plan_reply(await reading(request, lambda s: routing.current_plan(
        accounts.visible_number(s, account_id, text))))


@routes.put("/api/v1/numbers/{number}/plan", roles=ROUTING, body=PlanDocument, response=PlanDocument,
            errors=(412, 422), headers_in=("If-Match",), headers_out=("ETag",))
async def replace_plan(request: web.Request) -> web.Response:
    """Replace a number's plan
    The whole plan document, checked as ``route set`` checks it (the fraud rule, overlaps, ...): a
    refusal names the slot and destination at fault (``errors[].pointer``). With ``If-Match``
    (the ETag read), a plan changed by someone else in between is not overwritten (412)."""
    body = await parsed(request, PlanDocument)
    account_id, actor, text = request[ACCOUNT_ID], request[ACTOR], request.match_info["number"]
    expected = if_match(request)
    return _plan_reply(await writing(request, lambda s: routing.replace_plan(
        s, actor, accounts.visible_number(s, account_id, text), body.document(), expected_version=expected)))


@routes.post("/api/v1/numbers/{number}/changes", roles=ROUTING, body=ChangeIn, response=ChangeOut, status=201,
             errors=(422,), headers_in=("Idempotency-Key",))
async def change_destinations(request: web.Request) -> web.Response:
    """Change a slot's destinations, now or at a date and time
    Checked at once as a plan is (the fraud rule; a suspended number or a moment past is refused)
    and, when dated, again when it is made. ``apply_at`` says when it takes effect. The same
    ``Idempotency-Key`` again gets the same answer and makes no second change."""
    body = await parsed(request, ChangeIn)
    account_id, actor, text = request[ACCOUNT_ID], request[ACTOR], request.match_info["number"]
    return await creating(request, lambda s: ChangeOut.of(routing.schedule_change(
        s, actor, accounts.visible_number(s, account_id, text), ChangeKind.DESTINATIONS, body.payload(), at=body.at)))


@routes.get("/api/v1/numbers/{number}/changes", roles=EVERYONE, response=ChangeList)
async def list_changes(request: web.Request) -> web.Response:
    """A number's changes, pending and past, by their moment"""
    account_id, text = request[ACCOUNT_ID], request.match_info["number"]
    changes = await reading(request, lambda s: routing.scheduled_changes(
        s, [accounts.visible_number(s, account_id, text)]))
    return reply(ChangeList(changes=[ChangeOut.of(c) for c in changes]))


@routes.post("/api/v1/changes/{change_id}/cancel", roles=ROUTING, response=ChangeOut, errors=(422,))
async def cancel_change(request: web.Request) -> web.Response:
    """Cancel a pending change
    Only a pending change can be cancelled; one made or cancelled already is refused (422)."""
    account_id, actor, change_id = request[ACCOUNT_ID], request[ACTOR], int(request.match_info["change_id"])
    return reply(ChangeOut.of(await writing(request, lambda s: routing.cancel_change(
        s, actor, change_id, accounts.visible_numbers(s, s.get(Account, account_id))))))
