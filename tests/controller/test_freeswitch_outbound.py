"""The outbound socket server: FreeSWITCH's ``socket`` application (here the simulator, which
follows the captured conversation of FACTS 8) connects, and one channel is controlled."""

from __future__ import annotations

import asyncio

import pytest

from controller.freeswitch.outbound import ControlledCall, OutboundServer
from controller.freeswitch.protocol import FrameReader
from controller.freeswitch.simulator import FreeSwitchSimulator


@pytest.fixture
async def sim():
    simulator = FreeSwitchSimulator(heartbeat_interval=0)
    await simulator.start()
    yield simulator
    await simulator.stop(graceful=False)


async def test_a_call_is_controlled_from_connect_to_linger(sim):
    seen: dict[str, object] = {}

    async def handle(call: ControlledCall) -> None:
        seen["leg"] = call.leg_id
        seen["caller"] = call.channel.get("Caller-Caller-ID-Number")
        seen["reply"] = call.channel.get("Reply-Text")
        done = await call.execute("set", "smart_from_socket=yes", wait=True, timeout=5)
        seen["set"] = (done.get("Application"), done.get("Application-Response"))
        seen["var"] = await call.getvar("smart_from_socket")
        assert await call.execute("bridge", "sofia/external/o78@127.0.0.1:5091") == "+OK"
        names, legs = [], set()
        while "CHANNEL_BRIDGE" not in names:
            event = await call.next_event(5)
            names.append(event.name)
            legs.add(event.get("Unique-ID"))
        seen["before_hangup"] = names
        assert await call.hangup() == "+OK"
        async for event in call.stream():
            names.append(event.name)
            legs.add(event.get("Unique-ID"))
        seen["events"] = names
        seen["legs"] = legs
        seen["lingering"] = call.lingering

    server = OutboundServer(handle, port=0, linger_seconds=3)
    await server.start()
    await asyncio.wait_for(sim.socket_call("127.0.0.1", server.port, caller="0791234567"), 10)
    await server.stop()
    assert seen["caller"] == "0791234567"
    assert seen["reply"] == "+OK\n"
    assert seen["set"] == ("set", "_none_")
    assert seen["var"] == "yes"
    events = seen["events"]
    assert "CHANNEL_ANSWER" in seen["before_hangup"]
    assert "CHANNEL_HANGUP_COMPLETE" in events and events[-1] == "CHANNEL_EXECUTE_COMPLETE"
    assert seen["lingering"] is True
    assert seen["legs"] == {seen["leg"]}  # myevents: the controlled leg's events only
    assert sim.live_calls == 0


async def test_linger_always_has_a_timeout():
    with pytest.raises(ValueError, match="linger needs a timeout"):
        OutboundServer(lambda call: asyncio.sleep(0), linger_seconds=0)


def test_the_real_outbound_conversation_parses(captures):
    for folder in ("plain", "json"):
        raw = captures / "facts" / "raw" / "item8-outbound" / folder / f"outbound-{folder}.from-fs.raw"
        frames = FrameReader().feed(raw.read_bytes())
        notices = [f for f in frames if f.content_type == "text/disconnect-notice"]
        assert [n.header("Content-Disposition") for n in notices] == ["linger", "disconnect"]
        assert frames[0].as_event().get("Socket-Mode") == "async"
