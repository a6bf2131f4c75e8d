"""The JSON API, read side: an account's numbers, their tariffs and their plans.

Handlers are thin: they run the domain's functions on a session and shape JSON. A number the
account may not see answers 404, exactly like one that does not exist."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from smartnumbers import accounts, numbers, routing, tariffs
from smartnumbers.errors import InputError
from smartnumbers.models import Account, SmartNumber
from sync.keys import ACCOUNT_ID, SESSIONS

routes = web.RouteTableDef()


def json_error(error_class: type[web.HTTPException], message: str) -> web.HTTPException:
    return error_class(text=json.dumps({"error": message}), content_type="application/json")


def _number_detail(number: SmartNumber) -> dict[str, Any]:
    detail = numbers.snapshot(number)
    detail["tariffs"] = [tariffs.version_snapshot(t.versions[-1]) for t in number.tariffs if t.versions]
    detail["plan"] = routing.plan_document(routing.spec_of(number.plan)) if number.plan else None
    return detail


def _visible(session: Session, account_id: int, text_number: str) -> SmartNumber:
    account = session.get(Account, account_id)
    try:
        wanted = numbers.parse_smart_number(text_number)
    except InputError as exc:
        raise json_error(web.HTTPBadRequest, str(exc)) from None
    for number in accounts.visible_numbers(session, account):
        if number.e164 == wanted:
            return number
    raise json_error(web.HTTPNotFound, "no such number")


@routes.get("/api/v1/numbers")
async def list_numbers(request: web.Request) -> web.Response:
    account_id = request[ACCOUNT_ID]

    def load(session: Session) -> list[dict[str, Any]]:
        return [_number_detail(n) for n in accounts.visible_numbers(session, session.get(Account, account_id))]

    async with request.app[SESSIONS]() as session:
        return web.json_response({"numbers": await session.run_sync(load)})


@routes.get("/api/v1/numbers/{number}")
async def show_number(request: web.Request) -> web.Response:
    account_id, wanted = request[ACCOUNT_ID], request.match_info["number"]
    async with request.app[SESSIONS]() as session:
        detail = await session.run_sync(lambda s: _number_detail(_visible(s, account_id, wanted)))
    return web.json_response(detail)


@routes.get("/api/v1/numbers/{number}/plan")
async def show_plan(request: web.Request) -> web.Response:
    account_id, wanted = request[ACCOUNT_ID], request.match_info["number"]

    def load(session: Session) -> dict[str, Any]:
        number = _visible(session, account_id, wanted)
        if number.plan is None:
            raise json_error(web.HTTPNotFound, "no plan yet")
        return {"number": number.e164, **routing.plan_document(routing.spec_of(number.plan))}

    async with request.app[SESSIONS]() as session:
        return web.json_response(await session.run_sync(load))
