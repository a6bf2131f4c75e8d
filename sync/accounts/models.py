"""Wire models of accounts: the token's account and its sub-accounts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from smartnumbers.models import Account
from sync.models import ApiModel, Instant

AccountName = Annotated[str, Field(min_length=1, max_length=120, examples=["Acme Bern"])]


class SubAccountOut(ApiModel):
    id: int
    name: str
    closed_at: Instant | None


class AccountOut(ApiModel):
    id: int
    name: str
    parent: str | None
    allow_international: bool  # may its numbers ring destinations abroad
    created_at: Instant
    closed_at: Instant | None
    sub_accounts: list[SubAccountOut]  # the accounts directly below it

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(id=account.id, name=account.name, parent=account.parent.name if account.parent else None,
                   allow_international=account.allow_international, created_at=account.created_at,
                   closed_at=account.closed_at,
                   sub_accounts=[SubAccountOut(id=c.id, name=c.name, closed_at=c.closed_at)
                                 for c in sorted(account.children, key=lambda c: c.id)])


class AccountIn(ApiModel):
    name: AccountName
