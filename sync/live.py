"""The JSON API for live calls: an account's calls in progress, and a tariff switch by a
client (the same switch as an agent's code, answered by HTTP instead of a tone); and
``live_control``, which runs live call control in the serve process.

Tenants stay apart: a call is the account's when the account sees the call's smart number
(``accounts.visible_numbers``); any other call answers 404, exactly like one that does not
exist or has ended. The serve process puts its ``LiveControl`` under ``LIVE``; without it
(no switch configured) the routes answer 503."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from pathlib import Path
from typing import Annotated

from aiohttp import web
from pydantic import Field

from controller.freeswitch import agreement
from controller.freeswitch.call_control import FreeSwitchCallControl, follow
from controller.capture import committing_store
from controller.freeswitch.client import EventSocketClient
from controller.freeswitch.hangup_capture import HangupCapture
from controller.live.registry import LiveCall
from controller.live.segments import Segment
from controller.live.service import LiveControl, Outcome, database_failures, database_tariffs
from controller.live.voice import PriceVoice
from controller.nodes import NodeRegistry, record_status
from smartnumbers import accounts
from smartnumbers.errors import NotFound
from smartnumbers.models import Account, Role
from sync.keys import ACCOUNT_ID, SESSIONS, SETTINGS
from sync.models import ApiModel, Instant, Money
from sync.openapi import EVERYONE, ApiRoutes
from sync.problems import Refused
from sync.wire import parsed, reading, reply

LIVE = web.AppKey("live", LiveControl)
NODES = web.AppKey("nodes", NodeRegistry)
log = logging.getLogger(__name__)

routes = ApiRoutes()
CALLS = frozenset({Role.OPERATOR, Role.ADMIN, Role.ROUTING})


class SegmentOut(ApiModel):
    """A tariff code in force from ``start_s`` seconds of talk time, after a free announcement."""

    code: int
    start_s: int
    announcement_s: int

    @classmethod
    def of(cls, segment: Segment) -> SegmentOut:
        return cls(code=segment.code, start_s=segment.start_s, announcement_s=segment.announcement_s)


class FailedAttemptOut(ApiModel):
    destination: str
    cause: str


def _instant(epoch_s: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC) if epoch_s is not None else None


class LiveCallOut(ApiModel):
    call_id: str
    number: str
    caller: str | None  # E.164; None when withheld
    caller_withheld: bool
    started_at: Instant
    answered_at: Instant | None
    answered_by: str | None
    failed_attempts: list[FailedAttemptOut]
    tariff_code: int
    segments: list[SegmentOut]
    charge: Money | None
    cost_cap_at: Instant | None

    @classmethod
    def of(cls, live: LiveControl, call: LiveCall) -> LiveCallOut:
        return cls(call_id=call.call_id, number=call.number,
                   caller=None if call.caller.withheld else call.caller.e164, caller_withheld=call.caller.withheld,
                   started_at=call.created_at, answered_at=call.answered_at, answered_by=call.agent,
                   failed_attempts=[FailedAttemptOut(destination=a.destination, cause=a.cause)
                                    for a in call.failed_attempts],
                   tariff_code=call.code, segments=[SegmentOut.of(s) for s in call.segments],
                   charge=live.charge(call), cost_cap_at=_instant(call.cap_at))


class LiveCallList(ApiModel):
    calls: list[LiveCallOut]


class TariffSwitchIn(ApiModel):
    code: Annotated[int, Field(ge=1, le=90)]


class TariffSwitchOut(ApiModel):
    outcome: Outcome
    code: int
    segment: SegmentOut | None
    cost_cap_at: Instant | None


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
        raise web.HTTPServiceUnavailable(text="live call control is not running (no switch configured)")
    return live


async def _visible_numbers(request: web.Request) -> set[str]:
    account_id = request[ACCOUNT_ID]
    return await reading(request, lambda s: {n.e164 for n in accounts.visible_numbers(s, s.get(Account, account_id))})


def _mine(call: LiveCall | None, numbers: set[str], live: LiveControl) -> bool:
    if call is None:
        return False
    book = live.book(call.call_id)
    return (book.e164 if book is not None else call.number) in numbers


@routes.get("/api/v1/calls", roles=EVERYONE, response=LiveCallList, errors=(503,))
async def list_calls(request: web.Request) -> web.Response:
    """The account's calls in progress"""
    live = _live(request)
    numbers = await _visible_numbers(request)
    return reply(LiveCallList(calls=[LiveCallOut.of(live, c) for c in live.calls if _mine(c, numbers, live)]))


@routes.post("/api/v1/calls/{call_id}/tariff", roles=CALLS, body=TariffSwitchIn, response=TariffSwitchOut,
             errors=(409, 422, 502, 503))
async def switch_tariff(request: web.Request) -> web.Response:
    """Switch a call's tariff
    The same switch as an agent's code: announced to the caller first when its price is above
    CHF 2; the answer says where the new tariff starts and when the cost cap now ends the call."""
    live = _live(request)
    call_id = request.match_info["call_id"]
    body = await parsed(request, TariffSwitchIn)
    if not _mine(live.calls.get(call_id), await _visible_numbers(request), live):
        raise NotFound(f"call: no call {call_id[:40]!r}")
    result = await live.switch_tariff(call_id, body.code)
    if not result.ok:
        raise Refused(result.outcome)
    return reply(TariffSwitchOut(outcome=result.outcome, code=body.code,
                                 segment=SegmentOut.of(result.segment) if result.segment else None,
                                 cost_cap_at=_instant(result.cap_at)))
