"""The revenue forecast of the current month, and its error measured by back-testing.

Method (documented for the portal): the month is known day by day up to yesterday; each
remaining day is expected to bring the mean revenue of the same weekday over the last 8 weeks
(weekly seasonality dominates service-number traffic), scaled by the month's trend: the ratio
of this month's revenue up to yesterday to what those weekday means predicted for the same
days, clamped to 0.5..2 (no trend on the first day of the month). Today brings the larger of
its revenue so far and its scaled expectation. The forecast is the sum.

Back-testing replays the method on a history: for every month with 8 weeks before it and every
day of that month taken as "today", the forecast is compared with the month's actual total;
the error is the mean absolute percentage error over those cases.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from smartnumbers.money import RAPPEN, round_rappen

ZERO = Decimal(0)
WEEKS = 8
TREND_LIMITS = (Decimal("0.5"), Decimal("2"))


def _weekday_mean(daily: Mapping[dt.date, Decimal], day: dt.date, before: dt.date) -> Decimal:
    """Mean revenue of ``day``'s weekday over the 8 weeks before ``before``."""
    latest = before - dt.timedelta(days=(before.weekday() - day.weekday()) % 7 or 7)
    samples = [daily.get(latest - dt.timedelta(weeks=week), ZERO) for week in range(WEEKS)]
    return sum(samples, ZERO) / WEEKS


@dataclass(frozen=True, slots=True)
class Forecast:
    month_to_date: Decimal  # up to yesterday
    today: Decimal  # today's revenue so far, or its expectation if larger
    expected_rest: Decimal  # after today
    trend: Decimal

    @property
    def total(self) -> Decimal:
        return round_rappen(self.month_to_date + self.today + self.expected_rest)


def forecast_month(daily: Mapping[dt.date, Decimal], today: dt.date, today_so_far: Decimal = ZERO) -> Forecast:
    """The month's total revenue as forecast on ``today`` from the daily revenue before it
    and today's revenue so far."""
    first = today.replace(day=1)
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    past = [first + dt.timedelta(days=i) for i in range((today - first).days)]
    rest = [today + dt.timedelta(days=i) for i in range(1, (last - today).days + 1)]
    to_date = sum((daily.get(day, ZERO) for day in past), ZERO)
    trend = Decimal(1)
    if past:
        predicted = sum((_weekday_mean(daily, day, first) for day in past), ZERO)
        if predicted > 0:
            trend = min(max(to_date / predicted, TREND_LIMITS[0]), TREND_LIMITS[1])
    expected = sum((_weekday_mean(daily, day, today) for day in rest), ZERO) * trend
    return Forecast(to_date, max(today_so_far, _weekday_mean(daily, today, today) * trend), expected, trend)


@dataclass(frozen=True, slots=True)
class BackTest:
    cases: int
    mean_abs_percent_error: Decimal
    error_on_day_1: Decimal
    error_on_day_15: Decimal


def backtest(daily: Mapping[dt.date, Decimal]) -> BackTest:
    """Replay the forecast over every day of every month that has 8 weeks of history before it."""
    days = sorted(daily)
    start = days[0] + dt.timedelta(weeks=WEEKS)
    month = dt.date(start.year, start.month, 1)
    if month < start:
        month = (month + dt.timedelta(days=32)).replace(day=1)
    errors: list[Decimal] = []
    by_day: dict[int, list[Decimal]] = {1: [], 15: []}
    while True:
        last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
        if last > days[-1]:
            break
        actual = sum((daily.get(month + dt.timedelta(days=i), ZERO) for i in range(last.day)), ZERO)
        if actual > 0:
            for i in range(last.day):
                today = month + dt.timedelta(days=i)
                error = abs(forecast_month(daily, today).total - actual) / actual * 100
                errors.append(error)
                if today.day in by_day:
                    by_day[today.day].append(error)
        month = last + dt.timedelta(days=1)
    if not errors:
        raise ValueError("back-testing needs at least one whole month after 8 weeks of history")

    def mean(values: list[Decimal]) -> Decimal:
        return (sum(values, ZERO) / len(values)).quantize(Decimal("0.01")) if values else ZERO

    return BackTest(len(errors), mean(errors), mean(by_day[1]), mean(by_day[15]))


# Weekday shape of premium-rate traffic (Monday first), in percent of the base day.
_WEEKDAY_PERCENT = (108, 104, 103, 105, 112, 86, 74)


def generated_history(start: dt.date, days: int, *, seed: int, base: Decimal = Decimal("1500.00")) -> dict[dt.date, Decimal]:
    """A made-up daily revenue history to back-test on: weekly shape, slow growth (0.05 % a
    day), day-to-day noise of about ±10 %, and a few promotion days at 1.5 to 2.5 times.
    Integer percentages only: money stays Decimal."""
    rng = random.Random(seed)
    history = {}
    for i in range(days):
        day = start + dt.timedelta(days=i)
        noise = 100 + sum(rng.randint(-6, 6) for _ in range(3))
        promotion = rng.choice((150, 200, 250)) if rng.randint(1, 60) == 1 else 100
        growth = Decimal(10000 + 5 * i) / 10000
        amount = base * growth * _WEEKDAY_PERCENT[day.weekday()] * noise * promotion / 1_000_000
        history[day] = amount.quantize(RAPPEN)
    return history
