"""Rating and billing at scale: rating, ingest, statements and the dashboard beside their targets, measured in one run.

- ``rate_calls_per_s``: calls rated per second by the engine on one core (a mix of 090x with
  one or two tariff segments and fees, 084x and 0800, talk times 0..30 min), median of runs;
- ``pg_ingest_cdrs_per_s``: complete calls (A- and B-leg hangup events, the real ones of
  ``samples/bridge-call-9998`` with fresh leg ids) taken from event bytes to PostgreSQL: legs
  translated, raw events stored (PostgreSQL compresses them, lz4), call record built, in
  batches of 500 calls;
- ``statement_1m_calls_s``: building the statement of one account with 1,000,000 rated calls
  in a month;
- ``dashboard_query_max_ms``: the slowest dashboard query (revenue, by number, by day, by
  hour, top callers of the month and of six months, the forecast's daily history) for an
  account, over 10,000,000 call records. Those rows are made in PostgreSQL with
  ``generate_series``: 1,000,000 calls of the statement account in 2026-11 and the rest spread
  over 999 other accounts' numbers over a year.

    .venv/bin/python benchmarks/rating.py [--calls 10000000] [--postgres postgresql://postgres:postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from controller import capture  # noqa: E402
from controller.freeswitch import translate  # noqa: E402
from controller.freeswitch.protocol import FrameReader, event_from_frame  # noqa: E402
from rating import aggregates, statements  # noqa: E402
from rating.engine import CallUsage, rate_call  # noqa: E402
from rating.money import Percent  # noqa: E402
from rating.price_list import PayoutOption, PriceList, PriceListEntry  # noqa: E402
from rating.tariff import OneOffFee, RecurringFee, TariffSegment, TariffTerms  # noqa: E402
from smartnumbers.db import make_engine, session_factory  # noqa: E402
from smartnumbers.migrate import upgrade  # noqa: E402
from smartnumbers.models import LegSource  # noqa: E402
from smartnumbers.phone import CallerOrigin, RangeClass  # noqa: E402
from smartnumbers.settings import load_settings  # noqa: E402

CAPTURES = REPO.parent / "shared" / "freeswitch"
ZONE = ZoneInfo("Europe/Zurich")
TARGETS = {"rate_calls_per_s": 200_000, "pg_ingest_cdrs_per_s": 20_000, "statement_1m_calls_s": 5.0,
           "dashboard_query_max_ms": 50.0}
D = Decimal


# -- 1. the engine ----------------------------------------------------------------------------


def usages(count: int) -> tuple[list[CallUsage], PriceList]:
    price_list = PriceList(tuple(
        PriceListEntry(range_class=r, origin=o, interconnection_per_minute=D("0.05"),
                       owner_per_minute=D("0") if r is RangeClass.PREMIUM else D("0.12"),
                       payout_share_percent=D("70") if r is RangeClass.PREMIUM else D("0"))
        for r in RangeClass for o in CallerOrigin))
    simple = TariffTerms(tariff_version_id=1, code=1, price_per_minute=D("2.50"), first_unit_s=60, next_unit_s=60,
                         price_per_call=D("1.00"))
    dynamic = TariffTerms(tariff_version_id=2, code=7, price_per_minute=D("4.90"), first_unit_s=30, next_unit_s=6,
                          one_off_fees=(OneOffFee(300, D("2.00")),), recurring_fees=(RecurringFee(600, D("5.00")),))
    shared = TariffTerms(tariff_version_id=3, code=1, price_per_minute=D("0.08"), first_unit_s=1, next_unit_s=1)
    origins = list(CallerOrigin)
    found = []
    for i in range(count):
        talk = (i * 7919) % 1800
        origin = origins[i % 4]
        kind = i % 10
        if kind < 4:
            found.append(CallUsage(range_class=RangeClass.PREMIUM, origin=origin, answered=talk > 0, talk_s=talk,
                                   segments=(TariffSegment(simple),) if talk else ()))
        elif kind < 6:
            segments = (TariffSegment(simple), TariffSegment(dynamic, 95, 8)) if talk else ()
            found.append(CallUsage(range_class=RangeClass.PREMIUM, origin=origin, answered=talk > 0, talk_s=talk,
                                   segments=segments))
        elif kind < 8:
            found.append(CallUsage(range_class=RangeClass.SHARED_COST, origin=origin, answered=talk > 0, talk_s=talk,
                                   segments=(TariffSegment(shared),) if talk else ()))
        else:
            found.append(CallUsage(range_class=RangeClass.FREEPHONE, origin=origin, answered=talk > 0, talk_s=talk))
    return found, price_list


def measure_rating(count: int, runs: int) -> float:
    calls, price_list = usages(count)
    fee = Percent(D("2.5"))
    speeds = []
    for _ in range(runs):
        started = time.process_time()
        for call in calls:
            rate_call(call, price_list, payout_option=PayoutOption.PAYFAST, payfast_fee=fee)
        speeds.append(count / (time.process_time() - started))
    return statistics.median(speeds)


# -- PostgreSQL -------------------------------------------------------------------------------


class Database:
    """A fresh, migrated PostgreSQL database for the run, dropped at the end."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.name = f"smartnumbers_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        base = server.rpartition("/")[0]
        self.url = f"{base}/{self.name}".replace("postgresql://", "postgresql+psycopg://", 1)
        self.engine = make_engine(self.url)
        upgrade(self.engine)
        self.sessions = session_factory(self.engine)

    def drop(self) -> None:
        self.engine.dispose()
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# -- 2. ingest --------------------------------------------------------------------------------


