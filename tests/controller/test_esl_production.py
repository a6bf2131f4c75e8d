"""The Event Socket client under production conditions, against the simulator: filters kept
across reconnects, long commands beside call control, no reconnect storm, refusals understood,
replies that stay with their commands, an outbound socket that never hangs, and the smaller
wire facts of mod_event_socket and libesl."""

from __future__ import annotations

import asyncio
import gc

import pytest

from controller.dialplan.deploy import Deployment, NodeDeployment
from controller.freeswitch import protocol
from controller.freeswitch.call_control import FreeSwitchCallControl
from controller.freeswitch.client import (
    MAX_COMMAND,
    AccessDenied,
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    EventSocketClient,
    LinkState,
    LogLine,
    Resync,
)
from controller.freeswitch.outbound import ControlledCall, OutboundServer
from controller.freeswitch.protocol import Event, Frame, FrameReader, PlainEvent, XmlEvent
from controller.freeswitch.simulator import COMMAND_LIMIT, FreeSwitchSimulator

FIRST, SECOND = "0791111111", "0792222222"


@pytest.fixture
async def sim():
    simulator = FreeSwitchSimulator(heartbeat_interval=0, seed=11)
    await simulator.start()
    yield simulator
    await simulator.stop(graceful=False)


async def until(predicate, timeout: float = 10.0) -> None:
    """Poll a condition (no timing is asserted: the timeout only stops a broken test)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def started(client: EventSocketClient) -> asyncio.Task:
    task = asyncio.create_task(client.run())
    await client.wait_up(10)
    return task


async def stopped(client: EventSocketClient, task: asyncio.Task) -> None:
    await client.stop()
    await asyncio.wait_for(task, 10)


async def drained(client: EventSocketClient, sim: FreeSwitchSimulator) -> list[Event]:
    """The events queued once the simulator has settled (a round trip: all sent are read)."""
    await sim.settle()
    await client.api("status")
    items = []
    while client.pending_events():
        item = client.get_nowait()
        if isinstance(item, Event):
            items.append(item)
    return items


def callers(events: list[Event]) -> set[str | None]:
    return {e.get("Caller-Caller-ID-Number") for e in events if e.name != "HEARTBEAT"}


# -- 1. what shapes the subscription survives a reconnect --------------------------------------


@pytest.mark.parametrize("how", ["drop", "restart"])
async def test_a_filter_survives_a_reconnect_and_a_restart(sim, how):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", node="sim", resync=False, backoff_first=0.01, backoff_cap=0.05)
    task = await started(client)
    assert (await client.command(f"filter Caller-Caller-ID-Number {FIRST}")).startswith("+OK filter added.")
    assert await client.command("nixevent CHANNEL_BRIDGE") == "+OK events nixed"
    for caller in (FIRST, SECOND):
        sim.place_call("bridged", caller=caller)
    before = await drained(client, sim)
    assert before and callers(before) == {FIRST}
    assert "CHANNEL_BRIDGE" not in {e.name for e in before}

    sim.commands.clear()
    if how == "drop":
        sim.drop_connections()
    else:
        await sim.restart(graceful=True)
    await until(lambda: client.metrics.connects >= 2 and client.state is LinkState.UP)
    # replayed in order after the subscription, the client's own filters first
    assert sim.commands[2:] == ["filter Event-Name HEARTBEAT", "filter Event-Name BACKGROUND_JOB",
                                f"filter Caller-Caller-ID-Number {FIRST}", "nixevent CHANNEL_BRIDGE"]
    for caller in (SECOND, FIRST, SECOND):
        sim.place_call("bridged", caller=caller)
    after = await drained(client, sim)
    assert after and callers(after) == {FIRST}
    assert "CHANNEL_BRIDGE" not in {e.name for e in after}
    # the client's own events still come through the filter
    assert (await client.bgapi("originate loopback/9999/public &park()")).startswith("+OK ")
    await stopped(client, task)


async def test_a_deleted_filter_is_not_replayed(sim):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, backoff_first=0.01, backoff_cap=0.05)
    task = await started(client)
    await client.command(f"filter Caller-Caller-ID-Number {FIRST}")
    await client.command(f"filter Caller-Caller-ID-Number {SECOND}")
    assert (await client.command(f"filter delete Caller-Caller-ID-Number {FIRST}")).startswith("+OK filter deleted.")
    sim.commands.clear()
    sim.drop_connections()
    await until(lambda: client.metrics.connects >= 2 and client.state is LinkState.UP)
    assert sim.commands[2:] == ["filter Event-Name HEARTBEAT", "filter Event-Name BACKGROUND_JOB",
                                f"filter Caller-Caller-ID-Number {SECOND}"]
    await client.command("filter delete all")
    sim.commands.clear()
    sim.drop_connections()
    await until(lambda: client.metrics.connects >= 3 and client.state is LinkState.UP)
    assert len(sim.commands) == 2  # auth and the subscription, nothing else
    sim.place_call("answered", caller=SECOND)
    assert callers(await drained(client, sim)) == {SECOND}
    await stopped(client, task)


# -- 2. a long command does not cost the link -------------------------------------------------


async def test_a_long_bgapi_runs_beside_call_control_and_the_link_stays_up(sim):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, command_timeout=1.0, liveness_timeout=1.0)
    task = await started(client)
    (leg,) = sim.hold_calls(1)
    long = asyncio.create_task(client.bgapi("msleep 3000", timeout=20))
    controls = 0
    while not long.done():  # live call control the whole time the long command runs
        assert await client.api(f"uuid_setvar {leg} smart_tariff_code {controls % 90 + 1}") == "+OK\n"
        controls += 1
        await asyncio.sleep(0.05)
    assert await long == "+OK" and controls > 1
    assert client.metrics.connects == 1 and client.metrics.commands_timed_out == 0
    await stopped(client, task)


async def test_live_call_control_is_answered_while_a_deploy_reloads(sim):
    """A reload the size of 100,000 numbers, shortened: the deploy's reloadxml goes through
    bgapi, so the tariff commands of live calls on the same link are answered meanwhile."""
    sim.reload_seconds = 3.0
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, command_timeout=1.0)
    task = await started(client)
    control = FreeSwitchCallControl(client)
    (leg,) = sim.hold_calls(1)
    deployment = Deployment([NodeDeployment("fs1", None, client)])
    deploy = asyncio.create_task(deployment.publish({}, force_reload=True))
    switches = 0
    while not deploy.done():
        await control.record(leg, {"tariff_code": str(switches % 90 + 1)})
        assert await control.recorded(leg, "tariff_code") == str(switches % 90 + 1)
        switches += 1
        await asyncio.sleep(0.05)
    assert (await deploy).reloaded == {"fs1": "+OK [Success]"}
    assert switches > 1 and "bgapi reloadxml" in sim.commands
    assert client.metrics.commands_timed_out == 0 and client.metrics.connects == 1
    await stopped(client, task)


async def test_an_inline_api_longer_than_the_liveness_rule_is_waited_for(sim):
    """A long ``api`` holds back everything on its connection, heartbeats included: the command
    behind it times out, but the link is not declared dead while the long one is within its time."""
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, command_timeout=0.3, liveness_timeout=0.5)
    task = await started(client)
    long = asyncio.create_task(client.api("msleep 2000", timeout=10))
    await asyncio.sleep(0)
    with pytest.raises(CommandTimeout):
        await client.api("status")
    assert await long == "+OK"
    assert client.metrics.connects == 1 and client.state is LinkState.UP
    assert (await client.api("status")).startswith("UP ")
    await stopped(client, task)


async def test_an_overdue_command_still_drops_the_link(sim):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, command_timeout=0.2,
                               backoff_first=0.01, backoff_cap=0.02)
    task = await started(client)
    with pytest.raises(CommandTimeout):
        await client.api("msleep 60000", timeout=0.2)
    await until(lambda: client.metrics.connects >= 2 and client.state is LinkState.UP)
    assert "never answered" in (client.last_error or "")
    await stopped(client, task)


# -- 3. no reconnect storm ----------------------------------------------------------------------


async def test_a_resync_that_keeps_failing_backs_off_like_a_failed_connect(sim, monkeypatch):
    real_api = sim._api

    def broken(text):
        return "-ERR the listing is broken\n" if text.startswith("show channels") else real_api(text)

    monkeypatch.setattr(sim, "_api", broken)
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", backoff_first=0.01, backoff_cap=0.64, healthy_after=60)
    delays: list[float] = []
    sleep = client._sleep_unless_stopping

    async def recorded(delay: float) -> None:
        delays.append(delay)
        await sleep(delay)

    monkeypatch.setattr(client, "_sleep_unless_stopping", recorded)
    task = asyncio.create_task(client.run())
    await until(lambda: len(delays) >= 6)
    # the n-th retry waits at least half of backoff_first * 2**(n-1): the backoff grows
    assert all(delay >= 0.01 * 2**n / 2 for n, delay in enumerate(delays[:6]))
    assert client.metrics.resyncs == 0
    await stopped(client, task)


async def test_the_backoff_starts_over_after_a_healthy_link(sim, monkeypatch):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, backoff_first=0.01, backoff_cap=5, healthy_after=0)
    delays: list[float] = []
    sleep = client._sleep_unless_stopping

    async def recorded(delay: float) -> None:
        delays.append(delay)
        await sleep(delay)

    monkeypatch.setattr(client, "_sleep_unless_stopping", recorded)
    task = await started(client)
    for n in range(5):
        sim.drop_connections()
        await until(lambda: client.metrics.connects >= n + 2 and client.state is LinkState.UP)
    assert len(delays) == 5 and all(delay <= 0.01 for delay in delays)
    await stopped(client, task)


async def test_one_leg_whose_dump_fails_is_left_out_not_the_link(sim, monkeypatch):
    monkeypatch.setattr(protocol, "MAX_BODY", 64_000)
    a_legs = sim.hold_calls(3, "bridged")
    assert sim._api(f"uuid_setvar {a_legs[1]} smart_huge {'x' * 100_000}") == "+OK\n"
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", node="sim")
    task = asyncio.create_task(client.run())
    resync = await client.next_event(10)
    assert isinstance(resync, Resync)
    assert len(resync.legs) == 5 and a_legs[1] not in {leg.leg_id for leg in resync.legs}
    assert client.metrics.resync_legs_skipped == 1 and client.metrics.connects == 1
    assert client.metrics.protocol_errors == 0
    with pytest.raises(CommandFailed, match="beyond"):
        await client.api(f"uuid_dump {a_legs[1]}")
    assert (await client.api("status")).startswith("UP ")  # the stream is intact after it
    await stopped(client, task)


# -- 4. a refusal is understood at once -------------------------------------------------------


async def test_an_acl_refusal_ends_the_attempt_at_once_with_the_switchs_words(sim):
    sim.deny_access = True
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", node="edge1", command_timeout=60)
    with pytest.raises(AccessDenied, match="edge1.*Access Denied, go away."):
        await asyncio.wait_for(client.run(), 10)  # well before the 60 s a timeout would take
    assert client.state is LinkState.REFUSED
    assert client.last_error == "node edge1: FreeSWITCH refused this address (Access Denied, go away.)"


async def test_the_disconnect_notice_is_the_last_error(sim):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, backoff_first=5, backoff_cap=5)
    task = await started(client)
    await sim.stop(graceful=True)
    await until(lambda: client.state is LinkState.DOWN)
    assert client.last_error == "The system is being shut down."
    await stopped(client, task)


# -- 5. a reply always belongs to its command ---------------------------------------------------


async def test_the_simulator_cuts_a_command_at_ten_mib_like_read_packet(sim):
    """What made the client check lengths: the rest of an overlong line is a command of its own."""
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    frames: list[Frame] = []
    feed = FrameReader()

    async def until_frames(count: int) -> None:
        while len(frames) < count:
            frames.extend(feed.feed(await asyncio.wait_for(reader.read(65536), 10)))

    writer.write(b"auth ClueCon\n\n")
    await until_frames(2)
    writer.write(b"api echo " + b"a" * COMMAND_LIMIT + b"\n\napi status\n\n")
    await until_frames(5)
    assert [f.content_type for f in frames[2:5]] == ["api/response", "command/reply", "api/response"]
    assert frames[3].header("Reply-Text") == "-ERR command not found"
    writer.close()


async def test_an_overlong_command_is_refused_before_sending_and_replies_stay_in_order(sim):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False)
    task = await started(client)
    sent = len(sim.commands)
    with pytest.raises(ValueError, match="beyond"):
        await client.api("uuid_setvar x y " + "a" * MAX_COMMAND)
    assert len(sim.commands) == sent
    answers = await asyncio.gather(client.api("reloadxml"), client.api("uuid_exists nobody"))
    assert answers == ["+OK [Success]\n", "false"]
    await stopped(client, task)


async def test_api_wants_an_api_response(sim, monkeypatch):
    real = sim._command

    def refusing(listener, line, headers):
        if line.startswith("api uuid_kill"):
            listener.reply("-ERR permission denied")  # what a userauth listener gets
            return
        real(listener, line, headers)

    monkeypatch.setattr(sim, "_command", refusing)
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False)
    task = await started(client)
    with pytest.raises(CommandFailed, match="permission denied"):
        await client.api("uuid_kill 00000000-0000-0000-0000-000000000000")
    assert (await client.api("status")).startswith("UP ")
    await stopped(client, task)


# -- 6. the outbound socket never hangs; no unread exceptions --------------------------------


async def test_the_end_of_a_call_gets_through_a_full_outbound_queue(sim):
    seen: dict[str, object] = {}

    async def handle(call: ControlledCall) -> None:
        assert await call.execute("bridge", "sofia/external/o78@127.0.0.1:5091") == "+OK"
        assert await call.hangup() == "+OK"
        await asyncio.wait_for(call.closed, 10)  # fall behind: read nothing until the socket is gone
        seen["events"] = [event.name async for event in call.stream()]
        seen["dropped"] = call.dropped_events

    server = OutboundServer(handle, port=0, linger_seconds=1, queue_size=2)
    await server.start()
    await asyncio.wait_for(sim.socket_call("127.0.0.1", server.port), 20)
    await until(lambda: "events" in seen)
    await server.stop()
    assert len(seen["events"]) == 2 and seen["dropped"] > 0


async def test_a_bgapi_lost_with_the_link_leaves_no_unread_exception(sim, monkeypatch):
    real = sim._command
    held: list[str] = []

    def holding(listener, line, headers):  # the switch took the bgapi but has not answered yet
        if line.startswith("bgapi"):
            held.append(line)
        else:
            real(listener, line, headers)

    monkeypatch.setattr(sim, "_command", holding)
    loop = asyncio.get_running_loop()
    unread: list[dict] = []
    loop.set_exception_handler(lambda _, context: unread.append(context))
    try:
        client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, backoff_first=0.01, backoff_cap=0.02)
        task = await started(client)
        job = asyncio.create_task(client.bgapi("originate loopback/9999/public &park()"))
        await until(lambda: bool(held))
        sim.drop_connections()
        with pytest.raises(ConnectionLost):
            await job
        await until(lambda: client.metrics.connects >= 2 and client.state is LinkState.UP)
        await stopped(client, task)
        del job
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert not [c for c in unread if "never retrieved" in c.get("message", "")]


# -- 7. the smaller wire facts ------------------------------------------------------------------


async def test_an_xml_event_body_is_its_declared_length(sim, captures):
    raw = (captures / "samples" / "xml-format" / "esl-xml.raw").read_bytes()
    jobs = [f for f in FrameReader().feed(raw) if b"<Event-Name>BACKGROUND_JOB<" in f.body]
    assert XmlEvent(jobs[0].body).body == "+OK 5bdcba8e-6af3-442d-91d8-7b26b35b2766\n"
    # the simulator lays the body out as the switch does, and the client reads it back exactly
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, encoding="xml",
                               subscription="event xml CHANNEL_CREATE BACKGROUND_JOB")
    task = await started(client)
    answer = await client.bgapi("originate loopback/9999/public &park()")
    assert answer.startswith("+OK ") and answer.endswith("\n") and not answer.endswith(" \n")
    await stopped(client, task)
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(b"auth ClueCon\n\nevent xml BACKGROUND_JOB\n\nbgapi status\n\n")
    frames: list[Frame] = []
    feed = FrameReader()
    while len(frames) < 5:
        frames.extend(feed.feed(await asyncio.wait_for(reader.read(65536), 10)))
    writer.close()
    assert frames[4].body.endswith(b"\n  </body>\n</event>\n") and jobs[0].body.endswith(b"\n  </body>\n</event>\n")


async def test_log_lines_reach_the_consumer_that_asked_for_them(sim, caplog):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, backoff_first=0.01, backoff_cap=0.05)
    task = await started(client)
    assert await client.command("log 6") == "+OK log level 6 [6]"
    lines = client.logs()
    sim.log(4, "Hangup sofia/external/41791234567 [CS_EXECUTE] [USER_BUSY]\n", file="switch_channel.c", line=4300)
    sim.log(7, "a debug line nobody asked for\n")
    line = await asyncio.wait_for(anext(lines), 10)
    assert line == LogLine(4, "Hangup sofia/external/41791234567 [CS_EXECUTE] [USER_BUSY]\n", "switch_channel.c",
                           "switch_core_session_run", 4300, "")
    sim.drop_connections()
    await until(lambda: client.metrics.connects >= 2 and client.state is LinkState.UP)
    sim.log(3, "after the reconnect\n")
    assert (await asyncio.wait_for(anext(lines), 10)).text == "after the reconnect\n"
    assert not [r for r in caplog.records if "unexpected frame" in r.getMessage()]
    await stopped(client, task)


def test_outer_headers_are_matched_like_libesl():
    (frame,) = FrameReader().feed(b"content-type:api/response\nCONTENT-LENGTH:\t 3\nReply-Text:  +OK x\n\n+OK")
    assert frame.body == b"+OK" and frame.header("Content-Type") == "api/response"
    assert frame.header("reply-text") == "+OK x" and frame.header("Content-Length") == "3"
    assert frame.content_type == "api/response"
    (event,) = FrameReader().feed(b"content-length: 23\ncontent-type: Text/Event-Plain\n\nEvent-Name: HEARTBEAT\n\n")
    assert event.content_type == "text/event-plain" and event.body == b"Event-Name: HEARTBEAT\n\n"


async def test_a_percent_escape_the_switch_did_not_make_is_exact_where_the_wire_allows(sim):
    """JSON events and getvar carry values as they are; plain events (and XML, and the outbound
    connect reply) cannot: FreeSWITCH leaves ``%41`` unencoded, so it reads back as ``A``."""
    value = "50%41 off, 100% sure"
    answers = {}
    for encoding in ("json", "plain"):
        client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False, encoding=encoding)
        task = await started(client)
        leg = sim.place_call("answered", variables={"smart_note": value})
        events = await drained(client, sim)
        answers[encoding] = {e.variable("smart_note") for e in events if e.get("Unique-ID") == leg}
        await stopped(client, task)
    assert answers["json"] == {value}
    assert answers["plain"] == {"50A off, 100% sure"}
    (held,) = sim.hold_calls(1)
    sim._api(f"uuid_setvar {held} smart_note {value}")
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", resync=False)
    task = await started(client)
    assert await client.api(f"uuid_getvar {held} smart_note") == value
    await stopped(client, task)

    got: dict[str, object] = {}

    async def handle(call: ControlledCall) -> None:
        assert await call.execute("set", f"smart_note={value}", wait=True, timeout=5)
        got["getvar"] = await call.getvar("smart_note")
        await call.hangup()

    server = OutboundServer(handle, port=0, linger_seconds=1)
    await server.start()
    await asyncio.wait_for(sim.socket_call("127.0.0.1", server.port), 20)
    await server.stop()
    assert got["getvar"] == value
    assert PlainEvent(f"smart_note: {protocol.url_encode(value)}\n\n".encode()).get("smart_note") == "50A off, 100% sure"
