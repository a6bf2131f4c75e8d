"""Alerts fire once per breach, not once per call, and clear when the condition ends; a user
sets them only on numbers their account sees."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest
from sqlalchemy import select

from notify import alerts, subscriptions
from notify.alerts import check_alerts, expired_blacklist_entries, suspended_numbers
from smartnumbers import accounts, blacklist, numbers
from smartnumbers.db import utcnow
from smartnumbers.models import AlertRule, CallRecord, NumberStatus, OutboxMail
from smartnumbers.phone import CallerOrigin
from smartnumbers.settings import load_settings
from tests.calls.calls import a_leg, store
from tests.calls.conftest import OPERATOR, local, shop  # noqa: F401 (fixture)
from tests.foundation.cli import invoke, row_counts
from tests.notify.conftest import SENDER

PASSWORD = "a-long-password-1"


@pytest.fixture
def anna(session, shop, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SMARTNUMBERS_MAIL_SENDER", SENDER)
    account, _, _ = shop
    accounts.add_user(session, account, "anna@hotline.example", PASSWORD, "owner")
    session.commit()
    return account


def sent(session) -> list[tuple[str, str]]:
    """Subject and plain text of the mails in the outbox, in order."""
    out = []
    for mail in session.scalars(select(OutboxMail).order_by(OutboxMail.id)):
        message = email.message_from_bytes(mail.message, policy=email.policy.default)
        out.append((mail.subject, message.get_body(("plain",)).get_content().replace("\r\n", "\n")))
    return out


def test_calls_above_a_threshold_in_an_hour_fire_once_and_clear(session, anna):
    settings = load_settings()
    alerts.add_alert(session, "anna@hotline.example", "0900 123 456", "calls", "above", "2", "hour")
    store(session, *(a_leg("0900123456", local(f"2026-12-02 14:0{m}"), 30) for m in (0, 1)))
    assert check_alerts(session, settings, local("2026-12-02 14:05")) == 0  # 2 is not above 2

    store(session, a_leg("0900123456", local("2026-12-02 14:06"), 30))
    assert check_alerts(session, settings, local("2026-12-02 14:10")) == 1  # the third call crosses it
    store(session, *(a_leg("0900123456", local(f"2026-12-02 14:2{m}"), 30) for m in (0, 1)))
    assert check_alerts(session, settings, local("2026-12-02 14:25")) == 0  # the same breach: no new mail
    assert check_alerts(session, settings, local("2026-12-02 15:10")) == 0  # last whole hour still above
    assert session.scalar(select(AlertRule.breached_since)) == local("2026-12-02 14:00")
    assert check_alerts(session, settings, local("2026-12-02 16:05")) == 1  # neither hour above: cleared
    assert check_alerts(session, settings, local("2026-12-02 16:10")) == 0
    assert session.scalar(select(AlertRule.breached_since)) is None

    [(fired, fired_text), (cleared, cleared_text)] = sent(session)
    assert fired == "Alarm 0900 123 456: Anrufe über 2 pro Stunde"
    assert "Gemessen 02.12.2026 14:00–15:00: 3." in fired_text
    assert cleared == "Entwarnung 0900 123 456: Anrufe über 2 pro Stunde"
    assert "Die Bedingung ist nicht mehr erfüllt (02.12.2026 15:00–16:00: 0)." in cleared_text

    store(session, *(a_leg("0900123456", local(f"2026-12-02 17:0{m}"), 30) for m in range(3)))
    assert check_alerts(session, settings, local("2026-12-02 17:05")) == 1  # a new breach: a new alert
    assert len(sent(session)) == 3


def test_revenue_below_a_threshold_in_a_day_is_judged_on_whole_zurich_days(session, anna):
    settings = load_settings()
    alert = alerts.add_alert(session, "anna@hotline.example", "0900123456", "revenue", "below", "1.00", "day")
    assert alert.threshold_text == "CHF 1.00"
    assert check_alerts(session, settings, local("2026-12-03 00:05")) == 1  # no revenue on 2 December
    store(session, a_leg("0900123456", local("2026-12-03 10:00"), 300))  # CHF 2.50 a minute
    assert check_alerts(session, settings, local("2026-12-03 12:00")) == 0  # a day not over is not judged
    assert check_alerts(session, settings, local("2026-12-04 00:05")) == 1  # 3 December was above: cleared
    [(fired, fired_text), (cleared, _)] = sent(session)
    assert fired == "Alarm 0900 123 456: Ertrag unter CHF 1.00 pro Tag"
    assert "Gemessen 02.12.2026: CHF 0.00." in fired_text
    assert cleared == "Entwarnung 0900 123 456: Ertrag unter CHF 1.00 pro Tag"


def test_alerts_at_the_command_line_only_on_numbers_one_sees(db_url, session, anna, capsys):
    other = accounts.add_account(session, "Other GmbH")
    numbers.add_number(session, OPERATOR, "0800 999 888", other)
    session.commit()
    added = invoke(capsys, "mail", "alert", "add", "anna@hotline.example", "0900 123 456", "revenue", "above",
                   "1234.5", "--per", "day")
    assert added.code == 0, added.err
    assert added.out.strip() == ("alert 1: anna@hotline.example is told when 0900 123 456 has revenue above "
                                 "CHF 1’234.50 per day")
    before = row_counts(db_url)
    for argv, message in (
            (("0800 999 888", "calls", "above", "5"), "number: anna@hotline.example sees no number 0800 999 888"),
            (("0800 111 222", "calls", "above", "5"), "number: anna@hotline.example sees no number 0800 111 222"),
            (("0900 123 456", "calls", "above", "2.5"), "threshold: '2.5' is not a number of calls"),
            (("0900 123 456", "minutes", "above", "5"), "metric: 'minutes' is not one of calls, revenue"),
            (("0900 123 456", "calls", "around", "5"), "direction: 'around' is not one of above, below")):
        refused = invoke(capsys, "mail", "alert", "add", "anna@hotline.example", *argv)
        assert refused.code == 2 and message in refused.err and len(refused.err.splitlines()) == 1
    assert row_counts(db_url) == before
    assert invoke(capsys, "mail", "alert", "list", "--json").json() == [
        {"id": 1, "user": "anna@hotline.example", "number": "0900 123 456", "metric": "revenue",
         "direction": "above", "threshold": "1234.50", "per": "day", "breached_since": None}]
    assert invoke(capsys, "mail", "alert", "remove", "1").code == 0
    assert invoke(capsys, "mail", "alert", "list", "--json").json() == []


def test_an_expired_blacklist_entry_is_told_once_to_subscribers_of_its_account(session, anna):
    settings = load_settings()
    account = anna
    other = accounts.add_account(session, "Other GmbH")
    accounts.add_user(session, other, "olga@other.example", PASSWORD, "owner")
    subscriptions.subscribe(session, "anna@hotline.example", "blacklist_expired", language="fr")
    subscriptions.subscribe(session, "olga@other.example", "blacklist_expired")
    premium = numbers.find_number(session, "0900123456")
    soon = utcnow().replace(microsecond=0) + dt.timedelta(hours=1)
    blacklist.add_entry(session, OPERATOR, account, "0791234567", "Spam", number=premium, until=soon)
    blacklist.add_entry(session, OPERATOR, account, "078*", "Wave", until=soon + dt.timedelta(hours=1))
    blacklist.add_entry(session, OPERATOR, account, "0761234567", "For good")  # never expires
    old = blacklist.add_entry(session, OPERATOR, account, "0771234567", "Old", until=soon)
    old.until = utcnow() - dt.timedelta(days=1)  # ran out before anyone subscribed: not told
    session.commit()

    assert expired_blacklist_entries(session, settings, soon - dt.timedelta(minutes=1)) == 0
    assert expired_blacklist_entries(session, settings, soon) == 1
    assert expired_blacklist_entries(session, settings, soon + dt.timedelta(hours=3)) == 1  # the prefix
    assert expired_blacklist_entries(session, settings, soon + dt.timedelta(hours=4)) == 0  # once each
    mails = sent(session)
    local = soon.astimezone(settings.zone)
    assert [subject for subject, _ in mails] == ["Blocage échu : 079 123 45 67", "Blocage échu : +4178*"]
    assert (f"Le blocage de 079 123 45 67 pour le 0900 123 456 a pris fin le {local:%d.%m.%Y %H:%M}."
            in mails[0][1]) and "Motif du blocage : Spam" in mails[0][1]
    assert "pour tous les numéros de Hotline AG" in mails[1][1]
    assert {m.recipient for m in session.scalars(select(OutboxMail))} == {"anna@hotline.example"}  # tenants apart


def test_a_suspension_is_told_once_to_subscribers_who_see_the_number(session, anna):
    settings = load_settings()
    account = anna
    branch = accounts.add_account(session, "Hotline Bern", parent="Hotline AG")
    other = accounts.add_account(session, "Other GmbH")
    accounts.add_user(session, branch, "bea@hotline.example", PASSWORD, "viewer")
    accounts.add_user(session, other, "olga@other.example", PASSWORD, "owner")
    for email_ in ("anna@hotline.example", "bea@hotline.example", "olga@other.example"):
        subscriptions.subscribe(session, email_, "number_suspended")
    subscriptions.subscribe(session, "bea@hotline.example", "number_suspended", language="en")
    premium = numbers.find_number(session, "0900123456")
    numbers.set_status(session, OPERATOR, premium, NumberStatus.SUSPENDED)
    session.commit()
    now = utcnow() + dt.timedelta(minutes=1)

    assert suspended_numbers(session, settings, now) == 1  # Anna's account owns it; Bern and Other do not see it
    assert suspended_numbers(session, settings, now) == 0  # once per suspension
    numbers.set_status(session, OPERATOR, premium, NumberStatus.ACTIVE)
    accounts.grant_number(session, accounts.find_account(session, "Hotline Bern"), premium)
    numbers.set_status(session, OPERATOR, premium, NumberStatus.SUSPENDED)
    session.commit()
    assert suspended_numbers(session, settings, utcnow() + dt.timedelta(minutes=1)) == 2  # a new one; Bern sees it now
    mails = [(m.recipient, m.subject) for m in session.scalars(select(OutboxMail).order_by(OutboxMail.id))]
    assert mails == [("anna@hotline.example", "Nummer gesperrt: 0900 123 456")] * 2 + [
        ("bea@hotline.example", "Number suspended: 0900 123 456")]


def hunt(session, number, start: str, *outcomes: str) -> None:
    """A call record as capture builds it, with the hunt's attempts (FreeSWITCH-neutral)."""
    at = local(start)
    answered = "answered" in outcomes
    session.add(CallRecord(
        call_id=f"call-{start}", node="fs1", number_id=number.id, account_id=number.account_id, dialled=number.e164,
        caller_e164="+41791234567", caller_withheld=False, caller_origin=CallerOrigin.MOBILE, started_at=at,
        answered_at=at if answered else None, ended_at=at + dt.timedelta(seconds=40), answered=answered, ring_s=40,
        talk_s=0, cause="NORMAL_CLEARING" if answered else "NO_ANSWER", segments=[[1, 0, 0]],
        attempts=[{"leg_id": f"{start}-{i}", "destination": f"+4144668180{i}", "outcome": outcome, "cause": "X"}
                  for i, outcome in enumerate(outcomes)]))
    session.flush()


