"""Calls and legs in the switch-neutral form the controller core, rating and the portal use.

A switch adapter (``controller/freeswitch/translate.py``, ``controller/asterisk/translate.py``) turns whatever its
switch says into these types; nothing past the adapter knows a switch's own names.
A *call* is what the caller made: one inbound A-leg plus every outbound B-leg the hunt tried.
``call_id`` is the A-leg's id on every leg of the call.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from smartnumbers.phone import Caller

__all__ = [
    "LegDirection",
    "HangupSide",
    "CallEvent",
    "LegCreated",
    "LegAnswered",
    "LegsBridged",
    "DialEnded",
    "LegsUnbridged",
    "LegHungUp",
    "DigitPressed",
    "ProductSignal",
    "JobFinished",
    "HuntAttempt",
    "LegRecord",
    "RoutingRequest",
    "LiveLeg",
    "Resync",
]


class LegDirection(enum.StrEnum):
    """Inbound: the caller's leg (A). Outbound: a leg the switch placed (B, hunting)."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class HangupSide(enum.StrEnum):
    """Who ended a leg, as far as the switch can tell."""

    REMOTE = "remote"  # the far end hung up or refused
    SWITCH = "switch"  # the switch hung up (dialplan, timeout, controller command)
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Something that happened to one leg of a call, on one node, at one moment (UTC)."""

    node: str
    leg_id: str
    call_id: str
    at: datetime

    @property
    def is_a_leg(self) -> bool:
        return self.leg_id == self.call_id


@dataclass(frozen=True, slots=True)
class LegCreated(CallEvent):
    direction: LegDirection
    caller: Caller
    destination: str
    # The product's own channel variables (``smart_*``): number, account, tariff, version.
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LegAnswered(CallEvent):
    direction: LegDirection
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LegsBridged(CallEvent):
    """The A-leg (``leg_id``) is now talking to ``other_leg_id``."""

    other_leg_id: str


@dataclass(frozen=True, slots=True)
class LegsUnbridged(CallEvent):
    other_leg_id: str


@dataclass(frozen=True, slots=True)
class LegHungUp(CallEvent):
    """A leg is gone, with everything known about it (the raw record is kept apart)."""

    direction: LegDirection
    cause: str
    q850: int | None
    side: HangupSide
    answered_at: datetime | None
    duration_ms: int
    billed_ms: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DigitPressed(CallEvent):
    """One DTMF digit on a leg; grouping digits into codes (``*12``) is the core's job."""

    digit: str
    via: str  # "media" (RFC 2833 in RTP), "signalling" (SIP INFO) or "unknown" (the switch does not say)


@dataclass(frozen=True, slots=True)
class DialEnded(CallEvent):
    """A leg the switch dialled out ended without an answer, for ``cause`` (the same names as
    ``LegHungUp.cause``). Asterisk says how a dial ended only here for some channels (a Local
    channel's own end reports no cause), so a hunt moves on from this event."""

    cause: str


@dataclass(frozen=True, slots=True)
class ProductSignal(CallEvent):
    """An event the product's own dialplan raised (e.g. a tariff code matched on a B-leg)."""

    kind: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobFinished:
    """The end of a background command; ``ok`` when the switch said ``+OK``."""

    node: str
    job_id: str
    ok: bool
    result: str


@dataclass(frozen=True, slots=True)
class HuntAttempt:
    """One destination the hunt tried, in order, and why it ended (``NONE`` = it answered)."""

    leg_id: str
    cause: str


@dataclass(frozen=True, slots=True)
class LegRecord:
    """A finished leg as the switch recorded it (the CDR), for rating and the call history."""

    node: str
    leg_id: str
    call_id: str
    direction: LegDirection
    caller: Caller
    destination: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    duration_ms: int
    billed_ms: int
    cause: str
    q850: int | None
    side: HangupSide
    hunt: tuple[HuntAttempt, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RoutingRequest:
    """The switch asks where a call goes (before it is answered)."""

    node: str
    section: str
    leg_id: str
    call_id: str
    caller: Caller
    destination: str
    context: str
    source_address: str | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveLeg:
    """A leg that exists right now, as read back from the switch after a (re)connect."""

    node: str
    leg_id: str
    call_id: str
    direction: LegDirection
    caller: Caller
    destination: str
    created_at: datetime
    answered: bool
    other_leg_id: str | None
    # When the switch answered the leg, if it says so: after a restart the controller saw no
    # answer event, and the cost cap counts from this moment.
    answered_at: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resync:
    """A node's live legs as read back after a (re)connect; queued after the events received
    before it, so a consumer reconciles in order."""

    node: str
    legs: list[LiveLeg] = field(default_factory=list)
