"""The dashboard's running sums: per number and hour (``traffic_hour``) and per caller, number
and month (``caller_month``), added to in the same transaction as the calls are rated, so
they always agree with the rated calls and a dashboard reads hours, not calls.

A call counts once, when it is first rated; a re-rating adds only the change of revenue.
Withheld callers are counted in the hours, never kept by caller.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from smartnumbers.models import CallerMonth, CallRecord, TrafficHour

ZERO = Decimal(0)


def _add(session: Session, table: Table, keys: tuple[str, ...], sums: dict[tuple, list], columns: tuple[str, ...],
         account: dict[tuple, int]) -> None:
    """Add ``sums`` to the rows at ``keys``, creating them where missing."""
    if not sums:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table)
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={name: table.c[name] + insert.excluded[name] for name in columns},
    )
    rows = [dict(zip(keys, key)) | dict(zip(columns, values)) | {"account_id": account[key]}
            for key, values in sorted(sums.items())]
    session.execute(upsert, rows)


def count_rated(session: Session, rated: Iterable[tuple[CallRecord, dict]]) -> None:
    """Count calls rated for the first time: a call, whether answered, and its revenue."""
    hours: dict[tuple, list] = defaultdict(lambda: [0, 0, ZERO])
    callers: dict[tuple, list] = defaultdict(lambda: [0, ZERO])
    account: dict[tuple, int] = {}
    for call, row in rated:
        hour_key = (row["number_id"], call.started_at.replace(minute=0, second=0, microsecond=0))
        sums = hours[hour_key]
        sums[0] += 1
        sums[1] += 1 if call.answered else 0
        sums[2] += row["payout"]
        account[hour_key] = row["account_id"]
        if call.caller_e164 and not call.caller_withheld:
            caller_key = (row["number_id"], call.caller_e164, row["period"])
            callers[caller_key][0] += 1
            callers[caller_key][1] += row["payout"]
            account[caller_key] = row["account_id"]
    _add(session, TrafficHour.__table__, ("number_id", "hour"), hours, ("calls", "answered", "payout"), account)
    _add(session, CallerMonth.__table__, ("number_id", "caller_e164", "period"), callers, ("calls", "payout"), account)


def add_revenue(session: Session, changes: Iterable[tuple[CallRecord, dict, Decimal]]) -> None:
    """Add the change of revenue of re-rated calls (call, new rated row, payout change)."""
    hours: dict[tuple, list] = defaultdict(lambda: [0, 0, ZERO])
    callers: dict[tuple, list] = defaultdict(lambda: [0, ZERO])
    account: dict[tuple, int] = {}
    for call, row, delta in changes:
        if not delta:
            continue
        hour_key = (row["number_id"], call.started_at.replace(minute=0, second=0, microsecond=0))
        hours[hour_key][2] += delta
        account[hour_key] = row["account_id"]
        if call.caller_e164 and not call.caller_withheld:
            caller_key = (row["number_id"], call.caller_e164, row["period"])
            callers[caller_key][1] += delta
            account[caller_key] = row["account_id"]
    _add(session, TrafficHour.__table__, ("number_id", "hour"), hours, ("calls", "answered", "payout"), account)
    _add(session, CallerMonth.__table__, ("number_id", "caller_e164", "period"), callers, ("calls", "payout"), account)
