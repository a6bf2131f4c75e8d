"""Idempotent creation: a creating request sent again with the same ``Idempotency-Key`` gets the
answer the first one got, and creates nothing more. A key is the account's own; the same key with
another request (another path or body) is refused rather than answered with the first."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartnumbers.errors import InputError
from smartnumbers.models import IdempotentRequest

MAX_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join((method.encode(), path.encode(), body))).hexdigest()


def checked_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InputError(f"Idempotency-Key: 1 to {MAX_KEY_LENGTH} printable ASCII characters")
    return key


def earlier_answer(session: Session, account_id: int, key: str, request_fingerprint: str) -> Answer | None:
    """The answer a request with this key got, if one did; ``InputError`` if that was another request."""
    earlier = session.scalar(select(IdempotentRequest).where(IdempotentRequest.account_id == account_id,
                                                            IdempotentRequest.key == key))
    if earlier is None:
        return None
    if earlier.fingerprint != request_fingerprint:
        raise InputError("Idempotency-Key: already used for another request")
    return Answer(earlier.status, earlier.answer)


def remember(session: Session, account_id: int, key: str, request_fingerprint: str, answer: Answer) -> None:
    """Keep the answer, in the transaction that created what it describes."""
    session.add(IdempotentRequest(account_id=account_id, key=key, fingerprint=request_fingerprint,
                                  status=answer.status, answer=answer.body))
    session.flush()
