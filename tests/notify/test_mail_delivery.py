"""The outbox and its delivery against a real SMTP server on loopback (STARTTLS, AUTH): every
mail written arrives once, or is given up with the relay's reason; none is lost, none doubled."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from notify import outbox
from notify.delivery import MailDelivery
from notify.relay import MailRelay
from smartnumbers.db import async_session_factory, make_async_engine, make_engine, session_factory
from smartnumbers.models import Account, MailStatus, OutboxMail
from tests.notify.conftest import DROP, SENDER, USER, free_port

START = dt.datetime(2026, 12, 5, 20, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, by: dt.timedelta) -> None:
        self.now += by


def letter(n: int) -> outbox.Letter:
    return outbox.Letter(subject=f"Mail {n}", text=f"Plain text {n} – Zürich\n", html=f"<p>HTML {n} – Zürich</p>")


def enqueue(db_url: str, count: int, *, at: dt.datetime = START) -> list[int]:
    engine = make_engine(db_url)
    with session_factory(engine)() as session, session.begin():
        ids = [outbox.enqueue(session, sender=SENDER, recipient=f"owner{n}@acme.example", letter=letter(n),
                              now=at).id for n in range(count)]
    engine.dispose()
    return ids


def mails(db_url: str) -> dict[int, OutboxMail]:
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        rows = {m.id: m for m in session.scalars(select(OutboxMail))}
    engine.dispose()
    return rows


@pytest.fixture
async def deliveries(db_url):
    """Builds deliveries on the test's database; closes what they opened."""
    engine = make_async_engine(db_url)
    relays = []

    def build(settings, clock) -> MailDelivery:
        relays.append(MailRelay(settings))
        return MailDelivery(relays[-1], async_session_factory(engine), settings.mail_sender, clock=clock)

    yield build
    for relay in relays:
        await relay.quit()
    await engine.dispose()


def assert_each_sent_once(db_url: str, relay) -> None:
    """Nothing lost, nothing doubled: every mail sent is on the server exactly once, every
    other one is not there at all."""
    ids = relay.handler.message_ids()
    for mail in mails(db_url).values():
        expected = 1 if mail.status is MailStatus.SENT else 0
        assert ids[mail.message_id] == expected, (mail.id, mail.status, mail.last_error)
    assert sum(ids.values()) == sum(1 for m in mails(db_url).values() if m.status is MailStatus.SENT)


async def test_mails_go_out_over_starttls_with_login_each_once(db_url, relay, deliveries):
    ids = enqueue(db_url, 3)
    delivery = deliveries(relay.settings(), Clock())

    attempts = await delivery.send_due()
    assert [a.status for a in attempts] == [MailStatus.SENT] * 3
    assert await delivery.send_due() == []  # a second round finds nothing to send

    rows = mails(db_url)
    assert all(rows[i].status is MailStatus.SENT and rows[i].attempts == 1 and rows[i].sent_at == START for i in ids)
    assert_each_sent_once(db_url, relay)
    first = relay.handler.received[0]
    assert first.secure and first.login == USER
    assert first.envelope_from == "noreply@smartnumbers.example" and first.recipients == ["owner0@acme.example"]
    message = first.message
    assert message["Message-ID"] == rows[ids[0]].message_id and message["From"] == SENDER
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Plain text 0 – Zürich\n"
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == "<p>HTML 0 – Zürich</p>\n"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # it is TLS, from the first byte
async def test_mails_go_out_over_implicit_tls_with_login(db_url, tls_relay, deliveries):
    ids = enqueue(db_url, 2)
    delivery = deliveries(tls_relay.settings(mail_security="tls"), Clock())
    assert [(a.status, a.reason) for a in await delivery.send_due()] == [(MailStatus.SENT, None)] * 2
    assert all(r.secure and r.login == USER for r in tls_relay.handler.received)
    assert_each_sent_once(db_url, tls_relay)
    assert all(mails(db_url)[i].status is MailStatus.SENT for i in ids)


async def test_a_relay_whose_certificate_is_not_trusted_keeps_the_mail_waiting(db_url, relay, deliveries):
    [mail_id] = enqueue(db_url, 1)
    delivery = deliveries(relay.settings(mail_ca_file=None), Clock())  # the system's authorities only
    [attempt] = await delivery.send_due()
    assert attempt.status is MailStatus.PENDING and attempt.relay_down
    assert "CERTIFICATE_VERIFY_FAILED" in mails(db_url)[mail_id].last_error
    assert relay.handler.received == []


