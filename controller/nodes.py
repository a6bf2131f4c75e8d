"""The switches the controller drives: one connection each, and how each one is doing.

Switch-neutral: a node's connection is whatever ``connect`` builds (for FreeSWITCH, an
Event Socket client); the registry only starts it, keeps it running, and reports on it.
``snapshot()`` is what ``smartnumbers nodes`` and the status page show.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartnumbers.models import SwitchNodeStatus

log = logging.getLogger(__name__)

__all__ = ["NodeRegistry", "NodeStatus", "SwitchLink", "NodeSettings", "record_status", "recorded_status"]


class NodeSettings(Protocol):
    """What the registry reads of a node's settings (``smartnumbers.settings.FreeSwitchNode``)."""

    name: str
    host: str
    port: int


class SwitchLink(Protocol):
    """A connection to one switch, as the registry sees it."""

    state: Any  # a StrEnum: connecting, up, down, refused, stopped
    state_since: float  # time.time()
    last_error: str | None
    metrics: Any  # events_received, events_dropped, connects, session_count, last_event_at

    async def run(self) -> None: ...

    async def stop(self) -> None: ...

    def pending_events(self) -> int: ...


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One node at one moment: plain values, ready to print or store."""

    name: str
    address: str
    state: str
    since: datetime
    session_count: int | None
    last_event_at: datetime | None
    events_received: int
    events_dropped: int
    connects: int
    last_error: str | None
    queue_depth: int = 0  # events received and not yet consumed
    # what the switch and this process's settings disagree on, one line each (None: not checked)
    disagreements: tuple[str, ...] | None = None


def _utc(stamp: float | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


class NodeRegistry:
    """Every node in the settings with its own connection, kept up until ``stop()``."""

    def __init__(self, nodes: Iterable[NodeSettings], connect: Callable[[NodeSettings], SwitchLink]) -> None:
        self._nodes = {node.name: node for node in nodes}
        self.links: dict[str, SwitchLink] = {name: connect(node) for name, node in self._nodes.items()}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.disagreements: dict[str, tuple[str, ...]] = {}  # by node, from its last check

    def __len__(self) -> int:
        return len(self.links)

    async def start(self) -> None:
        for name, link in self.links.items():
            if name not in self._tasks or self._tasks[name].done():
                self._tasks[name] = asyncio.create_task(self._keep(name, link), name=f"node {name}")

    async def _keep(self, name: str, link: SwitchLink) -> None:
        try:
            await link.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. a refused password: the link says so in its state
            log.error("node %s: %s", name, exc)

    async def stop(self) -> None:
        await asyncio.gather(*(link.stop() for link in self.links.values()), return_exceptions=True)
        for task in self._tasks.values():
            try:
                await asyncio.wait_for(task, 5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self._tasks.clear()

    def snapshot(self) -> list[NodeStatus]:
        """Every node's state, since when, its session count and its last event."""
        statuses = []
        for name, link in self.links.items():
            node = self._nodes[name]
            metrics = link.metrics
            statuses.append(
                NodeStatus(
                    name=name,
                    address=f"{node.host}:{node.port}",
                    state=str(link.state),
                    since=_utc(link.state_since) or datetime.now(UTC),
                    session_count=metrics.session_count,
                    last_event_at=_utc(metrics.last_event_at),
                    events_received=metrics.events_received,
                    events_dropped=metrics.events_dropped,
                    connects=metrics.connects,
                    last_error=link.last_error,
                    queue_depth=link.pending_events(),
                    disagreements=self.disagreements.get(name),
                )
            )
        return statuses


def record_status(session: Session, statuses: Iterable[NodeStatus]) -> None:
    """Keep what the serve process sees of each node, for ``smartnumbers nodes`` on any host."""
    now = datetime.now(UTC)
    for status in statuses:
        session.merge(SwitchNodeStatus(
            name=status.name, state=status.state, state_since=status.since, sessions=status.session_count,
            last_event_at=status.last_event_at, updated_at=now,
            disagreements=None if status.disagreements is None else list(status.disagreements),
        ))


def recorded_status(session: Session) -> list[SwitchNodeStatus]:
    return list(session.scalars(select(SwitchNodeStatus).order_by(SwitchNodeStatus.name)))
