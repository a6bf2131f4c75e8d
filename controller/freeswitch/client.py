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

FreeSWITCH runs an ``api`` command inside the listener's own thread: until it returns, that
connection gets no reply and no event. ``api`` is therefore for commands that answer at once;
a long one (``reloadxml`` of many numbers, ``originate``) goes through ``bgapi``, which the
switch runs in a thread of its own. The liveness rule knows this: while the oldest command is
within its own time the silence is explained; the link is dropped only when that command is
overdue (it and every command behind it will never be answered) or when nothing at all is owed
and nothing is heard.

The subscription always includes HEARTBEAT and BACKGROUND_JOB, which the client needs itself.
What shapes the subscription (``filter``, ``nixevent``, ``event``, ``noevents``, ``log``,
``nolog`` sent through ``command()``) is kept and sent again, in order, on every connect.
Backoff starts over only after a connection stayed up ``healthy_after`` seconds, so a link that
fails right after connecting (a resync that cannot finish) backs off like a failed connect.
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

from pydantic import SecretStr

from controller.calls import LiveLeg, Resync
from controller.freeswitch import translate
from controller.freeswitch.protocol import (
    Event,
    Frame,
    FrameReader,
    JsonEvent,
    PlainEvent,
    MAX_BODY,
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
    "AccessDenied",
    "LogLine",
    "MAX_COMMAND",
]

# mod_event_socket reads at most this many bytes as one command (read_packet's max_len, the
# command line, its headers and the blank line): the rest would be run as another command.
MAX_COMMAND = 10 * 1024 * 1024
# A filter passes only the events it names, the client's own included: without these, no
# heartbeat (liveness) and no bgapi answer would come through once a filter is set.
_OWN_FILTERS = ("filter Event-Name HEARTBEAT", "filter Event-Name BACKGROUND_JOB")
_SHAPING = frozenset({"filter", "nixevent", "event", "noevents", "log", "nolog"})


class EventSocketError(Exception):
    """Base of everything the Event Socket client raises."""


class AuthenticationFailed(EventSocketError):
    """FreeSWITCH refused the password: retrying cannot help until the settings change."""


class AccessDenied(AuthenticationFailed):
    """FreeSWITCH's ACL refused this address (``text/rude-rejection``): as hopeless as a wrong
    password until the switch's ``apply-inbound-acl`` or the controller's address changes."""


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
    resync_legs_skipped: int = 0  # a leg whose uuid_dump failed (vanished, too large) left out
    log_lines_dropped: int = 0  # log/data frames beyond the log queue
    last_event_at: float | None = None  # time.time()
    last_heartbeat_at: float | None = None
    session_count: int | None = None  # from HEARTBEAT's Session-Count


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the switch's log (``log/data``), sent after ``command("log <level>")``."""

    level: int
    text: str
    file: str = ""
    function: str = ""
    line: int = 0
    channel: str = ""  # User-Data: the leg's uuid when the line is about one

    @classmethod
    def of(cls, frame: Frame) -> LogLine:
        def number(name: str) -> int:
            value = frame.header(name) or ""
            return int(value) if value.isdigit() else 0

        return cls(number("Log-Level"), frame.body.decode("utf-8", "replace"), frame.header("Log-File") or "",
                   frame.header("Log-Func") or "", number("Log-Line"), frame.header("User-Data") or "")


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


class _Sent:
    """A command waiting for its reply: what it was, and how long the switch may take once it
    has begun on it (when the reply before it arrived)."""

    __slots__ = ("waiter", "what", "allowed", "started")

    def __init__(self, waiter: asyncio.Future[Frame], what: str, allowed: float) -> None:
        self.waiter = waiter
        self.what = what
        self.allowed = allowed
        self.started = time.monotonic()


