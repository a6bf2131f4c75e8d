"""The outbound Event Socket: FreeSWITCH's ``socket`` application connects to us, one call a
connection, for flows that need full control of one channel.

The wire facts it relies on (FACTS 8): the reply to ``connect`` is one plain header block, the
channel's data, with no Content-Length and ``Content-Type: command/reply`` at its end;
``myevents`` delivers only the controlled leg's events; an async ``sendmsg`` answers ``+OK``
before the application has run (``Event-UUID`` comes back as ``Application-UUID``); plain
``linger`` holds the channel until ``exit``, so this server always lingers with a timeout.

Each call's events wait in a bounded queue (``queue_size``; beyond it events are dropped and
counted in ``dropped_events``), but the end-of-call marker always gets in: ``stream()`` ends
even when the handler has fallen behind.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from controller.freeswitch.client import EventQueue, retrieve_outcome
from controller.freeswitch.protocol import (
    Event,
    Frame,
    FrameReader,
    JsonEvent,
    PlainEvent,
    ProtocolError,
    XmlEvent,
)

log = logging.getLogger(__name__)

__all__ = ["OutboundServer", "ControlledCall", "CallGone"]

_EVENT_TYPES = {"text/event-plain": PlainEvent, "text/event-json": JsonEvent, "text/event-xml": XmlEvent}


class CallGone(Exception):
    """The controlled channel's socket closed (hung up, linger over, or the switch went away)."""


