"""Mail at the command line: the outbox's queue, a test mail through the relay, subscriptions and alerts."""

from __future__ import annotations

import asyncio
from typing import Annotated, Optional

import typer
from rich.table import Table

from notify import alerts, due, outbox, subscriptions
from notify.delivery import MailDelivery
from notify.relay import MailRelay
from smartnumbers.clock import format_local
from smartnumbers.commands import JsonFlag, emit, transaction
from smartnumbers.db import async_session_factory, make_async_engine, utcnow
from smartnumbers.models import MailStatus
from smartnumbers.settings import Settings, SettingsError, load_settings

mail_cli = typer.Typer(help="Mail: the outbox and the relay, subscriptions and alerts.", no_args_is_help=True)

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


@mail_cli.command("subscribe")
def mail_subscribe(
    user: str,
    topic: Annotated[str, typer.Argument(
        help="statement (the month's statement, once issued), daily_digest, weekly_digest, monthly_digest, "
             "blacklist_expired or number_suspended")],
    attach_pdf: Annotated[bool, typer.Option("--attach-pdf", help="Attach the statement's PDF.")] = False,
    language: Annotated[Optional[str], typer.Option(help="The language of the user's mails: de, fr, it or en.")] = None,
) -> None:
    """Mail USER about TOPIC (again: change whether the PDF comes along)."""
    with transaction() as session:
        done = subscriptions.subscribe(session, user, topic, attach_pdf=attach_pdf, language=language)
    typer.echo(f"{done.email} subscribed to {done.topic.value} mails in {done.language.value}"
               f"{' with the PDF' if done.attach_pdf else ''}")


@mail_cli.command("unsubscribe")
def mail_unsubscribe(user: str, topic: str) -> None:
    """Stop mailing USER about TOPIC."""
    with transaction() as session:
        subscriptions.unsubscribe(session, user, topic)
    typer.echo(f"{user} unsubscribed from {topic} mails")


@mail_cli.command("subscriptions")
def mail_subscriptions(user: Annotated[Optional[str], typer.Argument()] = None, as_json: JsonFlag = False) -> None:
    """Who is mailed about what (one USER's only, if given)."""
    with transaction() as session:
        found = subscriptions.subscriptions(session, user)
    table = Table("user", "topic", "PDF", "language")
    for sub in found:
        table.add_row(sub.email, sub.topic.value, "yes" if sub.attach_pdf else "", sub.language.value)
    emit([{"user": s.email, "topic": s.topic.value, "attach_pdf": s.attach_pdf, "language": s.language.value}
          for s in found], table, as_json)


@mail_cli.command("notify")
def mail_notify() -> None:
    """Write the mails that are due now into the outbox (what serve's daily job does); serve
    sends them."""
    settings = relay_settings()
    with transaction() as session:
        written = due.write_due_mails(session, settings, utcnow())
    typer.echo(f"{written.statements} statement mails and {written.digests} digests written to the outbox")


alert_cli = typer.Typer(help="Alerts: a number's calls, revenue or failed hunts above or below a threshold.",
                        no_args_is_help=True)


@alert_cli.command("add")
def alert_add(
    user: str,
    number: str,
    metric: Annotated[str, typer.Argument(help="calls, revenue, or failed_hunts (calls no destination took)")],
    direction: Annotated[str, typer.Argument(help="above or below")],
    threshold: Annotated[str, typer.Argument(help="a number of calls, or CHF for revenue (the owner's share excl. VAT)")],
    per: Annotated[str, typer.Option("--per", help="hour or day (Zurich)")] = "hour",
) -> None:
    """Mail USER once when NUMBER's calls, revenue or failed hunts cross THRESHOLD, and once when
    it is over."""
    with transaction() as session:
        alert = alerts.add_alert(session, user, number, metric, direction, threshold, per)
    typer.echo(f"alert {alert.id}: {alert.email} is told when {alert.number} has {alert.metric.value} "
               f"{alert.direction.value} {alert.threshold_text} per {alert.window.value}")


@alert_cli.command("list")
def alert_list(user: Annotated[Optional[str], typer.Argument()] = None, as_json: JsonFlag = False) -> None:
    """The alerts (one USER's only, if given), and since when each is breached."""
    settings = load_settings()
    with transaction() as session:
        found = alerts.alerts(session, user)
    table = Table("id", "user", "number", "alert", "breached since")
    for a in found:
        table.add_row(str(a.id), a.email, a.number,
                      f"{a.metric.value} {a.direction.value} {a.threshold_text} per {a.window.value}",
                      format_local(a.breached_since, settings.zone) if a.breached_since else "")
    emit([{"id": a.id, "user": a.email, "number": a.number, "metric": a.metric.value, "direction": a.direction.value,
           "threshold": a.threshold, "per": a.window.value,
           "breached_since": a.breached_since.isoformat() if a.breached_since else None} for a in found],
         table, as_json)


@alert_cli.command("remove")
def alert_remove(alert_id: int) -> None:
    """Remove an alert."""
    with transaction() as session:
        alerts.remove_alert(session, alert_id)
    typer.echo(f"alert {alert_id} removed")


def register(cli: typer.Typer) -> None:
    mail_cli.add_typer(alert_cli, name="alert")
    cli.add_typer(mail_cli, name="mail")
