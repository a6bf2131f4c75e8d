"""Plan changes at a date and time: the service functions and the ``route change``, ``route
changes`` and ``route cancel`` commands, on both databases. Moments are Zurich wall-clock time
typed by people, stored in UTC; refusals write nothing."""

import dataclasses
import datetime as dt
import getpass
import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from smartnumbers import accounts, numbers, routing
from smartnumbers.audit import Actor
from smartnumbers.db import utcnow
from smartnumbers.errors import InputError, NotFound
from smartnumbers.models import ActorKind, AuditEntry, ChangeKind, ChangeStatus, NumberStatus
from tests.foundation.cli import invoke, row_counts

ZURICH = ZoneInfo("Europe/Zurich")
UTC = dt.timezone.utc
OPERATOR = Actor(ActorKind.CLI, "noc")
ACME = "Acme AG"
NEXT_YEAR = utcnow().year + 1
NEW_SLOT = "mon-sun 00:00-24:00 +41446681877/25"


def last_sunday(month: int) -> dt.date:
    day = dt.date(NEXT_YEAR, month + 1, 1) - dt.timedelta(days=1)
    return day - dt.timedelta(days=day.isoweekday() % 7)


SPRING = last_sunday(3)  # 02:00-03:00 does not exist in Zurich
AUTUMN = last_sunday(10)  # 02:00-03:00 happens twice


def plan_doc(target: str = "+41446681877") -> dict:
    return {"plan": {"slots": [{"days": "mon-sun", "start": "00:00", "end": "24:00",
                                "destinations": [{"target": target, "ring_timeout": 25}]}]}}


# --- the service functions -----------------------------------------------------------------


@pytest.fixture
def number(session):
    n = numbers.add_number(session, OPERATOR, "0900 123 456", accounts.add_account(session, ACME))
    routing.store_plan(session, OPERATOR, n, routing.parse_plan(plan_doc("+41446681800")["plan"],
                                                                routing.destination_policy(session, n)))
    session.commit()
    return n


def audit_of(session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.entity == "scheduled_change",
                                                         AuditEntry.action == action).order_by(AuditEntry.id)))


def test_a_dated_change_is_kept_listed_and_audited(session, number):
    now = dt.datetime(NEXT_YEAR, 12, 24, 9, 0, tzinfo=UTC)
    at = dt.datetime(NEXT_YEAR, 12, 24, 17, 0, tzinfo=UTC)
    change = routing.schedule_change(session, OPERATOR, number, ChangeKind.PLAN, plan_doc(), at=at, now=now)
    session.commit()
    assert (change.status, change.apply_at, change.asked_by, change.asked_at) == (
        ChangeStatus.PENDING, at, "cli:noc", now)
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.status = ChangeStatus.APPLIED
    assert [d.target for d in number.plan.slots[0].destinations] == ["+41446681800"]  # not yet
    assert routing.scheduled_changes(session) == (change,)
    assert routing.scheduled_changes(session, [number]) == (change,)
    [created] = audit_of(session, "create")
    assert (created.actor_kind, created.actor, created.entity_id) == (ActorKind.CLI, "noc", str(change.id))
    assert created.after["apply_at"] == at.isoformat() and created.after["plan"]["slots"][0]["start"] == "00:00"


def test_a_change_now_is_made_at_once_by_whoever_asked(session, number):
    change = routing.schedule_change(session, OPERATOR, number, ChangeKind.PLAN, plan_doc(), at=None)
    session.commit()
    assert change.status is ChangeStatus.APPLIED and change.applied_at == change.apply_at
    session.expire_all()
    assert [d.target for d in number.plan.slots[0].destinations] == ["+41446681877"]
    plan_entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "plan").order_by(
        AuditEntry.id.desc())).first()
    assert (plan_entry.action, plan_entry.actor) == ("replace", "noc")  # so serve publishes it


def test_a_destination_change_of_one_slot(session, number):
    change = routing.schedule_change(session, OPERATOR, number, ChangeKind.DESTINATIONS,
                                     {"slot": 1, "destinations": [{"target": "sip:desk@pbx.example.com"}]}, at=None)
    assert change.summary() == "slot 1: sip:desk@pbx.example.com"
    with pytest.raises(InputError, match="no slot 2"):
        routing.schedule_change(session, OPERATOR, number, ChangeKind.DESTINATIONS,
                                {"slot": 2, "destinations": [{"target": "+41446681877"}]}, at=None)


