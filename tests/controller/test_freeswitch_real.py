"""The Event Socket client against a real FreeSWITCH.

Runs when ``SMARTNUMBERS_TEST_FREESWITCH=host:port:password`` names one. The restart test
shuts the switch down (``fsctl shutdown restart``) and so also needs
``SMARTNUMBERS_TEST_FREESWITCH_RESTART=1``: never point it at a switch others are using.
Calls are loopback calls to extension 9196 of the stock ``default`` dialplan (answer, echo).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from controller.calls import LegAnswered, LegCreated, LegHungUp
from controller.freeswitch import translate
from controller.freeswitch.client import CommandTimeout, EventSocketClient, LinkState, Resync
from controller.freeswitch.outbound import ControlledCall, OutboundServer

pytestmark = pytest.mark.freeswitch

TARGET = os.environ.get("SMARTNUMBERS_TEST_FREESWITCH", "")
if not TARGET:
    pytest.skip(
        "no real FreeSWITCH: set SMARTNUMBERS_TEST_FREESWITCH=host:port:password to run these",
        allow_module_level=True,
    )
HOST, PORT, PASSWORD = TARGET.split(":", 2)
CALL = "{origination_caller_id_number=0791234567,smart_number=+41800111222}loopback/9196/default &park()"


@pytest.fixture
async def link():
    client = EventSocketClient(HOST, int(PORT), PASSWORD, node="real", backoff_first=0.1, backoff_cap=1.0, command_timeout=10)
    task = asyncio.create_task(client.run())
    await client.wait_up(10)
    yield client
    await client.stop()
    await asyncio.wait_for(task, 10)


async def next_for(client: EventSocketClient, legs: set[str], kinds: tuple[type, ...], timeout: float = 15.0):
    """The next neutral event of one of ``kinds`` about one of ``legs`` (other traffic on
    the switch is skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            item = await client.next_event()
            if isinstance(item, Resync):
                continue
            neutral = translate.call_event(item, "real")
            if isinstance(neutral, kinds) and (neutral.leg_id in legs or neutral.call_id in legs):
                return neutral


async def originate(client: EventSocketClient) -> str:
    result = await client.bgapi(f"originate {CALL}", timeout=20)
    assert result.startswith("+OK "), result
    return result.split()[1]


async def test_follow_a_loopback_call_to_its_hangup(link):
    assert (await link.api("status")).startswith("UP ")
    leg = await originate(link)
    created = await next_for(link, {leg}, (LegCreated,))
    assert created.leg_id == leg and created.caller.e164 == "+41791234567"
    assert created.tags.get("number") == "+41800111222"
    answered = await next_for(link, {leg}, (LegAnswered,))
    assert answered.leg_id == leg
    assert (await link.api(f"uuid_kill {leg}")).startswith("+OK")
    hung = await next_for(link, {leg}, (LegHungUp,))
    assert hung.cause == "NORMAL_CLEARING" and hung.answered_at is not None


async def test_a_forced_drop_mid_call_is_survived_and_the_call_read_back(link):
    leg = await originate(link)
    await next_for(link, {leg}, (LegAnswered,))
    async with asyncio.timeout(15):
        while link.metrics.resyncs < 1:
            await asyncio.sleep(0.05)
        # ``show channels`` is served from the switch's asynchronously written sqlite
        # scoreboard: a leg can be missing from it for a few hundred ms after its answer.
        while leg not in await link.api("show channels as json"):
            await asyncio.sleep(0.05)
    before = link.metrics.resyncs
    link.drop_connection()  # the socket dies under the client, as on a network failure
    async with asyncio.timeout(15):
        while link.metrics.resyncs == before:
            await asyncio.sleep(0.05)
    item = None
    while link.pending_events():
        queued = link.get_nowait()
        item = queued if isinstance(queued, Resync) else item
    assert isinstance(item, Resync)
    mine = [l for l in item.legs if l.leg_id == leg]
    assert mine and mine[0].answered and mine[0].tags.get("number") == "+41800111222"
    assert mine[0].answered_at is not None and mine[0].answered_at >= mine[0].created_at  # from its uuid_dump
    assert (await link.api(f"uuid_kill {leg}")).startswith("+OK")
    hung = await next_for(link, {leg}, (LegHungUp,))
    assert hung.leg_id == leg


async def test_commands_answer_like_the_captures(link):
    assert await link.api("uuid_kill 00000000-0000-0000-0000-000000000000") == "-ERR No such channel!\n"
    assert await link.api("no_such_command") == "-ERR no_such_command Command not found!\n"
    assert await link.command("no_such_esl_command") == "-ERR command not found"
    assert (await link.api("reloadxml")).startswith("+OK")


async def test_the_outbound_socket_controls_a_call(link):
    """A loopback call whose A-leg runs ``socket 127.0.0.1:<port> async full``."""
    seen: dict[str, object] = {}
    finished = asyncio.Event()

    async def handle(call: ControlledCall) -> None:
        try:
            seen["mode"] = call.channel.get("Socket-Mode")
            seen["number"] = call.variable("smart_number")
            done = await call.execute("set", "smart_from_socket=yes", wait=True, timeout=10)
            seen["set"] = done.get("Application")
            seen["var"] = await call.getvar("smart_from_socket")
            assert await call.hangup() == "+OK"
            seen["events"] = [event.name async for event in call.stream()]
            seen["lingering"] = call.lingering
        finally:
            finished.set()

    server = OutboundServer(handle, host="127.0.0.1", port=0, linger_seconds=2)
    await server.start()
    try:
        target = f"127.0.0.1:{server.port} async full"
        result = await link.bgapi(f"originate {{smart_number=+41800111222}}loopback/9196/default '&socket({target})'", timeout=20)
        assert result.startswith("+OK"), result
        await asyncio.wait_for(finished.wait(), 20)
    finally:
        await server.stop()
    assert seen["mode"] == "async" and seen["number"] == "+41800111222"
    assert seen["set"] == "set" and seen["var"] == "yes"
    assert "CHANNEL_HANGUP_COMPLETE" in seen["events"]
    assert seen["lingering"] is True


@pytest.mark.skipif(
    os.environ.get("SMARTNUMBERS_TEST_FREESWITCH_RESTART") != "1",
    reason="restarts the switch: set SMARTNUMBERS_TEST_FREESWITCH_RESTART=1 on a switch nobody else uses",
)
async def test_a_switch_restart_is_survived(link):
    core = (await link.api("global_getvar core_uuid")).strip()
    before = link.metrics.connects
    await link.command("bgapi fsctl shutdown restart")
    async with asyncio.timeout(120):
        while link.metrics.connects == before or link.state is not LinkState.UP:
            await asyncio.sleep(0.2)
    assert (await link.api("global_getvar core_uuid")).strip() != core
    leg = await originate(link)
    await next_for(link, {leg}, (LegAnswered,))
    await link.api(f"uuid_kill {leg}")
    await next_for(link, {leg}, (LegHungUp,))


# -- under production conditions ---------------------------------------------------------------

FIRST, SECOND = "0791111111", "0792222222"


async def call_events_of(client: EventSocketClient, legs: set[str], timeout: float = 20.0) -> list:
    """Every event queued until the CHANNEL_HANGUP_COMPLETE of each of ``legs`` arrived."""
    events, open_legs = [], set(legs)
    async with asyncio.timeout(timeout):
        while open_legs:
            item = await client.next_event()
            if isinstance(item, Resync):
                continue
            events.append(item)
            if item.name == "CHANNEL_HANGUP_COMPLETE":
                open_legs.discard(item.get("Unique-ID"))
    return events


async def two_calls_filtered_on_the_first(client: EventSocketClient) -> list:
    """A call from FIRST and one from SECOND, each hung up; the events that arrived."""
    legs = {}
    for caller in (SECOND, FIRST):
        result = await client.bgapi(f"originate {{origination_caller_id_number={caller},smart_caller={caller}}}"
                                    "loopback/9196/default &park()", timeout=20)
        assert result.startswith("+OK "), result
        legs[caller] = result.split()[1]
    for leg in legs.values():
        assert (await client.api(f"uuid_kill {leg}")).startswith("+OK")
    return await call_events_of(client, {legs[FIRST]})


async def filtered_link() -> tuple[EventSocketClient, asyncio.Task]:
    client = EventSocketClient(HOST, int(PORT), PASSWORD, node="real", backoff_first=0.1, backoff_cap=1.0, resync=False)
    task = asyncio.create_task(client.run())
    await client.wait_up(10)
    # on a channel variable: the originated leg's Caller-Caller-ID-Number changes by its hangup
    assert (await client.command(f"filter variable_smart_caller {FIRST}")).startswith("+OK filter added.")
    return client, task


def only_the_first_callers(events: list) -> None:
    calls = [e for e in events if e.name not in (translate.HEARTBEAT, translate.BACKGROUND_JOB)]
    assert calls and {e.variable("smart_caller") for e in calls} == {FIRST}


async def test_a_filter_is_kept_across_a_dropped_connection():
    client, task = await filtered_link()
    try:
        only_the_first_callers(await two_calls_filtered_on_the_first(client))
        client.drop_connection()
        async with asyncio.timeout(15):
            while client.metrics.connects < 2 or client.state is not LinkState.UP:
                await asyncio.sleep(0.05)
        only_the_first_callers(await two_calls_filtered_on_the_first(client))
    finally:
        await client.stop()
        await asyncio.wait_for(task, 10)


@pytest.mark.skipif(
    os.environ.get("SMARTNUMBERS_TEST_FREESWITCH_RESTART") != "1",
    reason="restarts the switch: set SMARTNUMBERS_TEST_FREESWITCH_RESTART=1 on a switch nobody else uses",
)
async def test_a_filter_is_kept_across_a_switch_restart():
    client, task = await filtered_link()
    farewell: list[str | None] = []
    client.on_state = lambda state: farewell.append(client.last_error) if state is LinkState.DOWN else None
    try:
        core = (await client.api("global_getvar core_uuid")).strip()
        await client.command("bgapi fsctl shutdown restart")
        async with asyncio.timeout(120):
            while client.metrics.connects < 2 or client.state is not LinkState.UP:
                await asyncio.sleep(0.2)
        assert farewell[0] == "The system is being shut down."  # the switch's own words
        assert (await client.api("global_getvar core_uuid")).strip() != core
        only_the_first_callers(await two_calls_filtered_on_the_first(client))
    finally:
        await client.stop()
        await asyncio.wait_for(task, 10)


async def test_a_fourteen_second_command_beside_call_control_keeps_the_link(link):
    """The long command goes through bgapi (the switch runs it in a thread of its own); live
    call control on the same link is answered all the while."""
    leg = await originate(link)
    await next_for(link, {leg}, (LegAnswered,))
    connects = link.metrics.connects
    long = asyncio.create_task(link.bgapi("msleep 14000", timeout=60))
    answered = 0
    try:
        while not long.done():
            code = str(answered % 90 + 1)
            assert await link.api(f"uuid_setvar {leg} smart_tariff_code {code}") == "+OK\n"
            assert (await link.api(f"uuid_getvar {leg} smart_tariff_code")).strip() == code
            answered += 1
            await asyncio.sleep(0.2)
        assert await long == "+OK"
    finally:
        await link.api(f"uuid_kill {leg}")
    assert answered >= 10  # call control kept working through the 14 s
    assert link.metrics.connects == connects and link.metrics.commands_timed_out == 0 and link.state is LinkState.UP


async def test_a_fourteen_second_inline_api_is_waited_for_not_taken_for_a_dead_link():
    """Run inline, the same command holds back every reply and event, heartbeats included: the
    command behind it times out, but the link is kept while the long one is within its time."""
    client = EventSocketClient(HOST, int(PORT), PASSWORD, node="real", resync=False, command_timeout=3, liveness_timeout=5)
    task = asyncio.create_task(client.run())
    await client.wait_up(10)
    try:
        long = asyncio.create_task(client.api("msleep 14000", timeout=30))
        await asyncio.sleep(0.5)
        with pytest.raises(CommandTimeout):
            await client.api("status")
        assert await long == "+OK"
        assert client.metrics.connects == 1 and client.state is LinkState.UP
        assert (await client.api("status")).startswith("UP ")
    finally:
        await client.stop()
        await asyncio.wait_for(task, 10)