def recorded_hangups() -> list[bytes]:
    raw = (CAPTURES / "samples" / "bridge-call-9998" / "esl-json.raw").read_bytes()
    events = [event_from_frame(f) for f in FrameReader().feed(raw)]
    return [translate.raw_event(e) for e in events if e is not None and translate.is_hangup_complete(e)]


def measure_ingest(db: Database, calls: int, batch: int = 500) -> float:
    from controller.freeswitch.protocol import JsonEvent

    templates = recorded_hangups()
    first = JsonEvent(templates[0])
    ids = {first.get("Unique-ID"), first.get("Other-Leg-Unique-ID")} - {None}
    a_id = first.get("Channel-Call-UUID")
    b_id = next(i for i in ids if i != a_id)
    frames = []
    for _ in range(calls):
        new_a, new_b = str(uuid.uuid4()).encode(), str(uuid.uuid4()).encode()
        frames.append([t.replace(a_id.encode(), new_a).replace(b_id.encode(), new_b) for t in templates])
    started = time.perf_counter()
    for offset in range(0, calls, batch):
        arrivals = []
        for pair in frames[offset:offset + batch]:
            for raw in pair:
                event = JsonEvent(raw)
                arrivals.append(capture.ArrivedLeg(translate.leg_from_hangup(event, "fs1"), LegSource.EVENT, raw))
        with db.sessions() as session, session.begin():
            stored = capture.store_legs(session, arrivals)
        assert len(stored.new_calls) == len(frames[offset:offset + batch])
    seconds = time.perf_counter() - started
    with db.engine.connect() as conn:  # the raw events are kept compressed (PostgreSQL's lz4)
        assert conn.scalar(text("SELECT count(*) FROM captured_leg WHERE pg_column_compression(raw_event) = 'lz4'")) \
            == 2 * calls
    return calls / seconds


# -- 3./4. generated call records -------------------------------------------------------------