def test_hunts_on_which_every_destination_failed_fire_once_per_breach(session, anna):
    settings = load_settings()
    alert = alerts.add_alert(session, "anna@hotline.example", "0900 123 456", "failed_hunts", "above", "1", "hour")
    assert alert.threshold_text == "1"
    premium = numbers.find_number(session, "0900123456")
    hunt(session, premium, "2026-12-02 14:00", "busy", "no_answer")  # every destination failed
    hunt(session, premium, "2026-12-02 14:05", "no_answer", "answered")  # the second one took it
    hunt(session, premium, "2026-12-02 14:08", "no_answer", "cancelled")  # the caller gave up: not theirs
    assert check_alerts(session, settings, local("2026-12-02 14:15")) == 0
    hunt(session, premium, "2026-12-02 14:30", "failed", "busy")
    assert check_alerts(session, settings, local("2026-12-02 14:35")) == 1
    hunt(session, premium, "2026-12-02 14:40", "failed", "failed")
    assert check_alerts(session, settings, local("2026-12-02 14:45")) == 0  # the same breach
    assert check_alerts(session, settings, local("2026-12-02 16:00")) == 1  # cleared
    [(fired, text), (cleared, _)] = sent(session)
    assert fired == "Alarm 0900 123 456: Anrufe ohne erreichbares Ziel über 1 pro Stunde"
    assert "Gemessen 02.12.2026 14:00–15:00: 2." in text
    assert cleared.startswith("Entwarnung 0900 123 456: ")
