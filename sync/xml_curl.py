"""mod_xml_curl's dialplan fetches, answered from the in-memory table, never from the database.

A fetch holds the caller in routing until it is answered (FACTS.md section 5), and the switch
opens a new connection for every fetch (mod_xml_curl runs one libcurl handle per fetch, then
closes it). Here a fetch costs the server about half of what a bare aiohttp handler costs, and
far less than the application's middleware chain (``benchmarks/dialplan.py`` measures both), so
fetches have a listener of their own (``dialplan_http``, run by ``serve``): HTTP/1.1 parsed by
httptools (llhttp, Node.js's parser), with the same checks as the application's switch routes
(the settings' basic credentials, from an allowed address; ``sync.auth``).

Nobody without credentials can hold it up: a connection from an address not on the allow-list
is closed as it is accepted, before anything is read; request line and headers are capped (the
switch's are about 200 bytes); a request must arrive whole within ``DEADLINE_S`` of the
connection or of the previous answer (the switch gives up on a fetch after 2 s), which also lets
go of idle keep-alive connections; and beyond ``dialplan_max_connections`` open connections a
new one is closed at once. ``benchmarks/dialplan.py`` measures fetches while it is attacked.

An unknown number, another section or another context gets "not found", on which FreeSWITCH
falls back to the deployed files (FACTS.md section 5): the files come from the same rendering,
so the answer for a number is the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
import logging
import time

import httptools
from aiohttp import web

from controller.dialplan import render
from controller.dialplan.publisher import build_publisher
from controller.dialplan.schedule import ChangeSchedule
from controller.dialplan.table import DialplanTable, fetch_target
from controller.freeswitch.client import EventSocketClient
from smartnumbers.db import make_engine, session_factory
from sync.auth import switch_address_allowed, switch_credentials_valid
from sync.keys import DIALPLANS, SETTINGS
from sync.metrics import METRICS

log = logging.getLogger(__name__)
PATH = b"/freeswitch/dialplan"
MAX_BODY = 1024**2  # a fetch's form is about 5 kB
MAX_LINE = 8190  # the request line's limit on the API's port (aiohttp's)
MAX_HEADERS = 8190  # all header fields together (aiohttp allows each field this much)
DEADLINE_S = 2.5  # a request arrives whole within this of the connection or of the previous answer
SWEEP_S = 0.5  # how often connections past their deadline are looked for
REPORT_S = 60.0  # refused and timed-out connections are logged at most this often


def answer(table: DialplanTable | None, form: bytes) -> str:
    """The document for one fetch's form: the number's extensions, or "not found"."""
    fetch = fetch_target(form)
    if table is None or fetch.get("section") != "dialplan":
        return render.NOT_FOUND
    return table.answer(fetch.get("destination", ""), fetch.get("context", ""))


def _response(status: int, content_type: str, body: bytes, close: bool, extra: str = "") -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return (f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}{connection}\r\n").encode("latin-1") + body


_ANSWER = _response(200, "text/xml; charset=utf-8", b"", False).replace(b"Content-Length: 0", b"Content-Length: %d")
_LAST_ANSWER = _response(200, "text/xml; charset=utf-8", b"", True).replace(b"Content-Length: 0", b"Content-Length: %d")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_REFUSAL_HEADERS = {401: 'WWW-Authenticate: Basic realm="freeswitch"\r\n', 405: "Allow: POST\r\n"}


class FetchListener:
    """What a listener's connections share: the serve application (settings, table), the open
    connections, the peer addresses already checked against the allow-list, and the counts of
    connections let go that the next report logs."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.settings = app[SETTINGS]
        self.max_connections = self.settings.dialplan_max_connections
        self.fetch_seconds = app[METRICS].dialplan_fetch_seconds
        self.connections: set[FetchConnection] = set()
        self.address_allowed = functools.lru_cache(maxsize=1024)(functools.partial(switch_address_allowed,
                                                                                   self.settings))
        # every fetch of a switch carries the same header: decoded and compared once
        self.credentials_valid = functools.lru_cache(maxsize=64)(functools.partial(switch_credentials_valid,
                                                                                  self.settings))
        self.refused_address = self.refused_full = self.timed_out = 0

    async def sweep(self) -> None:
        """Every ``SWEEP_S``: close the connections past their deadline (without a word: they
        have not sent a whole request, or do not read their answers); now and then, log how
        many connections were let go and why."""
        reported = time.monotonic()
        while True:
            await asyncio.sleep(SWEEP_S)
            now = time.monotonic()
            for connection in [c for c in self.connections if c.deadline < now]:
                connection.transport.abort()
                self.timed_out += 1
            if now - reported >= REPORT_S:
                reported = now
                self.report()

    def report(self) -> None:
        """One line for the operator: the connections let go since the last report, and why."""
        if self.refused_address or self.refused_full or self.timed_out:
            log.warning("dialplan fetches: %d connections refused from addresses not in SMARTNUMBERS_SWITCH_HTTP_ALLOW, "
                        "%d beyond SMARTNUMBERS_DIALPLAN_MAX_CONNECTIONS (%d), %d closed without a whole request "
                        "within %.1f s", self.refused_address, self.refused_full, self.max_connections,
                        self.timed_out, DEADLINE_S)
        self.refused_address = self.refused_full = self.timed_out = 0


