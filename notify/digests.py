"""Digests: each subscriber's numbers, their calls answered and unanswered and their revenue
(the owner's share excl. VAT, as the dashboard and the statement count it) over the last day,
week (Monday to Sunday) or month, Europe/Zurich.

The job runs daily: a digest covers the last whole day, week or month before the run, and is
written once per user and period (the outbox's ``occasion``); so the weekly one goes with the
first run of the week and the monthly one with the first run of the month. A user sees the
numbers their account sees (its sub-accounts' and those granted to it), tenants apart."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from notify import letters, outbox
from notify.subscriptions import mail_language
from rating.aggregates import Traffic, by_numbers
from smartnumbers.accounts import visible_numbers
from smartnumbers.models import Language, MailSubscription, MailTopic, OutboxMail, User
from smartnumbers.phone import format_swiss
from smartnumbers.settings import Settings

NO_CALLS = Traffic("", 0, 0, Decimal(0))
DIGESTS = (MailTopic.DAILY_DIGEST, MailTopic.WEEKLY_DIGEST, MailTopic.MONTHLY_DIGEST)


@dataclass(frozen=True)
class NumberLine:
    number: str  # grouped the Swiss way
    calls: int
    answered: int
    unanswered: int
    revenue: Decimal


def covered(topic: MailTopic, now: dt.datetime, settings: Settings) -> tuple[dt.date, dt.date]:
    """The local days a digest written at ``now`` covers: first and last, both included."""
    today = now.astimezone(settings.zone).date()
    if topic is MailTopic.DAILY_DIGEST:
        return today - dt.timedelta(days=1), today - dt.timedelta(days=1)
    if topic is MailTopic.WEEKLY_DIGEST:
        monday = today - dt.timedelta(days=today.weekday())
        return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)
    last = today.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


def period_text(topic: MailTopic, first: dt.date, last: dt.date, language: Language) -> str:
    if topic is MailTopic.DAILY_DIGEST:
        return letters.swiss_date(first)
    if topic is MailTopic.WEEKLY_DIGEST:
        return f"{letters.swiss_date(first)} – {letters.swiss_date(last)}"
    return letters.month_name(f"{first.year:04d}-{first.month:02d}", language)


def _midnight(day: dt.date, settings: Settings) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), settings.zone).astimezone(dt.UTC)


def enqueue_digests(session: Session, settings: Settings, now: dt.datetime) -> int:
    """Put the digests due at ``now`` and not yet written into the outbox; how many were."""
    rows = session.execute(select(MailSubscription, User).join(User, User.id == MailSubscription.user_id)
                           .where(MailSubscription.topic.in_(DIGESTS)).order_by(User.id, MailSubscription.topic))
    written = 0
    for subscription, user in rows:
        first, last = covered(subscription.topic, now, settings)
        occasion = f"{subscription.topic.value}:{first.isoformat()}:user:{user.id}"
        if session.scalar(select(OutboxMail.id).where(OutboxMail.occasion == occasion)):
            continue
        numbers = visible_numbers(session, user.account)
        traffic = by_numbers(session, [n.id for n in numbers], _midnight(first, settings),
                             _midnight(last + dt.timedelta(days=1), settings))
        lines = [NumberLine(format_swiss(n.e164), t.calls, t.answered, t.unanswered, t.revenue)
                 for n in numbers for t in [traffic.get(n.id, NO_CALLS)]]
        total = NumberLine("", sum(x.calls for x in lines), sum(x.answered for x in lines),
                           sum(x.unanswered for x in lines), sum((x.revenue for x in lines), Decimal(0)))
        language = mail_language(user)
        letter = letters.write("digest", language, period=period_text(subscription.topic, first, last, language),
                               lines=lines, total=total)
        outbox.enqueue(session, sender=settings.mail_sender, recipient=user.email, letter=letter, now=now,
                       occasion=occasion)
        written += 1
    return written
