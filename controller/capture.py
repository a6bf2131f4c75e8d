"""Capture that loses nothing: every leg the switch reports is stored first, keyed by its id,
whichever path it came by (hangup event, CDR post, swept CDR file); then the calls whose A-leg
is in are built and rated.

A leg arriving again (a second path, a retried post) changes nothing but the record of the
paths it came by, so a call is counted once. B-legs usually arrive before their A-leg: they
wait in ``captured_leg`` until it comes. A late B-leg rebuilds its call's record (the
destination of that attempt) but never rates the call twice. A record the switch's adapter
refused is kept in ``rejected_leg`` with its reason, in the same transaction as the good legs
of its batch.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import JSON, ColumnElement, Enum, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from controller.call_records import call_values
from controller.calls import HangupSide, HuntAttempt, LegDirection, LegRecord
from rating.pipeline import RatingRun, RatingSetup, rate_calls
from smartnumbers.db import make_engine, session_factory, utcnow
from smartnumbers.errors import InputError
from smartnumbers.logs import about_call
from smartnumbers.models import CallRecord, CapturedLeg, LegSource, RejectedLeg, SmartNumber
from smartnumbers.phone import Caller, CallerOrigin, parse_number

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ArrivedLeg:
    """One leg as one path delivered it, with the switch's own bytes."""

    record: LegRecord
    source: LegSource
    raw: bytes


@dataclass(frozen=True, slots=True)
class RefusedArrival:
    """A leg record one path delivered and the switch's adapter refused, with the reason.
    ``node`` is the node's name, or for a post the address it came from; ``file`` the name
    of a swept file."""

    node: str
    source: LegSource
    reason: str
    raw: bytes
    leg_id: str | None = None
    file: str | None = None


@dataclass(slots=True)
class Stored:
    """What one batch changed: legs new to the store, legs already there, calls (re)built,
    refusals recorded."""

    new_legs: list[str] = field(default_factory=list)
    known_legs: list[str] = field(default_factory=list)
    built_calls: list[str] = field(default_factory=list)
    new_calls: list[str] = field(default_factory=list)
    refused: int = 0


# --- the neutral record as stored -------------------------------------------------------------


def leg_json(leg: LegRecord) -> dict[str, Any]:
    return {
        "node": leg.node, "leg_id": leg.leg_id, "call_id": leg.call_id, "direction": leg.direction.value,
        "caller": [leg.caller.e164, leg.caller.withheld, leg.caller.origin.value],
        "destination": leg.destination, "started_at": leg.started_at.isoformat(),
        "answered_at": leg.answered_at.isoformat() if leg.answered_at else None,
        "ended_at": leg.ended_at.isoformat(), "duration_ms": leg.duration_ms, "billed_ms": leg.billed_ms,
        "cause": leg.cause, "q850": leg.q850, "side": leg.side.value,
        "hunt": [[h.leg_id, h.cause] for h in leg.hunt], "tags": leg.tags,
    }


def leg_from_json(data: dict[str, Any]) -> LegRecord:
    e164, withheld, origin = data["caller"]
    return LegRecord(
        node=data["node"], leg_id=data["leg_id"], call_id=data["call_id"],
        direction=LegDirection(data["direction"]), caller=Caller(e164, withheld, CallerOrigin(origin)),
        destination=data["destination"], started_at=datetime.fromisoformat(data["started_at"]),
        answered_at=datetime.fromisoformat(data["answered_at"]) if data["answered_at"] else None,
        ended_at=datetime.fromisoformat(data["ended_at"]), duration_ms=data["duration_ms"],
        billed_ms=data["billed_ms"], cause=data["cause"], q850=data["q850"], side=HangupSide(data["side"]),
        hunt=tuple(HuntAttempt(leg, cause) for leg, cause in data["hunt"]), tags=dict(data["tags"]),
    )


# --- storing ---------------------------------------------------------------------------------


EXCERPT_CHARS = 400
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def excerpt(raw: bytes) -> str:
    """The start of a refused record, printable and bounded (a record can be megabytes)."""
    text = raw[:EXCERPT_CHARS].decode("utf-8", "replace")
    return _UNPRINTABLE.sub("\N{REPLACEMENT CHARACTER}", text)


def record_refusals(session: Session, refusals: Sequence[RefusedArrival]) -> None:
    """Keep each refused record's reason (``cdr reconcile`` lists them), in the caller's
    transaction; once, like a leg: the same record refused again (a retried post) adds nothing."""
    now = utcnow()
    for refusal in refusals:
        row = {"node": refusal.node[:64], "source": int(refusal.source), "leg_id": refusal.leg_id,
               "reason": refusal.reason[:500], "excerpt": excerpt(refusal.raw),
               "file": refusal.file[:255] if refusal.file else None}
        known = select(RejectedLeg.id).where(*(getattr(RejectedLeg, k) == v if v is not None
                                               else getattr(RejectedLeg, k).is_(None) for k, v in row.items()))
        if session.scalar(known.limit(1)) is None:
            session.add(RejectedLeg(**row, received_at=now))
            session.flush()


