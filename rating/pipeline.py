"""From call records to rated calls: the ORM's tariffs and price list mapped onto the engine's
values, one call or a whole period at a time.

Live rating (at capture) and re-rating (``smartnumbers rate``) both go through ``rate_record``,
so with unchanged tariffs they agree to the Rappen. Exact values are kept to the micro-franc
(half even) beside the values rounded once to the Rappen from the exact result.

The tariff of a segment is the version of its code in force at the call's answer
(``version_at``): a correction, a newer version valid from earlier, re-rates the calls it covers.
A period whose statement is issued is locked: a changed amount there becomes an adjustment
on the account's next statement, the rated call itself stays as it was billed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from rating import rollups
from rating.engine import CallUsage, rate_call
from rating.money import Percent, chf, micro_chf
from rating.price_list import PayoutOption, PriceList, PriceListEntry
from rating.tariff import OneOffFee, RecurringFee, TariffSegment, TariffTerms
from smartnumbers.errors import InputError
from smartnumbers.models import (
    CallRecord,
    PriceListItem,
    RatedCall,
    RatingAdjustment,
    SmartNumber,
    Tariff,
    TariffVersion,
)
from smartnumbers.tariffs import version_at

# The amounts a correction compares and an adjustment carries.
COMPARED = ("caller", "payout", "owner_cost", "payfast_fee", "interconnection")


def tariff_terms(version: TariffVersion) -> TariffTerms:
    """The one mapping from a stored tariff version to the engine's terms. A fee at 0 s is
    charged at answer, like the price per call, so it adds to it."""
    at_answer = sum((f.amount for f in version.fees if f.at_s == 0), Decimal(0))
    return TariffTerms(
        tariff_version_id=version.id,
        code=version.tariff.code,
        price_per_minute=version.price_per_minute,
        first_unit_s=version.first_unit_s,
        next_unit_s=version.next_unit_s,
        price_per_call=version.price_per_call + at_answer,
        one_off_fees=tuple(OneOffFee(f.at_s, f.amount) for f in version.fees if f.at_s),
        recurring_fees=tuple(RecurringFee(f.every_s, f.amount) for f in version.fees if f.every_s is not None),
    )


def load_price_list(session: Session) -> PriceList:
    return PriceList(tuple(
        PriceListEntry(
            range_class=item.range_class,
            origin=item.origin,
            interconnection_per_minute=item.interconnection_per_minute,
            owner_per_minute=item.owner_per_minute,
            payout_share_percent=item.payout_share_percent,
        )
        for item in session.scalars(select(PriceListItem))
    ))


def period_of(instant: dt.datetime, zone: ZoneInfo) -> str:
    """The billing period (month, local time) a call belongs to: that of its start."""
    return instant.astimezone(zone).strftime("%Y-%m")


def period_bounds(period: str, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants a monthly period (``2026-11``, local time) starts and ends at."""
    try:
        first = dt.datetime.strptime(period, "%Y-%m")
    except ValueError:
        raise InputError(f"period: {period!r} is not a month like 2026-11") from None
    following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return (first.replace(tzinfo=zone).astimezone(dt.UTC), following.replace(tzinfo=zone).astimezone(dt.UTC))


@dataclass(frozen=True)
class RatingSetup:
    """What rating needs besides the calls: the operator's price list and settings."""

    price_list: PriceList
    payfast_fee: Percent
    zone: ZoneInfo

    @classmethod
    def load(cls, session: Session, payfast_fee_percent: Decimal, zone: ZoneInfo) -> RatingSetup:
        return cls(load_price_list(session), Percent(payfast_fee_percent), zone)


class TariffBook:
    """Numbers and their tariffs, loaded once per batch; terms mapped once per version."""

    def __init__(self, session: Session, number_ids: Iterable[int]) -> None:
        ids = sorted(set(number_ids))
        self.numbers: dict[int, SmartNumber] = {}
        self._tariffs: dict[tuple[int, int], Tariff] = {}
        self._terms: dict[int, TariffTerms] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for number in session.scalars(select(SmartNumber).where(SmartNumber.id.in_(chunk))):
                self.numbers[number.id] = number
            query = (select(Tariff).where(Tariff.number_id.in_(chunk))
                     .options(selectinload(Tariff.versions).selectinload(TariffVersion.fees)))
            for tariff in session.scalars(query):
                self._tariffs[(tariff.number_id, tariff.code)] = tariff

    def terms(self, number_id: int, code: int, at: dt.datetime) -> TariffTerms | None:
        tariff = self._tariffs.get((number_id, code))
        version = version_at(tariff, at) if tariff else None
        if version is None:
            return None
        if version.id not in self._terms:
            self._terms[version.id] = tariff_terms(version)
        return self._terms[version.id]


