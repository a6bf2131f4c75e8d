"""Mail at the command line: the outbox's queue, and a test mail through the relay."""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from notify import outbox
from notify.delivery import MailDelivery
from notify.relay import MailRelay
from smartnumbers.clock import format_local
from smartnumbers.commands import JsonFlag, emit, transaction
from smartnumbers.db import async_session_factory, make_async_engine, utcnow
from smartnumbers.models import MailStatus
from smartnumbers.settings import Settings, SettingsError, load_settings

mail_cli = typer.Typer(help="Mail: the outbox and the relay.", no_args_is_help=True)

TEST_LETTER = outbox.Letter(
    subject="Smart Numbers: test mail",
    text="This mail was sent with `smartnumbers mail test`: the mail relay in the settings works.\n",
    html="<p>This mail was sent with <code>smartnumbers mail test</code>: "
         "the mail relay in the settings works.</p>\n",
)


def relay_settings() -> Settings:
    """The settings, with a relay and a sender: without them no mail can go out."""
    settings = load_settings()
    if not settings.mail_server or not settings.mail_sender:
        raise SettingsError("SMARTNUMBERS_MAIL_SERVER and SMARTNUMBERS_MAIL_SENDER: both must be set to send mail")
    return settings


@mail_cli.command("status")
def mail_status(as_json: JsonFlag = False) -> None:
    """How many mails are waiting, being sent, sent and given up; the ones not sent, newest first."""
    settings = load_settings()
    with transaction() as session:
        queue = outbox.queue(session)
    rows = {"counts": {status.value: count for status, count in queue.counts.items()},
            "unsent": [{"id": m.id, "recipient": m.recipient, "subject": m.subject, "status": m.status.value,
                        "attempts": m.attempts, "created_at": m.created_at.isoformat(),
                        "next_attempt_at": m.next_attempt_at.isoformat()
                        if m.status in (MailStatus.PENDING, MailStatus.SENDING) else None,
                        "last_error": m.last_error} for m in queue.unsent]}
    if not as_json:
        typer.echo("  ".join(f"{status.value} {count}" for status, count in queue.counts.items()))
    table = Table("id", "to", "subject", "status", "attempts", "created", "next attempt", "last error")
    for m in queue.unsent:
        table.add_row(str(m.id), m.recipient, m.subject, m.status.value, str(m.attempts),
                      format_local(m.created_at, settings.zone),
                      format_local(m.next_attempt_at, settings.zone) if m.status is not MailStatus.FAILED else "",
                      m.last_error or "")
    emit(rows, table if queue.unsent else None, as_json)


@mail_cli.command("test")
def mail_test(address: str) -> None:
    """Send a test mail to ADDRESS now, through the outbox and the relay, and say what the relay
    answered; a mail the relay cannot take now stays in the outbox for ``serve`` to retry."""
    settings = relay_settings()
    with transaction() as session:
        mail_id = outbox.enqueue(session, sender=settings.mail_sender, recipient=address, letter=TEST_LETTER,
                                 now=utcnow()).id
    attempt = asyncio.run(_send_one(settings, mail_id))
    if attempt is None:
        typer.echo(f"mail {mail_id} to {address} was taken by the delivery of serve")
        return
    if attempt.status is MailStatus.SENT:
        typer.echo(f"mail {mail_id} sent to {address}")
        return
    typer.echo(f"mail {mail_id} to {address} {'given up' if attempt.status is MailStatus.FAILED else 'not sent yet'}:"
               f" {attempt.reason}", err=True)
    raise typer.Exit(1)


async def _send_one(settings: Settings, mail_id: int):
    engine = make_async_engine(settings.database_url)
    relay = MailRelay(settings)
    try:
        return await MailDelivery(relay, async_session_factory(engine), settings.mail_sender).send(mail_id)
    finally:
        await relay.quit()
        await engine.dispose()


def register(cli: typer.Typer) -> None:
    cli.add_typer(mail_cli, name="mail")
