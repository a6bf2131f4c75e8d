"""The dialplan fetches' own listener speaks HTTP/1.1 as a switch may: keep-alive, pipelining,
``Expect: 100-continue``, chunked bodies; refuses with a clear status what it does not serve; lets go of stalled
connections; checks credentials and addresses as the application's switch routes do; and keeps answering
the switch while others flood it with connections and endless headers."""

from __future__ import annotations

import asyncio
import base64
import socket
import urllib.parse

import pytest
from aiohttp import web

from controller.dialplan.table import DialplanTable
from smartnumbers.settings import Settings, load_settings
from sync import xml_curl
from sync.metrics import METRICS, Metrics
from sync.keys import SETTINGS

PASSWORD = "switch-secret-123"
EXTENSION = '<extension name="sn_41900123456"><condition field="destination_number" expression="^x$"/></extension>'
FORM = urllib.parse.urlencode({"hostname": "fs1", "section": "dialplan", "Hunt-Destination-Number": "0900123456",
                               "Hunt-Context": "carrier", "variable_sip_from_user": "41791234567"}).encode()
CREDENTIALS = "Basic " + base64.b64encode(f"freeswitch:{PASSWORD}".encode()).decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(body: bytes = FORM, *, method: str = "POST", path: str = "/freeswitch/dialplan",
            authorization: str | None = CREDENTIALS, extra: str = "", version: str = "1.1") -> bytes:
    headers = f"Host: 127.0.0.1\r\nUser-Agent: freeswitch-xml/1.0\r\nAccept: */*\r\n{extra}"
    if authorization:
        headers += f"Authorization: {authorization}\r\n"
    if "Transfer-Encoding" not in extra:
        headers += f"Content-Length: {len(body)}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    return f"{method} {path} HTTP/{version}\r\n{headers}\r\n".encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in head[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return int(head[0].split()[1]), headers, body


@pytest.fixture
async def listener(request, monkeypatch):
    """A listener as serve runs it, with a table of one number, allowing 127.0.0.1 only; more
    settings and the deadline in the test's marks."""
    options = {"switch_http_allow": ["127.0.0.1/32"], "deadline_s": 0.2, **getattr(request, "param", {})}
    monkeypatch.setattr(xml_curl, "DEADLINE_S", options.pop("deadline_s"))
    monkeypatch.setattr(xml_curl, "SWEEP_S", 0.05)
    port = _free_port()
    app = web.Application()
    app[SETTINGS] = load_settings(database_url="sqlite:///unused.db", switch_http_password=PASSWORD,
                                  dialplan_http=f"127.0.0.1:{port}", **options)
    app[METRICS] = Metrics(app)  # the fetches' latency is measured
    table = app[xml_curl.DIALPLANS] = DialplanTable()
    table.put("+41900123456", EXTENSION)
    app.cleanup_ctx.append(xml_curl.listener)
    runner = web.AppRunner(app)
    await runner.setup()
    yield port
    await runner.cleanup()


async def exchange(port: int, *requests: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Write the requests at once (pipelined), read one answer each."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(requests))
    try:
        return [await read_response(reader) for _ in requests]
    finally:
        writer.close()


async def test_keep_alive_and_pipelined_fetches_are_answered_in_order(listener):
    unknown = FORM.replace(b"0900123456", b"0900999999")
    answers = await exchange(listener, request(), request(unknown), request())
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert EXTENSION.encode() in answers[0][2] and b'status="not found"' in answers[1][2]
    assert answers[0][2] == answers[2][2]
    assert answers[0][1]["content-type"] == "text/xml; charset=utf-8" and "connection" not in answers[0][1]


async def test_the_switch_connection_per_fetch_is_answered_then_closed_by_the_client(listener):
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener)
        writer.write(request())
        status, _, body = await read_response(reader)
        writer.close()
        assert status == 200 and EXTENSION.encode() in body


