"""Live call control against a real FreeSWITCH (``SMARTNUMBERS_TEST_FREESWITCH=host:port:password``,
on the same host as the tests: the phones and the announcement files are local).

The call is made by ``originate`` with an inline dialplan, so nothing has to be installed on
the switch: the caller's leg carries the product's variables and binds the agent's codes on
the answering leg exactly as the product's dialplan does (``bind_digit_action`` with
``exec[i]:`` raising a CUSTOM ``smart::code`` event). The agent's phone then sends ``*12`` as
RFC 2833 events; the segment must be in the caller's leg's HANGUP_COMPLETE (its CDR).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from controller.calls import LegHungUp
from controller.freeswitch import translate
from controller.freeswitch.call_control import FreeSwitchCallControl, follow
from controller.freeswitch.client import EventSocketClient
from controller.live.segments import end_reason
from controller.live.service import LiveControl, Outcome, database_tariffs, hangup_epoch
from controller.live.voice import PriceVoice
from smartnumbers import accounts, numbers, tariffs
from smartnumbers.db import async_session_factory, make_async_engine
from tests.live.conftest import OPERATOR, until
from tests.live.sip_phone import SipPhone

pytestmark = pytest.mark.freeswitch

TARGET = os.environ.get("SMARTNUMBERS_TEST_FREESWITCH", "")
if not TARGET:
    pytest.skip("no real FreeSWITCH: set SMARTNUMBERS_TEST_FREESWITCH=host:port:password", allow_module_level=True)

CODE_BINDING = r"smart,~^\*\d\d$,exec[i]:event,^^;Event-Name=CUSTOM;Event-Subclass=smart::code;smart_kind=tariff_code"


def _target() -> tuple[str, int, str]:
    host, port, password = TARGET.split(":", 2)
    return host, int(port), password


@pytest.fixture
async def real(db_url, session, tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (the price announcement is spoken)")
    owner = accounts.add_account(session, "Hotline AG")
    since = datetime.now(UTC) - timedelta(hours=1)
    plain = numbers.add_number(session, OPERATOR, "+41901234567", owner)
    tariffs.set_tariff(session, OPERATOR, plain, 1, tariffs.TariffTerms(Decimal("1.50")), valid_from=since)
    tariffs.set_tariff(session, OPERATOR, plain, 12, tariffs.TariffTerms(Decimal("3.00")), valid_from=since)
    capped = numbers.add_number(session, OPERATOR, "+41901234568", owner, call_cost_cap=Decimal("1.00"))
    tariffs.set_tariff(session, OPERATOR, capped, 1,
                       tariffs.TariffTerms(Decimal("10.00"), first_unit_s=1, next_unit_s=1), valid_from=since)
    session.commit()
    host, port, password = _target()
    client = EventSocketClient(host, port, password, node="real")
    running = asyncio.create_task(client.run())
    await client.wait_up(10)
    engine = make_async_engine(db_url)
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    sounds.chmod(0o755)
    live = LiveControl(controls={"real": FreeSwitchCallControl(client)},
                       tariffs=database_tariffs(async_session_factory(engine)),
                       voice=PriceVoice(sounds, str(sounds)))
    first = await client.next_event(15)
    await live.on_resync(first.node, first.legs)
    ended: dict[str, LegHungUp] = {}
    observe = live.on_event

    def recording(event):
        if isinstance(event, LegHungUp) and event.is_a_leg:
            ended[event.call_id] = event
        observe(event)

    live.on_event = recording
    pump = asyncio.create_task(follow(client, live))
    caller, agent = SipPhone(), SipPhone()
    await caller.start()
    await agent.start()
    yield client, live, caller, agent, ended
    caller.close()
    agent.close()
    pump.cancel()
    await live.settle()
    await client.stop()
    running.cancel()
    await engine.dispose()


async def _call(client, live, caller, agent, number: str) -> str:
    """The caller's leg (to the caller's phone) bridged to the agent's phone, as the
    product's dialplan leaves it: product variables on A, the code binding for B."""
    a_leg = str(uuid.uuid4())
    # ``^^!``: the variables are separated by ``!``, since the binding holds commas and colons
    variables = "^^!" + "!".join([
        f"origination_uuid={a_leg}", f"smart_number={number}", "smart_tariff_code=1",
        "origination_caller_id_number=41791234567", "hangup_after_bridge=true",
        "bridge_pre_execute_bleg_app=bind_digit_action", f"bridge_pre_execute_bleg_data={CODE_BINDING}",
    ])
    reply = await client.bgapi(
        f"originate {{{variables}}}sofia/external/caller@127.0.0.1:{caller.port} "
        f"&bridge(sofia/external/agent@127.0.0.1:{agent.port})")
    assert reply.startswith("+OK"), reply
    await until(lambda: (c := live.calls.get(a_leg)) is not None and c.agent_leg and c.answered_at,
                "the call is answered and bridged", timeout=15)
    await until(lambda: live.book(a_leg) is not None, "the tariffs are loaded")
    await asyncio.wait_for(agent.answered.wait(), 10)
    await live.settle()
    return a_leg


