"""The live calls, as the neutral call events tell them, rebuilt from a ``Resync``.

One entry a call (keyed by the A-leg id): the smart number, the caller, the destinations the
hunt tried and how each ended, the destination that answered, and the tariff segments, read
from the channel variables the calls carry. Those variables come with later events, not with
the A-leg's creation (the dialplan sets them after it), so every event's tags are merged in;
the A-leg's own win over what a B-leg inherited.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from controller.calls import (
    CallEvent,
    LegAnswered,
    LegCreated,
    LegHungUp,
    LegsBridged,
    LiveLeg,
)
from controller.live.segments import CAP_AT_TAG, Segment, segments_of
from smartnumbers.errors import InputError
from smartnumbers.phone import Caller

ANSWERED = "NONE"  # the cause of the attempt that answered, as the hunt records it


@dataclass(slots=True)
class Attempt:
    """One destination the hunt rang; ``cause`` stays None while it rings."""

    leg_id: str
    destination: str
    cause: str | None = None


@dataclass(slots=True)
class LiveCall:
    node: str
    call_id: str
    caller: Caller
    dialled: str
    created_at: datetime
    answered: bool = False
    answered_at: datetime | None = None
    agent_leg: str | None = None
    attempts: dict[str, Attempt] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inherited: dict[str, str] = field(default_factory=dict)  # from B-legs (exported variables)

    def tag(self, name: str) -> str | None:
        return self.tags.get(name) or self.inherited.get(name)

    @property
    def number(self) -> str:
        """The smart number the caller dialled (the dialplan's ``smart_number``)."""
        return self.tag("number") or self.dialled

    @property
    def account_id(self) -> int | None:
        value = self.tag("account") or ""
        return int(value) if value.isdigit() else None

    @property
    def agent(self) -> str | None:
        """The destination that answered."""
        if self.agent_leg is None:
            return None
        attempt = self.attempts.get(self.agent_leg)
        return attempt.destination if attempt else None

    @property
    def failed_attempts(self) -> list[Attempt]:
        return [a for a in self.attempts.values() if a.cause is not None and a.leg_id != self.agent_leg]

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The tariff segments so far; the first code from answer when none was switched."""
        merged = {**self.inherited, **self.tags}
        try:
            return segments_of(merged)
        except InputError:
            return (Segment(1, 0),)

    @property
    def code(self) -> int:
        """The tariff code of the latest segment (it may still be announcing)."""
        return self.segments[-1].code

    @property
    def cap_at(self) -> int | None:
        value = self.tags.get(CAP_AT_TAG, "")
        return int(value) if value.isdigit() else None


class LiveCalls:
    """Every live call on every node, fed by ``apply`` and ``resync``."""

    def __init__(self) -> None:
        self._calls: dict[str, LiveCall] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[LiveCall]:
        return iter(list(self._calls.values()))

    def get(self, call_id: str) -> LiveCall | None:
        return self._calls.get(call_id)

    def apply(self, event: CallEvent) -> LiveCall | None:
        """Take one event; the call it touched (None when it ended or is unknown)."""
        call = self._calls.get(event.call_id)
        if isinstance(event, LegCreated):
            if event.is_a_leg:
                call = call or LiveCall(event.node, event.call_id, event.caller, event.destination, event.at)
                call.tags.update(event.tags)
                self._calls[event.call_id] = call
            elif call is not None:
                call.attempts.setdefault(event.leg_id, Attempt(event.leg_id, event.destination))
                call.inherited.update(event.tags)
            return call
        if call is None:
            return None
        if isinstance(event, LegAnswered):
            if event.is_a_leg:
                call.answered = True
                call.answered_at = call.answered_at or event.at
                call.tags.update(event.tags)
            else:
                call.inherited.update(event.tags)
        elif isinstance(event, LegsBridged):
            call.agent_leg = event.other_leg_id
            attempt = call.attempts.get(event.other_leg_id)
            if attempt is not None:
                attempt.cause = ANSWERED
        elif isinstance(event, LegHungUp):
            if event.is_a_leg:
                del self._calls[event.call_id]
                return None
            attempt = call.attempts.get(event.leg_id)
            if attempt is not None and attempt.cause is None:
                attempt.cause = event.cause
        return call

    def note(self, call_id: str, tags: dict[str, str]) -> None:
        """Variables live control has just written onto the A-leg."""
        call = self._calls.get(call_id)
        if call is not None:
            call.tags.update(tags)

    def resync(self, node: str, legs: list[LiveLeg]) -> tuple[list[LiveCall], list[LiveCall]]:
        """Replace a node's calls with what the switch holds now (after a reconnect, or an
        application restart); what was known of a call that is still there is kept.
        Returns the calls as rebuilt and the known calls the listing no longer holds."""
        before = {c.call_id: c for c in self._calls.values() if c.node == node}
        for call_id in before:
            del self._calls[call_id]
        by_call: dict[str, list[LiveLeg]] = {}
        for leg in legs:
            by_call.setdefault(leg.call_id, []).append(leg)
        rebuilt = []
        for call_id, call_legs in by_call.items():
            a_leg = next((leg for leg in call_legs if leg.leg_id == call_id), None)
            if a_leg is None:
                continue  # a B-leg whose caller is gone: nothing left to control
            known = before.get(call_id)
            call = known or LiveCall(node, call_id, a_leg.caller, a_leg.destination, a_leg.created_at)
            call.tags.update(a_leg.tags)
            call.answered = call.answered or a_leg.answered
            call.answered_at = call.answered_at or a_leg.answered_at
            for leg in call_legs:
                if leg is a_leg:
                    continue
                call.attempts.setdefault(leg.leg_id, Attempt(leg.leg_id, leg.destination))
                call.inherited.update(leg.tags)
                if leg.other_leg_id == call_id:
                    call.agent_leg = leg.leg_id
                    call.attempts[leg.leg_id].cause = ANSWERED
            if a_leg.other_leg_id:
                call.agent_leg = a_leg.other_leg_id
                if a_leg.other_leg_id in call.attempts:
                    call.attempts[a_leg.other_leg_id].cause = ANSWERED
            self._calls[call_id] = call
            rebuilt.append(call)
        return rebuilt, [call for call_id, call in before.items() if call_id not in self._calls]

    def restore(self, call: LiveCall) -> None:
        """Put back a call a listing missed (it began while the listing was read)."""
        self._calls.setdefault(call.call_id, call)
