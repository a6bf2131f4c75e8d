"""Live call control: the registry of live calls, dynamic tariff switches and the legal cost
cap, on neutral events and neutral commands.

Codes: the answering agent's ``*NN`` reaches the controller as a ``ProductSignal`` (kind
``code``) that the B-leg's ``bind_digit_action`` raises, not as single ``DigitPressed`` events
grouped here. Chosen deliberately (FACTS 4b): bound digits are consumed by the switch, so the
caller never hears the agent's code relayed as tones; the switch groups the digits with its
own inter-digit timeout, so a lost or late event cannot glue two codes together; and one event
a code is a tenth of the traffic. The dialplan binds it on the answering leg with ``exec[i]:``
(a plain ``exec:`` puts the caller on hold music)::

    <action application="set" data="bridge_pre_execute_bleg_app=bind_digit_action"/>
    <action application="set" data="bridge_pre_execute_bleg_data=smart,~^\\*\\d\\d$,exec[i]:event,^^;Event-Name=CUSTOM;Event-Subclass=smart::code;smart_kind=tariff_code"/>

A switch, in this order, so that whatever the controller does not live to finish leaves the
caller charged no more than announced: the announcement plays to the caller alone (free, to
its end); then the new segment is written onto the caller's channel, starting when the
announcement ends (it reaches the CDR even if the controller dies right after); then the
cost-cap hangup is rescheduled on the switch; then the agent hears the confirmation tone.
Rating applies the cap to the charge in any case.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from controller.calls import CallEvent, LegAnswered, LegCreated, LegHungUp, LiveLeg, ProductSignal
from controller.live.book import NumberTariffs, number_tariffs
from controller.live.control import CallControl, ControlFailed, Tone
from controller.live.registry import LiveCall, LiveCalls
from controller.live.segments import CAP_AT_TAG, CAP_CAUSE, CAP_TAG, SEGMENTS_TAG, Segment, format_segments
from controller.live.voice import AnnouncementUnavailable, PriceVoice
from rating.engine import CallUsage, caller_charge, seconds_within_cap
from rating.money import chf
from rating.tariff import TariffSegment
from smartnumbers.logs import CALL_ID, about_call
from smartnumbers.models import ControlFailure
from smartnumbers.phone import RangeClass

log = logging.getLogger(__name__)

CODE_SIGNAL = "code"
_CODE = re.compile(r"^\*([0-9]{2})$")
# The caller hears a broadcast about 0.2 s after the switch accepted it (FACTS 4a); the new
# tariff starts no earlier than this much after the request plus the announcement's length.
ANNOUNCEMENT_LEAD_MS = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RESYNC_WINDOW = 32

TariffSource = Callable[[str, datetime], Awaitable[NumberTariffs | None]]
CAP_NOT_APPLIED = "cost_cap"
SWITCH_NOT_APPLIED = "tariff_switch"


@dataclass(frozen=True, slots=True)
class FailedControl:
    """What live control could not apply on the switch for a call, and why."""

    call_id: str
    node: str
    number: str
    action: str  # CAP_NOT_APPLIED or SWITCH_NOT_APPLIED
    reason: str
    at: datetime


FailureSink = Callable[[FailedControl], Awaitable[None]]


class Outcome(enum.StrEnum):
    SWITCHED = "switched"
    UNCHANGED = "unchanged"  # the code already in force
    NO_SUCH_CALL = "no_such_call"  # ended, or never seen
    NOT_ANSWERED = "not_answered"
    NO_SUCH_CODE = "no_such_code"  # not 01-90, or no tariff of that code for the number
    OVER_CAP = "over_cap"  # the new tariff could not run a second within the cap
    ANNOUNCING = "announcing"  # the previous switch's announcement is still playing
    SWITCH_FAILED = "switch_failed"  # the switch refused a command


@dataclass(frozen=True, slots=True)
class SwitchResult:
    outcome: Outcome
    call_id: str
    code: int | None
    segment: Segment | None = None
    cap_at: int | None = None  # epoch second of the cost-cap hangup now scheduled

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.SWITCHED, Outcome.UNCHANGED)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def hangup_epoch(answered_at: datetime, talk_s: int) -> int:
    """The latest whole epoch second to hang up at so that the switch counts at most
    ``talk_s`` seconds of talk. The switch counts whole seconds from answer, and its scheduler
    looks at its tasks once a second, so a task runs up to a second after the second it was
    given (0.08 s in FACTS 4d, 0.49 s in this project's real-switch test after a restart of
    the switch): the last second strictly before answer + ``talk_s``. The charge stays within
    the cap in every case; at worst the call ends one second early."""
    return (_micros(answered_at) + talk_s * 1_000_000 - 1) // 1_000_000


class LiveControl:
    """The live calls of every node, and what the controller does to them.

    ``automatic``: the serve process schedules cost caps and takes agents' codes; a NOC command
    that only watches builds the same registry without acting.
    """

    def __init__(
        self,
        *,
        controls: Mapping[str, CallControl],
        tariffs: TariffSource,
        voice: PriceVoice,
        automatic: bool = True,
        clock: Callable[[], datetime] = _utc_now,
        failures: FailureSink | None = None,
    ) -> None:
        self.calls = LiveCalls()
        self.controls = controls
        self.tariffs = tariffs
        self.voice = voice
        self.automatic = automatic
        self.clock = clock
        self.on_switch: Callable[[SwitchResult], None] | None = None
        self.resyncs = 0  # snapshots taken in (and acted on), for the NOC's view of the link
        self.failures = failures
        self.failed_controls = 0  # caps and tariff switches the switch did not take, since start
        self.failed: dict[str, tuple[str, ...]] = {}  # live calls' actions that were not applied
        # for the metrics: calls begun since start, and how each one's setup ended ("answered",
        # else the caller's hangup cause in lower case, e.g. "user_busy", "no_answer")
        self.calls_started = 0
        self.setup_outcomes: collections.Counter[str] = collections.Counter()
        self._books: dict[str, NumberTariffs] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()

    # -- events ------------------------------------------------------------------------------

    def on_event(self, event: CallEvent) -> None:
        """Take one neutral event; acting on it runs in its own task, so a slow switch
        command never holds up the events behind it."""
        call = self.calls.apply(event)
        if isinstance(event, LegCreated) and event.is_a_leg:
            self.calls_started += 1
        if isinstance(event, LegHungUp) and event.is_a_leg:
            self.setup_outcomes["answered" if event.answered_at is not None else event.cause.lower()] += 1
            self._books.pop(event.call_id, None)
            self._locks.pop(event.call_id, None)
            self.failed.pop(event.call_id, None)
            return
        if not self.automatic:
            if call is not None and isinstance(event, LegAnswered) and event.is_a_leg:
                self._spawn(self._load(call), call.call_id)
            return
        if call is not None and isinstance(event, LegAnswered) and event.is_a_leg:
            self._spawn(self._after_answer(call.call_id), call.call_id)
        elif isinstance(event, ProductSignal) and event.kind == CODE_SIGNAL:
            match = _CODE.match(event.tags.get("digits", ""))
            code = int(match[1]) if match else 0
            self._spawn(self._report(self.switch_tariff(event.call_id, code, agent_leg=event.leg_id)),
                        event.call_id)

    async def on_resync(self, node: str, legs: list[LiveLeg]) -> None:
        """Rebuild a node's calls from what the switch holds (after a reconnect or a restart
        of the application), answer times included, and re-establish the caps."""
        rebuilt, missing = self.calls.resync(node, legs)
        # The listing is read while events keep coming: a call that began meanwhile is in
        # the registry but not in the listing. Ask the switch before forgetting a call.
        for call in missing:
            try:
                if await self.controls[node].exists(call.call_id):
                    self.calls.restore(call)
            except ControlFailed as exc:
                with about_call(call.call_id):
                    log.warning("call %s: not found again after resync (%s)", call.call_id, exc)
        live = {c.call_id for c in self.calls}
        for call_id in [c for c in self._books if c not in live]:
            self._books.pop(call_id, None)
            self._locks.pop(call_id, None)
        window = asyncio.Semaphore(_RESYNC_WINDOW)

        async def one(call: LiveCall) -> None:
            CALL_ID.set(call.call_id)  # this call's own task: its lines name it
            async with window:
                if call.answered and call.answered_at is None:
                    log.warning("call %s: answer time unknown after resync: no cap", call.call_id)
                elif call.answered_at is not None:
                    await (self._after_answer(call.call_id) if self.automatic else self._load(call))

        await asyncio.gather(*(one(call) for call in rebuilt))
        self.resyncs += 1

    async def settle(self) -> None:
        """Until every action started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- what the NOC and the API ask --------------------------------------------------------

    def book(self, call_id: str) -> NumberTariffs | None:
        return self._books.get(call_id)

    def charge(self, call: LiveCall) -> Decimal | None:
        """The caller's charge so far in CHF, VAT included, to the Rappen (None before answer
        or when the number's tariffs are unknown)."""
        book = self._books.get(call.call_id)
        if book is None or call.answered_at is None:
            return None
        segments = _rated_segments(book, call.segments)
        if segments is None:
            return None
        talk_s = max(0, (_micros(self.clock()) - _micros(call.answered_at)) // 1_000_000)
        usage = CallUsage(range_class=book.range_class, origin=call.caller.origin, answered=True,
                          talk_s=talk_s, segments=segments, number_cap=book.number_cap)
        return chf(caller_charge(usage).incl_vat)

    async def hang_up(self, call_id: str, cause: str = "NORMAL_CLEARING") -> bool:
        call = self.calls.get(call_id)
        if call is None:
            return False
        await self.controls[call.node].hang_up(call_id, cause)
        return True

    async def switch_tariff(self, call_id: str, code: int, *, agent_leg: str | None = None) -> SwitchResult:
        """Switch a live call to tariff ``code``: by an agent's code (tones answer it) or by
        a client (the result answers it). Codes for one call are taken one after the other."""
        with about_call(call_id):
            return await self._switch_in_turn(call_id, code, agent_leg)

    async def _switch_in_turn(self, call_id: str, code: int, agent_leg: str | None) -> SwitchResult:
        lock = self._locks.setdefault(call_id, asyncio.Lock())
        async with lock:
            result = await self._switch(call_id, code, agent_leg)
        if agent_leg is not None and result.outcome is not Outcome.NO_SUCH_CALL:
            call = self.calls.get(call_id)
            if call is not None:
                try:
                    await self.controls[call.node].tone_to_agent(agent_leg, Tone.CONFIRM if result.ok else Tone.REFUSED)
                except ControlFailed as exc:
                    log.warning("call %s: no tone for the agent (%s)", call_id, exc)
        if self.on_switch is not None:
            self.on_switch(result)
        return result

    # -- inside ------------------------------------------------------------------------------

    def _spawn(self, work: Awaitable[object], call_id: str) -> None:
        """Run ``work`` in its own task, whose log lines (its failure's included) name the call."""
        with about_call(call_id):
            task = asyncio.ensure_future(work)
            task.add_done_callback(self._done)
        self._tasks.add(task)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live call control failed", exc_info=task.exception())

    async def _report(self, work: Awaitable[SwitchResult]) -> None:
        result = await work
        log.info("call %s: tariff code %s: %s", result.call_id, result.code, result.outcome)

    async def _load(self, call: LiveCall) -> NumberTariffs | None:
        book = self._books.get(call.call_id)
        if book is None and call.answered_at is not None:
            book = await self.tariffs(call.number, call.answered_at)
            if book is not None and self.calls.get(call.call_id) is call:
                self._books[call.call_id] = book
        return book

    async def _after_answer(self, call_id: str) -> None:
        """Load the number's tariffs and schedule the cap of a 090x call on the switch."""
        lock = self._locks.setdefault(call_id, asyncio.Lock())
        async with lock:
            call = self.calls.get(call_id)
            if call is None:
                return
            book = await self._load(call)
            if book is None:
                log.warning("call %s: %s is not a number of the platform; no live control", call_id, call.number)
                return
            try:
                await self._enforce_cap(call, book, call.segments)
            except ControlFailed as exc:
                log.error("call %s: cost cap NOT scheduled on the switch (%s)", call_id, exc)
                await self._not_applied(call, CAP_NOT_APPLIED, exc)

    async def _enforce_cap(self, call: LiveCall, book: NumberTariffs, segments: tuple[Segment, ...]) -> int | None:
        """Schedule the hangup at the last second within the cap; None when none is needed."""
        if book.range_class is not RangeClass.PREMIUM or call.answered_at is None:
            return None
        rated = _rated_segments(book, segments)
        if rated is None:
            log.error("call %s: a tariff code of %s has no version in force at answer; NO cost cap scheduled",
                      call.call_id, format_segments(segments))
            return None
        control = self.controls[call.node]
        talk_s = seconds_within_cap(rated, book.cap)
        if talk_s is None:
            await control.record(call.call_id, {CAP_AT_TAG: "", CAP_TAG: ""})
            await control.cancel_hangup(call.call_id)
            self.calls.note(call.call_id, {CAP_AT_TAG: "", CAP_TAG: ""})
            return None
        at_epoch = hangup_epoch(call.answered_at, talk_s)
        tags = {CAP_AT_TAG: str(at_epoch), CAP_TAG: f"{book.cap:.2f}"}
        await control.record(call.call_id, tags)  # first: a CDR that ends by the cap says so
        await control.schedule_hangup(call.call_id, at_epoch, CAP_CAUSE)
        self.calls.note(call.call_id, tags)
        return at_epoch

    async def _switch(self, call_id: str, code: int, agent_leg: str | None) -> SwitchResult:
        call = self.calls.get(call_id)
        if call is None:
            return SwitchResult(Outcome.NO_SUCH_CALL, call_id, code)
        if not call.answered or call.answered_at is None:
            return SwitchResult(Outcome.NOT_ANSWERED, call_id, code)
        book = await self._load(call)
        if book is None or code not in book.codes:
            return SwitchResult(Outcome.NO_SUCH_CODE, call_id, code)
        control = self.controls[call.node]
        try:
            # The channel holds the truth: another controller (a NOC command, a restarted
            # serve process) may have switched this call since our last look.
            current = await control.recorded(call_id, SEGMENTS_TAG)
        except ControlFailed:
            return SwitchResult(Outcome.NO_SUCH_CALL, call_id, code)
        self.calls.note(call_id, {SEGMENTS_TAG: current or ""})
        now = self.clock()
        elapsed_ms = max(0, (_micros(now) - _micros(call.answered_at)) // 1000)
        segments = call.segments
        last = segments[-1]
        if last.start_s * 1000 > elapsed_ms:
            return SwitchResult(Outcome.ANNOUNCING, call_id, code)
        if last.code == code:
            return SwitchResult(Outcome.UNCHANGED, call_id, code, last, call.cap_at)
        spoken = None
        terms = book.codes[code]
        if terms.spoken.needs_announcement:
            try:
                spoken = await self.voice.price(terms.spoken, book.language)
            except AnnouncementUnavailable as exc:  # no announcement, no switch
                log.error("call %s: price announcement for code %s not made (%s)", call_id, code, exc)
                return SwitchResult(Outcome.SWITCH_FAILED, call_id, code)
        if spoken is not None:
            # The old tariff ends at the whole second before the request; the new one starts
            # at the whole second after the announcement ends; the time between is free.
            announced_at = elapsed_ms // 1000
            start = math.ceil((elapsed_ms + ANNOUNCEMENT_LEAD_MS + spoken.duration_ms) / 1000)
        else:
            # Nothing to announce: the new tariff starts with the next whole second.
            announced_at = start = math.ceil(elapsed_ms / 1000)
        segment = Segment(code, start, start - announced_at)
        switched = (*segments, segment)
        rated = _rated_segments(book, switched)
        if rated is None:
            return SwitchResult(Outcome.NO_SUCH_CODE, call_id, code)
        if book.range_class is RangeClass.PREMIUM:
            within = seconds_within_cap(rated, book.cap)
            if within is not None and within <= start:
                return SwitchResult(Outcome.OVER_CAP, call_id, code)
        try:
            if spoken is not None:
                await control.announce_to_caller(call_id, spoken.sound)
            value = format_segments(switched)
            await control.record(call_id, {SEGMENTS_TAG: value})
            self.calls.note(call_id, {SEGMENTS_TAG: value})
            cap_at = await self._enforce_cap(call, book, switched)
        except ControlFailed as exc:
            log.error("call %s: tariff switch to %s failed (%s)", call_id, code, exc)
            await self._not_applied(call, SWITCH_NOT_APPLIED, exc)
            return SwitchResult(Outcome.SWITCH_FAILED, call_id, code)
        return SwitchResult(Outcome.SWITCHED, call_id, code, segment, cap_at)

    async def _not_applied(self, call: LiveCall, action: str, exc: ControlFailed) -> None:
        """Count and keep a cap or tariff switch the switch did not take, for the NOC."""
        self.failed_controls += 1
        self.failed[call.call_id] = (*self.failed.get(call.call_id, ()), action)
        if self.failures is None:
            return
        try:
            await self.failures(FailedControl(call.call_id, call.node, call.number, action, str(exc)[:300],
                                              self.clock()))
        except Exception:  # noqa: BLE001 - the record is for people; the call goes on
            log.exception("call %s: the failed %s could not be recorded", call.call_id, action)


def _rated_segments(book: NumberTariffs, segments: tuple[Segment, ...]) -> tuple[TariffSegment, ...] | None:
    """The engine's segments; None when a code has no tariff in force at answer."""
    rated = []
    for s in segments:
        terms = book.codes.get(s.code)
        if terms is None:
            return None
        rated.append(TariffSegment(terms.rated, s.start_s, s.announcement_s))
    return tuple(rated)


def database_tariffs(sessions: async_sessionmaker) -> TariffSource:
    """A tariff source reading the database (``async_sessionmaker``), once per answered call."""
    async def load(number: str, answered_at: datetime) -> NumberTariffs | None:
        async with sessions() as session:
            return await session.run_sync(lambda s: number_tariffs(s, number, answered_at))

    return load


def database_failures(sessions: async_sessionmaker) -> FailureSink:
    """A failure sink writing each failed control to the database (``ControlFailure``)."""
    async def store(failed: FailedControl) -> None:
        async with sessions() as session:
            session.add(ControlFailure(call_id=failed.call_id, node=failed.node, number=failed.number,
                                       action=failed.action, reason=failed.reason, at=failed.at))
            await session.commit()

    return store


async def failed_controls(sessions: async_sessionmaker, call_ids: list[str]) -> dict[str, tuple[str, ...]]:
    """The actions not applied on the switch for these calls, as recorded (by ``serve``)."""
    if not call_ids:
        return {}
    async with sessions() as session:
        rows = await session.execute(select(ControlFailure.call_id, ControlFailure.action)
                                     .where(ControlFailure.call_id.in_(call_ids)).order_by(ControlFailure.id))
    found: dict[str, tuple[str, ...]] = {}
    for call_id, action in rows:
        found[call_id] = (*found.get(call_id, ()), action)
    return found