async def test_expect_100_continue_gets_its_interim_answer_before_the_body(listener):
    reader, writer = await asyncio.open_connection("127.0.0.1", listener)
    whole = request(extra="Expect: 100-continue\r\n")
    head, body = whole.split(b"\r\n\r\n", 1)
    writer.write(head + b"\r\n\r\n")
    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    status, _, answer = await read_response(reader)
    writer.close()
    assert status == 200 and EXTENSION.encode() in answer


async def test_a_chunked_form_is_read_whole(listener):
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (FORM[:40], FORM[40:])) + b"0\r\n\r\n"
    reply = request(chunks, extra="Transfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n")
    [(status, _, body)] = await exchange(listener, reply)
    assert status == 200 and EXTENSION.encode() in body


async def test_http_1_0_and_connection_close_are_answered_then_closed(listener):
    for fetch in (request(version="1.0"), request(extra="Connection: close\r\n")):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener)
        writer.write(fetch)
        status, headers, _ = await read_response(reader)
        assert status == 200 and headers["connection"] == "close"
        assert await reader.read() == b""  # closed by the listener
        writer.close()


@pytest.mark.parametrize("fetch, status, reason", [
    (request(authorization=None), 401, b"switch credentials refused"),
    (request(authorization="Basic " + base64.b64encode(b"freeswitch:wrong-password").decode()), 401, b"refused"),
    (request(authorization="Bearer sn_token"), 401, b"refused"),
    (request(path="/freeswitch/cdr"), 404, b"/freeswitch/dialplan"),
    (request(b"", method="GET"), 405, b"posted"),
    (request(extra="Expect: something-else\r\n"), 417, b"100-continue"),
    (b"POST /freeswitch/dialplan HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde", 400,
     b"malformed request"),
    (b"BREW /freeswitch/dialplan HTCPCP/1.0\r\n\r\n", 400, b"malformed request"),
    (request(b"x" * (xml_curl.MAX_BODY + 1)), 413, b"at most"),
    (request(path="/freeswitch/dialplan?" + "a" * xml_curl.MAX_LINE), 414, b"request line is at most 8190 bytes"),
    (request(extra="X-Padding: " + "a" * xml_curl.MAX_HEADERS + "\r\n"), 431, b"headers are at most 8190 bytes"),
    (request(extra="".join(f"X-Padding-{i}: {'a' * 90}\r\n" for i in range(100))), 431, b"at most 8190 bytes"),
], ids=["no credentials", "wrong password", "bearer token", "other path", "GET", "other expectation",
        "two lengths", "not HTTP", "body too long", "request line too long", "header too long", "headers too long"])
async def test_what_is_not_a_fetch_gets_a_clear_status_and_the_connection_closes(listener, fetch, status, reason):
    reader, writer = await asyncio.open_connection("127.0.0.1", listener)
    writer.write(fetch + request(extra="Expect: 100-continue\r\n"))  # what follows is not answered
    got, headers, body = await read_response(reader)
    assert got == status and reason in body and headers["connection"] == "close"
    if status == 401:
        assert headers["www-authenticate"] == 'Basic realm="freeswitch"'
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await reader.readuntil(b"\r\n\r\n")
    writer.close()


async def closed_without_a_word(reader: asyncio.StreamReader) -> bool:
    """The listener closed the connection without sending anything (FIN or reset)."""
    try:
        return await asyncio.wait_for(reader.read(), 10) == b""  # 10 s: a failure, not a hang
    except ConnectionError:
        return True


@pytest.mark.parametrize("listener", [{"deadline_s": 60}], indirect=True)
async def test_a_connection_from_an_address_not_allowed_is_closed_as_it_is_accepted(listener):
    reader, writer = await asyncio.open_connection("127.0.0.1", listener, local_addr=("127.0.0.2", 0))
    assert await closed_without_a_word(reader)  # nothing sent, nothing read, long before any deadline
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", listener, local_addr=("127.0.0.2", 0))
    writer.write(request())
    assert await closed_without_a_word(reader)  # not even a 401
    writer.close()


