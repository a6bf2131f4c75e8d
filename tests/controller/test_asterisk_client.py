"""The ARI client against the ARI simulator: events in order, a resync after every connect,
reconnection with a backoff only a healthy link resets, drops counted, ApplicationReplaced."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from controller.asterisk import scripts, translate
from controller.asterisk.client import (
    AriClient,
    ApplicationTaken,
    AuthenticationFailed,
    RequestFailed,
)
from controller.asterisk.simulator import AsteriskSimulator
from controller.calls import LegCreated, Resync
from controller.links import LinkState


@pytest.fixture
async def sim():
    simulator = AsteriskSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


def _client(sim: AsteriskSimulator, **options) -> AriClient:
    options = {"backoff_first": 0.01, "backoff_cap": 0.05, "healthy_after": 0.0, **options}
    return AriClient("127.0.0.1", sim.port, "asterisk", "asterisk", node="ast1", **options)


async def _until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.fixture
async def running(sim):
    clients: list[tuple[AriClient, asyncio.Task]] = []

    def start(**options) -> AriClient:
        client = _client(sim, **options)
        clients.append((client, asyncio.create_task(client.run())))
        return client

    yield start
    for client, task in clients:
        await client.close()
        await asyncio.gather(task, return_exceptions=True)


async def test_events_come_in_order_after_the_resync_of_the_live_calls(sim, running):
    callers = sim.hold_calls(3)
    client = running()
    resync = await client.next_event(5)
    assert isinstance(resync, Resync) and resync.node == "ast1"
    legs = {leg.leg_id: leg for leg in resync.legs}
    assert len(legs) == 6
    for caller in callers:
        other = legs[caller].other_leg_id
        assert legs[other].other_leg_id == caller and legs[other].call_id == caller and legs[caller].answered
    await sim.replay("outbound_originate_bridge")
    events = [await client.next_event(5) for _ in range(71)]
    captured = [json.loads(raw)["type"] for _, raw in scripts.load()["scenarios"]["outbound_originate_bridge"]]
    assert [e["type"] for e in events] == captured
    created = [translate.call_event(e, "ast1") for e in events]
    assert sum(isinstance(c, LegCreated) for c in created) == 2
    assert client.metrics.events_received == 71 and client.metrics.events_dropped == 0


async def test_rest_requests_answer_or_fail_with_asterisks_message(sim):
    client = _client(sim)
    try:
        (leg,) = sim.hold_calls(1)
        assert (await client.request("GET", f"/channels/{leg}"))["id"] == leg  # no WebSocket needed
        assert await client.request("POST", f"/channels/{leg}/variable", params={"variable": "smart_x", "value": "1"}) is None
        with pytest.raises(RequestFailed) as failed:
            await client.request("GET", "/channels/no-such-channel")
        assert (failed.value.status, failed.value.text) == (404, "Channel not found")
        sim.in_application["smartnumbers"].discard(leg)
        with pytest.raises(RequestFailed) as failed:
            await client.request("POST", f"/channels/{leg}/answer")
        assert (failed.value.status, failed.value.text) == (409, "Channel not in Stasis application")
    finally:
        await client.close()


async def test_it_reconnects_and_resynchronises_what_changed_meanwhile(sim, running):
    first, second = sim.hold_calls(2)
    client = running()
    assert len((await client.next_event(5)).legs) == 4
    sim.drop_connections()
    await _until(lambda: client.metrics.disconnects == 1)
    sim.hang_up(first)  # while no socket is open: Asterisk replays nothing
    resync = await client.next_event(5)
    assert isinstance(resync, Resync)
    legs = {leg.leg_id: leg for leg in resync.legs}
    assert first not in legs and sim.missed == 3  # its hangup events went nowhere
    # its called leg stays alone in the bridge, as on Asterisk; the other call is untouched
    (alone,) = [leg for leg in legs.values() if leg.call_id == first]
    assert alone.other_leg_id is None
    assert legs[legs[second].other_leg_id].other_leg_id == second
    assert client.metrics.connects == 2 and client.metrics.resyncs == 2
    await sim.replay("dtmf_loopback")  # and the new socket gets the events
    assert [(await client.next_event(5))["type"] for _ in range(26)] == [
        json.loads(raw)["type"] for _, raw in scripts.load()["scenarios"]["dtmf_loopback"]]


async def test_the_backoff_grows_until_a_link_is_healthy_and_only_then_starts_again(sim, running):
    sim.refuse_sockets = 3  # accepted, then closed at once: never healthy
    seen: list[int] = []
    client = running(on_state=lambda state: seen.append(client.metrics.failures_in_row))
    assert isinstance(await client.next_event(5), Resync)
    assert client.metrics.connects == 4 and client.metrics.failures_in_row == 3
    sim.drop_connections()  # a healthy link ends: the next retry is the first step again
    await _until(lambda: client.metrics.connects == 5 and client.connected)
    assert client.metrics.failures_in_row == 1
    assert max(seen) == 3


async def test_a_link_that_never_became_healthy_keeps_its_backoff(sim, running):
    sim.refuse_sockets = 2
    client = running(healthy_after=3600.0)
    assert isinstance(await client.next_event(5), Resync)
    sim.drop_connections()
    await _until(lambda: client.metrics.connects == 4 and client.connected)
    assert client.metrics.failures_in_row == 3


async def test_a_failed_resync_drops_the_link_and_tries_again(sim, running):
    sim.hold_calls(1)
    sim.fail_requests = 1  # the first listing fails
    client = running()
    resync = await client.next_event(5)
    assert isinstance(resync, Resync) and len(resync.legs) == 2
    # the failed link was not healthy, so the retry after it kept counting
    assert client.metrics.connects == 2 and client.metrics.resyncs == 1 and client.metrics.failures_in_row == 1


async def test_a_full_queue_drops_the_newest_events_and_counts_them(sim, running):
    client = running(queue_size=10, resync=False)
    await client.wait_up(5)
    await sim.flood(100)
    await _until(lambda: client.metrics.events_received == 100)
    assert client.metrics.events_dropped == 90 and client.pending_events() == 10
    assert client.metrics.queue_high_water == 10
    kept = [(await client.next_event(1))["type"] for _ in range(10)]
    assert kept == [json.loads(raw)["type"] for _, raw in scripts.load()["scenarios"]["inbound_dialplan_stasis"][:10]]
    assert client.connected  # dropping never stops the reading


async def test_a_frame_that_is_no_event_is_counted_and_skipped(sim, running):
    client = running(resync=False)
    await client.wait_up(5)
    for garbage in ("{not json", "[1, 2]", '{"no": "type"}'):
        await sim.send_text(garbage)
    await sim.replay("dtmf_loopback")
    assert (await client.next_event(5))["type"] == json.loads(scripts.load()["scenarios"]["dtmf_loopback"][0][1])["type"]
    await _until(lambda: client.metrics.events_received == 26)
    assert client.metrics.bad_frames == 3 and client.connected


async def test_a_wrong_password_is_refused_without_retrying(sim):
    client = AriClient("127.0.0.1", sim.port, "asterisk", "wrong", backoff_first=0.01)
    try:
        with pytest.raises(AuthenticationFailed):
            await asyncio.wait_for(client.run(), 5)
        assert client.state is LinkState.REFUSED and client.metrics.connects == 0
    finally:
        await client.close()


async def test_application_replaced_stops_the_link(sim):
    client = _client(sim)
    task = asyncio.create_task(client.run())
    try:
        await client.wait_up(5)
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{sim.port}/ari/events",
                                          params={"app": "smartnumbers", "api_key": "asterisk:asterisk"}):
                with pytest.raises(ApplicationTaken):
                    await asyncio.wait_for(task, 5)
        # no reconnect that would take the application back from the other controller
        assert client.state is LinkState.REPLACED and client.metrics.connects == 1 and not client.connected
        assert "another client" in (client.last_error or "")
    finally:
        await client.close()