async def test_agent_code_as_rfc2833_reaches_the_cdr(real):
    client, live, caller, agent, ended = real
    results: asyncio.Queue = asyncio.Queue()
    live.on_switch = results.put_nowait
    a_leg = await _call(client, live, caller, agent, "+41901234567")
    await agent.press("*12")
    result = await asyncio.wait_for(results.get(), 15)
    assert result.outcome is Outcome.SWITCHED, result
    segment = result.segment
    assert segment.code == 12 and segment.announcement_s >= 3  # the spoken price, not charged
    value = (await client.api(f"uuid_getvar {a_leg} smart_tariff_segments")).strip()
    assert value == f"1@0;12@{segment.start_s}+{segment.announcement_s}"
    assert (await client.api(f"uuid_getvar {a_leg} playback_terminators")).strip() == "none"

    # the controller dies right after the switch; the CDR still holds the segment
    host, port, password = _target()
    witness = EventSocketClient(host, port, password, node="witness", resync=False)
    watching = asyncio.create_task(witness.run())
    try:
        await witness.wait_up(10)
        await client.stop()
        assert (await witness.api(f"uuid_kill {a_leg} NORMAL_CLEARING")).startswith("+OK")
        async with asyncio.timeout(15):
            while True:
                event = translate.call_event(await witness.next_event(), "real")
                if isinstance(event, LegHungUp) and event.leg_id == a_leg:
                    break
        assert event.tags["tariff_segments"] == value
    finally:
        await witness.stop()
        watching.cancel()


async def test_cost_cap_hangup_runs_on_the_switch(real):
    client, live, caller, agent, ended = real
    a_leg = await _call(client, live, caller, agent, "+41901234568")
    call = live.calls.get(a_leg)
    # CHF 10 a minute by the second, cap CHF 1: 6 s keep within it (CHF 1.00), a 7th would not.
    assert call.cap_at == hangup_epoch(call.answered_at, 6)
    await until(lambda: a_leg in ended, "the switch hung up at the cap", timeout=15)
    cdr = ended[a_leg]
    assert cdr.cause == "ALLOTTED_TIMEOUT"
    # the scheduler runs the task within the second after the one it was given: 6 s of
    # talk billed at most (CHF 1.00), 5 s when it runs early in that second
    assert 5000 <= cdr.billed_ms < 7000
    assert 0 <= cdr.at.timestamp() - call.cap_at < 1.5
    assert end_reason(cdr.tags, cdr.cause, cdr.at) == "cost_cap"
    assert cdr.tags["cost_cap"] == "1.00"


async def test_caller_hears_the_whole_price_before_the_new_tariff_starts(real):
    """The caller's own ``*`` does not cut the announcement short (``playback_terminators``),
    and the announcement has ended by the second the new segment starts from."""
    client, live, caller, agent, ended = real
    results: asyncio.Queue = asyncio.Queue()
    live.on_switch = results.put_nowait
    host, port, password = _target()
    witness = EventSocketClient(host, port, password, node="witness", resync=False,
                                subscription="event plain PLAYBACK_START PLAYBACK_STOP")
    watching = asyncio.create_task(witness.run())
    try:
        await witness.wait_up(10)
        a_leg = await _call(client, live, caller, agent, "+41901234567")
        call = live.calls.get(a_leg)
        await agent.press("*12")
        result = await asyncio.wait_for(results.get(), 15)
        assert result.outcome is Outcome.SWITCHED, result
        await caller.press("*")
        playback: dict[str, datetime] = {}
        async with asyncio.timeout(20):
            while "PLAYBACK_STOP" not in playback:
                event = await witness.next_event()
                if event.get("Unique-ID") == a_leg and event.get("Event-Name") in ("PLAYBACK_START", "PLAYBACK_STOP"):
                    stamp = int(event.get("Event-Date-Timestamp"))
                    playback[event.get("Event-Name")] = datetime.fromtimestamp(stamp / 1_000_000, UTC)
                    status = event.get("Playback-Status")
        assert status == "done"  # not "break": the caller's * was ignored
        segment = result.segment
        announced = call.answered_at + timedelta(seconds=segment.announced_at_s)
        starts = call.answered_at + timedelta(seconds=segment.start_s)
        assert announced <= playback["PLAYBACK_START"] and playback["PLAYBACK_STOP"] <= starts
        await FreeSwitchCallControl(client).hang_up(a_leg, "NORMAL_CLEARING")
    finally:
        await witness.stop()
        watching.cancel()