def store_legs(
    session: Session,
    arrivals: Sequence[ArrivedLeg],
    rate: Callable[[Session, list[str]], object] | None = None,
    refusals: Sequence[RefusedArrival] = (),
) -> Stored:
    """Store a batch of arrived legs and the refusals of the same batch, build the calls the
    legs complete, and hand the calls new to the store to ``rate`` (the rating pipeline); all
    in the caller's transaction."""
    stored = Stored(refused=len(refusals))
    if refusals:
        record_refusals(session, refusals)
    if not arrivals:
        return stored
    now = utcnow()
    by_leg: dict[str, dict[str, Any]] = {}
    for arrival in arrivals:
        leg = arrival.record
        row = by_leg.get(leg.leg_id)
        if row is None:
            row = by_leg[leg.leg_id] = {
                "leg_id": leg.leg_id, "call_id": leg.call_id, "node": leg.node, "is_a_leg": leg.leg_id == leg.call_id,
                "started_at": leg.started_at, "sources": 0, "record": leg_json(leg),
                "raw_event": None, "raw_cdr": None, "received_at": now,
            }
        row["sources"] |= int(arrival.source)
        kind = "raw_event" if arrival.source is LegSource.EVENT else "raw_cdr"
        row[kind] = row[kind] or arrival.raw
    leg_ids = list(by_leg)
    known = set(session.scalars(select(CapturedLeg.leg_id).where(_among(session, CapturedLeg.leg_id, leg_ids))))
    _upsert(session, CapturedLeg.__table__, list(by_leg.values()), lambda table, excluded: {
        "sources": table.c.sources.op("|")(excluded.sources),
        "raw_event": func.coalesce(table.c.raw_event, excluded.raw_event),
        "raw_cdr": func.coalesce(table.c.raw_cdr, excluded.raw_cdr),
    })
    stored.known_legs = [leg for leg in leg_ids if leg in known]
    stored.new_legs = [leg for leg in leg_ids if leg not in known]
    touched = {by_leg[leg]["call_id"] for leg in stored.new_legs}
    if touched:
        in_hand = {arrival.record.leg_id: arrival.record for arrival in arrivals}
        built, new = build_calls(session, touched, in_hand)
        stored.built_calls, stored.new_calls = built, new
        if rate is not None and new:
            rate(session, new)
    return stored