class _Wire(asyncio.Protocol):
    """One TCP connection: splits frames, answers waiting commands, queues events.

    All of it runs inside ``data_received``, which never waits: reading never stops.
    """

    def __init__(self, client: EventSocketClient) -> None:
        self.client = client
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.replies: collections.deque[_Sent] = collections.deque()
        self.jobs: dict[str, asyncio.Future[Event]] = {}
        self.auth_request: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.last_data = time.monotonic()
        self.disconnect_notice: str | None = None  # the switch's words when it let us go
        self.rejection: str | None = None  # text/rude-rejection: its ACL refused us

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
            if frame.oversize and kind not in _REPLY_TYPES:
                received += 1
                dropped += 1
                log.error("node %s: a %s frame of %d bytes skipped (beyond %d)", client.node, kind, frame.oversize, MAX_BODY)
                continue
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
                replies = self.replies
                if replies:
                    waiter = replies.popleft().waiter
                    if not waiter.done():
                        waiter.set_result(frame)
                    if replies:  # the switch begins on the next command now
                        replies[0].started = self.last_data
                else:
                    log.warning("node %s: reply nobody waited for: %r", client.node, frame.header("Reply-Text"))
            elif kind == "log/data":
                client._log_line(frame)
            elif kind == "auth/request":
                if not self.auth_request.done():
                    self.auth_request.set_result(None)
            elif kind == "text/disconnect-notice":
                self.disconnect_notice = frame.body.decode("utf-8", "replace").strip() or "disconnected"
            elif kind == "text/rude-rejection":
                self.rejection = frame.body.decode("utf-8", "replace").strip() or "access denied"
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

    def send(self, command: str, headers: dict[str, str] | None = None, allowed: float = 10.0) -> asyncio.Future[Frame]:
        """Write one command; its reply's future. ``allowed``: how long the switch may work on
        it once begun, which the liveness rule grants it."""
        lines = [command]
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        packet = ("\n".join(lines) + "\n\n").encode("utf-8")
        if len(packet) > MAX_COMMAND:
            raise ValueError(f"an Event Socket command of {len(packet)} bytes is beyond the {MAX_COMMAND} FreeSWITCH reads as one")
        if self.transport is None or self.transport.is_closing():
            raise ConnectionLost(f"not connected to {self.client.node}")
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        waiter.add_done_callback(retrieve_outcome)  # a caller gone by then must not leave it unread
        words = command.split(" ", 2)
        sent = _Sent(waiter, " ".join(words[:2]) if words[0] in ("api", "bgapi") else words[0], allowed)  # never a password
        if self.replies:
            sent.started = float("inf")  # not begun: the switch is on the commands before it
        self.replies.append(sent)
        self.transport.write(packet)
        return waiter

    def overdue(self, now: float) -> _Sent | None:
        """The oldest command if the switch has had it longer than allowed (twice its time:
        a late answer still matches), else None."""
        if self.replies:
            head = self.replies[0]
            if now - head.started > 2 * head.allowed:
                return head
        return None

    def _fail_waiters(self, exc: Exception) -> None:
        while self.replies:
            waiter = self.replies.popleft().waiter
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


def retrieve_outcome(future: asyncio.Future) -> None:
    """A done-callback: read a future's exception so that one nobody awaits any more (its
    caller timed out or was cancelled, the link then failed) is not logged by asyncio as
    "exception was never retrieved"."""
    if not future.cancelled():
        future.exception()


def _check_command(text: str) -> str:
    """A command line may not contain a line break: it would end the command and let the
    rest through as another one. (Its length is checked where it is sent.)"""
    if "\n" in text or "\r" in text:
        raise ValueError("an Event Socket command may not contain a line break")
    if not text.strip():
        raise ValueError("empty Event Socket command")
    return text


def _verb(line: str) -> str:
    return line.split(" ", 1)[0].lower()


def _filter_terms(line: str) -> tuple[bool, str, str | None]:
    """A ``filter`` line as mod_event_socket reads it: deleting?, the header, the value (the
    rest of the line, spaces and all; None when absent)."""
    rest = line[len("filter"):].lstrip(" ")
    name, _, value = rest.partition(" ")
    deleting = name.lower() == "delete"
    if name.lower() in ("add", "delete") and value:
        name, _, value = value.partition(" ")
    return deleting, name, value or None