async def test_implicit_tls_is_refused_by_a_starttls_port_and_the_mail_waits(db_url, relay, deliveries):
    """A relay that does not speak the configured security is the relay's state: the mail waits."""
    [mail_id] = enqueue(db_url, 1)
    delivery = deliveries(relay.settings(mail_security="tls"), Clock())
    [attempt] = await delivery.send_due()
    assert attempt.status is MailStatus.PENDING and attempt.relay_down
    assert mails(db_url)[mail_id].last_error.startswith("relay: ")
    assert relay.handler.received == []


async def test_a_421_is_tried_again_after_a_pause_and_the_round_stops(db_url, relay, deliveries):
    ids = enqueue(db_url, 3)
    relay.handler.plan("RCPT", "421 4.3.2 Service shutting down")
    clock = Clock()
    delivery = deliveries(relay.settings(), clock)

    [attempt] = await delivery.send_due()  # the relay is closing: the others wait for the next round
    assert attempt.mail_id == ids[0] and attempt.status is MailStatus.PENDING and attempt.relay_down
    first = mails(db_url)[ids[0]]
    assert first.attempts == 1 and first.next_attempt_at == START + outbox.FIRST_RETRY
    assert first.last_error == "421 4.3.2 Service shutting down"

    assert [a.mail_id for a in await delivery.send_due()] == ids[1:]  # not yet the first one
    clock.advance(outbox.FIRST_RETRY)
    assert [(a.mail_id, a.status) for a in await delivery.send_due()] == [(ids[0], MailStatus.SENT)]
    assert all(m.status is MailStatus.SENT for m in mails(db_url).values())
    assert mails(db_url)[ids[0]].attempts == 2
    assert_each_sent_once(db_url, relay)


async def test_a_550_gives_the_mail_up_with_the_reason_and_the_others_go(db_url, relay, deliveries):
    ids = enqueue(db_url, 3)
    relay.handler.plan("DATA", "550 5.1.1 Mailbox unavailable")
    clock = Clock()
    delivery = deliveries(relay.settings(), clock)

    statuses = [(a.mail_id, a.status) for a in await delivery.send_due()]
    assert statuses == [(ids[0], MailStatus.FAILED), (ids[1], MailStatus.SENT), (ids[2], MailStatus.SENT)]
    given_up = mails(db_url)[ids[0]]
    assert given_up.last_error == "550 5.1.1 Mailbox unavailable" and given_up.sent_at is None
    clock.advance(dt.timedelta(days=4))
    assert await delivery.send_due() == []  # never tried again
    assert_each_sent_once(db_url, relay)


async def test_a_dropped_connection_is_tried_again_and_sent_once(db_url, relay, deliveries):
    ids = enqueue(db_url, 2)
    relay.handler.plan("DATA", DROP)
    clock = Clock()
    delivery = deliveries(relay.settings(), clock)

    [attempt] = await delivery.send_due()
    assert attempt.mail_id == ids[0] and attempt.status is MailStatus.PENDING and attempt.relay_down
    assert relay.handler.received == []
    assert [a.mail_id for a in await delivery.send_due()] == [ids[1]]  # a new connection for the next
    clock.advance(outbox.FIRST_RETRY)
    assert [a.status for a in await delivery.send_due()] == [MailStatus.SENT]
    assert_each_sent_once(db_url, relay)


async def test_an_unreachable_relay_backs_off_doubling_and_gives_up_after_three_days(db_url, relay, deliveries):
    [mail_id] = enqueue(db_url, 1)
    clock = Clock()
    delivery = deliveries(relay.settings(mail_port=free_port()), clock)  # nobody listens there

    pauses = []
    while (attempts := await delivery.send_due()) and attempts[0].status is MailStatus.PENDING:
        mail = mails(db_url)[mail_id]
        pauses.append(mail.next_attempt_at - clock())
        clock.now = mail.next_attempt_at
    assert pauses[:4] == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert set(pauses[6:]) == {outbox.LONGEST_RETRY}
    given_up = mails(db_url)[mail_id]
    assert given_up.status is MailStatus.FAILED and given_up.attempts == len(pauses) + 1
    assert given_up.last_error.startswith(f"given up after {given_up.attempts} attempts in 3 days: relay: ")
    assert clock() - START <= outbox.GIVE_UP_AFTER


