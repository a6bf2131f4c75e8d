"""Wire models of the blacklist: callers (a number or a prefix) refused for the account or one number."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from smartnumbers.models import BlacklistEntry
from sync.models import ApiModel, Instant


class BlacklistIn(ApiModel):
    """``pattern``: a caller's number, or a prefix ending in ``*`` (``+4179*``, ``079*``); for
    ``number`` only (one of the account's numbers), or without it for all; ``until`` an instant
    with its offset, or without it for good."""

    pattern: Annotated[str, Field(min_length=1, max_length=40, examples=["+41791234567", "079*"])]
    reason: Annotated[str, Field(min_length=1, max_length=200)]
    number: Annotated[str, Field(max_length=40, examples=["0900123456"])] | None = None
    until: Instant | None = None


class BlacklistEntryOut(ApiModel):
    id: int
    pattern: str  # E.164, a prefix with a trailing *
    number: str | None  # the smart number it is for; None: every number of the account
    reason: str
    until: Instant | None
    created_at: Instant
    created_by: str

    @classmethod
    def of(cls, entry: BlacklistEntry) -> BlacklistEntryOut:
        return cls(id=entry.id, pattern=entry.pattern + ("*" if entry.is_prefix else ""),
                   number=entry.number.e164 if entry.number is not None else None, reason=entry.reason,
                   until=entry.until, created_at=entry.created_at, created_by=entry.created_by)


class BlacklistList(ApiModel):
    entries: list[BlacklistEntryOut]