class EventSocketClient:
    """One FreeSWITCH node, seen through its Event Socket.

    ``run()`` keeps the link up until ``stop()``; ``events()`` yields events and ``Resync``
    snapshots in arrival order; ``api``/``bgapi`` send commands once the link is up.
    """

    def __init__(
        self,
        host: str,
        port: int,
        password: str | SecretStr,
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
        healthy_after: float = 30.0,
        resync: bool = True,
        resync_window: int = 64,
        on_state: Callable[[LinkState], None] | None = None,
    ) -> None:
        if encoding not in _ENCODINGS:
            raise ValueError(f"encoding must be one of {sorted(_ENCODINGS)}")
        self.host = host
        self.port = port
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)  # never shown
        self.node = node or f"{host}:{port}"
        self.encoding = encoding
        self.subscription = subscription or translate.subscription(encoding)
        self.queue_size = queue_size
        self.command_timeout = command_timeout
        self.job_timeout = job_timeout
        self.liveness_timeout = liveness_timeout
        self.backoff_first = backoff_first
        self.backoff_cap = backoff_cap
        self.healthy_after = healthy_after
        self.resync = resync
        self.resync_window = resync_window
        self.on_state = on_state
        self.metrics = LinkMetrics()
        self.state = LinkState.DOWN
        self.state_since = time.time()
        self.last_error: str | None = None
        self._queue = EventQueue(queue_size)
        self._logs = EventQueue(queue_size)
        self._shaping: list[str] = []  # filter/nixevent/... lines, replayed on every connect
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

    async def logs(self) -> AsyncIterator[LogLine]:
        """The switch's log lines, once ``command("log <level>")`` asked for them (bounded like
        the events; lines beyond it are counted in ``metrics.log_lines_dropped``)."""
        queue = self._logs
        while True:
            yield await queue.get()  # type: ignore[misc]

    async def api(self, command: str, timeout: float | None = None) -> str:
        """Run ``api <command>`` and return FreeSWITCH's answer text (``-ERR ...`` included).

        For commands that answer at once: the switch runs it in the listener's thread, holding
        back every reply and event behind it. Anything long goes through ``bgapi``."""
        return (await self._api_bytes(command, timeout)).decode("utf-8", "replace")

    async def _api_bytes(self, command: str, timeout: float | None = None) -> bytes:
        frame = await self._command("api " + _check_command(command), timeout)
        if frame.content_type != "api/response":  # e.g. "-ERR permission denied"
            raise CommandFailed(f"api {command.split(' ', 1)[0]}: {frame.header('Reply-Text') or frame.content_type}")
        if frame.oversize:
            raise CommandFailed(f"api {command.split(' ', 1)[0]}: a reply of {frame.oversize} bytes, beyond {MAX_BODY}")
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
        waiter.add_done_callback(retrieve_outcome)  # failed with the link after we stopped waiting
        wire.jobs[job] = waiter
        try:
            # the switch acknowledges at once; ``timeout`` is the job's
            frame = await self._command("bgapi " + _check_command(command), None, {"Job-UUID": job})
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
        """A bare Event Socket command (``filter``, ``nixevent``...): its ``Reply-Text``.

        One that shapes what the switch sends is kept, once accepted, and sent again after
        every reconnect in the same order; the first ``filter`` also lets the client's own
        events through (HEARTBEAT, BACKGROUND_JOB)."""
        verb = _check_command(text).split(" ", 1)[0].lower()
        filtering = any(_verb(line) == "filter" for line in self._shaping)  # deletes are never kept
        if verb == "filter" and not filtering and not _filter_terms(text)[0]:
            for own in _OWN_FILTERS:
                await self._shape(own, timeout)
        if verb in _SHAPING:
            return await self._shape(text, timeout)
        frame = await self._command(text, timeout)
        return frame.header("Reply-Text") or ""

    async def _shape(self, text: str, timeout: float | None) -> str:
        frame = await self._command(text, timeout)
        reply = frame.header("Reply-Text") or ""
        if reply.startswith("+OK"):
            self._remember(text)
        return reply

    def _remember(self, text: str) -> None:
        """Keep a shaping line for the next connect; a deleted filter, and what ``noevents``
        and ``nolog`` undo, are forgotten rather than replayed (the list stays short)."""
        verb = _verb(text)
        kept = self._shaping
        if verb == "filter":
            deleting, name, value = _filter_terms(text)
            if deleting:
                if name.lower() == "all" and value is None:
                    kept[:] = [line for line in kept if _verb(line) != "filter"]
                else:
                    kept[:] = [line for line in kept if not (_verb(line) == "filter" and _filter_terms(line)[1].lower() == name.lower()
                                                             and (value is None or _filter_terms(line)[2] == value))]
                return
        elif verb == "noevents":
            kept[:] = [line for line in kept if _verb(line) not in ("event", "nixevent")]
        elif verb == "nolog":
            kept[:] = [line for line in kept if _verb(line) != "log"]
            return
        kept.append(text)

    async def run(self) -> None:
        """Keep the link up until ``stop()``. Raises ``AuthenticationFailed`` (a wrong password
        or ``AccessDenied``: no point retrying)."""
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
            if self._stopping:  # stop() came while connecting
                wire._close(None)
                break
            up_at = time.monotonic()
            self._set_state(LinkState.UP)
            self._up.set()
            watchdog = asyncio.create_task(self._watch(wire))
            resync = asyncio.create_task(self._resync(wire)) if self.resync else None
            try:
                reason = await asyncio.shield(wire.closed)
            finally:
                self._up.clear()
                self._wire = None
                watchdog.cancel()
                if resync is not None:
                    resync.cancel()
                self.metrics.disconnects += 1
            if self._stopping:
                break
            # Only a link that stayed up a while starts the backoff over: one that fails soon
            # after connecting (a resync that cannot finish) must not reconnect in a storm.
            attempt = 1 if time.monotonic() - up_at >= self.healthy_after else attempt + 1
            self.last_error = wire.disconnect_notice or (str(reason) if reason else "connection lost")
            self._set_state(LinkState.DOWN)
            delay = self._backoff(attempt)
            log.warning("node %s: Event Socket connection lost (%s); reconnecting in %.2f s", self.node, self.last_error, delay)
            await self._sleep_unless_stopping(delay)
        self._set_state(LinkState.STOPPED)

    async def stop(self) -> None:
        self._stopping = True
        wire = self._wire
        if wire is not None and wire.transport is not None and not wire.transport.is_closing():
            try:
                bye = wire.send("exit")
                bye.add_done_callback(retrieve_outcome)
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
        limit = timeout or self.command_timeout
        waiter = wire.send(text, headers, limit)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), limit)
        except TimeoutError:
            # The reply may still come; its slot in the FIFO stays so replies keep matching.
            # Whether the link is dead is the watchdog's call (``_Wire.overdue``).
            waiter.cancel()
            self.metrics.commands_timed_out += 1
            raise CommandTimeout(f"node {self.node}: no reply to {text.split(' ', 2)[:2]} in time") from None

    async def _connect(self) -> _Wire:
        loop = asyncio.get_running_loop()
        wire = _Wire(self)
        await asyncio.wait_for(
            loop.create_connection(lambda: wire, self.host, self.port), self.command_timeout
        )
        try:
            # The switch greets with auth/request, or with text/rude-rejection and a close.
            await asyncio.wait_for(asyncio.wait({wire.auth_request, wire.closed}, return_when=asyncio.FIRST_COMPLETED),
                                   self.command_timeout)
            if wire.rejection is not None:
                raise AccessDenied(f"node {self.node}: FreeSWITCH refused this address ({wire.rejection})")
            if not wire.auth_request.done():
                raise ConnectionLost(f"node {self.node}: closed before asking for the password"
                                     + (f" ({wire.disconnect_notice})" if wire.disconnect_notice else ""))
            self._wire = wire
            reply = await self._command(f"auth {self._password.get_secret_value()}", None)
            text = reply.header("Reply-Text") or ""
            if not text.startswith("+OK"):
                raise AuthenticationFailed(f"node {self.node}: FreeSWITCH refused the password ({text.strip()})")
            for line in (self.subscription, *self._own_events(), *self._shaping):
                reply = await self._command(line, None)
                text = reply.header("Reply-Text") or ""
                if not text.startswith("+OK"):
                    raise EventSocketError(f"node {self.node}: {line.split(' ', 1)[0]} refused ({text.strip()})")
        except BaseException:
            self._wire = None
            if wire.transport is not None:
                wire.transport.abort()
            raise
        self.metrics.connects += 1
        return wire

    def _own_events(self) -> list[str]:
        """The events the client itself needs, if the subscription lacks them: HEARTBEAT for
        liveness, BACKGROUND_JOB for the answers of ``bgapi`` (the switch sends a job's answer
        only to listeners subscribed to it)."""
        words = self.subscription.split()
        if "ALL" in words:
            return []
        missing = [name for name in (translate.HEARTBEAT, translate.BACKGROUND_JOB) if name not in words]
        return [f"event {self.encoding} {' '.join(missing)}"] if missing else []

    async def _resync(self, wire: _Wire) -> None:
        """Read the live legs back and queue them as one ``Resync`` (FACTS 7). A leg whose
        dump fails (gone meanwhile, too large, not answered in time) is left out and logged:
        one bad leg must not cost the link and every other leg."""
        try:
            # bytes straight to the JSON decoder: the listings of 10,000 calls are ~40 MB
            rows = translate.rows(await self._api_bytes(translate.show_channels_command()))
            partner = translate.partners(await self._api_bytes(translate.show_calls_command()))
            window = asyncio.Semaphore(self.resync_window)
            legs: list[LiveLeg] = []

            async def one(row: dict[str, str]) -> None:
                async with window:
                    try:
                        dump = await self._api_bytes(translate.dump_command(row["uuid"]))
                    except (CommandFailed, CommandTimeout) as exc:
                        self.metrics.resync_legs_skipped += 1
                        log.error("node %s: leg %s left out of the resync: %s", self.node, row["uuid"], exc)
                        return
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
        """Liveness. FreeSWITCH sends HEARTBEAT every 20 s, but nothing at all while it runs
        an ``api`` command: silence is explained while the oldest command is within its time.
        A command overdue means it, and every command behind it, will never be answered."""
        period = max(0.05, min(self.liveness_timeout, self.command_timeout) / 4)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            overdue = wire.overdue(now)
            if overdue is not None:
                log.error("node %s: %r never answered; reconnecting", self.node, overdue.what)
                wire._close(ConnectionLost(f"{overdue.what!r} was never answered"))
                return
            if not wire.replies and now - wire.last_data > self.liveness_timeout:
                log.error("node %s: nothing heard for %.0f s; reconnecting", self.node, self.liveness_timeout)
                wire._close(ConnectionLost("liveness timeout"))
                return

    def _log_line(self, frame: Frame) -> None:
        if not self._logs.offer(LogLine.of(frame)):
            self.metrics.log_lines_dropped += 1

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