async def test_a_wrong_password_keeps_the_mail_waiting(db_url, relay, deliveries):
    """A login the relay refuses (535) is the settings' fault, not the mail's: it waits."""
    [mail_id] = enqueue(db_url, 1)
    delivery = deliveries(relay.settings(mail_password="wrong-password"), Clock())
    [attempt] = await delivery.send_due()
    assert attempt.status is MailStatus.PENDING and attempt.reason.startswith("relay: 535")
    assert mails(db_url)[mail_id].status is MailStatus.PENDING and relay.handler.received == []


async def test_a_stop_between_the_relays_250_and_the_record_sends_it_again_with_the_same_message_id(
        db_url, relay, deliveries):
    """The one documented case of a mail sent twice: the process stops after the relay took the
    mail and before the outbox recorded it. The claim runs out, the mail goes again, with the
    same Message-ID, by which the receiving side knows it for the same mail."""
    [mail_id] = enqueue(db_url, 1)
    clock = Clock()
    crashed = deliveries(relay.settings(), clock)
    mail = await crashed._write(outbox.claim, mail_id, clock())
    await crashed.relay.send(SENDER, mail.recipient, mail.message)  # the relay says 250 ...
    crashed.relay.close()  # ... and the process is gone before it writes that down

    restarted = deliveries(relay.settings(), clock)
    assert await restarted.send_due() == []  # held by the claim of the stopped process
    clock.advance(outbox.CLAIM)
    [attempt] = await restarted.send_due()
    assert attempt.status is MailStatus.SENT
    row = mails(db_url)[mail_id]
    assert row.status is MailStatus.SENT and row.attempts == 2
    assert relay.handler.message_ids() == {row.message_id: 2}  # the same mail twice, recognisable
    assert await restarted.send_due() == []


async def test_two_deliveries_at_once_send_every_mail_once(db_url, relay, deliveries):
    enqueue(db_url, 12)
    clock = Clock()
    one, other = deliveries(relay.settings(), clock), deliveries(relay.settings(), clock)
    rounds = await asyncio.gather(one.send_due(), other.send_due())
    assert sorted(a.mail_id for r in rounds for a in r) == sorted(mails(db_url))
    assert all(m.status is MailStatus.SENT and m.attempts == 1 for m in mails(db_url).values())
    assert_each_sent_once(db_url, relay)


def test_a_mail_is_written_with_its_cause_or_not_at_all(db_url):
    """Enqueued in the transaction of what caused it: rolled back together; an occasion once."""
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        with pytest.raises(RuntimeError), session.begin():
            session.add(Account(name="Acme AG"))
            outbox.enqueue(session, sender=SENDER, recipient="anna@acme.example", letter=letter(1), now=START)
            raise RuntimeError("the cause fails")
    assert mails(db_url) == {}
    with session_factory(engine)() as session:
        with session.begin():
            first = outbox.enqueue(session, sender=SENDER, recipient="anna@acme.example", letter=letter(1),
                                   now=START, occasion="statement:1:user:1")
            again = outbox.enqueue(session, sender=SENDER, recipient="anna@acme.example", letter=letter(1),
                                   now=START, occasion="statement:1:user:1")
        assert first is not None and again is None
    assert len(mails(db_url)) == 1
    engine.dispose()


async def test_serve_sends_what_the_outbox_holds_and_stops_cleanly(db_url, relay):
    """The delivery as ``serve`` wires it, on the serve process's loop."""
    from aiohttp import web

    from smartnumbers.main import serve_app

    ids = enqueue(db_url, 2, at=dt.datetime.now(dt.UTC))
    settings = relay.settings(database_url=db_url, dialplan_http=f"127.0.0.1:{free_port()}")
    runner = web.AppRunner(serve_app(settings))
    await runner.setup()
    try:
        for _ in range(200):
            if sum(relay.handler.message_ids().values()) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    assert all(mails(db_url)[i].status is MailStatus.SENT for i in ids)
    assert_each_sent_once(db_url, relay)
