"""What the portal's dashboard shows an account: revenue yesterday, today, this month and this
year; by number, day and hour; answered and unanswered calls; the top callers.

Revenue is the owner's share (``rated_call.payout``, excl. VAT, rounded per call), so the
dashboard adds up to the statement. Sums run in the database over the account's calls
(index ``account_id, started_at``); days and hours are Europe/Zurich: the database groups by
UTC hour and hours are folded into local days here (Zurich's offsets are whole hours, so this
is exact across the March and October changes). A withheld caller is never shown as a number.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, select, type_coerce
from sqlalchemy.orm import Session

from rating import forecast
from smartnumbers.db import Money
from smartnumbers.models import CallRecord, RatedCall, SmartNumber

ZERO = Decimal(0)


def _utc_hour(session: Session):
    """The call's start truncated to the UTC hour, as text both databases agree on."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.date_trunc("hour", func.timezone("UTC", CallRecord.started_at)), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", CallRecord.started_at)


def _money_sum(column):
    """A sum of money columns, read back as Decimal CHF (the database adds micro-francs)."""
    return type_coerce(func.sum(column), Money)


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Revenue:
    yesterday: Decimal
    today: Decimal
    month: Decimal
    year: Decimal


def _calls(account_id: int, start: dt.datetime, end: dt.datetime, number_id: int | None = None) -> Select:
    query = (select().select_from(CallRecord)
             .outerjoin(RatedCall, RatedCall.call_id == CallRecord.call_id)
             .where(CallRecord.account_id == account_id, CallRecord.started_at >= start, CallRecord.started_at < end))
    return query.where(CallRecord.number_id == number_id) if number_id is not None else query


def revenue(session: Session, account_id: int, now: dt.datetime, zone: ZoneInfo) -> Revenue:
    """Revenue of the calls started yesterday, today, this month and this year (local)."""
    today = now.astimezone(zone).date()
    bounds = {
        "yesterday": (today - dt.timedelta(days=1), today),
        "today": (today, today + dt.timedelta(days=1)),
        "month": (today.replace(day=1), today + dt.timedelta(days=1)),
        "year": (today.replace(month=1, day=1), today + dt.timedelta(days=1)),
    }
    utc = {key: (_local_midnight(a, zone), _local_midnight(b, zone)) for key, (a, b) in bounds.items()}
    started = CallRecord.started_at
    sums = [_money_sum(case((and_(started >= a, started < b), RatedCall.payout), else_=None)) for a, b in utc.values()]
    year_start = utc["year"][0]
    row = session.execute(_calls(account_id, min(year_start, utc["yesterday"][0]), utc["today"][1])
                          .add_columns(*sums)).one()
    return Revenue(*(value or ZERO for value in row))


@dataclass(frozen=True, slots=True)
class Traffic:
    """Calls and revenue of a slice (a number, a local day or hour)."""

    key: str
    calls: int
    answered: int
    revenue: Decimal

    @property
    def unanswered(self) -> int:
        return self.calls - self.answered


def _traffic_columns():
    return (func.count(), func.sum(case((CallRecord.answered, 1), else_=0)), _money_sum(RatedCall.payout))


def by_number(session: Session, account_id: int, start: dt.datetime, end: dt.datetime) -> list[Traffic]:
    query = (_calls(account_id, start, end).join(SmartNumber, SmartNumber.id == CallRecord.number_id)
             .add_columns(SmartNumber.e164, *_traffic_columns()).group_by(SmartNumber.e164).order_by(SmartNumber.e164))
    return [Traffic(e164, count, answered or 0, amount or ZERO)
            for e164, count, answered, amount in session.execute(query)]


def by_hour(session: Session, account_id: int, start: dt.datetime, end: dt.datetime, zone: ZoneInfo,
            number_id: int | None = None) -> list[Traffic]:
    """Per local hour (``2026-11-26 14``), hours without calls left out."""
    hour = _utc_hour(session)
    query = _calls(account_id, start, end, number_id).add_columns(hour, *_traffic_columns()).group_by(hour).order_by(hour)
    rows = []
    for key, count, answered, amount in session.execute(query):
        instant = dt.datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=dt.UTC)
        rows.append(Traffic(instant.astimezone(zone).strftime("%Y-%m-%d %H"), count, answered or 0,
                            amount or ZERO))
    return rows


