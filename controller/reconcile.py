"""Reconciling a day: what the switch reported against what was stored.

What the switch reported for a day (Europe/Zurich, by the leg's start) is the union of:
- every CDR it wrote itself: the json CDRs it posted or that were swept in (stored with that
  source), and the CDR files in the folders given (each node's err-log-dir, its ``swept/``,
  and its log-dir where ``log-http-and-disk`` keeps a copy of every CDR);
- every leg an A-leg names among its hunting attempts (``originate_causes``).
Against it stand the stored legs, call records and rated calls. A difference is a leg the
switch reported and the store lacks, a leg the store knows only from its hangup event (its CDR
never arrived: the post failed and no file was swept yet), a call whose A-leg never arrived,
an A-leg with no call record, a call to a smart number left unrated, a live call whose cost
cap or tariff switch the controller could not apply on the switch, or a leg record capture
refused that day (values out of any sane range; listed with the reason).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.calls import LegRecord
from smartnumbers.models import CallRecord, CapturedLeg, ControlFailure, LegSource, RatedCall, RejectedLeg


@dataclass(slots=True)
class DayReconciliation:
    day: dt.date
    stored_legs: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    reported_legs: int = 0
    calls: int = 0
    rated: int = 0
    not_stored: list[tuple[str, str]] = field(default_factory=list)  # (leg id, who reported it)
    events_only: list[str] = field(default_factory=list)  # no CDR anywhere: the switch's own record is lost
    unswept: list[str] = field(default_factory=list)  # the CDR waits in a folder, not swept in yet
    incomplete_calls: list[str] = field(default_factory=list)
    not_built: list[str] = field(default_factory=list)
    unrated: list[str] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)  # "<call id> <action>: <reason>"
    rejected: list[RejectedLeg] = field(default_factory=list)  # refused records received that day

    @property
    def differences(self) -> int:
        return (len(self.not_stored) + len(self.events_only) + len(self.unswept) + len(self.incomplete_calls)
                + len(self.not_built) + len(self.unrated) + len(self.not_applied) + len(self.rejected))


def day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def reconcile_day(session: Session, day: dt.date, zone: ZoneInfo, cdr_files: Iterable[LegRecord] = ()) -> DayReconciliation:
    """Compare the day's reports (stored CDRs, the CDR files given, hunt lists) with the store."""
    start, end = day_bounds(day, zone)
    result = DayReconciliation(day)
    rows = session.execute(
        select(CapturedLeg.leg_id, CapturedLeg.call_id, CapturedLeg.is_a_leg, CapturedLeg.sources, CapturedLeg.record)
        .where(CapturedLeg.started_at >= start, CapturedLeg.started_at < end)
    ).all()
    stored = {row.leg_id: row for row in rows}
    result.stored_legs = len(stored)
    for source in LegSource:
        result.by_source[source.name.lower()] = sum(1 for row in rows if row.sources & source)
    reported: dict[str, str] = {}
    cdr_kinds = LegSource.POST | LegSource.FILE
    for row in rows:
        if row.sources & cdr_kinds:
            reported.setdefault(row.leg_id, "json CDR")
        if row.is_a_leg:
            for leg_id, _cause in row.record["hunt"]:
                reported.setdefault(leg_id, f"hunt of {row.call_id}")
    on_disk = set()
    for leg in cdr_files:
        if start <= leg.started_at < end:
            reported.setdefault(leg.leg_id, f"CDR file on {leg.node}")
            on_disk.add(leg.leg_id)
    for row in rows:
        if not row.sources & cdr_kinds:
            (result.unswept if row.leg_id in on_disk else result.events_only).append(row.leg_id)
    result.reported_legs = len(reported)
    result.not_stored = sorted((leg, who) for leg, who in reported.items() if leg not in stored)
    a_legs = {row.call_id for row in rows if row.is_a_leg}
    known_a_legs = a_legs | set(session.scalars(
        select(CapturedLeg.call_id).where(CapturedLeg.is_a_leg, CapturedLeg.call_id.in_({r.call_id for r in rows}))))
    result.incomplete_calls = sorted({row.call_id for row in rows if row.call_id not in known_a_legs})
    built = set(session.scalars(select(CallRecord.call_id).where(CallRecord.call_id.in_(a_legs)))) if a_legs else set()
    result.calls = len(built)
    result.not_built = sorted(a_legs - built)
    to_numbers = set(session.scalars(select(CallRecord.call_id).where(
        CallRecord.call_id.in_(built), CallRecord.number_id.is_not(None)))) if built else set()
    rated = set(session.scalars(select(RatedCall.call_id).where(RatedCall.call_id.in_(to_numbers)))) if to_numbers else set()
    result.rated = len(rated)
    result.unrated = sorted(to_numbers - rated)
    result.events_only.sort()
    result.unswept.sort()
    result.not_applied = [f"{f.call_id} {f.action}: {f.reason}" for f in session.scalars(
        select(ControlFailure).where(ControlFailure.at >= start, ControlFailure.at < end).order_by(ControlFailure.id))]
    result.rejected = list(session.scalars(select(RejectedLeg).where(
        RejectedLeg.received_at >= start, RejectedLeg.received_at < end).order_by(RejectedLeg.received_at, RejectedLeg.id)))
    return result


def rejection_line(rejected: RejectedLeg) -> str:
    """One refused record for people: where it came from, which leg if it names one, why."""
    source = LegSource(rejected.source).name.lower()
    what = rejected.leg_id or "a record naming no leg"
    where = f"{source} from {rejected.node or 'an unknown node'}" + (f", {rejected.file}" if rejected.file else "")
    return f"{what} ({where}): {rejected.reason}"
