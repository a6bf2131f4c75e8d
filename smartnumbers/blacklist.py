"""Blacklists: callers (a number or a prefix) refused for one number or a whole account."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from smartnumbers import audit
from smartnumbers.audit import Actor
from smartnumbers.db import utcnow
from smartnumbers.errors import InputError, NotFound
from smartnumbers.models import Account, BlacklistEntry, SmartNumber
from smartnumbers.phone import parse_number
from smartnumbers.validation import plain_text

_PREFIX = re.compile(r"^(\+|00|0)?([0-9 ]{1,15})\*$")


def parse_pattern(text: str) -> tuple[str, bool]:
    """A full number, or a prefix ending in ``*`` (``+4179*``, ``079*``), as E.164 (prefix)."""
    raw = (text or "").strip()
    if raw.endswith("*"):
        match = _PREFIX.match(raw) if raw.isascii() else None
        if not match:
            raise InputError(f"blacklist: {raw[:30]!r} is not a number prefix like +4179* or 079*")
        lead, digits = match[1] or "", match[2].replace(" ", "")
        prefix = "+" + digits if lead in ("+", "00") else "+41" + digits if lead == "0" else "+" + digits
        if not 3 <= len(prefix) <= 15:
            raise InputError(f"blacklist: prefix {prefix!r} must have 2 to 14 digits")
        return prefix, True
    return parse_number(raw, what="blacklist number"), False


def snapshot(entry: BlacklistEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "pattern": entry.pattern + ("*" if entry.is_prefix else ""),
        "number_id": entry.number_id,
        "until": entry.until.isoformat() if entry.until else None,
        "reason": entry.reason,
    }


def add_entry(
    session: Session,
    actor: Actor,
    account: Account,
    pattern_text: str,
    reason: str,
    *,
    number: SmartNumber | None = None,
    until: dt.datetime | None = None,
) -> BlacklistEntry:
    pattern, is_prefix = parse_pattern(pattern_text)
    why = plain_text(reason, what="reason", max_length=200)
    if number is not None and number.account_id != account.id:
        raise InputError(f"blacklist: {number.e164} does not belong to account {account.name!r}")
    if until is not None:
        if until.tzinfo is None:
            raise InputError("blacklist: the end time needs a time zone")
        if until <= utcnow():
            raise InputError("blacklist: the end time is in the past")
    entry = BlacklistEntry(account_id=account.id, number_id=number.id if number else None, pattern=pattern,
                           is_prefix=is_prefix, until=until, reason=why, created_by=str(actor))
    session.add(entry)
    session.flush()
    audit.record(session, actor, account_id=account.id, entity="blacklist", entity_id=entry.id, action="create",
                 before=None, after=snapshot(entry))
    return entry


def remove_entry(session: Session, actor: Actor, account: Account, entry_id: int) -> None:
    entry = session.get(BlacklistEntry, entry_id)
    if entry is None or entry.account_id != account.id:
        raise NotFound(f"blacklist: no entry {entry_id} in account {account.name!r}")
    audit.record(session, actor, account_id=account.id, entity="blacklist", entity_id=entry.id, action="delete",
                 before=snapshot(entry), after=None)
    session.delete(entry)
    session.flush()


def entries_for(session: Session, account: Account, number: SmartNumber | None = None,
                at: dt.datetime | None = None) -> list[BlacklistEntry]:
    """The entries in force at ``at`` (default now): the account's own, and the number's."""
    at = at or utcnow()
    query = select(BlacklistEntry).where(BlacklistEntry.account_id == account.id,
                                         or_(BlacklistEntry.until.is_(None), BlacklistEntry.until > at))
    if number is not None:
        query = query.where(or_(BlacklistEntry.number_id.is_(None), BlacklistEntry.number_id == number.id))
    return list(session.scalars(query.order_by(BlacklistEntry.id)))


def blocks(entry: BlacklistEntry, caller_e164: str | None) -> bool:
    if caller_e164 is None:
        return False
    return caller_e164.startswith(entry.pattern) if entry.is_prefix else caller_e164 == entry.pattern
