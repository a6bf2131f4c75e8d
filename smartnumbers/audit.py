"""The audit trail: every change to routing, tariffs, numbers and blacklists says who, when,
what before and what after. Services call ``record`` in the same transaction as the change."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from smartnumbers.models import ActorKind, AuditEntry


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: a portal user, an API token, a NOC operator at the CLI, or the system."""

    kind: ActorKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}"

    @classmethod
    def cli_operator(cls) -> Actor:
        return cls(ActorKind.CLI, os.environ.get("SUDO_USER") or getpass.getuser())


def record(
    session: Session,
    actor: Actor,
    *,
    account_id: int | None,
    entity: str,
    entity_id: object,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_kind=actor.kind,
        actor=actor.name[:120],
        account_id=account_id,
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry
