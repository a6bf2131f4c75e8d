"""Alerts: a user asks to be told when a number's calls, revenue or failed hunts (calls on which
every destination tried failed) go above or below a threshold in an hour or a (Zurich) day. An alert fires once per breach, not once per call, and
clears when the condition ends: the rule keeps ``breached_since``, and only a change of state
writes a mail (its ``occasion`` names the rule and the breach, so a repeated check writes none).

"Above" holds while the running window or the last whole one is above, so it fires as soon as
the running hour or day crosses the threshold and does not flap when a new window starts;
"below" is judged on whole windows only (a window just begun is always low). The check runs
every few minutes on the running sums of ``rating.rollups``, never on the call path."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from notify import letters, outbox
from notify.subscriptions import find_user, mail_language
from rating.aggregates import by_numbers
from smartnumbers.accounts import subtree_ids, visible_numbers
from smartnumbers.errors import InputError
from smartnumbers.models import (
    Account,
    AlertDirection,
    AlertMetric,
    AlertRule,
    AlertWindow,
    AuditEntry,
    BlacklistEntry,
    CallRecord,
    MailSubscription,
    MailTopic,
    NumberStatus,
    OutboxMail,
    SmartNumber,
    User,
)
from smartnumbers.money import parse_chf
from smartnumbers.phone import format_swiss, parse_smart_number
from smartnumbers.settings import Settings

MAX_CALLS = 1_000_000
SUSPENDED = f"status:{NumberStatus.SUSPENDED.value}"  # the audit trail's action (smartnumbers.numbers)
ALERT_CHECK_MINUTES = 5


@dataclass(frozen=True)
class Alert:
    id: int
    email: str
    number: str  # grouped the Swiss way
    metric: AlertMetric
    direction: AlertDirection
    threshold: Decimal
    window: AlertWindow
    breached_since: dt.datetime | None

    @property
    def threshold_text(self) -> str:
        """``120`` calls or ``CHF 1’234.50``."""
        return letters.chf(self.threshold) if self.metric is AlertMetric.REVENUE else str(int(self.threshold))


def _choice(enum_type, text: str, what: str):
    try:
        return enum_type(text)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not one of {', '.join(m.value for m in enum_type)}") from None


def _threshold(metric: AlertMetric, text: str) -> Decimal:
    if metric is AlertMetric.REVENUE:
        return parse_chf(text, what="threshold")
    if not text.strip().isdigit() or not 0 <= int(text) <= MAX_CALLS:
        raise InputError(f"threshold: {text[:20]!r} is not a number of calls (0 to {MAX_CALLS})")
    return Decimal(int(text))


def _view(rule: AlertRule, user: User, number: SmartNumber) -> Alert:
    return Alert(rule.id, user.email, format_swiss(number.e164), rule.metric, rule.direction, rule.threshold,
                 rule.window, rule.breached_since)


def add_alert(session: Session, email: str, number_text: str, metric: str, direction: str, threshold: str,
              window: str) -> Alert:
    """A new alert for a user on a number their account sees (another's is "no such number")."""
    user = find_user(session, email)
    e164 = parse_smart_number(number_text)
    number = next((n for n in visible_numbers(session, user.account) if n.e164 == e164), None)
    if number is None:
        raise InputError(f"number: {user.email} sees no number {format_swiss(e164)}")
    chosen = _choice(AlertMetric, metric, "metric")
    rule = AlertRule(user_id=user.id, number_id=number.id, metric=chosen,
                     direction=_choice(AlertDirection, direction, "direction"),
                     threshold=_threshold(chosen, threshold), window=_choice(AlertWindow, window, "--per"))
    session.add(rule)
    session.flush()
    return _view(rule, user, number)


def remove_alert(session: Session, alert_id: int) -> None:
    rule = session.get(AlertRule, alert_id)
    if rule is None:
        raise InputError(f"alert: no alert {alert_id}")
    session.delete(rule)
    session.flush()


def alerts(session: Session, email: str | None = None) -> list[Alert]:
    query = (select(AlertRule, User, SmartNumber).join(User, User.id == AlertRule.user_id)
             .join(SmartNumber, SmartNumber.id == AlertRule.number_id))
    if email is not None:
        query = query.where(User.id == find_user(session, email).id)
    return [_view(*row) for row in session.execute(query.order_by(AlertRule.id))]


def _windows(window: AlertWindow, now: dt.datetime, settings: Settings) -> tuple[tuple, tuple]:
    """The running window and the last whole one, as (start, end) in UTC."""
    if window is AlertWindow.HOUR:
        start = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        return (start, start + dt.timedelta(hours=1)), (start - dt.timedelta(hours=1), start)
    today = now.astimezone(settings.zone).date()

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), settings.zone).astimezone(dt.UTC)

    one = dt.timedelta(days=1)
    return (midnight(today), midnight(today + one)), (midnight(today - one), midnight(today))


