"""Scheduled changes: a new plan, or new destinations for one slot, now or at a moment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from smartnumbers import audit
from smartnumbers.audit import Actor
from smartnumbers.db import utcnow
from smartnumbers.errors import InputError
from smartnumbers.models import ChangeKind, ScheduledChange, SmartNumber
from smartnumbers.routing import destination_policy, parse_destinations, parse_plan, plan_document


def schedule_change(
    session: Session,
    actor: Actor,
    number: SmartNumber,
    kind: ChangeKind,
    payload: dict[str, Any],
    *,
    apply_at: dt.datetime | None = None,
) -> ScheduledChange:
    """Check the change now (so a bad one is refused at once) and keep it for its moment."""
    policy = destination_policy(session, number)
    if kind is ChangeKind.PLAN:
        clean = plan_document(parse_plan(payload.get("plan"), policy))
        stored: dict[str, Any] = {"plan": clean}
    else:
        slot = payload.get("slot")  # a 1-based slot position, or None for the fallback
        if slot is not None and (not isinstance(slot, int) or slot < 1):
            raise InputError("change: slot is a slot position (1, 2, ...) or absent for the fallback")
        destinations = parse_destinations(payload.get("destinations"), policy, "destination")
        stored = {"slot": slot, "destinations": [{"target": d.target, "ring_timeout": d.ring_timeout_s}
                                                 for d in destinations]}
    if apply_at is not None and apply_at.tzinfo is None:
        raise InputError("change: the moment needs a time zone")
    change = ScheduledChange(number_id=number.id, kind=kind, payload=stored, apply_at=apply_at or utcnow(),
                             created_by=str(actor))
    session.add(change)
    session.flush()
    audit.record(session, actor, account_id=number.account_id, entity="scheduled_change", entity_id=change.id,
                 action="create", before=None,
                 after={"number": number.e164, "kind": kind.value, "apply_at": change.apply_at.isoformat(), **stored})
    return change
