"""When a payout falls due: Standard at the latest 6 weeks after the period, PayFast at the
latest 5 Swiss business days after it (weekends and the canton's public holidays excluded)."""

from __future__ import annotations

import datetime as dt

import holidays

STANDARD_WEEKS = 6
PAYFAST_BUSINESS_DAYS = 5


def period_end(period: str) -> dt.date:
    """The last day of a monthly period (``2026-11`` -> 2026-11-30)."""
    first = dt.date.fromisoformat(period + "-01")
    following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return following - dt.timedelta(days=1)


def standard_due(period: str) -> dt.date:
    return period_end(period) + dt.timedelta(weeks=STANDARD_WEEKS)


def business_days_after(day: dt.date, count: int, canton: str) -> dt.date:
    """The ``count``-th Swiss business day after ``day`` in ``canton``."""
    closed = holidays.Switzerland(subdiv=canton, years=range(day.year, day.year + 2))
    found = 0
    while found < count:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in closed:
            found += 1
    return day


def payfast_due(period: str, canton: str) -> dt.date:
    return business_days_after(period_end(period), PAYFAST_BUSINESS_DAYS, canton)