def _measured(session: Session, rule: AlertRule, window: tuple) -> Decimal:
    if rule.metric is AlertMetric.FAILED_HUNTS:
        hunts = session.scalars(select(CallRecord.attempts).where(
            CallRecord.number_id == rule.number_id, CallRecord.started_at >= window[0],
            CallRecord.started_at < window[1], CallRecord.answered.is_(False)))
        return Decimal(sum(1 for attempts in hunts if _every_destination_failed(attempts)))
    traffic = by_numbers(session, [rule.number_id], *window).get(rule.number_id)
    if traffic is None:
        return Decimal(0)
    return Decimal(traffic.calls) if rule.metric is AlertMetric.CALLS else traffic.revenue


def _every_destination_failed(attempts: list[dict]) -> bool:
    """The hunt tried destinations and none answered; a caller who hung up while it rang
    (``cancelled``) is not a failure of the destinations."""
    return bool(attempts) and all(a.get("outcome") not in ("answered", "cancelled") for a in attempts)


def _breach(session: Session, rule: AlertRule, now: dt.datetime, settings: Settings) -> tuple[bool, tuple, Decimal]:
    """Whether the condition holds now, the window that decides it, and its value."""
    running, last = _windows(rule.window, now, settings)
    last_value = _measured(session, rule, last)
    if rule.direction is AlertDirection.BELOW:
        return last_value < rule.threshold, last, last_value
    running_value = _measured(session, rule, running)
    if running_value > rule.threshold:
        return True, running, running_value
    return last_value > rule.threshold, last, last_value


def check_alerts(session: Session, settings: Settings, now: dt.datetime) -> int:
    """Fire the alerts whose breach began and clear those whose breach ended; mails written."""
    written = 0
    for rule, user, number in session.execute(
            select(AlertRule, User, SmartNumber).join(User, User.id == AlertRule.user_id)
            .join(SmartNumber, SmartNumber.id == AlertRule.number_id).order_by(AlertRule.id)):
        holds, window, value = _breach(session, rule, now, settings)
        if holds == (rule.breached_since is not None):
            continue
        if holds:
            rule.breached_since = window[0]
        occasion = f"alert:{rule.id}:{rule.breached_since.isoformat()}:{'fired' if holds else 'cleared'}"
        if not holds:
            rule.breached_since = None
        language = mail_language(user)
        letter = letters.write(
            "alert", language, cleared=not holds, number=format_swiss(number.e164), metric=rule.metric.value,
            above=rule.direction is AlertDirection.ABOVE, hour=rule.window is AlertWindow.HOUR,
            threshold=_amount(rule, rule.threshold), value=_amount(rule, value),
            window_text=_window_text(rule.window, window, settings))
        if outbox.enqueue(session, sender=settings.mail_sender, recipient=user.email, letter=letter, now=now,
                          occasion=occasion):
            written += 1
    session.flush()
    return written