async def endless_header(port: int) -> bool:
    """Stream one header without end from 127.0.0.2 until the listener closes the connection;
    whether it did so without a word."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
    try:
        writer.write(b"POST /freeswitch/dialplan HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        while True:
            writer.write(b"a" * 65536)
            await writer.drain()
            await asyncio.sleep(0)
    except ConnectionError:
        return await closed_without_a_word(reader)
    finally:
        writer.close()


@pytest.mark.parametrize("listener", [{"deadline_s": 60}], indirect=True)
async def test_idle_connections_and_endless_headers_from_elsewhere_do_not_hold_up_a_fetch(listener):
    attacks = [asyncio.create_task(endless_header(listener)) for _ in range(2)]
    idle = [await asyncio.open_connection("127.0.0.1", listener, local_addr=("127.0.0.2", 0)) for _ in range(1100)]
    [(status, _, body)] = await exchange(listener, request())
    assert status == 200 and EXTENSION.encode() in body
    assert all([await closed_without_a_word(reader) for reader, _ in idle])
    assert await asyncio.wait_for(asyncio.gather(*attacks), 10) == [True, True]
    for _, writer in idle:
        writer.close()


@pytest.mark.parametrize("listener", [{"deadline_s": 60}], indirect=True)
async def test_a_header_without_end_from_a_switch_address_is_answered_at_the_limit(listener):
    reader, writer = await asyncio.open_connection("127.0.0.1", listener)
    writer.write(b"POST /freeswitch/dialplan HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
    for _ in range(2):  # 20 kB of one header, never ended; the answer does not wait for its end
        writer.write(b"a" * 10240)
        await writer.drain()
    status, headers, body = await asyncio.wait_for(read_response(reader), 10)
    assert status == 431 and body == b"request headers are at most 8190 bytes\n" and headers["connection"] == "close"
    assert await closed_without_a_word(reader)
    writer.close()


async def answered_on(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> bool:
    """A fetch on this open connection is answered (keep-alive: it stays open)."""
    reader, writer = connection
    try:
        writer.write(request())
        status, _, body = await asyncio.wait_for(read_response(reader), 10)
    except (ConnectionError, asyncio.IncompleteReadError):
        return False
    return status == 200 and EXTENSION.encode() in body


@pytest.mark.parametrize("listener", [{"deadline_s": 60}], indirect=True)
async def test_beyond_the_bound_of_open_connections_new_ones_are_closed_at_once(listener):
    bound = Settings.model_fields["dialplan_max_connections"].default
    connections = [await asyncio.open_connection("127.0.0.1", listener) for _ in range(1100)]
    answered = [await answered_on(c) for c in connections]
    assert answered.count(True) == bound and answered.count(False) == 1100 - bound
    connections[answered.index(True)][1].close()  # one goes: a new one takes its place
    for _ in range(100):
        connections.append(await asyncio.open_connection("127.0.0.1", listener))
        if await answered_on(connections[-1]):
            break
        await asyncio.sleep(0.05)  # until the listener has seen it go
    else:
        pytest.fail("a connection was not admitted after one of the bound went")
    for _, writer in connections:
        writer.close()


async def test_stalled_and_idle_connections_are_closed_a_busy_one_is_not(listener):
    stalled = []
    for sent in (request()[:100], request()[:-10], request()):  # in the headers, in the body, idle after an answer
        reader, writer = await asyncio.open_connection("127.0.0.1", listener)
        writer.write(sent)
        stalled.append((reader, writer))
    assert (await read_response(stalled[2][0]))[0] == 200
    busy_reader, busy = await asyncio.open_connection("127.0.0.1", listener)
    for _ in range(6):  # 0.6 s: three deadlines
        busy.write(request())
        assert (await read_response(busy_reader))[0] == 200
        await asyncio.sleep(0.1)
    assert all([await closed_without_a_word(reader) for reader, _ in stalled])
    busy.write(request())
    assert (await read_response(busy_reader))[0] == 200
    for _, writer in stalled:
        writer.close()
    busy.close()
