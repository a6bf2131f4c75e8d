"""Scheduled changes: an immediate one is live within a second, a dated one at its moment; a
run missed while the application was down is made at start; none is applied twice, also in the
night the clocks go back (moments are UTC)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import func, select, text

from controller.dialplan.publisher import build_publisher
from controller.dialplan.schedule import JOB_TABLE, SCHEDULER, ChangeSchedule
from smartnumbers import accounts, numbers, routing
from smartnumbers.audit import Actor
from smartnumbers.db import make_engine, session_factory, utcnow
from smartnumbers.models import ActorKind, AuditEntry, ChangeKind, ChangeStatus, ScheduledChange
from smartnumbers.settings import load_settings

OPERATOR = Actor(ActorKind.CLI, "noc")
ZURICH = ZoneInfo("Europe/Zurich")
UTC = dt.timezone.utc
NEW_TARGET = "+41446681877"


@pytest.fixture
def number(session, db_url):
    with session.bind.connect() as conn:  # persisted jobs of earlier tests are not this test's
        conn.execute(text(f"DROP TABLE IF EXISTS {JOB_TABLE}"))
        conn.commit()
    account = accounts.add_account(session, "Acme AG")
    n = numbers.add_number(session, OPERATOR, "0800 555 666", account)
    spec = routing.parse_plan({"slots": [{"days": "mon-sun", "start": "00:00", "end": "24:00", "destinations": [
        {"target": "+41446681800", "ring_timeout": 20}]}]}, routing.destination_policy(session, n))
    routing.store_plan(session, OPERATOR, n, spec)
    session.commit()
    return n


def change_destinations(db_url, e164: str, apply_at: dt.datetime | None = None) -> int:
    """What the CLI or the API does, in its own process and transaction."""
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        n = numbers.find_number(session, e164)
        change = routing.schedule_change(session, OPERATOR, n, ChangeKind.DESTINATIONS,
                                         {"slot": 1, "destinations": [{"target": NEW_TARGET, "ring_timeout": 25}]},
                                         at=apply_at)
        session.commit()
        change_id = change.id
    engine.dispose()
    return change_id


def make_schedule(db_url, tmp_path, name="dialplans", clock=utcnow):
    settings = load_settings(database_url=db_url, dialplan_folders={"fs1": str(tmp_path / "fs1")},
                             sounds_folder=str(tmp_path / "sounds"))
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    publisher = build_publisher(settings, sessions, {})
    return ChangeSchedule(publisher, sessions, db_url, name=name, poll_interval=0.25, clock=clock), engine


def live_file(tmp_path) -> str:
    path = tmp_path / "fs1" / "666" / "41800555666.xml"
    return path.read_text() if path.exists() else ""


async def wait_for(predicate, timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_an_immediate_change_is_live_within_a_second(db_url, number, tmp_path):
    schedule, engine = make_schedule(db_url, tmp_path)
    await schedule.start()
    try:
        assert NEW_TARGET not in live_file(tmp_path)
        change_destinations(db_url, number.e164)
        await wait_for(lambda: NEW_TARGET in live_file(tmp_path), 1.0)
        assert NEW_TARGET in schedule.publisher.table.body(number.e164)
    finally:
        schedule.stop()
        engine.dispose()


async def test_a_dated_change_takes_effect_at_its_moment(db_url, number, tmp_path):
    schedule, engine = make_schedule(db_url, tmp_path)
    await schedule.start()
    try:
        moment = utcnow() + dt.timedelta(seconds=1.5)
        change_id = change_destinations(db_url, number.e164, apply_at=moment)
        await asyncio.sleep(0.6)
        assert schedule.scheduler.get_job(schedule.job_id(change_id)) is not None  # persisted job
        assert NEW_TARGET not in live_file(tmp_path)
        await wait_for(lambda: NEW_TARGET in live_file(tmp_path), 3.0)
        with session_factory(engine)() as session:
            change = session.get(ScheduledChange, change_id)
            assert change.status is ChangeStatus.APPLIED and change.applied_at >= moment
    finally:
        schedule.stop()
        engine.dispose()


async def test_a_change_goes_live_at_its_minute_by_the_schedule_clock(db_url, number, tmp_path, capsys):
    """``route change --at "2030-12-24 18:00"`` as the CLI makes it; the schedule's clock is
    moved to the minute before, then to the minute: the plan is live then, not a moment before."""
    from tests.foundation.cli import invoke

    eve = dt.datetime(2030, 12, 24, 18, 0, tzinfo=ZURICH)
    now = [eve - dt.timedelta(minutes=5)]
    schedule, engine = make_schedule(db_url, tmp_path, clock=lambda: now[0])
    await schedule.publisher.publish()
    await schedule.start()
    try:
        made = invoke(capsys, "route", "change", number.e164, "--at", "2030-12-24 18:00",
                      "--slot", f"mon-sun 00:00-24:00 {NEW_TARGET}/25")
        assert made.code == 0, made.err
        change_id = int(made.out.split()[1].rstrip(":"))
        now[0] = eve - dt.timedelta(seconds=1)
        await asyncio.sleep(1.0)  # four polls
        assert NEW_TARGET not in live_file(tmp_path)
        assert schedule.scheduler.get_job(schedule.job_id(change_id)).next_run_time == eve  # the real-time job
        now[0] = eve
        await wait_for(lambda: NEW_TARGET in live_file(tmp_path), 2.0)
        assert NEW_TARGET in schedule.publisher.table.body(number.e164)
        with session_factory(engine)() as session:
            [change] = routing.scheduled_changes(session)
            assert (change.status, change.applied_at) == (ChangeStatus.APPLIED, eve)
            plan_entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "plan").order_by(
                AuditEntry.id.desc())).first()
            assert (plan_entry.actor_kind, plan_entry.actor) == (ActorKind.SYSTEM, "scheduler")
    finally:
        schedule.stop()
        engine.dispose()


async def test_a_cancelled_change_does_not_go_live(db_url, number, tmp_path):
    now = [utcnow()]
    schedule, engine = make_schedule(db_url, tmp_path, clock=lambda: now[0])
    await schedule.publisher.publish()
    await schedule.start()
    try:
        moment = now[0] + dt.timedelta(hours=1)
        change_id = change_destinations(db_url, number.e164, apply_at=moment)
        await asyncio.sleep(0.6)
        with session_factory(engine)() as session:
            routing.cancel_change(session, OPERATOR, change_id)
            session.commit()
        await schedule.apply(change_id)  # what its persisted job does at the moment
        now[0] = moment + dt.timedelta(minutes=1)
        await asyncio.sleep(0.6)
        assert NEW_TARGET not in live_file(tmp_path)
        with session_factory(engine)() as session:
            assert [c.status for c in routing.scheduled_changes(session)] == [ChangeStatus.CANCELLED]
    finally:
        schedule.stop()
        engine.dispose()


async def test_a_run_missed_while_down_is_applied_at_start_once(db_url, number, tmp_path):
    first, engine = make_schedule(db_url, tmp_path)
    await first.start()
    change_id = change_destinations(db_url, number.e164, apply_at=utcnow() + dt.timedelta(seconds=1))
    await wait_for(lambda: first.scheduler.get_job(first.job_id(change_id)) is not None, 2.0)
    first.stop()  # the application goes down before the moment
    engine.dispose()
    await asyncio.sleep(1.5)
    with session_factory(make_engine(db_url))() as session:
        assert session.get(ScheduledChange, change_id).status is ChangeStatus.PENDING
        jobs = session.execute(text(f"SELECT id FROM {JOB_TABLE}")).scalars().all()
        assert f"dialplans-change-{change_id}" in jobs  # the job survived in the database

    second, engine = make_schedule(db_url, tmp_path)
    await second.start()
    try:
        await wait_for(lambda: NEW_TARGET in live_file(tmp_path), 2.0)
        await asyncio.sleep(0.5)
        with session_factory(engine)() as session:
            assert session.get(ScheduledChange, change_id).status is ChangeStatus.APPLIED
            applied = session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.entity == "plan", AuditEntry.actor_kind == ActorKind.SYSTEM,
                AuditEntry.actor == "scheduler"))
            assert applied == 1
    finally:
        second.stop()
        engine.dispose()


def test_a_change_is_applied_once_whoever_comes_first(session, number):
    moment = utcnow() + dt.timedelta(minutes=1)
    change_id = change_destinations(session.bind.url.render_as_string(hide_password=False), number.e164, moment)
    assert routing.apply_change(session, SCHEDULER, change_id, moment) == number.e164
    assert routing.apply_change(session, SCHEDULER, change_id, moment) is None
    session.expire_all()
    assert [d.target for d in number.plan.slots[0].destinations] == [NEW_TARGET]


def test_a_moment_in_the_repeated_hour_of_october_fires_once():
    """02:30 on 2026-10-25 happens twice in Zurich; the change is stored as one UTC instant
    (the first 02:30, summer time, as the CLI reads it) and its trigger fires once."""
    from smartnumbers.clock import parse_local

    moment = parse_local("2026-10-25 02:30", ZURICH)
    assert moment == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    trigger = DateTrigger(run_date=moment, timezone=UTC)
    before = dt.datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, before)
    assert first == moment
    for now in (moment, moment + dt.timedelta(hours=1), moment + dt.timedelta(hours=2)):
        assert trigger.get_next_fire_time(first, now) is None


def test_a_change_that_no_longer_passes_the_checks_fails_and_changes_nothing(session, number):
    engine_url = session.bind.url.render_as_string(hide_password=False)
    change_id = change_destinations(engine_url, number.e164, utcnow() + dt.timedelta(minutes=1))
    other = numbers.add_number(session, OPERATOR, "0800 444 333", number.account)  # now a loop? no: new target
    session.commit()
    row = session.get(ScheduledChange, change_id)
    row.payload = {"slot": 1, "destinations": [{"target": other.e164, "ring_timeout": 20}]}
    session.commit()
    assert routing.apply_change(session, SCHEDULER, change_id, utcnow()) == number.e164
    session.expire_all()
    row = session.get(ScheduledChange, change_id)
    assert row.status is ChangeStatus.FAILED and "loop" in row.error
    assert [d.target for d in number.plan.slots[0].destinations] == ["+41446681800"]


async def test_a_tariff_version_that_begins_later_changes_the_announcement_then(db_url, session, tmp_path):
    from decimal import Decimal

    from smartnumbers import tariffs

    with session.bind.connect() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {JOB_TABLE}"))
        conn.commit()
    account = accounts.add_account(session, "Premium AG")
    n = numbers.add_number(session, OPERATOR, "0900 123 456", account)
    routing.store_plan(session, OPERATOR, n, routing.parse_plan({"slots": [{"days": "mon-sun", "start": "00:00",
                       "end": "24:00", "destinations": [{"target": "+41446681800", "ring_timeout": 20}]}]},
                       routing.destination_policy(session, n)))
    tariffs.set_tariff(session, OPERATOR, n, 1, tariffs.TariffTerms(Decimal("1.50")),
                       valid_from=utcnow() - dt.timedelta(days=1))
    session.commit()
    schedule, engine = make_schedule(db_url, tmp_path)
    await schedule.publisher.publish()
    await schedule.start()
    try:
        path = tmp_path / "fs1" / "456" / "41900123456.xml"
        assert "smart_price_announced" not in path.read_text()  # CHF 1.50: no announcement
        tariffs.set_tariff(session, OPERATOR, n, 1, tariffs.TariffTerms(Decimal("3.50")),
                           valid_from=utcnow() + dt.timedelta(seconds=1.5))
        session.commit()
        await asyncio.sleep(1.0)
        assert "smart_price_announced" not in path.read_text()
        await wait_for(lambda: "smart_price_announced" in path.read_text(), 2.5)
        assert "smart_tariff_version=2" in path.read_text()
    finally:
        schedule.stop()
        engine.dispose()
