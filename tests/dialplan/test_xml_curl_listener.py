"""The dialplan fetches' own listener speaks HTTP/1.1 as a switch may: keep-alive, pipelining,
``Expect: 100-continue``, chunked bodies; refuses with a clear status what it does not serve; lets go of stalled
connections; and checks credentials and addresses as the application's switch routes do."""

from __future__ import annotations

import asyncio
import base64
import socket
import urllib.parse

import pytest
from aiohttp import web

from controller.dialplan.table import DialplanTable
from smartnumbers.settings import load_settings
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
    """A listener as serve runs it, with a table of one number; ``allow`` in the test's marks."""
    monkeypatch.setattr(xml_curl, "IDLE_S", 0.2)
    allow = getattr(request, "param", ["127.0.0.1/32"])
    port = _free_port()
    app = web.Application()
    app[SETTINGS] = load_settings(database_url="sqlite:///unused.db", switch_http_password=PASSWORD,
                                  switch_http_allow=allow, dialplan_http=f"127.0.0.1:{port}")
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
    (request(authorization=None), 401, b"switch credentials or address refused"),
    (request(authorization="Basic " + base64.b64encode(b"freeswitch:wrong-password").decode()), 401, b"refused"),
    (request(authorization="Bearer sn_token"), 401, b"refused"),
    (request(path="/freeswitch/cdr"), 404, b"/freeswitch/dialplan"),
    (request(b"", method="GET"), 405, b"posted"),
    (request(extra="Expect: something-else\r\n"), 417, b"100-continue"),
    (b"POST /freeswitch/dialplan HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde", 400,
     b"malformed request"),
    (b"BREW /freeswitch/dialplan HTCPCP/1.0\r\n\r\n", 400, b"malformed request"),
    (request(b"x" * (xml_curl.MAX_BODY + 1)), 413, b"at most"),
])
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


@pytest.mark.parametrize("listener", [["10.0.0.0/8"]], indirect=True)
async def test_a_switch_from_an_address_not_allowed_is_refused(listener):
    [(status, _, body)] = await exchange(listener, request())
    assert status == 401 and body == b"switch credentials or address refused\n"


async def test_a_stalled_connection_is_closed_a_busy_one_is_not(listener):
    stalled_reader, stalled = await asyncio.open_connection("127.0.0.1", listener)
    stalled.write(request()[:100])
    busy_reader, busy = await asyncio.open_connection("127.0.0.1", listener)
    for _ in range(6):  # 0.6 s: three idle periods
        busy.write(request())
        assert (await read_response(busy_reader))[0] == 200
        await asyncio.sleep(0.1)
    assert await asyncio.wait_for(stalled_reader.read(), 1) == b""  # closed without an answer
    busy.write(request())
    assert (await read_response(busy_reader))[0] == 200
    stalled.close()
    busy.close()
