"""The controller's link to one Asterisk through ARI: REST requests and the events WebSocket.

It opens the Stasis application's events WebSocket (that application's events only), hands
every event at once to a bounded queue, and answers REST requests as awaitables with a timeout.
The socket is read on every loop turn whatever the consumers do; when they fall behind the
*client* drops the newest events and counts them (``metrics.events_dropped``, one log line per
10 s). It reconnects forever with backoff and jitter; the backoff starts again from its first
step only after a healthy link (resynchronised, and up ``healthy_after`` seconds), so a switch
that accepts and at once drops the socket is not hammered. WebSocket pings watch liveness.

Asterisk replays nothing after a reconnect and leaves its calls running meanwhile (pjsip E):
after every connect the client reads ``/channels`` and ``/bridges`` and queues one ``Resync``
behind the events received so far. ``ApplicationReplaced`` means another client opened the
same application and now receives its events: the link stops (``run()`` raises
``ApplicationTaken``) rather than take it back and have two controllers steal it in turn.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp

from controller.asterisk import translate
from controller.calls import Resync
from controller.links import EventQueue, LinkState

log = logging.getLogger(__name__)

__all__ = [
    "AriClient",
    "AriError",
    "AuthenticationFailed",
    "ApplicationTaken",
    "RequestFailed",
    "RequestTimeout",
    "LinkMetrics",
]


class AriError(Exception):
    """Base of everything the ARI client raises."""


class AuthenticationFailed(AriError):
    """Asterisk refused the ARI user or password: retrying cannot help until the settings change."""


class ApplicationTaken(AriError):
    """Another client opened this Stasis application's events WebSocket (``ApplicationReplaced``)."""


class RequestTimeout(AriError):
    """Asterisk did not answer a REST request in time."""


class RequestFailed(AriError):
    """Asterisk answered a REST request with an error status; ``text`` is its message
    (404 ``Channel not found``, 409 ``Channel not in Stasis application``...)."""

    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"{method} {path}: {status} {text}")
        self.status = status
        self.text = text


@dataclass(slots=True)
class LinkMetrics:
    """Counters an operator (and ``smartnumbers nodes``) reads to see the link's health."""

    events_received: int = 0
    events_dropped: int = 0  # the queue was full: consumers fell behind
    queue_high_water: int = 0
    bad_frames: int = 0  # a frame that is no ARI event (logged, skipped)
    connects: int = 0
    disconnects: int = 0
    failures_in_row: int = 0  # connects that failed or links that died before being healthy
    requests_timed_out: int = 0
    resyncs: int = 0
    last_event_at: float | None = None  # time.time()