def by_day(session: Session, account_id: int, start: dt.datetime, end: dt.datetime, zone: ZoneInfo,
           number_id: int | None = None) -> list[Traffic]:
    """Per local day, folded from the hours."""
    days: dict[str, list] = defaultdict(lambda: [0, 0, ZERO])
    for hour in by_hour(session, account_id, start, end, zone, number_id):
        day = days[hour.key[:10]]
        day[0] += hour.calls
        day[1] += hour.answered
        day[2] += hour.revenue
    return [Traffic(key, *values) for key, values in sorted(days.items())]


@dataclass(frozen=True, slots=True)
class TopCaller:
    caller: str  # E.164; withheld callers are never listed
    number: str
    calls: int
    revenue: Decimal
    new: bool  # no call from this caller to this number before the period


def top_callers(session: Session, account_id: int, start: dt.datetime, end: dt.datetime,
                limit: int = 200) -> list[TopCaller]:
    """The callers who brought the most revenue to each of the account's numbers in the period."""
    revenue_sum = _money_sum(RatedCall.payout)
    query = (_calls(account_id, start, end)
             .join(SmartNumber, SmartNumber.id == CallRecord.number_id)
             .where(CallRecord.caller_withheld.is_(False), CallRecord.caller_e164.is_not(None))
             .add_columns(CallRecord.caller_e164, CallRecord.number_id, SmartNumber.e164, func.count(), revenue_sum)
             .group_by(CallRecord.caller_e164, CallRecord.number_id, SmartNumber.e164)
             .order_by(revenue_sum.desc().nulls_last(), func.count().desc(), CallRecord.caller_e164)
             .limit(limit))
    rows = session.execute(query).all()
    callers = {row[0] for row in rows}
    earlier = set()
    if callers:
        earlier = set(session.execute(
            select(CallRecord.caller_e164, CallRecord.number_id).distinct()
            .where(CallRecord.account_id == account_id, CallRecord.started_at < start,
                   CallRecord.caller_e164.in_(callers))
        ).tuples())
    return [TopCaller(caller, e164, count, amount or ZERO, (caller, number_id) not in earlier)
            for caller, number_id, e164, count, amount in rows]


def daily_revenue(session: Session, account_id: int, start: dt.date, end: dt.date, zone: ZoneInfo) -> dict[dt.date, Decimal]:
    """Revenue per local day from ``start`` up to (not including) ``end``."""
    rows = by_day(session, account_id, _local_midnight(start, zone), _local_midnight(end, zone), zone)
    return {dt.date.fromisoformat(row.key): row.revenue for row in rows}


def dashboard(session: Session, account_id: int, now: dt.datetime, zone: ZoneInfo) -> dict:
    """Everything the dashboard shows an account, amounts as Decimals."""
    today = now.astimezone(zone).date()
    month_start = today.replace(day=1)
    six_months = (month_start - dt.timedelta(days=150)).replace(day=1)
    tomorrow = _local_midnight(today + dt.timedelta(days=1), zone)
    history_start = min(month_start, today) - dt.timedelta(weeks=forecast.WEEKS + 1)
    earned = revenue(session, account_id, now, zone)
    history = daily_revenue(session, account_id, history_start, today, zone)
    predicted = forecast.forecast_month(history, today, earned.today)
    period = _local_midnight(month_start, zone), tomorrow
    return {
        "revenue": _as_dict(earned),
        "forecast_month": predicted.total,
        "forecast_method": "weekday means of the last 8 weeks, scaled by the month's trend so far",
        "by_number": [_as_dict(t) | {"unanswered": t.unanswered} for t in by_number(session, account_id, *period)],
        "by_day": [_as_dict(t) | {"unanswered": t.unanswered} for t in by_day(session, account_id, *period, zone)],
        "top_callers_month": [_as_dict(t) for t in top_callers(session, account_id, *period)],
        "top_callers_six_months": [_as_dict(t) for t in top_callers(
            session, account_id, _local_midnight(six_months, zone), tomorrow)],
    }


def _as_dict(value) -> dict:
    return {name: getattr(value, name) for name in value.__slots__}