class FetchConnection(asyncio.Protocol):
    """One connection from a switch: requests answered in order (keep-alive and pipelining as
    HTTP/1.1 has them, ``Expect: 100-continue`` honoured); a refused or malformed request gets
    its status and a one-line reason, and the connection is closed."""

    def __init__(self, listener: FetchListener) -> None:
        self.listener = listener
        self.parser: httptools.HttpRequestParser | None = None
        self.closing = True  # until the connection is admitted

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        listener = self.listener
        peer = transport.get_extra_info("peername")
        if not (peer and listener.address_allowed(peer[0])):
            listener.refused_address += 1
            transport.abort()
        elif len(listener.connections) >= listener.max_connections:
            listener.refused_full += 1
            transport.abort()
        else:
            listener.connections.add(self)
            self.parser = httptools.HttpRequestParser(self)
            self.closing = False
            self.deadline = time.monotonic() + DEADLINE_S
            self.in_head, self.head_size = True, 0
            self.on_message_begin()

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.connections.discard(self)
        # The parser holds this connection's callbacks: once unlinked, both are freed at once by
        # reference counting, not by the garbage collector (eleven objects a fetch: about 200
        # collections, each a pause of the loop, in a 5 s run of benchmarks/dialplan.py).
        self.parser = None

    def pause_writing(self) -> None:  # a client that does not read its answers is not read either
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        # While a request's head is incomplete the parser keeps the header being read whole, so
        # it is fed no more than the limits let through (a head streamed without end costs its
        # first 16 kB).
        while data and not self.closing:
            room = MAX_LINE + MAX_HEADERS + 1 - self.head_size if self.in_head else len(data)
            chunk, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
            if self.in_head:
                self.head_size += len(chunk)
            try:
                self.parser.feed_data(chunk)
            except httptools.HttpParserUpgrade:
                self.refuse(400, "protocol upgrades are not served here")
            except httptools.HttpParserError as exc:
                self.refuse(400, f"malformed request: {exc}")
            if self.in_head and self.head_size > MAX_LINE + MAX_HEADERS:
                self.refuse(431, f"request headers are at most {MAX_HEADERS} bytes")

    # httptools' callbacks, in the order of a request

    def on_message_begin(self) -> None:
        self.began = time.perf_counter()
        self.url = b""
        self.authorization = b""
        self.expect: bytes | None = None
        self.headers_size = 0
        self.body: list[bytes] = []
        self.size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_LINE:
            self.refuse(414, f"the request line is at most {MAX_LINE} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers_size += len(name) + len(value) + 4  # ": " and CRLF
        if self.headers_size > MAX_HEADERS:
            self.refuse(431, f"request headers are at most {MAX_HEADERS} bytes")
        name = name.lower()
        if name == b"authorization":
            self.authorization = value
        elif name == b"expect":
            self.expect = value.lower()

    def on_headers_complete(self) -> None:
        self.in_head = False
        if self.closing:  # refused already, or a request pipelined after a refused one
            return
        if not self.listener.credentials_valid(self.authorization.decode("latin-1")):
            self.refuse(401, "switch credentials refused")
        elif self.url.partition(b"?")[0] != PATH:
            self.refuse(404, "dialplan fetches are posted to /freeswitch/dialplan")
        elif self.parser.get_method() != b"POST":
            self.refuse(405, "dialplan fetches are posted")
        elif self.expect is not None and self.expect != b"100-continue":
            self.refuse(417, "only Expect: 100-continue is understood")
        elif self.expect is not None:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_BODY:
            self.refuse(413, f"a fetch's form is at most {MAX_BODY} bytes")
        elif not self.closing:
            self.body.append(body)

    def on_message_complete(self) -> None:
        self.in_head, self.head_size = True, 0
        if self.closing:
            return
        try:
            document = answer(self.listener.app.get(DIALPLANS), b"".join(self.body)).encode()
        except Exception:  # the switch falls back to the deployed files; the loop goes on
            log.exception("dialplan fetch failed")
            self.refuse(500, "the dialplan could not be answered")
            return
        self.deadline = time.monotonic() + DEADLINE_S
        if self.parser.should_keep_alive():
            self.transport.write(_ANSWER % len(document) + document)
        else:
            self.closing = True
            self.transport.write(_LAST_ANSWER % len(document) + document)
            self.transport.close()
        # about 1 us (timeit) of the ~60 us of server CPU a fetch costs (benchmarks/dialplan.py)
        self.listener.fetch_seconds.observe(time.perf_counter() - self.began)

    def refuse(self, status: int, reason: str) -> None:
        """Answer with ``status`` and ``reason``, then close (what follows is not read)."""
        if self.closing:
            return
        self.closing = True
        self.transport.write(_response(status, "text/plain; charset=utf-8", reason.encode() + b"\n", True,
                                       _REFUSAL_HEADERS.get(status, "")))
        self.transport.close()


async def listener(app: web.Application):
    """A cleanup context of the serve process: the fetches' own listener on ``dialplan_http``,
    answering from the table under ``DIALPLANS`` (none: every fetch is "not found")."""
    settings = app[SETTINGS]
    shared = FetchListener(app)
    server = await asyncio.get_running_loop().create_server(
        lambda: FetchConnection(shared), *settings.dialplan_address, backlog=1024)
    sweeping = asyncio.create_task(shared.sweep())
    log.info("dialplan fetches on http://%s/freeswitch/dialplan", settings.dialplan_http)
    yield
    sweeping.cancel()
    server.close()
    for connection in list(shared.connections):
        connection.transport.close()
    await server.wait_closed()
    shared.report()


async def dialplans(app: web.Application):
    """While serve runs: the table filled and the files deployed from the database, the nodes'
    Event Socket links for ``reloadxml``, and the schedule of changes. Without switches in the
    settings there is nothing to publish to, and every fetch is "not found"."""
    settings = app[SETTINGS]
    if not settings.freeswitch_nodes and not settings.dialplan_folders:
        yield
        return
    engine = make_engine(settings.database_url)
    switches = {node.name: EventSocketClient(node.host, node.port, node.password, node=node.name,
                                             subscription="event plain HEARTBEAT", resync=False)
                for node in settings.freeswitch_nodes}
    links = [asyncio.create_task(client.run()) for client in switches.values()]
    table = app[DIALPLANS] = DialplanTable()
    publisher = build_publisher(settings, session_factory(engine), switches, table)
    schedule = ChangeSchedule(publisher, session_factory(engine), settings.database_url)

    async def start() -> None:
        await asyncio.gather(*(c.wait_up(5) for c in switches.values()), return_exceptions=True)
        report = await publisher.publish()
        log.info("dialplans: %d numbers published, %d withdrawn", report.rendered, len(report.withdrawn))
        await schedule.start()

    starting = asyncio.create_task(start())
    yield
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    schedule.stop()
    for client in switches.values():
        await client.stop()
    for link in links:
        link.cancel()
    await asyncio.gather(*links, return_exceptions=True)
    engine.dispose()