@pytest.mark.parametrize("case, message", [
    ("past", "in the past"),
    ("suspended", "is suspended"),
    ("naive", "needs a time zone"),
    ("premium destination", "premium-rate"),
    ("hidden premium destination", "premium-rate"),
    ("no slot", "slot is a slot position"),
])
def test_refused_changes_write_nothing(session, number, db_url, case, message):
    now = dt.datetime(NEXT_YEAR, 12, 24, 9, 0, tzinfo=UTC)
    at, kind, payload = now + dt.timedelta(hours=1), ChangeKind.PLAN, plan_doc()
    if case == "past":
        at = now - dt.timedelta(minutes=1)
    elif case == "suspended":
        numbers.set_status(session, OPERATOR, number, NumberStatus.SUSPENDED)
        session.commit()
    elif case == "naive":
        at = at.replace(tzinfo=None)
    elif case == "premium destination":
        payload = plan_doc("0900 222 333")
    elif case == "hidden premium destination":
        payload = plan_doc("sip:+41-900-222-333@gw.example.com")
    else:
        kind, payload = ChangeKind.DESTINATIONS, {"slot": 0, "destinations": [{"target": "+41446681877"}]}
    before = row_counts(db_url)
    with pytest.raises(InputError, match=message):
        routing.schedule_change(session, OPERATOR, number, kind, payload, at=at, now=now)
    session.rollback()
    assert row_counts(db_url) == before


def test_cancel_a_pending_change_only(session, number, db_url):
    at = utcnow() + dt.timedelta(days=1)
    pending = routing.schedule_change(session, OPERATOR, number, ChangeKind.PLAN, plan_doc(), at=at)
    made = routing.schedule_change(session, OPERATOR, number, ChangeKind.PLAN, plan_doc(), at=None)
    other = numbers.add_number(session, OPERATOR, "0800 555 666", number.account)
    session.commit()
    before = row_counts(db_url)
    for change_id, within, error, message in ((made.id, None, InputError, "it is applied"),
                                              (999, None, NotFound, "no such change"),
                                              (pending.id, [other], NotFound, "no such change")):
        with pytest.raises(error, match=message):
            routing.cancel_change(session, OPERATOR, change_id, within)
        session.rollback()
    assert row_counts(db_url) == before
    cancelled = routing.cancel_change(session, Actor(ActorKind.USER, "anna@acme.ch"), pending.id, [number])
    session.commit()
    assert cancelled.status is ChangeStatus.CANCELLED and cancelled.id == pending.id
    [entry] = audit_of(session, "cancel")
    assert (entry.actor_kind, entry.actor, entry.before["status"], entry.after["status"]) == (
        ActorKind.USER, "anna@acme.ch", "pending", "cancelled")
    with pytest.raises(InputError, match="it is cancelled"):
        routing.cancel_change(session, OPERATOR, pending.id)
    assert {c.id: c.status for c in routing.scheduled_changes(session, [number])} == {
        pending.id: ChangeStatus.CANCELLED, made.id: ChangeStatus.APPLIED}
    assert routing.scheduled_changes(session, [other]) == ()


# --- the commands --------------------------------------------------------------------------


@pytest.fixture
def acme(db_url, capsys):
    for argv in (
        ("account", "add", ACME),
        ("number", "add", "0900 123 456", "--account", ACME),
        ("number", "add", "0800 123 456", "--account", ACME),
        ("route", "set", "0900123456", "--slot", "mon-fri 08:00-18:00 +41446681800/20"),
    ):
        result = invoke(capsys, *argv)
        assert result.code == 0, (argv, result.err)
    return db_url


def test_route_change_at_christmas_eve_listed_and_cancelled(acme, capsys):
    made = invoke(capsys, "route", "change", "0900 123 456", "--at", f"{NEXT_YEAR}-12-24 18:00", "--slot", NEW_SLOT)
    assert made.code == 0, made.err
    assert made.out == f"change 1: 0900 123 456 gets a plan of 1 slot(s), outside reject {NEXT_YEAR}-12-24 18:00 CET\n"
    [row] = invoke(capsys, "route", "changes", "--json").json()
    assert (row["id"], row["number"], row["status"], row["apply_at"], row["asked_by"], row["applied_at"]) == (
        1, "+41900123456", "pending", f"{NEXT_YEAR}-12-24T17:00:00+00:00", f"cli:{getpass.getuser()}", None)
    assert row["change"]["plan"]["slots"][0]["destinations"] == [{"target": "+41446681877", "ring_timeout": 25}]
    table = invoke(capsys, "route", "changes", "0900123456")
    assert f"{NEXT_YEAR}-12-24 18:00 CET" in table.out and "pending" in table.out and getpass.getuser() in table.out
    assert invoke(capsys, "route", "changes", "0800123456", "--json").json() == []
    shown = invoke(capsys, "route", "show", "0900123456", "--json").json()
    assert shown["slots"][0]["days"] == "mon,tue,wed,thu,fri"  # nothing changed yet

    cancelled = invoke(capsys, "route", "cancel", "1")
    assert cancelled.code == 0
    assert cancelled.out == f"change 1 of 0900 123 456 at {NEXT_YEAR}-12-24 18:00 CET cancelled\n"
    assert invoke(capsys, "route", "changes", "--json").json()[0]["status"] == "cancelled"
    again = invoke(capsys, "route", "cancel", "1")
    assert again.code == 2
    assert again.err == "smartnumbers: change 1: it is cancelled, only a pending change can be cancelled\n"


