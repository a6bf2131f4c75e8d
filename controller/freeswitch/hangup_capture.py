"""The Event Socket path of capture: each leg's CHANNEL_HANGUP_COMPLETE, taken off a node's
event stream as it arrives and stored with the switch's own bytes, before anything is
derived from it.

``offer`` is called by the node's event pump for every event and returns at once; ``run``
stores what was offered in batches, in a worker thread (translation and the database stay
off the event loop; PostgreSQL compresses the stored bytes itself). A batch that fails to store is kept and retried: the legs
are not dropped, and the backstops (the CDR post and the swept file) deliver them anyway.
A hangup the adapter refuses (values out of any sane range) is logged, counted and recorded
with its reason in the batch's transaction, and never retried: it cannot hold up the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from controller.capture import ArrivedLeg, RefusedArrival, Stored
from controller.freeswitch.translate import RefusedLeg, is_hangup_complete, leg_from_hangup, named_leg, raw_event
from controller.freeswitch.protocol import Event
from smartnumbers.models import LegSource

log = logging.getLogger(__name__)


class HangupCapture:
    def __init__(self, store: Callable[[list[ArrivedLeg], list[RefusedArrival]], Stored], *, batch: int = 500,
                 retry_s: float = 1.0) -> None:
        self._store = store
        self._batch = batch
        self._retry_s = retry_s
        self._waiting: deque[tuple[Event, str]] = deque()
        self._wake = asyncio.Event()
        self.stored = 0
        self.refused = 0
        self.failures = 0

    def offer(self, event: Event, node: str) -> bool:
        """Keep the event if it is a leg's hangup; True when it was."""
        if not is_hangup_complete(event):
            return False
        self._waiting.append((event, node))
        self._wake.set()
        return True

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _translate(self, items: list[tuple[Event, str]]) -> tuple[list[ArrivedLeg], list[RefusedArrival]]:
        arrivals, refusals = [], []
        for event, node in items:
            raw = raw_event(event)
            try:
                arrivals.append(ArrivedLeg(leg_from_hangup(event, node), LegSource.EVENT, raw))
            except RefusedLeg as exc:
                log.error("node %s: hangup event refused: %s", node, exc)
                refusals.append(RefusedArrival(node, LegSource.EVENT, str(exc), raw, named_leg(raw)))
        return arrivals, refusals

    def _store_batch(self, items: list[tuple[Event, str]]) -> tuple[int, int]:
        arrivals, refusals = self._translate(items)
        if arrivals or refusals:
            self._store(arrivals, refusals)
        return len(arrivals), len(refusals)

    async def drain(self) -> None:
        """Store everything offered so far (one batch after another)."""
        while self._waiting:
            items = [self._waiting.popleft() for _ in range(min(self._batch, len(self._waiting)))]
            try:
                stored, refused = await asyncio.to_thread(self._store_batch, items)
            except Exception:
                self._waiting.extendleft(reversed(items))
                self.failures += 1
                raise
            self.stored += stored
            self.refused += refused

    async def run(self) -> None:
        """Store offered hangups until cancelled; a failed batch is retried after a pause."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("storing hangup events failed; retrying in %.1f s", self._retry_s)
                await asyncio.sleep(self._retry_s)
                self._wake.set()
