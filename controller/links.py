"""What every switch link has in common: its state and the bounded queue its events wait in.

The Event Socket client (``controller/freeswitch/client.py``) and the ARI client
(``controller/asterisk/client.py``) both read their socket on every loop turn whatever the
consumers do, and drop (and count) what the queue has no room for.
"""

from __future__ import annotations

import asyncio
import collections
import enum
from typing import Any

__all__ = ["LinkState", "EventQueue"]

# An event as its switch's client parsed it, or a ``controller.calls.Resync``.
_Item = Any


class LinkState(enum.StrEnum):
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"
    REFUSED = "refused"  # wrong password, or the switch turned this address away
    REPLACED = "replaced"  # another client took the Stasis application over (ARI)
    STOPPED = "stopped"


class EventQueue:
    """A bounded FIFO between a switch link and the consumers, cheaper than ``asyncio.Queue``
    (no task accounting) because every event of the switch passes through it."""

    __slots__ = ("_items", "_waiter", "limit")

    def __init__(self, limit: int) -> None:
        self._items: collections.deque[_Item] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self.limit = limit

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: _Item) -> bool:
        """Queue an item unless full; False means it was dropped."""
        if len(self._items) >= self.limit:
            return False
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return True

    def force(self, item: _Item) -> None:
        """Queue an item even beyond the limit (one resync snapshot, never events)."""
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def get_nowait(self) -> _Item:
        return self._items.popleft()

    def wake(self) -> None:
        """Tell a waiting consumer that items were appended directly."""
        waiter = self._waiter
        if waiter is not None and self._items:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        """Until something is queued."""
        while not self._items:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._waiter)

    async def get(self) -> _Item:
        items = self._items
        while not items:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._waiter)
        return items.popleft()

    async def get_batch(self, limit: int = 4096) -> list[_Item]:
        """Everything queued (at least one item), up to ``limit``: one await for many events."""
        items = self._items
        while not items:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._waiter)
        if len(items) <= limit:
            batch = list(items)
            items.clear()
            return batch
        return [items.popleft() for _ in range(limit)]
