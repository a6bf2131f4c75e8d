"""The NOC commands against the simulator (running in its own thread, as a switch would):
the live table, one call shown, switched and hung up, and the neutral events."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from tests.foundation.cli import invoke
from controller.freeswitch.simulator import FreeSwitchSimulator
from tests.live.conftest import NUMBER, place_smart_call


class SwitchThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.switch = FreeSwitchSimulator(heartbeat_interval=0)

    def do(self, work):
        """Run a coroutine on the switch's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(10)

    def call(self, number: str, account_id: int) -> str:
        async def place() -> str:
            a_leg = place_smart_call(self.switch, number, account_id)
            await self.switch.settle()
            return a_leg

        return self.do(place())


@pytest.fixture
def noc(monkeypatch, db_url, numbers_in_db, tmp_path):
    running = SwitchThread()
    running.thread.start()
    running.do(running.switch.start())
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES", json.dumps(
        [{"name": "vm", "host": "127.0.0.1", "port": running.switch.port, "password": "ClueCon"}]))
    monkeypatch.setenv("SMARTNUMBERS_SOUNDS_FOLDER", str(tmp_path / "sounds"))
    yield running
    running.do(running.switch.stop())
    running.loop.call_soon_threadsafe(running.loop.stop)
    running.thread.join(10)


def test_calls_lists_the_live_calls(noc, capsys, numbers_in_db):
    a_leg = noc.call(NUMBER, numbers_in_db["owner"])
    result = invoke(capsys, "calls", "--json")
    assert result.code == 0, result.err
    [row] = json.loads(result.out)
    assert row["call_id"] == a_leg and row["number"] == NUMBER and row["caller"] == "079 123 45 67"
    assert row["tariff_code"] == 1 and row["answered_by"] and row["failed_attempts"] == []
    assert row["charge"] is not None  # CHF 0.00 or 1.50, as the first minute has begun or not
    table = invoke(capsys, "calls", "--once")
    assert table.code == 0 and "0901 234 567" in table.out and a_leg[:8] in table.out


def test_call_show_tariff_and_hangup(noc, capsys, numbers_in_db):
    a_leg = noc.call(NUMBER, numbers_in_db["owner"])
    shown = invoke(capsys, "call", "show", a_leg[:8], "--json")
    assert shown.code == 0 and shown.json()["call_id"] == a_leg
    switched = invoke(capsys, "call", "tariff", a_leg, "13", "--json")
    assert switched.code == 0, switched.err
    assert switched.json()["outcome"] == "switched"
    start = switched.json()["segment"]["start_s"]
    assert noc.switch.variable(a_leg, "smart_tariff_segments") == f"1@0;13@{start}"
    refused = invoke(capsys, "call", "tariff", a_leg, "55")
    assert refused.code == 1 and "no_such_code" in refused.out
    assert invoke(capsys, "call", "hangup", a_leg).code == 0
    noc.do(noc.switch.settle())
    assert noc.switch.live_calls == 0
    gone = invoke(capsys, "call", "show", a_leg)
    assert gone.code == 2 and "no such live call" in gone.err


def test_events_prints_the_live_legs_in_neutral_words(noc, capsys, numbers_in_db):
    a_leg = noc.call(NUMBER, numbers_in_db["owner"])
    result = invoke(capsys, "events")
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert {line["event"] for line in lines} == {"LiveLeg"}
    assert {line["call_id"] for line in lines} == {a_leg} and len(lines) == 2
    caller_leg = next(line for line in lines if line["leg_id"] == a_leg)
    assert caller_leg["tags"]["number"] == NUMBER and caller_leg["direction"] == "inbound"


def test_without_a_node_the_commands_say_so(capsys, db_url, monkeypatch):
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES", "[]")
    result = invoke(capsys, "calls", "--once")
    assert result.code == 2 and "no FreeSWITCH node configured" in result.err


def test_event_lines_hide_the_callers_digits():
    from datetime import UTC, datetime

    from controller.calls import DigitPressed
    from controller.live.commands import event_line

    at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    caller = event_line(DigitPressed("vm", "a-leg", "a-leg", at, digit="4", via="media"))
    agent = event_line(DigitPressed("vm", "b-leg", "a-leg", at, digit="4", via="media"))
    assert caller["digit"] == "•" and agent["digit"] == "4"
    assert caller == {"event": "DigitPressed", "at": at.isoformat(), "node": "vm", "call_id": "a-leg",
                      "leg_id": "a-leg", "digit": "•"}
