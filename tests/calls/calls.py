"""Calls made up for tests of rating and statements, stored through the capture service the
way the switch's records arrive (neutral legs; no switch needed)."""

from __future__ import annotations

import datetime as dt
import uuid

from controller import capture
from controller.calls import HangupSide, LegDirection, LegRecord
from smartnumbers.models import LegSource
from smartnumbers.phone import normalise_caller
from tests.calls.conftest import PAYFAST_PERCENT, ZONE


def a_leg(number: str, start: dt.datetime, talk_s: int, *, caller: str | None = "0791234567", ring_s: int = 4,
          segments: str | None = None, answered: bool = True) -> LegRecord:
    leg_id = str(uuid.uuid4())
    answered_at = start + dt.timedelta(seconds=ring_s) if answered else None
    end = (answered_at or start + dt.timedelta(seconds=ring_s)) + dt.timedelta(seconds=talk_s if answered else 0)
    tags = {"number": number}
    if segments:
        tags["tariff_segments"] = segments
    return LegRecord(
        node="fs1", leg_id=leg_id, call_id=leg_id, direction=LegDirection.INBOUND,
        caller=normalise_caller(caller), destination=number, started_at=start, answered_at=answered_at,
        ended_at=end, duration_ms=int((end - start).total_seconds() * 1000),
        billed_ms=talk_s * 1000 + 400 if answered else 0, cause="NORMAL_CLEARING" if answered else "NO_ANSWER",
        q850=16, side=HangupSide.REMOTE, tags=tags,
    )


def store(session, *legs: LegRecord) -> capture.Stored:
    arrivals = [capture.ArrivedLeg(leg, LegSource.EVENT, repr(leg).encode()) for leg in legs]
    return capture.store_legs(session, arrivals, capture.rating_with(PAYFAST_PERCENT, ZONE))
