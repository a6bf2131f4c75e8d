"""'Your statement for November 2026 is ready': to each subscriber once, in their language, with
the PDF as issued when they asked for it, through the real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from notify import letters, subscriptions
from notify.delivery import MailDelivery
from notify.relay import MailRelay
from notify.statement_mails import enqueue_statement_mails, last_month
from rating import statements
from smartnumbers import accounts
from smartnumbers.db import async_session_factory, make_async_engine
from smartnumbers.errors import InputError
from smartnumbers.models import Language, MailStatus, OutboxMail, Statement
from smartnumbers.settings import load_settings
from tests.calls.conftest import local, operator_settings, shop  # noqa: F401 (fixtures)
from tests.calls.test_statement_document import november_calls
from tests.notify.conftest import SENDER

PASSWORD = "a-long-password-1"
DECEMBER_FIRST = local("2026-12-01 07:00")


@pytest.mark.parametrize(("language", "subject", "amount", "due"), [
    ("de", "Ihre Abrechnung für November 2026 ist bereit", "Betrag zu Ihren Gunsten: CHF 1’234.50",
     "fällig am 05.12.2026"),
    ("fr", "Votre décompte de novembre 2026 est prêt", "Montant en votre faveur : CHF 1’234.50",
     "échéance le 05.12.2026"),
    ("it", "Il suo conteggio di novembre 2026 è pronto", "Importo a suo favore: CHF 1’234.50",
     "scadenza il 05.12.2026"),
    ("en", "Your statement for November 2026 is ready", "Amount in your favour: CHF 1’234.50", "due on 05.12.2026"),
])
def test_the_wording_in_each_language(language, subject, amount, due):
    letter = letters.write("statement_ready", Language(language), month=letters.month_name("2026-11", Language(language)),
                           number=17, account="Müller & <Söhne>", payable=Decimal("1234.495"),
                           due_on=dt.date(2026, 12, 5), link=None, attached=False)
    assert letter.subject == subject
    assert amount in letter.text and due in letter.text and "Müller & <Söhne>" in letter.text
    assert "Müller &amp; &lt;Söhne&gt;" in letter.html and "<strong>CHF 1’234.50</strong>" in letter.html
    owed = letters.write("statement_ready", Language(language), month="-", number=1, account="A",
                         payable=Decimal("-80.1"), due_on=dt.date(2026, 12, 5), link=None, attached=False)
    assert "CHF 80.10" in owed.text and "-" not in owed.text.split("CHF")[1][:3]


def test_last_month_is_zurichs(monkeypatch):
    settings = load_settings()
    assert last_month(local("2026-12-01 00:30"), settings) == "2026-11"  # still 30 Nov in UTC
    assert last_month(local("2026-01-15 12:00"), settings) == "2025-12"


@pytest.fixture
def november_statement(session, shop, operator_settings, monkeypatch):  # noqa: F811
    account, _, _ = shop
    november_calls(session)
    built = statements.build_statement(session, account.name, "2026-11", load_settings())
    statements.issue(session, built)
    session.commit()
    return account, built


def test_subscribers_get_their_mail_once_in_their_language_with_the_pdf_if_asked(
        session, november_statement, monkeypatch):
    account, built = november_statement
    monkeypatch.setenv("SMARTNUMBERS_PUBLIC_URL", "https://numbers.example.ch")
    monkeypatch.setenv("SMARTNUMBERS_MAIL_SENDER", SENDER)
    other = accounts.add_account(session, "Other GmbH")
    for email, role, owner in (("anna@hotline.example", "owner", account), ("fritz@hotline.example", "finance", account),
                               ("vera@hotline.example", "viewer", account), ("olga@other.example", "owner", other)):
        accounts.add_user(session, owner, email, PASSWORD, role)
    subscriptions.subscribe(session, "Anna@Hotline.example", "statement", attach_pdf=True, language="fr")
    subscriptions.subscribe(session, "fritz@hotline.example", "statement")
    subscriptions.subscribe(session, "olga@other.example", "statement")
    with pytest.raises(InputError, match="read_only: statement mails go to admin, billing only"):
        subscriptions.subscribe(session, "vera@hotline.example", "statement")
    session.commit()

    settings = load_settings()
    assert enqueue_statement_mails(session, settings, DECEMBER_FIRST) == 2
    assert enqueue_statement_mails(session, settings, DECEMBER_FIRST + dt.timedelta(days=1)) == 0  # once each
    assert enqueue_statement_mails(session, settings, local("2027-01-01 07:00")) == 0  # only last month's
    session.commit()

    mails = {m.recipient: m for m in session.scalars(select(OutboxMail))}
    assert set(mails) == {"anna@hotline.example", "fritz@hotline.example"}
    assert mails["anna@hotline.example"].subject == "Votre décompte de novembre 2026 est prêt"
    assert mails["fritz@hotline.example"].subject == "Ihre Abrechnung für November 2026 ist bereit"  # the account's
    issued = session.scalar(select(Statement))

    import email
    import email.policy

    anna = email.message_from_bytes(mails["anna@hotline.example"].message, policy=email.policy.default)
    [pdf] = list(anna.iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content() == issued.pdf
    assert pdf.get_filename() == f"statement-2026-11-{issued.number}.pdf"
    text = anna.get_body(("plain",)).get_content()
    assert f"Le décompte n° {issued.number} de Hotline AG pour novembre 2026 est établi." in text
    assert letters.chf(built.payable) in text and "échéance le 07.12.2026" in text  # PayFast: 5 business days
    assert "https://numbers.example.ch/api/v1/statements/2026-11/pdf" in text
    fritz = email.message_from_bytes(mails["fritz@hotline.example"].message, policy=email.policy.default)
    assert list(fritz.iter_attachments()) == []
    assert 'href="https://numbers.example.ch/api/v1/statements/2026-11/pdf"' in fritz.get_body(("html",)).get_content()


async def test_the_statement_mail_reaches_the_relay_once(db_url, november_statement, session, relay):
    account, _ = november_statement
    accounts.add_user(session, account, "anna@hotline.example", PASSWORD, "owner")
    subscriptions.subscribe(session, "anna@hotline.example", "statement", attach_pdf=True)
    settings = relay.settings()
    enqueue_statement_mails(session, settings, DECEMBER_FIRST)
    session.commit()
    engine = make_async_engine(db_url)
    delivery = MailDelivery(MailRelay(settings), async_session_factory(engine), settings.mail_sender,
                            clock=lambda: DECEMBER_FIRST)
    [attempt] = await delivery.send_due()
    await delivery.relay.quit()
    await engine.dispose()
    assert attempt.status is MailStatus.SENT
    [received] = relay.handler.received
    assert received.recipients == ["anna@hotline.example"]
    assert received.message["Subject"] == "Ihre Abrechnung für November 2026 ist bereit"
    [pdf] = list(received.message.iter_attachments())
    assert pdf.get_content() == session.scalar(select(Statement.pdf))
    assert enqueue_statement_mails(session, settings, DECEMBER_FIRST) == 0
