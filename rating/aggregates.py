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
from sqlalchemy.orm import Session, aliased

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


def _hourly(session: Session, account_id: int, start: dt.datetime, end: dt.datetime, number_id: int | None):
    """(UTC hour, calls, answered, revenue) of the account's hours with calls, in order."""
    query = select(TrafficHour.hour, *_TRAFFIC).where(*_hours(account_id, start, end))
    if number_id is not None:
        query = query.where(TrafficHour.number_id == number_id)
    return session.execute(query.group_by(TrafficHour.hour).order_by(TrafficHour.hour))


def by_hour(session: Session, account_id: int, start: dt.datetime, end: dt.datetime, zone: ZoneInfo,
            number_id: int | None = None) -> list[Traffic]:
    """Per local hour (``2026-11-26 14``), hours without calls left out."""
    return [Traffic(hour.astimezone(zone).isoformat(" ", "hours")[:13], calls, answered, amount or ZERO)
            for hour, calls, answered, amount in _hourly(session, account_id, start, end, number_id)]


def by_day(session: Session, account_id: int, start: dt.datetime, end: dt.datetime, zone: ZoneInfo,
           number_id: int | None = None) -> list[Traffic]:
    """Per local day, folded from the hours."""
    days: dict[dt.date, list] = defaultdict(lambda: [0, 0, ZERO])
    for hour, calls, answered, amount in _hourly(session, account_id, start, end, number_id):
        day = days[hour.astimezone(zone).date()]
        day[0] += calls
        day[1] += answered
        day[2] += amount or ZERO
    return [Traffic(day.isoformat(), *values) for day, values in sorted(days.items())]


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
    ``first_period`` to ``last_period`` (``2026-06``..``2026-11``).

    One statement: a single month's best are the first entries of the account's index in this
    order; several months are summed from that index; each of the ``limit`` found is then
    marked regular by one probe of the primary key for an earlier month."""
    for period in (first_period, last_period):
        period_bounds(period, zone)  # refuses a malformed month
    if first_period == last_period:  # the month equal, so the index is read in revenue order
        calls, revenue_sum = CallerMonth.calls, CallerMonth.payout
        best = select(CallerMonth.caller_e164, CallerMonth.number_id, calls.label("calls"),
                      revenue_sum.label("revenue")).where(CallerMonth.account_id == account_id,
                                                          CallerMonth.period == first_period)
    else:
        calls, revenue_sum = func.sum(CallerMonth.calls), _money_sum(CallerMonth.payout)
        best = (select(CallerMonth.caller_e164, CallerMonth.number_id, calls.label("calls"),
                       revenue_sum.label("revenue"))
                .where(CallerMonth.account_id == account_id, CallerMonth.period >= first_period,
                       CallerMonth.period <= last_period)
                .group_by(CallerMonth.caller_e164, CallerMonth.number_id))
    top = (best.order_by(revenue_sum.desc(), calls.desc(), CallerMonth.caller_e164, CallerMonth.number_id)
           .limit(limit).subquery())
    before = aliased(CallerMonth)
    # the number decides the account: a number belongs to one account, so its earlier callers
    # are that account's (a probe of the primary key, without the account's column)
    called_before = select(before.period).where(
        before.number_id == top.c.number_id, before.caller_e164 == top.c.caller_e164, before.period < first_period,
    ).exists()
    query = (select(top.c.caller_e164, SmartNumber.e164, top.c.calls, top.c.revenue, called_before)
             .join(SmartNumber, SmartNumber.id == top.c.number_id)
             .order_by(top.c.revenue.desc(), top.c.calls.desc(), top.c.caller_e164, top.c.number_id))
    return [TopCaller(caller, e164, count, amount or ZERO, not regular)
            for caller, e164, count, amount, regular in session.execute(query)]


def daily_revenue(session: Session, account_id: int, start: dt.date, end: dt.date, zone: ZoneInfo) -> dict[dt.date, Decimal]:
    """Revenue per local day from ``start`` up to (not including) ``end``."""
    rows = by_day(session, account_id, _local_midnight(start, zone), _local_midnight(end, zone), zone)
    return {dt.date.fromisoformat(row.key): row.revenue for row in rows}


def month_forecast(session: Session, account_id: int, now: dt.datetime, zone: ZoneInfo,
                   today_so_far: Decimal) -> forecast.Forecast:
    """This month's revenue as forecast from the days before today (``rating.forecast``)."""
    today = now.astimezone(zone).date()
    history_start = today.replace(day=1) - dt.timedelta(weeks=forecast.WEEKS + 1)
    return forecast.forecast_month(daily_revenue(session, account_id, history_start, today, zone), today, today_so_far)


def dashboard(session: Session, account_id: int, now: dt.datetime, zone: ZoneInfo) -> dict:
    """Everything the dashboard shows an account, amounts as Decimals."""
    today = now.astimezone(zone).date()
    month_start = today.replace(day=1)
    six_months = (month_start - dt.timedelta(days=150)).replace(day=1)
    tomorrow = _local_midnight(today + dt.timedelta(days=1), zone)
    earned = revenue(session, account_id, now, zone)
    predicted = month_forecast(session, account_id, now, zone, earned.today)
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


def by_numbers(session: Session, number_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, Traffic]:
    """Calls and revenue of the given numbers (by id) between two instants; a number without
    calls is absent. For what a user sees across accounts (granted numbers included)."""
    query = (select(TrafficHour.number_id, *_TRAFFIC)
             .where(TrafficHour.number_id.in_(number_ids), TrafficHour.hour >= start, TrafficHour.hour < end)
             .group_by(TrafficHour.number_id))
    return {number_id: Traffic(str(number_id), calls, answered, amount or ZERO)
            for number_id, calls, answered, amount in session.execute(query)}
