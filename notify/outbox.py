"""The mail outbox: the rules of a mail's life from the transaction that causes it to the
relay's answer.

A mail is written here in the transaction of what caused it (``enqueue``), rendered once with
its own Message-ID, so that it exists exactly when its cause does and every attempt sends the
same bytes. The delivery claims one mail at a time (``claim``): the claim is a conditional
update, so two deliveries never hold the same mail, and it lasts ``CLAIM`` (longer than the
relay's timeout). Then the relay's answer is recorded: ``delivered`` (250), ``deferred`` (a 4xx
answer or no answer: tried again after a growing pause, given up after ``GIVE_UP_AFTER``) or
``refused`` (a 5xx answer about this mail: given up at once, the answer kept as the reason).

The one way a mail goes out twice: the process stops after the relay's 250 and before
``delivered`` is written. The claim then runs out and the mail is sent again, with the same
Message-ID, by which the receiving side recognises it as the same mail. No mail is lost.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from smartnumbers.models import MailStatus, OutboxMail
from smartnumbers.validation import mail_address

CLAIM = dt.timedelta(minutes=10)
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_RETRY = dt.timedelta(hours=1)
GIVE_UP_AFTER = dt.timedelta(days=3)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str = "application/pdf"


@dataclass(frozen=True)
class Letter:
    """What a mail says, in the recipient's language: subject, plain text, HTML, attachments."""

    subject: str
    text: str
    html: str | None = None
    attachments: Sequence[Attachment] = ()


@dataclass(frozen=True)
class ClaimedMail:
    """A mail the delivery holds: what to hand the relay, and whether an earlier claim ran out
    (the process stopped while sending it)."""

    id: int
    recipient: str
    message_id: str
    message: bytes
    attempt: int
    claim_ran_out: bool


@dataclass(frozen=True)
class QueuedMail:
    id: int
    recipient: str
    subject: str
    status: MailStatus
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str | None


@dataclass(frozen=True)
class MailQueue:
    """The outbox at a glance: how many mails in each state, and the ones not sent."""

    counts: dict[MailStatus, int]
    unsent: list[QueuedMail]


def compose(sender: str, recipient: str, letter: Letter, *, now: dt.datetime) -> EmailMessage:
    """The message as it will travel: plain text, HTML as its alternative, then attachments."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = letter.subject
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid(domain=email.utils.parseaddr(sender)[1].rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(letter.text)
    if letter.html is not None:
        message.add_alternative(letter.html, subtype="html")
    for attachment in letter.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return message


def enqueue(session: Session, *, sender: str, recipient: str, letter: Letter, now: dt.datetime,
            occasion: str | None = None) -> OutboxMail | None:
    """Put a mail in the outbox, in the caller's transaction. A mail for an ``occasion`` already
    in the outbox is not written again: None."""
    recipient = mail_address(recipient, what="recipient")
    if occasion is not None and session.scalar(select(OutboxMail.id).where(OutboxMail.occasion == occasion)):
        return None
    message = compose(sender, recipient, letter, now=now)
    mail = OutboxMail(occasion=occasion, recipient=recipient, subject=letter.subject[:200],
                      message_id=message["Message-ID"], message=bytes(message), status=MailStatus.PENDING,
                      attempts=0, next_attempt_at=now, created_at=now)
    session.add(mail)
    session.flush()
    return mail


def due(session: Session, now: dt.datetime, *, limit: int) -> list[int]:
    """The mails to try now, oldest first: waiting ones whose pause is over, and held ones whose
    claim ran out."""
    return list(session.scalars(
        select(OutboxMail.id)
        .where(OutboxMail.status.in_([MailStatus.PENDING, MailStatus.SENDING]), OutboxMail.next_attempt_at <= now)
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id).limit(limit)))


def claim(session: Session, mail_id: int, now: dt.datetime) -> ClaimedMail | None:
    """Hold one due mail for ``CLAIM``; None when it is not due (sent, or another took it)."""
    mail = session.get(OutboxMail, mail_id)
    if mail is None or mail.status not in (MailStatus.PENDING, MailStatus.SENDING) or mail.next_attempt_at > now:
        return None
    was = mail.status
    taken = session.execute(
        update(OutboxMail).where(OutboxMail.id == mail_id, OutboxMail.status == was,
                                 OutboxMail.attempts == mail.attempts)
        .values(status=MailStatus.SENDING, attempts=OutboxMail.attempts + 1, next_attempt_at=now + CLAIM)
        .execution_options(synchronize_session=False)).rowcount
    if not taken:
        return None
    session.refresh(mail)
    return ClaimedMail(id=mail.id, recipient=mail.recipient, message_id=mail.message_id, message=mail.message,
                       attempt=mail.attempts, claim_ran_out=was is MailStatus.SENDING)


def delivered(session: Session, mail: ClaimedMail, now: dt.datetime) -> None:
    """The relay took the mail (250)."""
    _finish(session, mail, status=MailStatus.SENT, sent_at=now, last_error=None)


def refused(session: Session, mail: ClaimedMail, reason: str) -> None:
    """The relay refused the mail for good (5xx): given up, the answer kept."""
    _finish(session, mail, status=MailStatus.FAILED, last_error=reason[:500])


def deferred(session: Session, mail: ClaimedMail, now: dt.datetime, reason: str) -> MailStatus:
    """The relay could not take the mail now (4xx, no connection): tried again after a pause
    that doubles from ``FIRST_RETRY`` up to ``LONGEST_RETRY``, until ``GIVE_UP_AFTER``."""
    created_at = session.scalar(select(OutboxMail.created_at).where(OutboxMail.id == mail.id))
    pause = min(FIRST_RETRY * 2 ** min(mail.attempt - 1, 16), LONGEST_RETRY)
    if now + pause - created_at > GIVE_UP_AFTER:
        _finish(session, mail, status=MailStatus.FAILED,
                last_error=f"given up after {mail.attempt} attempts in {GIVE_UP_AFTER.days} days: {reason}"[:500])
        return MailStatus.FAILED
    _finish(session, mail, status=MailStatus.PENDING, next_attempt_at=now + pause, last_error=reason[:500])
    return MailStatus.PENDING


def _finish(session: Session, mail: ClaimedMail, **values) -> None:
    """Record an attempt's outcome, only while this claim holds the mail: a late answer after
    another delivery took over changes nothing."""
    session.execute(update(OutboxMail).where(OutboxMail.id == mail.id, OutboxMail.status == MailStatus.SENDING,
                                             OutboxMail.attempts == mail.attempt)
                    .values(**values).execution_options(synchronize_session=False))


def queue(session: Session, *, limit: int = 50) -> MailQueue:
    counts = {status: 0 for status in MailStatus}
    for status, count in session.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)):
        counts[status] = count
    rows = session.scalars(
        select(OutboxMail).where(OutboxMail.status != MailStatus.SENT)
        .order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc()).limit(limit))
    return MailQueue(counts=counts, unsent=[
        QueuedMail(id=m.id, recipient=m.recipient, subject=m.subject, status=m.status, attempts=m.attempts,
                   created_at=m.created_at, next_attempt_at=m.next_attempt_at, sent_at=m.sent_at,
                   last_error=m.last_error) for m in rows])
