"""The inbound Event Socket client against the simulator: commands, subscription, resync,
backpressure, and the faults a real network and a real switch produce."""

from __future__ import annotations

import asyncio
import logging

import pytest

from controller.calls import LegHungUp, LiveLeg
from controller.freeswitch import translate
from controller.freeswitch.client import (
    AuthenticationFailed,
    CommandTimeout,
    ConnectionLost,
    EventSocketClient,
    LinkState,
    Resync,
)
from controller.freeswitch.protocol import Event
from controller.freeswitch.simulator import FreeSwitchSimulator


@pytest.fixture
async def sim():
    simulator = FreeSwitchSimulator(heartbeat_interval=0, seed=7)
    await simulator.start()
    yield simulator
    await simulator.stop(graceful=False)


@pytest.fixture
async def link(sim):
    """A client kept up by its ``run()`` task, as the controller runs it."""
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", node="sim", backoff_first=0.01, backoff_cap=0.05)
    task = asyncio.create_task(client.run())
    await client.wait_up(5)
    await until(lambda: client.metrics.resyncs >= 1)
    yield client
    await client.stop()
    await asyncio.wait_for(task, 5)


async def until(predicate, timeout: float = 5.0) -> None:
    """Poll a condition (no timing is asserted: the timeout only stops a broken test)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def collect(client: EventSocketClient, sim: FreeSwitchSimulator) -> list:
    """Everything queued once the simulator has settled and the socket is drained."""
    await sim.settle()
    await client.api("status")  # a round trip: every event sent before it has been read
    items = []
    while client.pending_events():
        items.append(client.get_nowait())
    return items


async def test_subscription_is_filtered_and_events_arrive_in_order(sim, link):
    assert any(c.startswith("event plain CHANNEL_CREATE") for c in sim.commands)
    assert not any(c.split()[-1:] == ["ALL"] for c in sim.commands)
    items = await collect(link, sim)
    assert isinstance(items[0], Resync) and items[0].legs == []
    a_leg = sim.place_call("bridged", caller="0791234567")
    items = await collect(link, sim)
    names = [e.name for e in items]
    assert names[0] == "CHANNEL_CREATE" and names[-1] == "CHANNEL_HANGUP_COMPLETE"
    assert set(names) <= set(translate.SUBSCRIBED_EVENTS)
    hung = [translate.call_event(e, "sim") for e in items if e.name == "CHANNEL_HANGUP_COMPLETE"]
    assert {h.call_id for h in hung} == {a_leg}
    assert all(isinstance(h, LegHungUp) for h in hung)


async def test_api_and_bgapi_resolve_with_their_answers(sim, link):
    assert await link.api("uuid_kill 00000000-0000-0000-0000-000000000000") == "-ERR No such channel!\n"
    assert await link.api("reloadxml") == "+OK [Success]\n"
    answers = await asyncio.gather(*(link.api("status") for _ in range(20)), link.api("no_such_command"))
    assert answers[-1] == "-ERR no_such_command Command not found!\n"
    result = await link.bgapi("originate loopback/9999/public &park()")
    assert result.startswith("+OK ")
    leg = result.split()[1]
    assert await link.api(f"uuid_exists {leg}") == "true"
    failed = await link.bgapi("originate sofia/external/nobody@127.0.0.1:5099 &park()")
    assert failed == "-ERR NORMAL_TEMPORARY_FAILURE\n"
    # the BACKGROUND_JOB of our own job is the caller's, not queued as an event
    items = await collect(link, sim)
    assert not [e for e in items if isinstance(e, Event) and e.name == "BACKGROUND_JOB"]
    with pytest.raises(ValueError):
        await link.api("status\n\nevent plain ALL")


async def test_a_late_answer_goes_to_its_own_command(sim):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", command_timeout=0.2, resync=False)
    task = asyncio.create_task(client.run())
    await client.wait_up(5)
    held: list = []
    holding = True

    def command(listener, line, headers):
        if holding:
            held.append((listener, line, headers))  # a switch busy elsewhere: answers later
            return
        return FreeSwitchSimulator._command(sim, listener, line, headers)

    sim._command = command  # type: ignore[method-assign]
    with pytest.raises(CommandTimeout):
        await client.api("status")
    later = asyncio.create_task(client.api("reloadxml"))
    await until(lambda: len(held) == 2)
    holding = False
    for listener, line, headers in held:  # in order: the late status answer, then reloadxml's
        FreeSwitchSimulator._command(sim, listener, line, headers)
    assert await later == "+OK [Success]\n"  # its own answer, not the late status text
    assert client.metrics.commands_timed_out == 1
    await client.stop()
    await task


async def test_a_command_never_answered_drops_the_link(sim):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", command_timeout=0.1, resync=False,
                               backoff_first=0.01, backoff_cap=0.02)
    task = asyncio.create_task(client.run())
    await client.wait_up(5)

    def command(listener, line, headers):
        if line.startswith("api sleep"):
            return  # never answered
        return FreeSwitchSimulator._command(sim, listener, line, headers)

    sim._command = command  # type: ignore[method-assign]
    with pytest.raises(CommandTimeout):
        await client.api("sleep 1000")
    await until(lambda: client.metrics.connects >= 2 and client.state is LinkState.UP)
    assert await client.api("reloadxml") == "+OK [Success]\n"
    await client.stop()
    await task


async def test_resync_reads_live_calls_back_with_their_variables(sim):
    a_legs = sim.hold_calls(3, "bridged")
    for leg in a_legs:
        assert sim._api(f"uuid_setvar {leg} smart_number +41800111222") == "+OK\n"
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", node="sim")
    task = asyncio.create_task(client.run())
    resync = await client.next_event(10)
    assert isinstance(resync, Resync)
    legs: list[LiveLeg] = resync.legs
    assert len(legs) == 6
    by_call: dict[str, list[LiveLeg]] = {}
    for leg in legs:
        by_call.setdefault(leg.call_id, []).append(leg)
    assert set(by_call) == set(a_legs)
    for call_id, pair in by_call.items():
        a = next(leg for leg in pair if leg.leg_id == call_id)
        b = next(leg for leg in pair if leg.leg_id != call_id)
        assert a.other_leg_id == b.leg_id and b.other_leg_id == a.leg_id
        assert a.tags["number"] == "+41800111222"
        assert a.answered
    await client.stop()
    await task


async def test_consumers_falling_behind_are_counted_and_logged(sim, caplog):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", queue_size=10, resync=False)
    task = asyncio.create_task(client.run())
    await client.wait_up(5)
    with caplog.at_level(logging.ERROR):
        for _ in range(5):
            sim.place_call("bridged")
        await sim.settle()
        await client.api("status")
    assert client.pending_events() == 10  # bounded
    assert client.metrics.events_dropped == client.metrics.events_received - 10 > 0
    assert any("consumers are behind" in r.getMessage() for r in caplog.records)
    await client.stop()
    await task


async def test_heartbeat_keeps_the_link_alive_and_silence_drops_it(sim):
    sim.heartbeat_interval = 0.05
    await sim.stop(graceful=False)
    await sim.start()
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", liveness_timeout=0.5, resync=False, backoff_first=0.01, backoff_cap=0.02)
    task = asyncio.create_task(client.run())
    await client.wait_up(5)
    await until(lambda: client.metrics.last_heartbeat_at is not None)
    assert client.metrics.session_count == 0
    # a switch that stops talking (hung, or a dead network path) is left and reconnected
    sim._heartbeat.cancel()
    await until(lambda: client.metrics.disconnects >= 1, 5)
    await until(lambda: client.state is LinkState.UP, 5)
    assert client.metrics.connects >= 2
    await client.stop()
    await task


# -- faults ----------------------------------------------------------------------------------


async def test_a_wrong_password_is_a_clear_error(sim):
    client = EventSocketClient("127.0.0.1", sim.port, "not-the-password", node="edge1")
    with pytest.raises(AuthenticationFailed, match="edge1.*refused the password"):
        await asyncio.wait_for(client.run(), 5)
    assert client.state is LinkState.REFUSED


async def test_connection_dropped_mid_call_loses_no_received_event(sim, link):
    await collect(link, sim)
    a_leg = sim.place_call("bridged", hold=True)
    await sim.settle()
    before = await collect(link, sim)
    assert [e.name for e in before] == ["CHANNEL_CREATE", "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_ANSWER", "CHANNEL_BRIDGE"]
    sim.drop_connections()
    await until(lambda: link.metrics.connects >= 2 and link.state is LinkState.UP)
    resync = await link.next_event(5)
    assert isinstance(resync, Resync)
    assert {leg.call_id for leg in resync.legs} == {a_leg}
    sim.hang_up(a_leg)
    after = await collect(link, sim)
    assert [e.name for e in after][-1] == "CHANNEL_HANGUP_COMPLETE"
    assert all(translate.call_id_of(e) == a_leg for e in after), [(e.name, e.get("Unique-ID"), e.get("Channel-Call-UUID")) for e in after]


async def test_a_half_written_frame_then_a_drop(sim, link):
    await collect(link, sim)
    sim.place_call("answered")
    await sim.settle()
    sim.send_raw(b"Content-Length: 500\nContent-Type: text/event-plain\n\nEvent-Name: CHANNEL_ANSW")
    await asyncio.sleep(0.05)
    sim.drop_connections()
    await until(lambda: link.metrics.connects >= 2 and link.state is LinkState.UP)
    items = []
    while link.pending_events():
        items.append(link.get_nowait())
    names = [i.name if isinstance(i, Event) else "resync" for i in items]
    # every complete event of the call arrived; the half frame was not made into one
    assert names[:4] == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE", "resync"] or names[
        :3
    ] == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]
    assert "CHANNEL_ANSW" not in names


async def test_a_garbage_frame_keeps_what_came_before_and_reconnects(sim, link):
    await collect(link, sim)
    sim.place_call("answered")
    await sim.settle()
    sim.send_raw(b"\x16\x03\x01 this is not the event socket\n\n")
    await until(lambda: link.metrics.protocol_errors == 1)
    await until(lambda: link.metrics.connects >= 2 and link.state is LinkState.UP)
    items = []
    while link.pending_events():
        items.append(link.get_nowait())
    names = [i.name for i in items if isinstance(i, Event)]
    assert names == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]


async def test_a_switch_restart_is_survived(sim, link):
    await collect(link, sim)
    sim.hold_calls(2)
    await sim.restart(graceful=True)  # SHUTDOWN, disconnect notice, new Core-UUID, no calls
    await until(lambda: link.metrics.connects >= 2 and link.state is LinkState.UP, 10)
    items = []
    while not items or not isinstance(items[-1], Resync):
        items.append(await link.next_event(5))
    assert items[-1].legs == []  # the restart took the calls with it
    sim.place_call("busy")
    after = await collect(link, sim)
    assert [e.name for e in after if isinstance(e, Event)][-1] == "CHANNEL_HANGUP_COMPLETE"


async def test_a_crashed_switch_is_retried_with_backoff_until_it_is_back(sim):
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", backoff_first=0.02, backoff_cap=0.1, resync=False)
    task = asyncio.create_task(client.run())
    await client.wait_up(5)
    port = sim.port
    await sim.stop(graceful=False)
    await until(lambda: client.state in (LinkState.DOWN, LinkState.CONNECTING))
    with pytest.raises(ConnectionLost):
        await client.api("status")
    await asyncio.sleep(0.3)  # several refused attempts
    sim.port = port
    await sim.start()
    await client.wait_up(5)
    assert await client.api("reloadxml") == "+OK [Success]\n"
    await client.stop()
    await task


def test_backoff_grows_with_jitter_and_is_capped():
    client = EventSocketClient("h", 1, "p", backoff_first=0.5, backoff_cap=30)
    delays = [client._backoff(n) for n in range(1, 12)]
    assert all(0.25 <= d <= 30 for d in delays)
    assert delays[-1] >= 15  # capped near 30, not 0.5 * 2**10
    assert len({round(client._backoff(5), 6) for _ in range(10)}) > 1  # jitter


async def test_legs_missing_from_a_listing_are_checked_live(sim, link):
    held = sim.hold_calls(1)
    assert await link.alive([held[0], "00000000-0000-0000-0000-000000000000"]) == {held[0]}