def usage_of(call: CallRecord, number: SmartNumber, book: TariffBook) -> CallUsage:
    """The engine's view of a call record: range, origin, talk time and tariff segments."""
    segments = []
    if call.answered:
        if not call.segments and number.range_class.value != "freephone":
            raise InputError("the channel recorded no readable tariff (smart_tariff_segments)")
        for code, start_s, announcement_s in call.segments:
            terms = book.terms(number.id, code, call.answered_at)
            if terms is None:
                if number.range_class.value == "freephone":
                    break
                raise InputError(f"no version of tariff {code} in force at {call.answered_at.isoformat()}")
            segments.append(TariffSegment(terms, start_s, announcement_s))
    return CallUsage(
        range_class=number.range_class,
        origin=call.caller_origin,
        answered=call.answered,
        talk_s=call.talk_s if call.answered else 0,
        segments=tuple(segments),
        number_cap=number.call_cost_cap,
    )


def rate_record(call: CallRecord, book: TariffBook, setup: RatingSetup) -> dict:
    """The rated call's columns for one call record (raises InputError when it cannot be rated)."""
    number = book.numbers.get(call.number_id) if call.number_id is not None else None
    if number is None:
        raise InputError(f"call to {call.dialled}: not a smart number")
    rated = rate_call(
        usage_of(call, number, book),
        setup.price_list,
        payout_option=number.payout_option,
        payfast_fee=setup.payfast_fee,
    )
    return {
        "call_id": call.call_id,
        "account_id": number.account_id,
        "number_id": number.id,
        "period": period_of(call.started_at, setup.zone),
        "tariff_version_ids": ",".join(map(str, rated.tariff_version_ids)),
        "tariff_codes": ",".join(str(code) for code in dict.fromkeys(s.code for s in rated.segments)),
        "answered": call.answered,
        "talk_s": call.talk_s if call.answered else 0,
        "caller_exact": micro_chf(rated.caller.incl_vat_exact),
        "caller": chf(rated.caller.incl_vat),
        "caller_excl_vat": chf(rated.caller.excl_vat),
        "vat": chf(rated.caller.vat),
        "interconnection_exact": micro_chf(rated.interconnection_exact),
        "interconnection": chf(rated.interconnection),
        "net_revenue": chf(rated.net_revenue),
        "owner_cost_exact": micro_chf(rated.owner_cost_exact),
        "owner_cost": chf(rated.owner_cost),
        "payout_exact": micro_chf(rated.owner_payout_exact),
        "payout": chf(rated.owner_payout),
        "payfast_fee": chf(rated.payfast_fee),
    }


@dataclass(frozen=True, slots=True)
class RatingRun:
    """What a rating run did: calls rated, and calls it could not rate with the reason."""

    rated: int
    unrated: dict[str, str]


def _insert(session: Session):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(RatedCall.__table__)


def rate_calls(session: Session, call_ids: Sequence[str], setup: RatingSetup) -> RatingRun:
    """Rate calls not rated yet (live rating: a call is rated once, however often it arrives)."""
    calls: list[CallRecord] = []
    for start in range(0, len(call_ids), 500):
        chunk = list(call_ids[start:start + 500])
        calls += session.scalars(select(CallRecord).where(CallRecord.call_id.in_(chunk)))
    book = TariffBook(session, (c.number_id for c in calls if c.number_id is not None))
    rated, unrated = [], {}
    for call in calls:
        try:
            rated.append((call, rate_record(call, book, setup)))
        except InputError as exc:
            unrated[call.call_id] = str(exc)
    return RatingRun(_insert_rated(session, rated), unrated)


