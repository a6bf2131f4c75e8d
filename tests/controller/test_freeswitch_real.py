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
from controller.freeswitch.client import EventSocketClient, LinkState, Resync
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