def _line(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError("a socket command value may not contain a line break")
    return text


class ControlledCall(asyncio.Protocol):
    """One channel under our control, on the connection its ``socket`` application opened."""

    def __init__(self, server: OutboundServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.reader = FrameReader()
        self.replies: collections.deque[asyncio.Future[Frame]] = collections.deque()
        self.executions: dict[str, asyncio.Future[Event]] = {}
        self.events = EventQueue(server.queue_size)  # events, then None: the call is over
        self.ended = False
        self.channel: PlainEvent | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.lingering = False
        self.dropped_events = 0

    # -- what the channel is -------------------------------------------------------------

    @property
    def leg_id(self) -> str:
        assert self.channel is not None
        return self.channel.get("Unique-ID") or self.channel.get("Channel-Unique-ID") or ""

    def variable(self, name: str) -> str | None:
        """A channel variable as it was when the socket connected."""
        assert self.channel is not None
        return self.channel.variable(name)

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server._calls.add(self)
        self.server._spawn(self._run())

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except ProtocolError as exc:
            frames = exc.frames
            log.error("outbound socket: broken stream (%s); closing", exc)
            if self.transport is not None:
                self.transport.abort()
        for frame in frames:
            kind = frame.content_type
            event_type = _EVENT_TYPES.get(kind or "")
            if event_type is not None:
                self._event(event_type(frame.body))
            elif kind in ("command/reply", "api/response"):
                # one answer a command, in order (a timed-out command's late answer is dropped)
                if self.replies:
                    waiter = self.replies.popleft()
                    if not waiter.done():
                        waiter.set_result(frame)
            elif kind == "text/disconnect-notice":
                # "linger": the channel has hung up, FreeSWITCH waits for us (or the timeout).
                self.lingering = frame.header("Content-Disposition") == "linger"
                self._end()

    def _event(self, event: Event) -> None:
        if event.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE":
            waiter = self.executions.pop(event.get("Application-UUID") or "", None)
            if waiter is not None and not waiter.done():
                waiter.set_result(event)
        self._put(event)

    def _put(self, item: Event) -> None:
        if not self.events.offer(item):
            self.dropped_events += 1

    def _end(self) -> None:
        """The end-of-call marker, once, even into a full queue."""
        if not self.ended:
            self.ended = True
            self.events.force(None)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        gone = CallGone("the socket closed")
        while self.replies:
            waiter = self.replies.popleft()
            if not waiter.done():
                waiter.set_exception(gone)
        for waiter in self.executions.values():
            if not waiter.done():
                waiter.set_exception(gone)
        self.executions.clear()
        self._end()
        if not self.closed.done():
            self.closed.set_result(None)
        self.server._calls.discard(self)

    # -- commands ----------------------------------------------------------------------------

    async def _send(self, text: str, timeout: float | None = None) -> Frame:
        if self.transport is None or self.transport.is_closing():
            raise CallGone("the socket is closed")
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        waiter.add_done_callback(retrieve_outcome)
        self.replies.append(waiter)
        self.transport.write(text.encode("utf-8") + b"\n\n")
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout or self.server.command_timeout)
        except TimeoutError:
            waiter.cancel()
            raise

    async def command(self, text: str) -> str:
        frame = await self._send(_line(text))
        return frame.header("Reply-Text") or ""

    async def execute(self, app: str, arg: str | None = None, *, wait: bool = False, timeout: float | None = None) -> Event | str:
        """Run a dialplan application on the channel. The reply (``+OK``) only means queued;
        with ``wait`` the CHANNEL_EXECUTE_COMPLETE that carries our Event-UUID is returned."""
        event_uuid = str(uuid.uuid4())
        lines = ["sendmsg", "call-command: execute", f"execute-app-name: {_line(app)}"]
        if arg is not None:
            lines.append(f"execute-app-arg: {_line(arg)}")
        lines += ["event-lock: true", f"Event-UUID: {event_uuid}"]
        done: asyncio.Future[Event] | None = None
        if wait:
            done = asyncio.get_running_loop().create_future()
            done.add_done_callback(retrieve_outcome)
            self.executions[event_uuid] = done
        frame = await self._send("\n".join(lines))
        reply = frame.header("Reply-Text") or ""
        if not reply.startswith("+OK"):
            self.executions.pop(event_uuid, None)
            raise RuntimeError(f"execute {app}: {reply}")
        if done is None:
            return reply
        return await asyncio.wait_for(done, timeout)

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> str:
        frame = await self._send(f"sendmsg\ncall-command: hangup\nhangup-cause: {_line(cause)}")
        return frame.header("Reply-Text") or ""

    async def getvar(self, name: str) -> str | None:
        value = await self.command(f"getvar {name}")
        return None if value == "_undef_" else value

    async def api(self, command: str) -> str:
        frame = await self._send("api " + _line(command))
        if frame.content_type != "api/response":  # a refusal is a command/reply, never an answer
            raise RuntimeError(f"api {command.split(' ', 1)[0]}: {frame.header('Reply-Text')}")
        return frame.body.decode("utf-8", "replace")

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The channel's next event; None once FreeSWITCH says the call is over."""
        return await asyncio.wait_for(self.events.get(), timeout)  # type: ignore[return-value]

    async def stream(self) -> AsyncIterator[Event]:
        while True:
            item = await self.events.get()
            if item is None:
                return
            yield item  # type: ignore[misc]

    async def exit(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            try:
                await self._send("exit", timeout=2.0)
            except (CallGone, TimeoutError):
                pass
            if self.transport is not None:
                self.transport.close()

    # -- the conversation ------------------------------------------------------------------

    async def _run(self) -> None:
        server = self.server
        try:
            reply = await self._send("connect")
            self.channel = reply.as_event()
            await self.command("myevents json" if server.events_format == "json" else "myevents")
            # Always with a timeout: plain linger holds the channel until we exit (FACTS 8).
            await self.command(f"linger {server.linger_seconds}")
            await server.handler(self)
        except (CallGone, TimeoutError, ConnectionError) as exc:
            log.warning("outbound socket: call ended early (%s)", exc)
        except Exception:
            log.exception("outbound socket: the call handler failed")
        finally:
            await self.exit()


class OutboundServer:
    """Listens for FreeSWITCH's ``socket`` application and hands each call to ``handler``."""

    def __init__(
        self,
        handler: Callable[[ControlledCall], Awaitable[None]],
        host: str = "127.0.0.1",
        port: int = 8084,
        *,
        events_format: str = "plain",
        linger_seconds: int = 5,
        command_timeout: float = 10.0,
        queue_size: int = 1000,
    ) -> None:
        if linger_seconds <= 0:
            raise ValueError("linger needs a timeout: a plain linger holds the channel until exit")
        if events_format not in ("plain", "json"):
            raise ValueError("events_format is plain or json")
        self.handler = handler
        self.host = host
        self.port = port
        self.events_format = events_format
        self.linger_seconds = linger_seconds
        self.command_timeout = command_timeout
        self.queue_size = queue_size
        self._server: asyncio.base_events.Server | None = None
        self._calls: set[ControlledCall] = set()
        self._tasks: set[asyncio.Task] = set()

    @property
    def calls(self) -> int:
        return len(self._calls)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: ControlledCall(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for call in list(self._calls):
            await call.exit()
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
