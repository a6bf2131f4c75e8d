"""The controller's inbound Event Socket connection to one FreeSWITCH.

It authenticates, subscribes to the events the controller uses (never ``ALL``), runs ``api``
and ``bgapi`` commands as awaitables with a timeout, and hands every event at once to a
bounded queue. The socket is read on every loop turn whatever the consumers do: FreeSWITCH
drops a listener whose own queue (100,000 events) fills, so when consumers fall behind the
*client* drops and counts, and says so. It reconnects forever with backoff and jitter, watches
HEARTBEAT for liveness, and after every connect reads the live calls back (FACTS 7).

Policies worth knowing: a full queue drops the *newest* events (counted in
``metrics.events_dropped``, one log line per 10 s); the json CDR backstop covers a dropped
hangup. Replies are matched to commands strictly in order. A resync's listing comes from the
switch's asynchronously written scoreboard and can miss a leg answered a moment before:
check such legs with ``alive()`` before giving them up.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from controller.calls import LiveLeg, Resync
from controller.freeswitch import translate
from controller.freeswitch.protocol import (
    Event,
    Frame,
    FrameReader,
    JsonEvent,
    PlainEvent,
    ProtocolError,
    XmlEvent,
)
from controller.links import EventQueue, LinkState

log = logging.getLogger(__name__)

__all__ = [
    "EventSocketClient",
    "EventSocketError",
    "AuthenticationFailed",
    "CommandFailed",
    "CommandTimeout",
    "ConnectionLost",
    "LinkState",
    "LinkMetrics",
    "Resync",
    "EventQueue",
]


class EventSocketError(Exception):
    """Base of everything the Event Socket client raises."""


class AuthenticationFailed(EventSocketError):
    """FreeSWITCH refused the password: retrying cannot help until the settings change."""


class ConnectionLost(EventSocketError):
    """The connection went away while a command was waiting for its answer."""


class CommandTimeout(EventSocketError):
    """FreeSWITCH did not answer a command in time."""


class CommandFailed(EventSocketError):
    """FreeSWITCH answered a command with ``-ERR``."""


@dataclass(slots=True)
class LinkMetrics:
    """Counters an operator (and ``smartnumbers nodes``) reads to see the link's health."""

    events_received: int = 0
    events_dropped: int = 0  # the queue was full: consumers fell behind
    queue_high_water: int = 0
    connects: int = 0
    disconnects: int = 0
    protocol_errors: int = 0
    commands_timed_out: int = 0
    resyncs: int = 0
    last_event_at: float | None = None  # time.time()
    last_heartbeat_at: float | None = None
    session_count: int | None = None  # from HEARTBEAT's Session-Count


_ENCODINGS = {"plain": PlainEvent, "json": JsonEvent, "xml": XmlEvent}
# FreeSWITCH writes Event-Name first in both encodings: special events are told by a prefix.
_SPECIAL_PREFIXES = (
    b"Event-Name: HEARTBEAT\n",
    b"Event-Name: BACKGROUND_JOB\n",
    b'{"Event-Name":"HEARTBEAT"',
    b'{"Event-Name":"BACKGROUND_JOB"',
    b"<event>\n  <headers>\n    <Event-Name>HEARTBEAT<",
    b"<event>\n  <headers>\n    <Event-Name>BACKGROUND_JOB<",
)
_EVENT_TYPE = {"text/event-plain": PlainEvent, "text/event-json": JsonEvent, "text/event-xml": XmlEvent}
_REPLY_TYPES = ("command/reply", "api/response")