def build_calls(
    session: Session, call_ids: Iterable[str], in_hand: dict[str, LegRecord] | None = None
) -> tuple[list[str], list[str]]:
    """(Re)build the records of the calls whose A-leg is stored; returns (built, new).
    Legs ``in_hand`` (the batch just stored) are not read back from the database."""
    wanted = list(dict.fromkeys(call_ids))  # once each: one statement may not upsert a row twice
    in_hand = in_hand or {}
    legs: dict[str, dict[str, LegRecord]] = {}
    for chunk in _chunks(wanted, 500):
        stored_ids = session.execute(select(CapturedLeg.call_id, CapturedLeg.leg_id)
                                     .where(_among(session, CapturedLeg.call_id, chunk))).all()
        for call_id, leg_id in stored_ids:
            if leg_id in in_hand:
                legs.setdefault(call_id, {})[leg_id] = in_hand[leg_id]
        elsewhere = [leg_id for _, leg_id in stored_ids if leg_id not in in_hand]
        for part in _chunks(elsewhere, 500):
            for record in session.scalars(select(CapturedLeg.record).where(_among(session, CapturedLeg.leg_id, part))):
                leg = leg_from_json(record)
                legs.setdefault(leg.call_id, {})[leg.leg_id] = leg
    complete = [call for call in wanted if call in legs.get(call, {})]
    if not complete:
        return [], []
    existing = set()
    for chunk in _chunks(complete, 500):
        existing |= set(session.scalars(select(CallRecord.call_id).where(_among(session, CallRecord.call_id, chunk))))
    numbers = _NumberLookup(session)
    now = utcnow()
    rows = []
    for call in complete:
        values = call_values(legs[call][call], legs[call])
        number = numbers.find(values["dialled"])
        values["number_id"] = number.id if number else None
        values["account_id"] = number.account_id if number else None
        values["dialled"] = number.e164 if number else values["dialled"][:64]
        values["built_at"] = now
        rows.append(values)
    _upsert(session, CallRecord.__table__, rows,  # a rebuild keeps the time of the first build
            lambda table, excluded: {key: excluded[key] for key in rows[0] if key not in ("call_id", "built_at")})
    return complete, [call for call in complete if call not in existing]


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _among(session: Session, column: ColumnElement, values: list[str]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``, one parameter instead of one
    a value (a thousand-parameter statement costs more to send and parse than to run)."""
    if _postgresql(session):
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def _upsert(session: Session, table: Table, rows: list[dict[str, Any]],
            update: Callable[[Table, Any], dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE SET ``update(table, excluded)`` of a batch
    of rows. On PostgreSQL it is one statement over ``unnest`` of one array a column, sent in
    binary (planned once, no text escaping of the raw bytes), instead of a statement a row."""
    key = [column.name for column in table.primary_key.columns]
    if not _postgresql(session):
        insert = sqlite.insert(table)
        session.execute(insert.on_conflict_do_update(index_elements=key, set_=update(table, insert.excluded)), rows)
        return
    dialect = session.get_bind().dialect
    names = list(rows[0])
    arrays, columns = [], []
    for name in names:
        kind = table.c[name].type
        sql_type = kind.compile(dialect=dialect)
        arrays.append(f"%({name})b::{'TEXT' if isinstance(kind, JSON) else sql_type}[]")
        columns.append(f"{name}::{sql_type}" if isinstance(kind, JSON) else name)
    excluded = postgresql.insert(table).excluded
    assignments = ", ".join(f"{name} = {expression.compile(dialect=dialect)}"
                            for name, expression in update(table, excluded).items())
    statement = (f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(columns)} "
                 f"FROM unnest({', '.join(arrays)}) AS arrived ({', '.join(names)}) "
                 f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assignments}")
    for part in _chunks(rows, _UNNEST_ROWS):
        session.connection().exec_driver_sql(statement, {name: _column_values(table.c[name].type, part, name, dialect)
                                                         for name in names})


# PostgreSQL keeps what ``unnest`` returns in work_mem (4 MB by default) and spills the rest
# to a temporary file: 200 legs of about 11 kB of raw event each stay under it.
_UNNEST_ROWS = 200


def _column_values(kind: TypeEngine, rows: list[dict[str, Any]], name: str, dialect) -> list[Any]:
    """A column's values as PostgreSQL takes them in a binary array: JSON as its text
    (orjson), an enum as its value, anything else through its type's own conversion (the
    project's ``UTCDateTime`` refuses a naive time, ``Money`` turns CHF into micro-francs)."""
    values = [row[name] for row in rows]
    if isinstance(kind, JSON):
        return [orjson.dumps(value).decode() for value in values]
    if isinstance(kind, Enum):
        return [value.value if isinstance(value, enum.Enum) else value for value in values]
    process = kind.bind_processor(dialect)
    return values if process is None else [process(value) for value in values]


class _NumberLookup:
    """The smart number a call was made to, by its E.164 form, looked up once per batch."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._found: dict[str, SmartNumber | None] = {}

    def find(self, dialled: str) -> SmartNumber | None:
        if dialled not in self._found:
            try:
                e164 = parse_number(dialled)
            except InputError:
                self._found[dialled] = None
            else:
                self._found[dialled] = self._session.scalar(select(SmartNumber).where(SmartNumber.e164 == e164))
        return self._found[dialled]


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def rating_with(payfast_fee_percent: Decimal, zone: ZoneInfo) -> Callable[[Session, list[str]], RatingRun]:
    """Live rating as capture runs it: the calls a batch completes, priced at once."""

    def rate(session: Session, call_ids: list[str]) -> RatingRun:
        run = rate_calls(session, call_ids, RatingSetup.load(session, payfast_fee_percent, zone))
        for call_id, reason in run.unrated.items():
            with about_call(call_id):
                log.warning("call %s stored but not rated: %s", call_id, reason)
        return run

    return rate


@contextlib.contextmanager
def committing_store(database_url: str, payfast_fee_percent: Decimal, zone: ZoneInfo) -> Iterator[
        Callable[..., Stored]]:
    """The capture service for callers outside a request (the sweeper, the Event Socket
    consumer): each batch is stored, built and rated in its own committed transaction."""
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    rate = rating_with(payfast_fee_percent, zone)

    def store(arrivals: list[ArrivedLeg], refusals: Sequence[RefusedArrival] = ()) -> Stored:
        with sessions() as session, session.begin():
            return store_legs(session, arrivals, rate, refusals)

    try:
        yield store
    finally:
        engine.dispose()
