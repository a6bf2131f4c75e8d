"""A premium number with tariffs in the database (both backends), the simulator, an Event
Socket client on it and live control fed by it, with a clock the test sets."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from controller.announcements import file_name, price_text
from controller.freeswitch.call_control import FreeSwitchCallControl, follow
from controller.freeswitch.client import EventSocketClient
from controller.freeswitch.simulator import FreeSwitchSimulator
from controller.live.service import LiveControl, SwitchResult, database_tariffs
from controller.live.voice import PriceVoice
from smartnumbers import accounts, numbers, tariffs
from smartnumbers.audit import Actor
from smartnumbers.db import async_session_factory, make_async_engine
from smartnumbers.models import ActorKind, Language

OPERATOR = Actor(ActorKind.CLI, "noc")
NUMBER = "+41901234567"
CAPPED = "+41901234568"  # the owner's lower cap: CHF 25 a call
ANNOUNCEMENT_S = 3  # the test's price announcements play exactly 3 s

TERMS = {
    1: tariffs.TariffTerms(Decimal("1.50")),
    12: tariffs.TariffTerms(Decimal("3.00")),  # above CHF 2: announced first
    13: tariffs.TariffTerms(Decimal("2.00"), first_unit_s=10, next_unit_s=10),  # not above: at once
}
CAPPED_TERMS = {
    1: tariffs.TariffTerms(Decimal("10.00")),
    40: tariffs.TariffTerms(Decimal("1.00"), price_per_call=Decimal("50")),
}


@pytest.fixture
def numbers_in_db(session) -> dict[str, int]:
    """The two numbers' account ids, tariffs valid from an hour ago."""
    owner = accounts.add_account(session, "Hotline AG")
    other = accounts.add_account(session, "Other GmbH")
    since = datetime.now(UTC) - timedelta(hours=1)
    for e164, terms in ((NUMBER, TERMS), (CAPPED, CAPPED_TERMS)):
        cap = Decimal("25") if e164 == CAPPED else None
        number = numbers.add_number(session, OPERATOR, e164, owner, call_cost_cap=cap)
        for code, t in terms.items():
            tariffs.set_tariff(session, OPERATOR, number, code, t, valid_from=since)
    session.commit()
    return {"owner": owner.id, "other": other.id}


def write_announcement(folder: Path, terms: tariffs.TariffTerms, seconds: int) -> Path:
    """The announcement file as if espeak-ng had made it, ``seconds`` long (8 kHz)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(price_text(terms, Language.DE), Language.DE)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * 8000 * seconds)
    return path


def place_smart_call(switch: FreeSwitchSimulator, number: str, account_id: int, *,
                     caller: str = "41791234567") -> str:
    """A bridged call to a smart number, held once talking, with the variables the number's
    dialplan sets on the caller's leg."""
    variables = {"smart_number": number, "smart_account": str(account_id), "smart_tariff_code": "1"}
    return switch.place_call("bridged", caller=caller, hold=True, variables=variables)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def talk(self, answered_at: datetime, seconds: float) -> None:
        self.now = answered_at + timedelta(seconds=seconds)


async def until(predicate: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """Wait for something the events bring about (never a fixed delay)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)
    assert predicate(), what


class Rig:
    def __init__(self, switch: FreeSwitchSimulator, client: EventSocketClient, live: LiveControl, clock: Clock,
                 sounds: Path) -> None:
        self.switch, self.client, self.live, self.clock, self.sounds = switch, client, live, clock, sounds
        self.results: asyncio.Queue[SwitchResult] = asyncio.Queue()
        live.on_switch = self.results.put_nowait

    async def answered_call(self, number: str, account_id: int) -> str:
        a_leg = place_smart_call(self.switch, number, account_id)
        await until(lambda: (c := self.live.calls.get(a_leg)) is not None and c.agent_leg and c.answered_at,
                    "the call is answered and bridged")
        await until(lambda: self.live.book(a_leg) is not None, "the tariffs are loaded")
        await self.live.settle()
        return a_leg

    async def switch_api(self, command: str) -> str:
        """A command as another controller would send it."""
        return await self.client.api(command)

    async def code(self, a_leg: str, digits: str) -> SwitchResult:
        self.switch.press_code(a_leg, digits)
        return await asyncio.wait_for(self.results.get(), 10)


@pytest.fixture
async def rig(db_url, numbers_in_db, tmp_path):
    switch = FreeSwitchSimulator(heartbeat_interval=0)
    await switch.start()
    client = EventSocketClient("127.0.0.1", switch.port, "ClueCon", node="vm")
    running = asyncio.create_task(client.run())
    await client.wait_up(10)
    engine = make_async_engine(db_url)
    clock = Clock()
    sounds = tmp_path / "sounds"
    write_announcement(sounds, TERMS[12], ANNOUNCEMENT_S)
    live = LiveControl(controls={"vm": FreeSwitchCallControl(client)},
                       tariffs=database_tariffs(async_session_factory(engine)),
                       voice=PriceVoice(sounds, "/var/lib/smartnumbers/sounds"), clock=clock)
    # the first resync (empty) comes before any call of the test
    first = await client.next_event(10)
    await live.on_resync(first.node, first.legs)
    pump = asyncio.create_task(follow(client, live))
    yield Rig(switch, client, live, clock, sounds)
    pump.cancel()
    await live.settle()
    await client.stop()
    running.cancel()
    await switch.stop()
    await engine.dispose()
