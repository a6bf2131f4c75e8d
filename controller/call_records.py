"""From a call's legs to its call record: the A-leg with every destination the hunt tried.

Switch-neutral: it reads ``LegRecord``s only. The product's channel variables it reads (set by
the dialplan and by live call control, read back without the ``smart_`` prefix):

- ``smart_number``: the smart number dialled, E.164 or national (``0800111222``); the A-leg's
  destination when absent.
- ``smart_tariff_segments``: the tariffs of the call in order, ``<code>@<start_s>[+<announcement_s>]``
  joined by ``;`` — e.g. ``1@0;7@95+8``: code 1 from answer, then a switch whose free
  announcement played 8 s and after which code 7 runs from 95 s of talk time. Seconds count
  from answer, whole seconds; the first segment is ``<code>@0``. Live call control appends a
  segment at each switch (``uuid_setvar``) so that it lands in the CDR.
- ``smart_tariff_code``: the code in force from answer when no switch happened (default 1).

Codes, not versions, are recorded: the version is the one in force at the call's answer, so a
correction (a newer version valid from earlier) re-rates the calls it covers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from controller.calls import LegDirection, LegRecord
from smartnumbers.errors import InputError

SEGMENTS_TAG = "tariff_segments"
CODE_TAG = "tariff_code"
NUMBER_TAG = "number"

_SEGMENT = re.compile(r"^([0-9]{1,2})@([0-9]{1,6})(?:\+([0-9]{1,4}))?$")

# How a hunting attempt ended, from the cause the switch gave it (FACTS 2).
_OUTCOMES = {
    "NONE": "answered",
    "SUCCESS": "answered",
    "NORMAL_CLEARING": "answered",
    "USER_BUSY": "busy",
    "ALLOTTED_TIMEOUT": "no_answer",
    "NO_ANSWER": "no_answer",
    "NO_USER_RESPONSE": "no_answer",
    "ORIGINATOR_CANCEL": "cancelled",
    "LOSE_RACE": "cancelled",
}


def outcome_of(cause: str) -> str:
    return _OUTCOMES.get(cause, "failed")


def parse_segments(text: str | None, code: str | None = None) -> list[list[int]]:
    """``[[code, start_s, announcement_s], ...]`` from the channel variables; a malformed
    value is refused (the caller keeps the call and marks it unrated)."""
    if not text:
        fallback = (code or "1").strip()
        if not fallback.isdigit() or not 1 <= int(fallback) <= 90:
            raise InputError(f"smart_tariff_code: {fallback!r} is not a code 1 to 90")
        return [[int(fallback), 0, 0]]
    segments = []
    for item in text.split(";"):
        match = _SEGMENT.match(item.strip())
        if not match or not 1 <= int(match[1]) <= 90:
            raise InputError(f"smart_tariff_segments: {item!r} is not <code>@<start_s>[+<announcement_s>]")
        segments.append([int(match[1]), int(match[2]), int(match[3] or 0)])
    if segments[0][1:] != [0, 0]:
        raise InputError("smart_tariff_segments: the first segment starts at answer (<code>@0)")
    return segments


def attempts(a_leg: LegRecord, legs: Mapping[str, LegRecord]) -> list[dict[str, Any]]:
    """Each destination the hunt tried, in order: from the A-leg's list of attempts, with the
    destination from the B-leg's own record where it has arrived; without such a list
    (a single bridge), from the B-legs themselves."""
    tried = [(h.leg_id, h.cause) for h in a_leg.hunt]
    if not tried:
        b_legs = sorted((leg for leg in legs.values() if leg.direction is LegDirection.OUTBOUND),
                        key=lambda leg: leg.started_at)
        tried = [(leg.leg_id, "NONE" if leg.answered_at else leg.cause) for leg in b_legs]
    found = []
    for leg_id, cause in tried:
        leg = legs.get(leg_id)
        found.append({
            "leg_id": leg_id,
            "destination": leg.destination if leg else None,
            "outcome": outcome_of(cause),
            "cause": leg.cause if leg and cause == "NONE" else cause,
        })
    return found


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def call_values(a_leg: LegRecord, legs: Mapping[str, LegRecord]) -> dict[str, Any]:
    """The call record's columns (without number and account, which the capture service
    looks up) from the A-leg and whatever legs of the call have arrived."""
    answered = a_leg.answered_at is not None
    try:
        segments = parse_segments(a_leg.tags.get(SEGMENTS_TAG), a_leg.tags.get(CODE_TAG))
    except InputError:
        segments = []
    return {
        "call_id": a_leg.call_id,
        "node": a_leg.node,
        "dialled": a_leg.tags.get(NUMBER_TAG) or a_leg.destination,
        "caller_e164": None if a_leg.caller.withheld else a_leg.caller.e164,
        "caller_withheld": a_leg.caller.withheld,
        "caller_origin": a_leg.caller.origin,
        "started_at": a_leg.started_at,
        "answered_at": a_leg.answered_at,
        "ended_at": a_leg.ended_at,
        "answered": answered,
        "ring_s": _seconds(a_leg.started_at, a_leg.answered_at or a_leg.ended_at),
        "talk_s": a_leg.billed_ms // 1000 if answered else 0,  # the switch's billsec: whole seconds
        "cause": a_leg.cause,
        "attempts": attempts(a_leg, legs),
        "segments": segments,
    }
