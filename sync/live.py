"""The JSON API for live calls: an account's calls in progress, and a tariff switch by a
client (the same switch as an agent's code, answered by HTTP instead of a tone); and
``live_control``, which runs live call control in the serve process.

Tenants stay apart: a call is the account's when the account sees the call's smart number
(``accounts.visible_numbers``); any other call answers 404, exactly like one that does not
exist or has ended. The serve process puts its ``LiveControl`` under ``LIVE``; without it
(no switch configured) the routes answer 503."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from controller.freeswitch import agreement
from controller.freeswitch.call_control import FreeSwitchCallControl, follow
from controller.capture import committing_store
from controller.freeswitch.client import EventSocketClient
from controller.freeswitch.hangup_capture import HangupCapture
from controller.live.registry import LiveCall
from controller.live.service import LiveControl, Outcome, database_failures, database_tariffs
from controller.live.voice import PriceVoice
from controller.nodes import NodeRegistry, record_status
from smartnumbers import accounts
from smartnumbers.models import Account
from smartnumbers.money import decimal_text
from sync.api import json_error
from sync.keys import ACCOUNT_ID, SESSIONS, SETTINGS

LIVE = web.AppKey("live", LiveControl)
NODES = web.AppKey("nodes", NodeRegistry)
log = logging.getLogger(__name__)

routes = web.RouteTableDef()

_STATUS = {
    Outcome.SWITCHED: 200,
    Outcome.UNCHANGED: 200,
    Outcome.NO_SUCH_CALL: 404,
    Outcome.NO_SUCH_CODE: 422,
    Outcome.NOT_ANSWERED: 409,
    Outcome.ANNOUNCING: 409,
    Outcome.OVER_CAP: 409,
    Outcome.SWITCH_FAILED: 502,
}


STATUS_EVERY_S = 5.0


async def _record_node_status(app: web.Application, registry: NodeRegistry) -> None:
    """Write every node's state to the database every few seconds, for ``smartnumbers nodes``."""
    while True:
        statuses = registry.snapshot()
        try:
            async with app[SESSIONS]() as session:
                await session.run_sync(lambda s: record_status(s, statuses))
                await session.commit()
        except Exception:  # the status table is for people; the calls go on without it
            log.exception("recording the nodes' status failed")
        await asyncio.sleep(STATUS_EVERY_S)


async def live_control(app: web.Application):
    """A cleanup context of the serve process: the node registry (one Event Socket connection
    per configured node), each node's events feeding hangup capture first and then live call
    control (which schedules the caps and takes the agents' codes), and the nodes' status
    recorded for the NOC, with what each node's variables and the settings disagree on (one line
    logged for each, at start and after every reconnect). Without nodes there is nothing to
    control and the routes answer 503."""
    settings = app[SETTINGS]
    if not settings.freeswitch_nodes:
        yield
        return
    registry = NodeRegistry(settings.freeswitch_nodes,
                            lambda n: EventSocketClient(n.host, n.port, n.password, node=n.name))
    sounds = Path(settings.sounds_folder)
    live = LiveControl(controls={name: FreeSwitchCallControl(c) for name, c in registry.links.items()},
                       tariffs=database_tariffs(app[SESSIONS]), failures=database_failures(app[SESSIONS]),
                       voice=PriceVoice(sounds, settings.switch_sounds_folder or str(sounds.resolve())))
    app[LIVE], app[NODES] = live, registry
    with committing_store(settings.database_url, settings.payfast_fee_percent, settings.zone) as store:
        capture = HangupCapture(store)
        await registry.start()
        tasks = [asyncio.create_task(capture.run()), asyncio.create_task(_record_node_status(app, registry))]
        tasks += [asyncio.create_task(follow(client, live, capture)) for client in registry.links.values()]
        tasks += [asyncio.create_task(agreement.follow(client, settings, functools.partial(
            registry.disagreements.__setitem__, name))) for name, client in registry.links.items()]
        yield
        await registry.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await capture.drain()
    await live.settle()


def _live(request: web.Request) -> LiveControl:
    live = request.app.get(LIVE)
    if live is None:
        raise json_error(web.HTTPServiceUnavailable, "live call control is not running (no switch configured)")
    return live


async def _visible_numbers(request: web.Request) -> set[str]:
    account_id = request[ACCOUNT_ID]

    def load(session: Session) -> set[str]:
        return {n.e164 for n in accounts.visible_numbers(session, session.get(Account, account_id))}

    async with request.app[SESSIONS]() as session:
        return await session.run_sync(load)


def call_document(live: LiveControl, call: LiveCall) -> dict[str, Any]:
    charge = live.charge(call)
    return {
        "call_id": call.call_id,
        "number": call.number,
        "caller": None if call.caller.withheld else call.caller.e164,
        "caller_withheld": call.caller.withheld,
        "started_at": call.created_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "answered_by": call.agent,
        "failed_attempts": [{"destination": a.destination, "cause": a.cause} for a in call.failed_attempts],
        "tariff_code": call.code,
        "segments": [{"code": s.code, "start_s": s.start_s, "announcement_s": s.announcement_s}
                     for s in call.segments],
        "charge": decimal_text(charge) if charge is not None else None,
        "cost_cap_at": call.cap_at,
    }


def _mine(call: LiveCall | None, numbers: set[str], live: LiveControl) -> bool:
    if call is None:
        return False
    book = live.book(call.call_id)
    return (book.e164 if book is not None else call.number) in numbers


@routes.get("/api/v1/calls")
async def list_calls(request: web.Request) -> web.Response:
    live = _live(request)
    numbers = await _visible_numbers(request)
    calls = [call_document(live, c) for c in live.calls if _mine(c, numbers, live)]
    return web.json_response({"calls": calls})


@routes.post("/api/v1/calls/{call_id}/tariff")
async def switch_tariff(request: web.Request) -> web.Response:
    """Body ``{"code": 12}``: switch the call to tariff 12, announced to the caller first when
    its price is above CHF 2."""
    live = _live(request)
    call_id = request.match_info["call_id"]
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise json_error(web.HTTPBadRequest, "expected a JSON body like {\"code\": 12}") from None
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, int) or isinstance(code, bool) or not 1 <= code <= 90:
        raise json_error(web.HTTPBadRequest, "code: a whole number from 1 to 90")
    if not _mine(live.calls.get(call_id), await _visible_numbers(request), live):
        raise json_error(web.HTTPNotFound, "no such call")
    result = await live.switch_tariff(call_id, code)
    document: dict[str, Any] = {"outcome": result.outcome.value, "code": code}
    if result.segment is not None:
        document["segment"] = {"code": result.segment.code, "start_s": result.segment.start_s,
                               "announcement_s": result.segment.announcement_s}
    document["cost_cap_at"] = result.cap_at
    return web.json_response(document, status=_STATUS[result.outcome])
