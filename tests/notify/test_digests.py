"""Digests: each subscriber's numbers over the last local day, week or month, once per period,
in their language, tenants apart; revenue agrees with the dashboard's."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest
from sqlalchemy import select

from notify import subscriptions
from notify.digests import covered, enqueue_digests
from rating import aggregates
from smartnumbers import accounts, numbers
from smartnumbers.models import MailTopic, OutboxMail
from smartnumbers.settings import load_settings
from tests.calls.calls import a_leg, store
from tests.calls.conftest import OPERATOR, local, shop  # noqa: F401 (fixture)
from tests.notify.conftest import SENDER

PASSWORD = "a-long-password-1"
MORNING = local("2026-12-03 07:00")  # a Thursday


def test_what_each_digest_covers_in_zurich_days():
    settings = load_settings()
    day = dt.date
    assert covered(MailTopic.DAILY_DIGEST, local("2026-12-03 00:10"), settings) == (day(2026, 12, 2), day(2026, 12, 2))
    assert covered(MailTopic.WEEKLY_DIGEST, local("2026-12-07 07:00"), settings) == (day(2026, 11, 30), day(2026, 12, 6))
    assert covered(MailTopic.WEEKLY_DIGEST, local("2026-12-06 23:59"), settings) == (day(2026, 11, 23), day(2026, 11, 29))
    assert covered(MailTopic.MONTHLY_DIGEST, local("2027-01-01 07:00"), settings) == (day(2026, 12, 1), day(2026, 12, 31))
    assert covered(MailTopic.MONTHLY_DIGEST, local("2026-03-31 07:00"), settings) == (day(2026, 2, 1), day(2026, 2, 28))


def body(mail: OutboxMail) -> tuple[str, str]:
    message = email.message_from_bytes(mail.message, policy=email.policy.default)
    return (message.get_body(("plain",)).get_content().replace("\r\n", "\n"),
            message.get_body(("html",)).get_content())


@pytest.fixture
def traffic(session, shop, monkeypatch):  # noqa: F811
    """Hotline AG's 0900 and 0844 on Wednesday 2 December, Zurich time, and calls either side."""
    monkeypatch.setenv("SMARTNUMBERS_MAIL_SENDER", SENDER)
    account, premium, shared = shop
    store(session,
          a_leg("0900123456", local("2026-12-02 00:10"), 60),
          a_leg("0900123456", local("2026-12-02 14:00"), 120),
          a_leg("0900123456", local("2026-12-02 23:30"), 0, answered=False),
          a_leg("0844123456", local("2026-12-02 09:00"), 180),
          a_leg("0900123456", local("2026-12-01 23:50"), 300),  # Tuesday
          a_leg("0900123456", local("2026-12-03 00:30"), 300))  # Thursday, still 2 December in UTC
    branch = accounts.add_account(session, "Hotline Bern", parent="Hotline AG")
    accounts.grant_number(session, branch, premium)
    other = accounts.add_account(session, "Other GmbH")
    numbers.add_number(session, OPERATOR, "0800 999 888", other)
    for email_, owner, role in (("anna@hotline.example", account, "viewer"), ("bea@hotline.example", branch, "routing"),
                                ("olga@other.example", other, "owner")):
        accounts.add_user(session, owner, email_, PASSWORD, role)
    subscriptions.subscribe(session, "anna@hotline.example", "daily_digest", language="en")
    subscriptions.subscribe(session, "bea@hotline.example", "daily_digest", language="it")
    subscriptions.subscribe(session, "olga@other.example", "daily_digest")
    session.commit()
    return account


def test_the_daily_digest_counts_yesterdays_calls_per_number(session, traffic):
    settings = load_settings()
    assert enqueue_digests(session, settings, MORNING) == 3
    assert enqueue_digests(session, settings, MORNING + dt.timedelta(hours=5)) == 0  # once a day
    session.commit()
    mails = {m.recipient: m for m in session.scalars(select(OutboxMail))}

    start, end = local("2026-12-02 00:00"), local("2026-12-03 00:00")
    expected = {t.key: t for t in aggregates.by_number(session, traffic.id, start, end)}
    premium, shared = expected["+41900123456"], expected["+41844123456"]
    assert (premium.calls, premium.answered, premium.unanswered) == (3, 2, 1)
    assert (shared.calls, shared.answered) == (1, 1) and premium.revenue > 0

    text, html = body(mails["anna@hotline.example"])
    total = premium.revenue + shared.revenue
    assert mails["anna@hotline.example"].subject == f"Summary 02.12.2026: 4 calls, {chf(total)}"
    rows = [line.split() for line in text.splitlines() if line.startswith(("08", "09", "Total"))]
    assert rows == [["0844", "123", "456", "1", "1", "0", "CHF", chf(shared.revenue)[4:]],
                    ["0900", "123", "456", "3", "2", "1", "CHF", chf(premium.revenue)[4:]],
                    ["Total", "4", "3", "1", "CHF", chf(total)[4:]]]
    assert "<td>0900 123 456</td>" in html and f"<td align=\"right\">{chf(premium.revenue)}</td>" in html

    bea, _ = body(mails["bea@hotline.example"])  # the branch sees the granted 0900 only
    assert mails["bea@hotline.example"].subject == f"Riepilogo 02.12.2026: 3 chiamate, {chf(premium.revenue)}"
    assert "0900 123 456" in bea and "0844" not in bea
    olga, _ = body(mails["olga@other.example"])  # another tenant: their own number, no calls
    assert mails["olga@other.example"].subject == "Übersicht 02.12.2026: 0 Anrufe, CHF 0.00"
    assert "0800 999 888" in olga and "0900" not in olga


def test_weekly_and_monthly_digests_go_once_per_period(session, traffic):
    settings = load_settings()
    subscriptions.subscribe(session, "anna@hotline.example", "weekly_digest")
    subscriptions.subscribe(session, "anna@hotline.example", "monthly_digest")
    subscriptions.unsubscribe(session, "bea@hotline.example", "daily_digest")
    subscriptions.unsubscribe(session, "olga@other.example", "daily_digest")
    session.commit()
    written = [enqueue_digests(session, settings, local(f"2026-12-{day:02d} 07:00")) for day in range(1, 15)]
    # daily every day; weekly on Monday 7 and 14 December (and on the 1st for the week before);
    # monthly on the 1st (November) only
    assert written[0] == 3 and written[6] == 2 and written[13] == 2 and sum(written) == 14 + 3 + 1
    weekly = session.scalar(select(OutboxMail).where(OutboxMail.occasion.like("weekly_digest:2026-11-30:%")))
    assert weekly.subject.startswith("Summary 30.11.2026 – 06.12.2026: 6 calls, ")
    monthly = session.scalar(select(OutboxMail).where(OutboxMail.occasion.like("monthly_digest:%")))
    assert monthly.subject == "Summary November 2026: 0 calls, CHF 0.00"


def chf(value) -> str:
    from notify.letters import chf as format_

    return format_(value)