class _Wire(asyncio.Protocol):
    """One TCP connection: splits frames, answers waiting commands, queues events.

    All of it runs inside ``data_received``, which never waits: reading never stops.
    """

    def __init__(self, client: EventSocketClient) -> None:
        self.client = client
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.replies: collections.deque[asyncio.Future[Frame]] = collections.deque()
        self.jobs: dict[str, asyncio.Future[Event]] = {}
        self.auth_request: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.last_data = time.monotonic()
        self.disconnect_notice: Frame | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:  # room in the kernel for bursts while the loop is busy elsewhere
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            except OSError:
                pass

    def data_received(self, data: bytes) -> None:
        self.last_data = time.monotonic()
        try:
            frames = self.reader.feed(data, _EVENT_TYPE)
        except ProtocolError as exc:
            # The frames completed before the bad bytes are still delivered; then reconnect.
            self._dispatch(exc.frames)
            self.client.metrics.protocol_errors += 1
            log.error("node %s: Event Socket stream broken (%s); reconnecting", self.client.node, exc)
            self._close(exc)
            return
        self._dispatch(frames)

    def _dispatch(self, frames: list) -> None:
        client = self.client
        queue = client._queue
        items = queue._items
        room = queue.limit - len(items)
        metrics = client.metrics
        special = _SPECIAL_PREFIXES
        received = 0
        dropped = 0
        for frame in frames:
            if type(frame) is not Frame:  # an event, made by the reader
                received += 1
                if frame.raw.startswith(special) and not self._special(frame):
                    continue
                if room > 0:
                    items.append(frame)
                    room -= 1
                else:
                    dropped += 1
                continue
            kind = frame.content_type
            event_type = _EVENT_TYPE.get(kind)  # type: ignore[arg-type]
            if event_type is not None:  # an event frame the reader's fast path did not take
                event = event_type(frame.body)
                received += 1
                if event.raw.startswith(special) and not self._special(event):
                    continue
                if room > 0:
                    items.append(event)
                    room -= 1
                else:
                    dropped += 1
            elif kind in _REPLY_TYPES:
                # FreeSWITCH answers every command once, in order: reply n is command n's,
                # even when that command already timed out (then the answer is dropped).
                if self.replies:
                    waiter = self.replies.popleft()
                    if not waiter.done():
                        waiter.set_result(frame)
                else:
                    log.warning("node %s: reply nobody waited for: %r", client.node, frame.header("Reply-Text"))
            elif kind == "auth/request":
                if not self.auth_request.done():
                    self.auth_request.set_result(None)
            elif kind == "text/disconnect-notice":
                self.disconnect_notice = frame
            else:
                log.warning("node %s: unexpected frame %r", client.node, kind)
        if received:
            queue.wake()
            metrics.events_received += received
            metrics.last_event_at = time.time()
            size = len(items)
            if size > metrics.queue_high_water:
                metrics.queue_high_water = size
            if dropped:
                client._overflow(dropped)

    def _special(self, event: Event) -> bool:
        """Resolve bgapi jobs and note heartbeats; False if the event is used up here."""
        name = event.get("Event-Name")
        if name == translate.BACKGROUND_JOB:
            waiter = self.jobs.pop(translate.job_id(event) or "", None)
            if waiter is not None:
                if not waiter.done():
                    waiter.set_result(event)
                return False  # a job we started: its answer goes to its caller only
        elif name == translate.HEARTBEAT:
            self.client._heartbeat(event)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_waiters(ConnectionLost(f"connection to {self.client.node} lost" + (f": {exc}" if exc else "")))
        if not self.closed.done():
            self.closed.set_result(exc)

    # -- commands ----------------------------------------------------------------------------

    def send(self, command: str, headers: dict[str, str] | None = None) -> asyncio.Future[Frame]:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionLost(f"not connected to {self.client.node}")
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        lines = [command]
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        self.replies.append(waiter)
        self.transport.write(("\n".join(lines) + "\n\n").encode("utf-8"))
        return waiter

    def _fail_waiters(self, exc: Exception) -> None:
        while self.replies:
            waiter = self.replies.popleft()
            if not waiter.done():
                waiter.set_exception(exc)
        for waiter in self.jobs.values():
            if not waiter.done():
                waiter.set_exception(exc)
        self.jobs.clear()

    def _close(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._fail_waiters(ConnectionLost(str(exc) if exc else "closed"))
        if not self.closed.done():
            self.closed.set_result(exc)


def _ignore_outcome(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def _check_command(text: str) -> str:
    """A command line may not contain a line break: it would end the command and let the
    rest through as another one."""
    if "\n" in text or "\r" in text:
        raise ValueError("an Event Socket command may not contain a line break")
    if not text.strip():
        raise ValueError("empty Event Socket command")
    return text


class EventSocketClient:
    """One FreeSWITCH node, seen through its Event Socket.

    ``run()`` keeps the link up until ``stop()``; ``events()`` yields events and ``Resync``
    snapshots in arrival order; ``api``/``bgapi`` send commands once the link is up.
    """

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        node: str | None = None,
        encoding: str = "plain",
        subscription: str | None = None,
        queue_size: int = 20_000,
        command_timeout: float = 10.0,
        job_timeout: float = 120.0,
        liveness_timeout: float = 60.0,
        backoff_first: float = 0.25,
        backoff_cap: float = 30.0,
        resync: bool = True,
        resync_window: int = 64,
        on_state: Callable[[LinkState], None] | None = None,
    ) -> None:
        if encoding not in _ENCODINGS:
            raise ValueError(f"encoding must be one of {sorted(_ENCODINGS)}")
        self.host = host
        self.port = port
        self._password = password
        self.node = node or f"{host}:{port}"
        self.encoding = encoding
        self.subscription = subscription or translate.subscription(encoding)
        self.queue_size = queue_size
        self.command_timeout = command_timeout
        self.job_timeout = job_timeout
        self.liveness_timeout = liveness_timeout
        self.backoff_first = backoff_first
        self.backoff_cap = backoff_cap
        self.resync = resync
        self.resync_window = resync_window
        self.on_state = on_state
        self.metrics = LinkMetrics()
        self.state = LinkState.DOWN
        self.state_since = time.time()
        self.last_error: str | None = None
        self._queue = EventQueue(queue_size)
        self._wire: _Wire | None = None
        self._up = asyncio.Event()
        self._stopping = False
        self._wake = asyncio.Event()
        self._overflow_logged_at = 0.0
        self._overflow_since_log = 0

    # -- public --------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._wire is not None and self.state is LinkState.UP

    async def wait_up(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._up.wait(), timeout)

    async def events(self) -> AsyncIterator[Event | Resync]:
        """Every event in arrival order, with a ``Resync`` after each (re)connect."""
        queue = self._queue
        items = queue._items
        while True:
            if not items:
                await queue.wait()
            # popped one at a time: a consumer that stops iterating leaves the rest queued
            yield items.popleft()

    async def batches(self, limit: int = 4096) -> AsyncIterator[list[Event | Resync]]:
        """The same stream in lists: one await for everything that arrived meanwhile."""
        queue = self._queue
        while True:
            yield await queue.get_batch(limit)

    def pending_events(self) -> int:
        return len(self._queue)

    def get_nowait(self) -> Event | Resync:
        return self._queue.get_nowait()

    async def next_event(self, timeout: float | None = None) -> Event | Resync:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def api(self, command: str, timeout: float | None = None) -> str:
        """Run ``api <command>`` and return FreeSWITCH's answer text (``-ERR ...`` included)."""
        frame = await self._command("api " + _check_command(command), timeout)
        return frame.body.decode("utf-8", "replace")

    async def _api_bytes(self, command: str, timeout: float | None = None) -> bytes:
        frame = await self._command("api " + _check_command(command), timeout)
        return frame.body

    async def alive(self, leg_ids: list[str]) -> set[str]:
        """Which legs exist right now (``uuid_exists`` reads the live session). A resync's
        listing comes from the switch's asynchronously written scoreboard and can miss legs
        answered moments before, so a leg known from events but absent there is checked here
        before it is given up."""
        answers = await asyncio.gather(*(self.api(f"uuid_exists {leg}") for leg in leg_ids))
        return {leg for leg, answer in zip(leg_ids, answers) if answer.strip() == "true"}

    async def refresh_sessions(self) -> int | None:
        """Read the session count now (``api status``) rather than wait for a HEARTBEAT."""
        count = translate.sessions_in_status(await self.api("status"))
        if count is not None:
            self.metrics.session_count = count
        return count

    async def bgapi(self, command: str, timeout: float | None = None) -> str:
        """Run ``bgapi <command>``; resolves with the BACKGROUND_JOB's body when the job ends."""
        wire = self._require_wire()
        job = str(uuid.uuid4())
        waiter: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        wire.jobs[job] = waiter
        try:
            frame = await self._command("bgapi " + _check_command(command), timeout, {"Job-UUID": job})
            reply = frame.header("Reply-Text") or ""
            if reply.startswith("-ERR"):
                raise CommandFailed(f"bgapi {command!r}: {reply}")
            given = frame.header("Job-UUID")
            if given and given != job:  # a switch that ignored our Job-UUID: follow its own
                wire.jobs.pop(job, None)
                wire.jobs[given] = waiter
                job = given
            try:
                event = await asyncio.wait_for(waiter, timeout or self.job_timeout)
            except TimeoutError:
                self.metrics.commands_timed_out += 1
                raise CommandTimeout(f"node {self.node}: no BACKGROUND_JOB for bgapi {command!r}") from None
            return event.body or ""
        finally:
            wire.jobs.pop(job, None)

    async def command(self, text: str, timeout: float | None = None) -> str:
        """A bare Event Socket command (``filter``, ``nixevent``...): its ``Reply-Text``."""
        frame = await self._command(_check_command(text), timeout)
        return frame.header("Reply-Text") or ""

    async def run(self) -> None:
        """Keep the link up until ``stop()``. Raises ``AuthenticationFailed`` (no point retrying)."""
        attempt = 0
        self._stopping = False
        while not self._stopping:
            self._set_state(LinkState.CONNECTING)
            try:
                wire = await self._connect()
            except AuthenticationFailed as exc:
                self.last_error = str(exc)
                self._set_state(LinkState.REFUSED)
                raise
            except (OSError, EventSocketError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._set_state(LinkState.DOWN)
                attempt += 1
                delay = self._backoff(attempt)
                log.warning("node %s: cannot connect (%s); retry in %.2f s", self.node, self.last_error, delay)
                await self._sleep_unless_stopping(delay)
                continue
            attempt = 0
            if self._stopping:  # stop() came while connecting
                wire._close(None)
                break
            self._set_state(LinkState.UP)
            self._up.set()
            watchdog = asyncio.create_task(self._watch(wire))
            resync = asyncio.create_task(self._resync(wire)) if self.resync else None
            try:
                await asyncio.shield(wire.closed)
            finally:
                self._up.clear()
                self._wire = None
                watchdog.cancel()
                if resync is not None:
                    resync.cancel()
                self.metrics.disconnects += 1
            if self._stopping:
                break
            self.last_error = "connection lost"
            self._set_state(LinkState.DOWN)
            delay = self._backoff(1)
            log.warning("node %s: Event Socket connection lost; reconnecting in %.2f s", self.node, delay)
            await self._sleep_unless_stopping(delay)
        self._set_state(LinkState.STOPPED)

    async def stop(self) -> None:
        self._stopping = True
        wire = self._wire
        if wire is not None and wire.transport is not None and not wire.transport.is_closing():
            try:
                bye = wire.send("exit")
                bye.add_done_callback(_ignore_outcome)
            except EventSocketError:
                pass
            wire.transport.close()
        self._wake.set()

    def drop_connection(self) -> None:
        """Cut the socket now (as a network failure would); ``run()`` reconnects."""
        if self._wire is not None:
            self._wire._close(ConnectionLost("dropped on purpose"))

    # -- internals -------------------------------------------------------------------------------

    def _require_wire(self) -> _Wire:
        wire = self._wire
        if wire is None:
            raise ConnectionLost(f"not connected to {self.node}")
        return wire

    async def _command(self, text: str, timeout: float | None, headers: dict[str, str] | None = None) -> Frame:
        wire = self._require_wire()
        waiter = wire.send(text, headers)
        limit = timeout or self.command_timeout
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), limit)
        except TimeoutError:
            # The reply may still come; its slot in the FIFO stays so replies keep matching.
            # If it never comes the stream cannot be trusted: drop the link after a grace.
            waiter.cancel()
            self.metrics.commands_timed_out += 1
            asyncio.get_running_loop().call_later(limit, self._unanswered, wire, waiter)
            raise CommandTimeout(f"node {self.node}: no reply to {text.split(' ', 2)[:2]} in time") from None

    def _unanswered(self, wire: _Wire, waiter: asyncio.Future[Frame]) -> None:
        if waiter in wire.replies:
            log.error("node %s: a command was never answered; reconnecting", self.node)
            wire._close(ConnectionLost("a command was never answered"))

    async def _connect(self) -> _Wire:
        loop = asyncio.get_running_loop()
        wire = _Wire(self)
        await asyncio.wait_for(
            loop.create_connection(lambda: wire, self.host, self.port), self.command_timeout
        )
        try:
            await asyncio.wait_for(asyncio.shield(wire.auth_request), self.command_timeout)
            self._wire = wire
            reply = await self._command(f"auth {self._password}", None)
            text = reply.header("Reply-Text") or ""
            if not text.startswith("+OK"):
                raise AuthenticationFailed(f"node {self.node}: FreeSWITCH refused the password ({text.strip()})")
            reply = await self._command(self.subscription, None)
            text = reply.header("Reply-Text") or ""
            if not text.startswith("+OK"):
                raise EventSocketError(f"node {self.node}: subscription refused ({text.strip()})")
        except BaseException:
            self._wire = None
            if wire.transport is not None:
                wire.transport.abort()
            raise
        self.metrics.connects += 1
        return wire

    async def _resync(self, wire: _Wire) -> None:
        """Read the live legs back and queue them as one ``Resync`` (FACTS 7)."""
        try:
            # bytes straight to the JSON decoder: the listings of 10,000 calls are ~40 MB
            rows = translate.rows(await self._api_bytes(translate.show_channels_command()))
            partner = translate.partners(await self._api_bytes(translate.show_calls_command()))
            window = asyncio.Semaphore(self.resync_window)
            legs: list[LiveLeg] = []

            async def one(row: dict[str, str]) -> None:
                async with window:
                    dump = await self._api_bytes(translate.dump_command(row["uuid"]))
                if translate.api_failed(dump):
                    return  # gone between the listing and the dump
                leg = translate.live_leg(row, partner, dump, self.node)
                if leg is not None:
                    legs.append(leg)

            await asyncio.gather(*(one(row) for row in rows if row.get("uuid")))
            self._queue.force(Resync(self.node, legs))
            self.metrics.resyncs += 1
            log.info("node %s: resynchronised %d live legs", self.node, len(legs))
        except (EventSocketError, ValueError) as exc:
            if self._wire is wire:  # never the next connection's
                log.warning("node %s: resync failed (%s); dropping the link to retry", self.node, exc)
                wire._close(ConnectionLost(f"resync failed: {exc}"))

    async def _watch(self, wire: _Wire) -> None:
        """Liveness: FreeSWITCH sends HEARTBEAT every 20 s; silence means a dead link."""
        period = max(0.05, self.liveness_timeout / 4)
        while True:
            await asyncio.sleep(period)
            if time.monotonic() - wire.last_data > self.liveness_timeout:
                log.error("node %s: nothing heard for %.0f s; reconnecting", self.node, self.liveness_timeout)
                wire._close(ConnectionLost("liveness timeout"))
                return

    def _heartbeat(self, event: Event) -> None:
        self.metrics.last_heartbeat_at = time.time()
        count = event.get("Session-Count")
        if count is not None and count.isdigit():
            self.metrics.session_count = int(count)

    def _overflow(self, count: int = 1) -> None:
        metrics = self.metrics
        metrics.events_dropped += count
        self._overflow_since_log += count
        now = time.monotonic()
        if now - self._overflow_logged_at >= 10.0:
            log.error(
                "node %s: event queue full (%d); consumers are behind, %d events dropped (total %d)",
                self.node,
                self.queue_size,
                self._overflow_since_log,
                metrics.events_dropped,
            )
            self._overflow_logged_at = now
            self._overflow_since_log = 0

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, capped."""
        ceiling = min(self.backoff_cap, self.backoff_first * (2 ** min(attempt - 1, 20)))
        return random.uniform(ceiling / 2, ceiling)

    async def _sleep_unless_stopping(self, delay: float) -> None:
        if self._stopping:
            return
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass

    def _set_state(self, state: LinkState) -> None:
        if state is not self.state:
            self.state = state
            self.state_since = time.time()
            if self.on_state is not None:
                self.on_state(state)
