"""At the start of each month, "your statement for November 2026 is ready" to every user who
asked for it, in their language, with a link to it and, if they asked, its PDF as issued.

Each statement is mailed once to each subscriber (the outbox's ``occasion``), however often the
job runs; a statement issued late in the month is mailed by the next run. Only last month's
statements are looked at: subscribing in March does not mail January's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from notify import letters, outbox
from notify.subscriptions import mail_language
from rating.statements import build_statement
from smartnumbers.models import MailSubscription, MailTopic, OutboxMail, Statement, User
from smartnumbers.settings import Settings


def last_month(now: dt.datetime, settings: Settings) -> str:
    local = now.astimezone(settings.zone).date().replace(day=1) - dt.timedelta(days=1)
    return f"{local.year:04d}-{local.month:02d}"


def enqueue_statement_mails(session: Session, settings: Settings, now: dt.datetime) -> int:
    """Put last month's statement mails not yet written into the outbox; how many were."""
    period = last_month(now, settings)
    rows = session.execute(
        select(Statement, User, MailSubscription)
        .join(User, User.account_id == Statement.account_id)
        .join(MailSubscription, (MailSubscription.user_id == User.id) & (MailSubscription.topic == MailTopic.STATEMENT))
        .where(Statement.period == period, Statement.number.is_not(None))
        .order_by(Statement.id, User.id))
    written = 0
    for statement, user, subscription in rows:
        occasion = f"statement:{statement.id}:user:{user.id}"
        if session.scalar(select(OutboxMail.id).where(OutboxMail.occasion == occasion)):
            continue
        built = build_statement(session, user.account.name, period, settings)
        pdf = session.scalar(select(Statement.pdf).where(Statement.id == statement.id)) \
            if subscription.attach_pdf else None
        language = mail_language(user)
        attachments = (outbox.Attachment(f"statement-{period}-{statement.number}.pdf", pdf),) if pdf else ()
        letter = letters.write(
            "statement_ready", language, attachments, month=letters.month_name(period, language),
            number=statement.number, account=user.account.name, payable=built.payable, due_on=statement.due_on,
            link=f"{settings.public_url.rstrip('/')}/api/v1/statements/{period}/pdf" if settings.public_url else None,
            attached=bool(pdf))
        outbox.enqueue(session, sender=settings.mail_sender, recipient=user.email, letter=letter, now=now,
                       occasion=occasion)
        written += 1
    return written
