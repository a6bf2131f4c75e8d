"""Wire models of API tokens: the secret is in the answer that creates one, and never again."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from smartnumbers.accounts import IssuedToken
from smartnumbers.models import ApiToken, Role
from sync.models import ApiModel, Instant


class TokenIn(ApiModel):
    name: Annotated[str, Field(min_length=1, max_length=80, examples=["crm sync"])]
    role: Role = Role.READ_ONLY


class TokenOut(ApiModel):
    id: int
    name: str
    prefix: str  # the secret's first characters, to recognise it
    role: Role
    created_at: Instant
    revoked_at: Instant | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(id=token.id, name=token.name, prefix=token.prefix, role=token.role, created_at=token.created_at,
                   revoked_at=token.revoked_at)


class IssuedTokenOut(TokenOut):
    secret: str  # shown this once; only its hash is kept

    @classmethod
    def issued(cls, issued: IssuedToken) -> IssuedTokenOut:
        token = issued.token
        return cls(id=token.id, name=token.name, prefix=token.prefix, role=token.role, created_at=token.created_at,
                   revoked_at=token.revoked_at, secret=issued.secret)


class TokenList(ApiModel):
    tokens: list[TokenOut]