class AriClient:
    """One Asterisk node, seen through ARI.

    ``run()`` keeps the events WebSocket up until ``stop()``; ``events()`` yields parsed events
    (dicts, as Asterisk wrote them) and ``Resync`` snapshots in arrival order; ``request()``
    works whether the WebSocket is up or not (Asterisk serves REST without it).
    """

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        *,
        application: str = "smartnumbers",
        node: str | None = None,
        queue_size: int = 20_000,
        request_timeout: float = 10.0,
        heartbeat: float = 20.0,
        backoff_first: float = 0.25,
        backoff_cap: float = 30.0,
        healthy_after: float = 10.0,
        resync: bool = True,
        on_state: Callable[[LinkState], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.application = application
        self.node = node or f"{host}:{port}"
        self.queue_size = queue_size
        self.request_timeout = request_timeout
        self.heartbeat = heartbeat
        self.backoff_first = backoff_first
        self.backoff_cap = backoff_cap
        self.healthy_after = healthy_after
        self.resync = resync
        self.on_state = on_state
        self.metrics = LinkMetrics()
        self.state = LinkState.DOWN
        self.state_since = time.time()
        self.last_error: str | None = None
        self._authorization = {"Authorization": aiohttp.encode_basic_auth(user, password)}
        self._base = f"http://{host}:{port}/ari"
        self._session: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._queue = EventQueue(queue_size)
        self._up = asyncio.Event()
        self._stopping = False
        self._wake = asyncio.Event()
        self._overflow_logged_at = 0.0
        self._overflow_since_log = 0

    # -- public --------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._socket is not None and self.state is LinkState.UP

    async def wait_up(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._up.wait(), timeout)

    async def events(self) -> AsyncIterator[dict | Resync]:
        """Every event in arrival order, with a ``Resync`` after each (re)connect."""
        queue = self._queue
        items = queue._items
        while True:
            if not items:
                await queue.wait()
            yield items.popleft()

    async def batches(self, limit: int = 4096) -> AsyncIterator[list[dict | Resync]]:
        """The same stream in lists: one await for everything that arrived meanwhile."""
        while True:
            yield await self._queue.get_batch(limit)

    def pending_events(self) -> int:
        return len(self._queue)

    async def next_event(self, timeout: float | None = None) -> dict | Resync:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: object = None, timeout: float | None = None) -> object:
        """One REST request below ``/ari``; Asterisk's JSON answer (None for 204).
        ``RequestFailed`` with Asterisk's message for an error status."""
        session = self._require_session()
        try:
            async with asyncio.timeout(timeout or self.request_timeout):
                async with session.request(method, self._base + path, params=params, json=body) as response:
                    data = await response.read()
                    status = response.status
        except TimeoutError:
            self.metrics.requests_timed_out += 1
            raise RequestTimeout(f"node {self.node}: no answer to {method} {path} in time") from None
        answer = translate.parse_body(data)
        if status == 401:
            raise AuthenticationFailed(
                f"node {self.node}: Asterisk refused the ARI user ({translate.error_text(status, answer)})")
        if status >= 400:
            raise RequestFailed(method, path, status, translate.error_text(status, answer))
        return answer

    async def run(self) -> None:
        """Keep the link up until ``stop()``. Raises ``AuthenticationFailed`` or
        ``ApplicationTaken`` (no point retrying either)."""
        self._stopping = False
        try:
            while not self._stopping:
                self._set_state(LinkState.CONNECTING)
                try:
                    socket = await self._connect()
                except AuthenticationFailed as exc:
                    self.last_error = str(exc)
                    self._set_state(LinkState.REFUSED)
                    raise
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self._set_state(LinkState.DOWN)
                    await self._retry("cannot connect")
                    continue
                if self._stopping:  # stop() came while connecting
                    await socket.close()
                    break
                healthy = await self._hold(socket)
                if self._stopping:
                    break
                self.last_error = "connection lost"
                self._set_state(LinkState.DOWN)
                if healthy:
                    self.metrics.failures_in_row = 0
                await self._retry("events WebSocket lost")
        finally:
            if self.state is not LinkState.REFUSED and self.state is not LinkState.REPLACED:
                self._set_state(LinkState.STOPPED)

    async def stop(self) -> None:
        """End ``run()`` and close the link; ``close()`` frees the HTTP session."""
        self._stopping = True
        socket = self._socket
        if socket is not None:
            await socket.close()
        self._wake.set()

    async def close(self) -> None:
        await self.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- internals -------------------------------------------------------------------------------

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._authorization)
        return self._session

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        session = self._require_session()
        try:
            async with asyncio.timeout(self.request_timeout):
                socket = await session.ws_connect(
                    self._base + translate.EVENTS_PATH,
                    params=translate.events_query(self.application),
                    heartbeat=self.heartbeat,
                    max_msg_size=16 << 20,
                )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise AuthenticationFailed(f"node {self.node}: Asterisk refused the ARI user") from None
            raise
        self.metrics.connects += 1
        return socket

    async def _hold(self, socket: aiohttp.ClientWebSocketResponse) -> bool:
        """Read the socket until it closes; True when the link was healthy (resynchronised
        and up long enough) so that the backoff starts again from its first step."""
        self._socket = socket
        self._set_state(LinkState.UP)
        self._up.set()
        since = time.monotonic()
        resync = asyncio.create_task(self._resync(socket)) if self.resync else None
        try:
            await self._read(socket)
        except ApplicationTaken as exc:
            self.last_error = str(exc)
            self._set_state(LinkState.REPLACED)
            raise
        finally:
            self._up.clear()
            self._socket = None
            resynced = resync is None or (resync.done() and not resync.cancelled()
                                          and resync.exception() is None and resync.result())
            if resync is not None and not resync.done():
                resync.cancel()
            if not socket.closed:
                await socket.close()
            self.metrics.disconnects += 1
        return resynced and time.monotonic() - since >= self.healthy_after

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        queue = self._queue
        items = queue._items
        metrics = self.metrics
        parse = translate.parse
        text_type = aiohttp.WSMsgType.TEXT
        while True:
            message = await socket.receive()
            if message.type is not text_type:
                if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                    aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return
                continue  # binary frames: ARI sends none
            try:
                event = parse(message.data)
            except ValueError as exc:
                metrics.bad_frames += 1
                log.error("node %s: not an ARI event (%s): %.80r", self.node, exc, message.data)
                continue
            metrics.events_received += 1
            metrics.last_event_at = time.time()
            if translate.is_application_replaced(event):
                raise ApplicationTaken(f"node {self.node}: another client took the Stasis application "
                                       f"{self.application!r} over")
            if len(items) < queue.limit:
                items.append(event)
                queue.wake()
                if len(items) > metrics.queue_high_water:
                    metrics.queue_high_water = len(items)
            else:
                self._overflow()

    async def _resync(self, socket: aiohttp.ClientWebSocketResponse) -> bool:
        """Read the live legs back and queue them as one ``Resync``; on failure the link is
        dropped to try again."""
        try:
            channels, bridges = await asyncio.gather(
                self.request("GET", translate.CHANNELS_PATH), self.request("GET", translate.BRIDGES_PATH))
            legs = translate.live_legs(channels, bridges, self.node)
        except (AriError, aiohttp.ClientError, OSError, ValueError) as exc:
            if self._socket is socket:  # never the next connection's
                log.warning("node %s: resync failed (%s); dropping the link to retry", self.node, exc)
                await socket.close()
            return False
        self._queue.force(Resync(self.node, legs))
        self.metrics.resyncs += 1
        log.info("node %s: resynchronised %d live legs", self.node, len(legs))
        return True

    async def _retry(self, why: str) -> None:
        self.metrics.failures_in_row += 1
        delay = self._backoff(self.metrics.failures_in_row)
        log.warning("node %s: %s (%s); retry in %.2f s", self.node, why, self.last_error, delay)
        if self._stopping:
            return
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, capped."""
        ceiling = min(self.backoff_cap, self.backoff_first * (2 ** min(attempt - 1, 20)))
        return random.uniform(ceiling / 2, ceiling)

    def _overflow(self) -> None:
        metrics = self.metrics
        metrics.events_dropped += 1
        self._overflow_since_log += 1
        now = time.monotonic()
        if now - self._overflow_logged_at >= 10.0:
            log.error("node %s: event queue full (%d); consumers are behind, %d events dropped (total %d)",
                      self.node, self.queue_size, self._overflow_since_log, metrics.events_dropped)
            self._overflow_logged_at = now
            self._overflow_since_log = 0

    def _set_state(self, state: LinkState) -> None:
        if state is not self.state:
            self.state = state
            self.state_since = time.time()
            if self.on_state is not None:
                self.on_state(state)
