"""Local wall-clock time as people type and read it (Europe/Zurich), UTC inside."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from smartnumbers.errors import InputError


def parse_local(text: str, zone: ZoneInfo, *, what: str = "time") -> dt.datetime:
    """``2026-12-24 18:00`` in ``zone`` (or ISO 8601 with an offset) as an aware instant.

    A wall-clock time the spring change skips is refused; one the autumn change repeats means
    its first occurrence (summer time), as a person reading a clock before the change would."""
    raw = (text or "").strip()
    try:
        value = dt.datetime.fromisoformat(raw) if raw.isascii() and len(raw) <= 40 else None
    except ValueError:
        value = None
    if value is None:
        raise InputError(f"{what}: {raw[:40]!r} is not a date and time like 2026-12-24 18:00")
    if value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc)
    local = value.replace(tzinfo=zone, fold=0)
    back = local.astimezone(dt.timezone.utc).astimezone(zone)
    if back.replace(tzinfo=None) != value:
        raise InputError(f"{what}: {raw} does not exist in {zone.key} (the clocks jump forward then)")
    return local.astimezone(dt.timezone.utc)


def format_local(instant: dt.datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def parse_until(text: str, zone: ZoneInfo, *, what: str) -> dt.datetime:
    """An end a person typed: a date and time as ``parse_local`` reads it, or a date alone
    (``2026-12-31``), which means to the end of that day: the next midnight in ``zone``, the
    first moment no longer included."""
    raw = (text or "").strip()
    try:
        day = dt.date.fromisoformat(raw) if len(raw) == 10 and raw.isascii() else None
    except ValueError:
        day = None
    if day is None:
        return parse_local(raw, zone, what=what)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.timezone.utc)
