"""What each user asked to be mailed, and in which language. Statements are money: only those
who may see the account's money (owner, admin, finance) may have them mailed; digests show
what the dashboard shows, to every role."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartnumbers.errors import InputError
from smartnumbers.models import Language, MailSubscription, MailTopic, Role, User
from smartnumbers.validation import mail_address

ALLOWED_ROLES = {
    MailTopic.STATEMENT: {Role.ADMIN, Role.BILLING},
    MailTopic.DAILY_DIGEST: set(Role),
    MailTopic.WEEKLY_DIGEST: set(Role),
    MailTopic.MONTHLY_DIGEST: set(Role),
    MailTopic.BLACKLIST_EXPIRED: set(Role),
    MailTopic.NUMBER_SUSPENDED: set(Role),
}


@dataclass(frozen=True)
class Subscription:
    email: str
    topic: MailTopic
    attach_pdf: bool
    language: Language


def find_user(session: Session, email: str) -> User:
    address = mail_address(email, what="user")
    user = session.scalar(select(User).where(User.email == address.lower()))
    if user is None:
        raise InputError(f"user: no user {address}")
    return user


def _topic(text: str) -> MailTopic:
    try:
        return MailTopic(text)
    except ValueError:
        raise InputError(f"topic: {text!r} is not one of {', '.join(t.value for t in MailTopic)}") from None


def mail_language(user: User) -> Language:
    """The language of a user's mails: their own, else their account's."""
    return user.language or user.account.language


def subscribe(session: Session, email: str, topic: str, *, attach_pdf: bool = False,
              language: str | None = None) -> Subscription:
    """Subscribe a user to a topic (again: change whether the PDF comes along), optionally
    setting the language of their mails."""
    user, chosen = find_user(session, email), _topic(topic)
    if user.role not in ALLOWED_ROLES[chosen]:
        raise InputError(f"{user.email} is {user.role.value}: {chosen.value} mails go to "
                         f"{', '.join(sorted(r.value for r in ALLOWED_ROLES[chosen]))} only")
    if attach_pdf and chosen is not MailTopic.STATEMENT:
        raise InputError("--attach-pdf: only statement mails carry a PDF")
    if language is not None:
        try:
            user.language = Language(language)
        except ValueError:
            raise InputError(f"language: {language!r} is not one of de, fr, it, en") from None
    row = session.get(MailSubscription, (user.id, chosen)) or MailSubscription(user_id=user.id, topic=chosen)
    row.attach_pdf = attach_pdf
    session.add(row)
    session.flush()
    return Subscription(user.email, chosen, attach_pdf, mail_language(user))


def unsubscribe(session: Session, email: str, topic: str) -> None:
    user, chosen = find_user(session, email), _topic(topic)
    row = session.get(MailSubscription, (user.id, chosen))
    if row is None:
        raise InputError(f"{user.email} is not subscribed to {chosen.value}")
    session.delete(row)
    session.flush()


def subscriptions(session: Session, email: str | None = None) -> list[Subscription]:
    query = select(MailSubscription, User).join(User, User.id == MailSubscription.user_id)
    if email is not None:
        query = query.where(User.id == find_user(session, email).id)
    return [Subscription(user.email, row.topic, row.attach_pdf, mail_language(user))
            for row, user in session.execute(query.order_by(User.email, MailSubscription.topic))]