def _insert_rated(session: Session, rated: list[tuple[CallRecord, dict]]) -> int:
    """Insert rated calls not rated yet and count them in the dashboard's sums; a call
    already rated (by another path, concurrently) is left alone and not counted again."""
    if not rated:
        return 0
    query = _insert(session).on_conflict_do_nothing(index_elements=["call_id"]).returning(RatedCall.call_id)
    inserted = set(session.scalars(query, [row for _, row in rated]))
    rollups.count_rated(session, [(call, row) for call, row in rated if call.call_id in inserted])
    return len(inserted)


@dataclass(frozen=True, slots=True)
class RatingChange:
    """A call whose amounts a re-rating changed; ``adjusted`` when its period was locked."""

    call_id: str
    number_id: int
    started_at: dt.datetime
    before: dict[str, Decimal]
    after: dict[str, Decimal]
    adjusted: bool

    @property
    def delta(self) -> dict[str, Decimal]:
        return {key: self.after[key] - self.before[key] for key in COMPARED}


@dataclass(frozen=True, slots=True)
class RerateResult:
    rated: int
    changes: list[RatingChange]
    unrated: dict[str, str]


def _billed(session: Session, rated: RatedCall) -> dict[str, Decimal]:
    """What a locked call stands at: as billed, plus the adjustments already made to it."""
    amounts = {key: getattr(rated, key) for key in COMPARED}
    adjustments = session.execute(
        select(func.sum(RatingAdjustment.caller), func.sum(RatingAdjustment.payout),
               func.sum(RatingAdjustment.owner_cost), func.sum(RatingAdjustment.payfast_fee))
        .where(RatingAdjustment.call_id == rated.call_id)
    ).one()
    for key, extra in zip(("caller", "payout", "owner_cost", "payfast_fee"), adjustments):
        amounts[key] += extra or 0
    return amounts


def rate_period(
    session: Session,
    period: str,
    setup: RatingSetup,
    *,
    rerate: bool,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 2000,
) -> RerateResult:
    """Rate the period's calls not rated yet; with ``rerate``, recompute the rated ones too and
    return every call whose amounts changed (locked periods get adjustments instead)."""
    start, end = period_bounds(period, setup.zone)
    ids = list(session.scalars(
        select(CallRecord.call_id).where(CallRecord.started_at >= start, CallRecord.started_at < end)
        .order_by(CallRecord.started_at, CallRecord.call_id)
    ))
    rated_count, changes, unrated = 0, [], {}
    for offset in range(0, len(ids), batch):
        chunk = ids[offset:offset + batch]
        calls = list(session.scalars(select(CallRecord).where(CallRecord.call_id.in_(chunk))))
        existing = {r.call_id: r for r in session.scalars(select(RatedCall).where(RatedCall.call_id.in_(chunk)))}
        book = TariffBook(session, (c.number_id for c in calls if c.number_id is not None))
        fresh, revenue_changes = [], []
        for call in calls:
            if call.call_id in existing and not rerate:
                continue
            try:
                row = rate_record(call, book, setup)
            except InputError as exc:
                unrated[call.call_id] = str(exc)
                continue
            rated_count += 1
            old = existing.get(call.call_id)
            if old is None:
                fresh.append((call, row))
                continue
            before = _billed(session, old) if old.statement_id else {k: getattr(old, k) for k in COMPARED}
            after = {key: row[key] for key in COMPARED}
            if before == after and (old.statement_id or old.tariff_version_ids == row["tariff_version_ids"]):
                continue
            if old.statement_id is not None:
                if before != after:
                    delta = {key: after[key] - before[key] for key in COMPARED}
                    session.add(RatingAdjustment(
                        call_id=call.call_id, account_id=old.account_id, caller=delta["caller"],
                        payout=delta["payout"], owner_cost=delta["owner_cost"], payfast_fee=delta["payfast_fee"],
                        reason=f"re-rated {period}: tariff versions {row['tariff_version_ids']}",
                    ))
                    changes.append(RatingChange(call.call_id, old.number_id, call.started_at, before, after, True))
                continue
            revenue_changes.append((call, row, row["payout"] - old.payout))
            for key, value in row.items():
                setattr(old, key, value)
            old.rated_at = dt.datetime.now(dt.UTC)
            if before != after:
                changes.append(RatingChange(call.call_id, old.number_id, call.started_at, before, after, False))
        _insert_rated(session, fresh)
        rollups.add_revenue(session, revenue_changes)
        session.flush()
        if progress:
            progress(min(offset + batch, len(ids)), len(ids))
    return RerateResult(rated_count, changes, unrated)