def expired_blacklist_entries(session: Session, settings: Settings, now: dt.datetime) -> int:
    """Tell each ``blacklist_expired`` subscriber about the entries of their account (and its
    sub-accounts) that ran out since they subscribed, once per entry; mails written."""
    written = 0
    for subscription, user in session.execute(
            select(MailSubscription, User).join(User, User.id == MailSubscription.user_id)
            .where(MailSubscription.topic == MailTopic.BLACKLIST_EXPIRED).order_by(User.id)):
        entries = session.execute(
            select(BlacklistEntry, SmartNumber.e164).outerjoin(SmartNumber, SmartNumber.id == BlacklistEntry.number_id)
            .where(BlacklistEntry.account_id.in_(subtree_ids(session, user.account)),
                   BlacklistEntry.until <= now, BlacklistEntry.until > subscription.created_at)
            .order_by(BlacklistEntry.until, BlacklistEntry.id))
        for entry, e164 in entries:
            occasion = f"blacklist_expired:{entry.id}:user:{user.id}"
            if session.scalar(select(OutboxMail.id).where(OutboxMail.occasion == occasion)):
                continue
            letter = letters.write(
                "blacklist_expired", mail_language(user),
                pattern=f"{entry.pattern}*" if entry.is_prefix else format_swiss(entry.pattern),
                number=format_swiss(e164) if e164 else None, account=session.get(Account, entry.account_id).name,
                until=_local_time(entry.until, settings),
                reason=entry.reason)
            outbox.enqueue(session, sender=settings.mail_sender, recipient=user.email, letter=letter, now=now,
                           occasion=occasion)
            written += 1
    return written


def suspended_numbers(session: Session, settings: Settings, now: dt.datetime) -> int:
    """Tell each ``number_suspended`` subscriber of every number their account sees that is
    suspended now, once per suspension (the audit trail's latest, made after they subscribed);
    a suspension lifted before the next check goes untold. Mails written."""
    written = 0
    for subscription, user in session.execute(
            select(MailSubscription, User).join(User, User.id == MailSubscription.user_id)
            .where(MailSubscription.topic == MailTopic.NUMBER_SUSPENDED).order_by(User.id)):
        for number in visible_numbers(session, user.account):
            if number.status is not NumberStatus.SUSPENDED:
                continue
            suspension = session.scalar(
                select(AuditEntry).where(AuditEntry.entity == "number", AuditEntry.entity_id == number.e164,
                                         AuditEntry.action == SUSPENDED).order_by(AuditEntry.id.desc()).limit(1))
            if suspension is None or not subscription.created_at < suspension.at <= now:
                continue
            occasion = f"number_suspended:{suspension.id}:user:{user.id}"
            if session.scalar(select(OutboxMail.id).where(OutboxMail.occasion == occasion)):
                continue
            letter = letters.write("number_suspended", mail_language(user), number=format_swiss(number.e164),
                                   at=_local_time(suspension.at, settings))
            outbox.enqueue(session, sender=settings.mail_sender, recipient=user.email, letter=letter, now=now,
                           occasion=occasion)
            written += 1
    return written


def _local_time(instant: dt.datetime, settings: Settings) -> str:
    """``24.12.2026 18:00``, Zurich time."""
    local = instant.astimezone(settings.zone)
    return f"{letters.swiss_date(local.date())} {local:%H:%M}"


def _amount(rule: AlertRule, value: Decimal) -> str:
    return letters.chf(value) if rule.metric is AlertMetric.REVENUE else str(int(value))


def _window_text(window: AlertWindow, span: tuple, settings: Settings) -> str:
    """``05.12.2026 14:00–15:00`` or ``05.12.2026``, Zurich time."""
    start, end = (instant.astimezone(settings.zone) for instant in span)
    if window is AlertWindow.DAY:
        return letters.swiss_date(start.date())
    return f"{letters.swiss_date(start.date())} {start:%H:%M}–{end:%H:%M}"