def generate_calls(db: Database, total: int, statement_calls: int) -> tuple[int, int]:
    """1,000 accounts with a 0900 number each (account 1 is the statement account), then
    ``statement_calls`` calls of account 1 in 2026-11 and the rest spread over the others in
    the year to 2026-11-27, rated. Returns the statement account's id and a typical one's."""
    with db.engine.begin() as conn:
        # Generated rows are consistent by construction: skip the per-row foreign-key triggers.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        conn.execute(text(
            "INSERT INTO account (name, allow_international, vat_registered, created_at) "
            "SELECT 'Account ' || g, false, g % 2 = 0, now() FROM generate_series(1, 1000) g"))
        conn.execute(text(
            "INSERT INTO smart_number (e164, range_class, premium_category, account_id, status, caller_id_policy, "
            "language, max_concurrent_calls, payout_option, created_at) "
            "SELECT '+41900' || lpad(g::text, 6, '0'), 'premium', 'business', g, 'active', 'caller', 'de', 30, "
            "CASE WHEN g % 3 = 0 THEN 'payfast' ELSE 'standard' END, now() FROM generate_series(1, 1000) g"))
        common = (
            "INSERT INTO call_record (call_id, node, number_id, account_id, dialled, caller_e164, caller_withheld, "
            "caller_origin, started_at, answered_at, ended_at, answered, ring_s, talk_s, cause, attempts, segments, "
            "built_at) SELECT 'c' || lpad(g::text, 10, '0'), 'fs1', {number}, {number}, '+41900' || lpad(({number})::text, 6, '0'), "
            "CASE WHEN g % 10 = 0 THEN NULL ELSE '+4179' || lpad(((g * 7919) % {callers})::text, 7, '0') END, "
            "g % 10 = 0, CASE WHEN g % 10 = 0 THEN 'withheld' WHEN g % 3 = 0 THEN 'fixed' ELSE 'mobile' END, "
            "{start} + (g - {first}) * interval '{step} milliseconds', "
            "CASE WHEN g % 5 = 0 THEN NULL ELSE {start} + (g - {first}) * interval '{step} milliseconds' + interval '5 s' END, "
            "{start} + (g - {first}) * interval '{step} milliseconds' + ((g * 37) % 900 + 5) * interval '1 s', g % 5 <> 0, 5, "
            "CASE WHEN g % 5 = 0 THEN 0 ELSE (g * 37) % 900 END, 'NORMAL_CLEARING', '[]', '[[1, 0, 0]]', now() "
            "FROM generate_series({first}::bigint, {last}::bigint) g")
        november = "timestamptz '2026-10-31 23:00:00+00'"
        month_ms = 30 * 86400 * 1000 // max(statement_calls, 1)
        conn.execute(text(common.format(number="1", callers=20000, start=november, step=month_ms,
                                        first=1, last=statement_calls)))
        rest = total - statement_calls
        year_ms = 360 * 86400 * 1000 // max(rest, 1)
        conn.execute(text(common.format(number="2 + g % 999", callers=500000, start="timestamptz '2025-12-01 00:00:00+00'",
                                        step=year_ms, first=statement_calls + 1, last=total)))
        conn.execute(text(
            "INSERT INTO rated_call (call_id, account_id, number_id, period, tariff_version_ids, tariff_codes, answered, talk_s, "
            "caller_exact, caller, caller_excl_vat, vat, interconnection_exact, interconnection, net_revenue, "
            "owner_cost_exact, owner_cost, payout_exact, payout, payfast_fee, statement_id, rated_at) "
            "SELECT call_id, account_id, number_id, to_char(started_at AT TIME ZONE 'Europe/Zurich', 'YYYY-MM'), "
            "'1', '1', answered, talk_s, c.amount, c.amount, c.amount - (c.amount / 10000 * 162 + 1081) / 2162 * 10000, "
            "(c.amount / 10000 * 162 + 1081) / 2162 * 10000, talk_s * 833, talk_s * 833 / 10000 * 10000, "
            "c.amount * 9 / 10 / 10000 * 10000, 0, 0, c.amount * 6 / 10, c.amount * 6 / 10 / 10000 * 10000, "
            "CASE WHEN number_id % 3 = 0 THEN c.amount * 6 / 10 / 40 / 10000 * 10000 ELSE 0 END, NULL, now() "
            "FROM (SELECT *, (CASE WHEN answered THEN 1000000 + (talk_s + 59) / 60 * 2500000 ELSE 0 END)::bigint "
            "AS amount FROM call_record) c"))
        conn.execute(text(
            "INSERT INTO traffic_hour (number_id, hour, account_id, calls, answered, payout) "
            "SELECT c.number_id, date_trunc('hour', c.started_at), c.account_id, count(*), "
            "sum(CASE WHEN c.answered THEN 1 ELSE 0 END), sum(r.payout) "
            "FROM call_record c JOIN rated_call r USING (call_id) GROUP BY 1, 2, 3"))
        conn.execute(text(
            "INSERT INTO caller_month (number_id, caller_e164, period, account_id, calls, payout) "
            "SELECT c.number_id, c.caller_e164, r.period, c.account_id, count(*), sum(r.payout) "
            "FROM call_record c JOIN rated_call r USING (call_id) WHERE c.caller_e164 IS NOT NULL GROUP BY 1, 2, 3, 4"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
        # The rollups as autovacuum leaves them after a bulk load (migration 0007 has it visit
        # them often): the visibility map set, so the dashboard's index-only scans skip the rows.
        conn.execute(text("VACUUM traffic_hour, caller_month"))
    return 1, 500


def measure_statement(db: Database) -> tuple[float, float, int]:
    """The first build (as the monthly run meets the data) and a second one."""
    settings = load_settings(database_url=db.url)
    timings = []
    with db.sessions() as session:
        for _ in range(2):
            started = time.perf_counter()
            built = statements.build_statement(session, "Account 1", "2026-11", settings)
            timings.append(time.perf_counter() - started)
    return timings[0], timings[1], sum(line.calls for line in built.lines)


def measure_dashboard(db: Database, account_id: int, runs: int = 5) -> dict[str, float]:
    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    month = (dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 27, 23, 0, tzinfo=dt.UTC))
    queries = {
        "revenue (yesterday, today, month, year)": lambda s: aggregates.revenue(s, account_id, now, ZONE),
        "by number (month)": lambda s: aggregates.by_number(s, account_id, *month),
        "by day (month)": lambda s: aggregates.by_day(s, account_id, *month, ZONE),
        "by hour (month)": lambda s: aggregates.by_hour(s, account_id, *month, ZONE),
        "top 200 callers (month)": lambda s: aggregates.top_callers(s, account_id, "2026-11", "2026-11", ZONE),
        "top 200 callers (six months)": lambda s: aggregates.top_callers(s, account_id, "2026-06", "2026-11", ZONE),
        "forecast (daily revenue, 9 weeks)": lambda s: aggregates.month_forecast(s, account_id, now, ZONE, D(0)),
    }
    timings = {}
    with db.sessions() as session:
        for name, query in queries.items():
            query(session)  # warm the cache once, as a dashboard in use has it
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                query(session)
                samples.append((time.perf_counter() - started) * 1000)
            timings[name] = statistics.median(samples)
    return timings


def figure(name: str, value: float, unit: str) -> dict:
    target = TARGETS[name]
    meets = value >= target if name.endswith("per_s") else value <= target
    return {"value": round(value, 3 if value < 100 else 0), "unit": unit, "target": target, "meets_target": meets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-calls", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ingest-calls", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=10_000_000, help="call records for the dashboard")
    parser.add_argument("--statement-calls", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get(
        "SMARTNUMBERS_TEST_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    rate = measure_rating(args.rate_calls, args.runs)
    print(f"rating engine, one core: {rate:,.0f} calls/s (target {TARGETS['rate_calls_per_s']:,})", flush=True)

    db = Database(args.postgres)
    try:
        ingest = measure_ingest(db, args.ingest_calls)
        print(f"ingest into PostgreSQL: {ingest:,.0f} complete calls/s (A+B hangup events translated, raw "
              f"compressed, legs and call record stored; target {TARGETS['pg_ingest_cdrs_per_s']:,})", flush=True)
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE captured_leg, call_record, traffic_hour, caller_month CASCADE"))
        started = time.perf_counter()
        statement_account, typical = generate_calls(db, args.calls, args.statement_calls)
        print(f"generated {args.calls:,} rated call records in {time.perf_counter() - started:,.0f} s", flush=True)
        seconds, again, billed = measure_statement(db)
        print(f"statement of an account with {billed:,} calls in 2026-11: {seconds:.2f} s, built again {again:.2f} s "
              f"(target < {TARGETS['statement_1m_calls_s']} s)", flush=True)
        results = {}
        for label, account_id in (("a typical account (~9,000 calls a year)", typical),
                                  (f"the statement account ({args.statement_calls:,} calls this month)",
                                   statement_account)):
            timings = measure_dashboard(db, account_id)
            results[label] = timings
            print(f"dashboard queries over {args.calls:,} call records, {label}:")
            for name, ms in timings.items():
                print(f"  {name:<42} {ms:8.1f} ms (target < {TARGETS['dashboard_query_max_ms']:.0f} ms)")
    finally:
        db.drop()
    slowest = max(max(timings.values()) for timings in results.values())
    print(json.dumps({
        "rate_calls_per_s": figure("rate_calls_per_s", rate, "calls/s"),
        "pg_ingest_cdrs_per_s": figure("pg_ingest_cdrs_per_s", ingest, "calls/s"),
        "statement_1m_calls_s": figure("statement_1m_calls_s", seconds, "s"),
        "dashboard_query_max_ms": figure("dashboard_query_max_ms", slowest, "ms"),
    }))


if __name__ == "__main__":
    main()
