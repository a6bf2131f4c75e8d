"""The registry and the caps survive a lost connection and a restart of the application:
what live control wrote onto the caller's channel is read back from the switch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from controller.calls import LegCreated, LegDirection
from controller.freeswitch.call_control import FreeSwitchCallControl, follow
from controller.freeswitch.client import EventSocketClient
from controller.live.service import LiveControl, Outcome, database_tariffs, hangup_epoch
from controller.live.voice import PriceVoice
from smartnumbers.db import async_session_factory, make_async_engine
from smartnumbers.phone import normalise_caller
from tests.live.conftest import NUMBER, Clock, until


async def test_registry_is_rebuilt_after_a_reconnect(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    rig.clock.talk(call.answered_at, 30.4)
    assert (await rig.code(a_leg, "*13")).outcome is Outcome.SWITCHED
    resyncs = rig.live.resyncs
    rig.client.drop_connection()
    await until(lambda: rig.live.resyncs > resyncs, "reconnected and resynchronised")
    await rig.live.settle()
    again = rig.live.calls.get(a_leg)
    assert again.segments == call.segments and again.code == 13
    assert again.answered_at == call.answered_at
    assert again.agent_leg == rig.switch.agent_leg(a_leg)


async def test_a_restarted_application_takes_over_the_calls(rig, numbers_in_db, db_url, tmp_path):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    rig.clock.talk(call.answered_at, 30.4)
    assert (await rig.code(a_leg, "*13")).outcome is Outcome.SWITCHED
    cap = rig.switch.scheduled[a_leg]
    assert await rig.switch_api(f"sched_del {a_leg}") == "+OK Deleted: 1\n"  # as if never scheduled

    # a second controller, started from nothing, on the same switch
    client = EventSocketClient("127.0.0.1", rig.switch.port, "ClueCon", node="vm")
    running = asyncio.create_task(client.run())
    engine = make_async_engine(db_url)
    clock = Clock()
    live = LiveControl(controls={"vm": FreeSwitchCallControl(client)},
                       tariffs=database_tariffs(async_session_factory(engine)),
                       voice=PriceVoice(rig.sounds, "/var/lib/smartnumbers/sounds"), clock=clock)
    pump = asyncio.create_task(follow(client, live))
    try:
        await until(lambda: live.resyncs, "the call is rebuilt")
        await live.settle()
        rebuilt = live.calls.get(a_leg)
        assert rebuilt.number == NUMBER and rebuilt.code == 13
        assert rebuilt.agent_leg == rig.switch.agent_leg(a_leg)
        # the answer time read back from the switch: to the second of the one seen live
        assert abs((rebuilt.answered_at - call.answered_at).total_seconds()) < 1
        assert rig.switch.scheduled[a_leg] == (hangup_epoch(rebuilt.answered_at, 31 + 1195 * 10), cap[1])
        clock.talk(rebuilt.answered_at, 60)
        assert (await live.switch_tariff(a_leg, 1)).outcome is Outcome.SWITCHED
        assert rig.switch.variable(a_leg, "smart_tariff_segments") == "1@0;13@31;1@60"
    finally:
        pump.cancel()
        await client.stop()
        running.cancel()
        await engine.dispose()


async def test_a_call_the_listing_missed_is_kept_while_the_switch_has_it(rig, numbers_in_db):
    """A listing read while a call began does not hold it; the call stays, unless it is gone."""
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    await rig.live.on_resync("vm", [])  # a listing taken before the call began
    assert rig.live.calls.get(a_leg) is not None and rig.live.book(a_leg) is not None
    # a call the registry knows but the switch has not (its end was lost with the link)
    rig.live.on_event(LegCreated("vm", "gone-1", "gone-1", datetime.now(UTC), direction=LegDirection.INBOUND,
                                 caller=normalise_caller("41791234567"), destination="0901234567"))
    await rig.live.on_resync("vm", [])
    assert rig.live.calls.get("gone-1") is None
