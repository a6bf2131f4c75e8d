"""Calls whose live control failed on the switch are counted, recorded and listed: by
``smartnumbers calls`` while they last and by ``cdr reconcile`` for their day."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from controller.freeswitch.call_control import FreeSwitchCallControl, follow
from controller.freeswitch.client import EventSocketClient
from controller.freeswitch.simulator import FreeSwitchSimulator
from controller.live.control import ControlFailed
from controller.live.service import LiveControl, database_failures, database_tariffs
from controller.live.voice import PriceVoice
from controller.reconcile import reconcile_day
from smartnumbers.db import async_session_factory, make_async_engine
from smartnumbers.models import ControlFailure
from tests.foundation.cli import invoke
from tests.live.conftest import NUMBER, place_smart_call, until
from tests.live.test_commands import noc  # noqa: F401 (the fixture)

ZURICH = ZoneInfo("Europe/Zurich")


class RefusingSwitch(FreeSwitchCallControl):
    """A node that takes every command but the scheduled hangup."""

    async def schedule_hangup(self, call_id: str, at_epoch: int, cause: str) -> None:
        raise ControlFailed(f"node {self.client.node}: sched_hangup: -ERR refused")


async def test_a_cap_the_switch_refused_is_counted_and_recorded(db_url, numbers_in_db, session, tmp_path):
    switch = FreeSwitchSimulator(heartbeat_interval=0)
    await switch.start()
    client = EventSocketClient("127.0.0.1", switch.port, "ClueCon", node="vm")
    running = asyncio.create_task(client.run())
    engine = make_async_engine(db_url)
    try:
        await client.wait_up(10)
        sessions = async_session_factory(engine)
        live = LiveControl(controls={"vm": RefusingSwitch(client)}, tariffs=database_tariffs(sessions),
                           voice=PriceVoice(tmp_path, str(tmp_path)), failures=database_failures(sessions))
        first = await client.next_event(10)
        await live.on_resync(first.node, first.legs)
        pump = asyncio.create_task(follow(client, live))
        a_leg = place_smart_call(switch, NUMBER, numbers_in_db["owner"])
        await until(lambda: live.failed_controls == 1, "the refused cap is counted")
        await live.settle()
        assert live.failed == {a_leg: ("cost_cap",)}
        pump.cancel()
    finally:
        await client.stop()
        running.cancel()
        await switch.stop()
        await engine.dispose()

    [row] = session.scalars(select(ControlFailure)).all()
    assert (row.call_id, row.node, row.number, row.action) == (a_leg, "vm", NUMBER, "cost_cap")
    assert row.reason == "node vm: sched_hangup: -ERR refused"
    day = reconcile_day(session, datetime.now(UTC).astimezone(ZURICH).date(), ZURICH)
    assert day.not_applied == [f"{a_leg} cost_cap: node vm: sched_hangup: -ERR refused"]
    assert day.differences >= 1


def test_the_noc_sees_which_live_calls_were_not_steered(noc, capsys, numbers_in_db, session):  # noqa: F811
    steered = noc.call(NUMBER, numbers_in_db["owner"])
    refused = noc.call(NUMBER, numbers_in_db["owner"])
    session.add(ControlFailure(call_id=refused, node="vm", number=NUMBER, action="tariff_switch",
                               reason="node vm: uuid_broadcast: timed out"))
    session.commit()
    result = invoke(capsys, "calls", "--json")
    assert result.code == 0, result.err
    rows = {row["call_id"]: row["not_applied"] for row in json.loads(result.out)}
    assert rows == {steered: [], refused: ["tariff_switch"]}
    table = invoke(capsys, "calls", "--once")
    assert table.code == 0 and "tariff_switch" in table.out

    today = datetime.now(UTC).astimezone(ZURICH).date().isoformat()
    reconciled = invoke(capsys, "cdr", "reconcile", "--day", today)
    assert reconciled.code == 1
    assert f"live control not applied on the switch: {refused} tariff_switch: node vm: uuid_broadcast: timed out" \
        in reconciled.out