def test_route_change_now_is_made_at_once(acme, capsys):
    made = invoke(capsys, "route", "change", "0900123456", "--at", "now", "--slot", NEW_SLOT)
    assert made.code == 0 and made.out.endswith(" now (made)\n"), made
    shown = invoke(capsys, "route", "show", "0900123456", "--json").json()
    assert shown["slots"][0]["destinations"] == [{"target": "+41446681877", "ring_timeout": 25}]
    [row] = invoke(capsys, "route", "changes", "--json").json()
    assert row["status"] == "applied" and row["applied_at"] == row["apply_at"]
    refused = invoke(capsys, "route", "cancel", str(row["id"]))
    assert refused.code == 2 and "it is applied" in refused.err


def test_route_change_takes_back_the_plan_route_show_prints(acme, capsys, tmp_path):
    shown = invoke(capsys, "route", "show", "0900123456", "--json").json()
    shown["slots"][0]["destinations"][0]["target"] = "+41446681877"
    (tmp_path / "plan.json").write_text(json.dumps({k: v for k, v in shown.items() if k != "number"}))
    made = invoke(capsys, "route", "change", "0900123456", "--at", f"{NEXT_YEAR}-01-05 07:30",
                  "--file", str(tmp_path / "plan.json"))
    assert made.code == 0, made.err
    [row] = invoke(capsys, "route", "changes", "--json").json()
    assert row["apply_at"] == f"{NEXT_YEAR}-01-05T06:30:00+00:00"
    assert row["change"]["plan"] == {k: v for k, v in shown.items() if k != "number"}


def test_an_autumn_time_means_its_first_occurrence_unless_an_offset_says_otherwise(acme, capsys):
    first = invoke(capsys, "route", "change", "0900123456", "--at", f"{AUTUMN} 02:30", "--slot", NEW_SLOT)
    second = invoke(capsys, "route", "change", "0900123456", "--at", f"{AUTUMN}T02:30+01:00", "--slot", NEW_SLOT)
    assert first.code == 0 and second.code == 0, (first.err, second.err)
    assert f"{AUTUMN} 02:30 CEST" in first.out and f"{AUTUMN} 02:30 CET" in second.out
    rows = invoke(capsys, "route", "changes", "--json").json()
    assert [dt.datetime.fromisoformat(r["apply_at"]) for r in rows] == [
        dt.datetime.combine(AUTUMN, dt.time(0, 30), UTC), dt.datetime.combine(AUTUMN, dt.time(1, 30), UTC)]


@pytest.mark.parametrize("argv, message", [
    (("route", "change", "0900123456", "--at", "2020-01-01 00:00", "--slot", NEW_SLOT), "in the past"),
    (("route", "change", "0900123456", "--at", f"{SPRING} 02:30", "--slot", NEW_SLOT), "does not exist"),
    (("route", "change", "0900123456", "--at", "christmas", "--slot", NEW_SLOT), "is not a date and time"),
    (("route", "change", "0900123456", "--at", f"{NEXT_YEAR}-13-01 10:00", "--slot", NEW_SLOT), "not a date"),
    (("route", "change", "0800123456", "--at", "now", "--slot",
      "mon 08:00-18:00 sip:0800.123.456@gw.example.com/20"), "loop"),
    (("route", "change", "0900123456", "--at", "now", "--slot", "mon 08:00-18:00 +41900222333/20"),
     "premium-rate"),
    (("route", "change", "0900123456", "--at", "now", "--slot", NEW_SLOT, "--file", "plan.toml"), "not both"),
    (("route", "change", "0901123456", "--at", "now", "--slot", NEW_SLOT), "not a smart number of the platform"),
    (("route", "change", "0900123456", "--at", "now", "--slot", "mon 08:00-18:00"), "is not 'DAYS"),
    (("route", "cancel", "42"), "no such change"),
    (("route", "changes", "0901123456"), "not a smart number of the platform"),
])
def test_bad_changes_exit_2_with_one_line_and_write_nothing(acme, capsys, argv, message):
    before = row_counts(acme)
    result = invoke(capsys, *argv)
    assert result.code == 2 and result.err.count("\n") == 1 and message in result.err, result
    assert result.out == ""
    assert row_counts(acme) == before


def test_a_suspended_number_is_refused_until_it_is_active_again(acme, capsys):
    assert invoke(capsys, "number", "suspend", "0900123456").code == 0
    before = row_counts(acme)
    refused = invoke(capsys, "route", "change", "0900123456", "--at", "now", "--slot", NEW_SLOT)
    assert refused.code == 2 and refused.err == (
        "smartnumbers: change: 0900 123 456 is suspended; activate it before changing its routing\n")
    assert row_counts(acme) == before
    assert invoke(capsys, "number", "activate", "0900123456").code == 0
    assert invoke(capsys, "route", "change", "0900123456", "--at", f"{NEXT_YEAR}-12-24 18:00", "--slot",
                  NEW_SLOT).code == 0
