"""What the portal's dashboard shows an account: revenue yesterday, today, this month and this
year; by number, day and hour; answered and unanswered calls; the top callers.

Revenue is the owner's share (``payout``, excl. VAT, rounded per call), so the dashboard adds
up to the statement. The queries read the running sums kept as calls are rated
(``rating.rollups``: per number and hour, per caller and month), not the calls themselves, so
they stay fast however many calls an account has. Days and hours are Europe/Zurich: sums are
kept per UTC hour and folded into local days here (Zurich's offsets are whole hours, so this is
exact across the March and October changes). A withheld caller is never shown.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select, type_coerce
from sqlalchemy.orm import Session

from rating import forecast
from rating.pipeline import period_bounds
from smartnumbers.db import Money
from smartnumbers.models import CallerMonth, SmartNumber, TrafficHour

ZERO = Decimal(0)


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


def _hours(account_id: int, start: dt.datetime, end: dt.datetime):
    return (TrafficHour.account_id == account_id, TrafficHour.hour >= start, TrafficHour.hour < end)


def revenue(session: Session, account_id: int, now: dt.datetime, zone: ZoneInfo) -> Revenue:
    """Revenue of the calls started yesterday, today, this month and this year (local)."""
    today = now.astimezone(zone).date()
    tomorrow = today + dt.timedelta(days=1)
    bounds = ((today - dt.timedelta(days=1), today), (today, tomorrow), (today.replace(day=1), tomorrow),
              (today.replace(month=1, day=1), tomorrow))
    utc = [(_local_midnight(a, zone), _local_midnight(b, zone)) for a, b in bounds]
    hour = TrafficHour.hour
    sums = [_money_sum(case((and_(hour >= a, hour < b), TrafficHour.payout), else_=None)) for a, b in utc]
    first = min(utc[0][0], utc[3][0])
    row = session.execute(select(*sums).where(*_hours(account_id, first, utc[1][1]))).one()
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


_TRAFFIC = (func.sum(TrafficHour.calls), func.sum(TrafficHour.answered), _money_sum(TrafficHour.payout))


def by_number(session: Session, account_id: int, start: dt.datetime, end: dt.datetime) -> list[Traffic]:
    query = (select(SmartNumber.e164, *_TRAFFIC).join(SmartNumber, SmartNumber.id == TrafficHour.number_id)
             .where(*_hours(account_id, start, end)).group_by(SmartNumber.e164).order_by(SmartNumber.e164))
    return [Traffic(e164, calls, answered, amount or ZERO) for e164, calls, answered, amount in session.execute(query)]


def by_hour(session: Session, account_id: int, start: dt.datetime, end: dt.datetime, zone: ZoneInfo,
            number_id: int | None = None) -> list[Traffic]:
    """Per local hour (``2026-11-26 14``), hours without calls left out."""
    query = select(TrafficHour.hour, *_TRAFFIC).where(*_hours(account_id, start, end))
    if number_id is not None:
        query = query.where(TrafficHour.number_id == number_id)
    query = query.group_by(TrafficHour.hour).order_by(TrafficHour.hour)
    return [Traffic(hour.astimezone(zone).strftime("%Y-%m-%d %H"), calls, answered, amount or ZERO)
            for hour, calls, answered, amount in session.execute(query)]


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
    new: bool  # no call from this caller to this number before the first month


def top_callers(session: Session, account_id: int, first_period: str, last_period: str, zone: ZoneInfo,
                limit: int = 200) -> list[TopCaller]:
    """The callers who brought each of the account's numbers the most revenue in the months
    ``first_period`` to ``last_period`` (``2026-06``..``2026-11``)."""
    in_months = (CallerMonth.account_id == account_id, CallerMonth.period >= first_period,
                 CallerMonth.period <= last_period)
    if first_period == last_period:  # one row a caller and number: read in revenue order off the index
        calls, revenue_sum = CallerMonth.calls.label("calls"), CallerMonth.payout.label("revenue")
        best = select(CallerMonth.caller_e164, CallerMonth.number_id, calls, revenue_sum).where(*in_months)
    else:
        calls, revenue_sum = func.sum(CallerMonth.calls).label("calls"), _money_sum(CallerMonth.payout).label("revenue")
        best = (select(CallerMonth.caller_e164, CallerMonth.number_id, calls, revenue_sum).where(*in_months)
                .group_by(CallerMonth.caller_e164, CallerMonth.number_id))
    top = best.order_by(revenue_sum.desc(), calls.desc(), CallerMonth.caller_e164).limit(limit).subquery()
    query = (select(top.c.caller_e164, top.c.number_id, SmartNumber.e164, top.c.calls, top.c.revenue)
             .join(SmartNumber, SmartNumber.id == top.c.number_id)
             .order_by(top.c.revenue.desc(), top.c.calls.desc(), top.c.caller_e164))
    rows = session.execute(query).all()
    period_bounds(first_period, zone)  # refuses a malformed month
    earlier = set()
    callers = {row[0] for row in rows}
    if callers:
        earlier = set(session.execute(
            select(CallerMonth.caller_e164, CallerMonth.number_id).distinct()
            .where(CallerMonth.account_id == account_id, CallerMonth.period < first_period,
                   CallerMonth.caller_e164.in_(callers))
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
    this_month = month_start.strftime("%Y-%m")
    return {
        "revenue": _as_dict(earned),
        "forecast_month": predicted.total,
        "forecast_method": "weekday means of the last 8 weeks, scaled by the month's trend so far",
        "by_number": [_as_dict(t) | {"unanswered": t.unanswered} for t in by_number(session, account_id, *period)],
        "by_day": [_as_dict(t) | {"unanswered": t.unanswered} for t in by_day(session, account_id, *period, zone)],
        "top_callers_month": [_as_dict(t) for t in top_callers(session, account_id, this_month, this_month, zone)],
        "top_callers_six_months": [_as_dict(t) for t in top_callers(
            session, account_id, six_months.strftime("%Y-%m"), this_month, zone)],
    }


def _as_dict(value) -> dict:
    return {name: getattr(value, name) for name in value.__slots__}
