"""NOC commands for live calls: ``smartnumbers calls`` (a table that refreshes in place),
``smartnumbers call show|hangup|tariff UUID`` and ``smartnumbers events --follow``.

How they reach the live state: each command connects to the switches itself, with the node
credentials of the settings (``SMARTNUMBERS_FREESWITCH_NODES``), and builds the same registry
the serve process keeps, from the switch's own listing and events: the switch holds the truth
(the segments and the cap are written onto its channels), so nothing has to be asked of a
running serve process and the commands work while it is down. These are operator commands:
whoever holds the node credentials and the database sees every tenant's calls; tenants use
the token-scoped API (``sync/live.py``), which shows an account its own calls only.
A command that only watches never acts on its own (``automatic=False``); ``call tariff`` and
``call hangup`` act on the one call named.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from controller.calls import CallEvent, DigitPressed, LegHungUp, LiveLeg
from controller.freeswitch import translate
from controller.freeswitch.call_control import FreeSwitchCallControl, follow
from controller.freeswitch.client import EventSocketClient, Resync
from controller.live.registry import LiveCall
from controller.live.service import LiveControl, database_tariffs, failed_controls
from controller.live.voice import PriceVoice
from smartnumbers.commands import JsonFlag, console
from smartnumbers.db import async_session_factory, make_async_engine
from smartnumbers.errors import InputError
from smartnumbers.money import decimal_text
from smartnumbers.phone import format_swiss
from smartnumbers.settings import Settings, load_settings

CONNECT_TIMEOUT_S = 10.0
call_cli = typer.Typer(help="One live call: show it, hang it up, switch its tariff.", no_args_is_help=True)

NodeOption = Annotated[str | None, typer.Option("--node", help="Only this FreeSWITCH node (its name).")]


@contextlib.asynccontextmanager
async def _connected(settings: Settings, node: str | None) -> AsyncIterator[list[EventSocketClient]]:
    """An Event Socket connection to each configured node (or the one named)."""
    chosen = [n for n in settings.freeswitch_nodes if node is None or n.name == node]
    if not chosen:
        raise InputError(f"no FreeSWITCH node named {node!r}" if node else
                         "no FreeSWITCH node configured (SMARTNUMBERS_FREESWITCH_NODES)")
    clients = [EventSocketClient(n.host, n.port, n.password, node=n.name) for n in chosen]
    runs = [asyncio.create_task(c.run()) for c in clients]
    try:
        for client in clients:
            try:
                await client.wait_up(CONNECT_TIMEOUT_S)
            except TimeoutError:
                raise InputError(f"node {client.node}: cannot connect ({client.last_error or 'no answer'})") from None
        yield clients
    finally:
        for client in clients:
            await client.stop()
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)


@contextlib.asynccontextmanager
async def _watching(settings: Settings, node: str | None) -> AsyncIterator[LiveControl]:
    """Live control over the nodes, its registry filled from each node's listing and then
    kept up to date by their events; acting only when told."""
    engine = make_async_engine(settings.database_url)
    try:
        async with _connected(settings, node) as clients:
            live = LiveControl(
                controls={c.node: FreeSwitchCallControl(c) for c in clients},
                tariffs=database_tariffs(async_session_factory(engine)),
                voice=PriceVoice(Path(settings.sounds_folder),
                                 settings.switch_sounds_folder or str(Path(settings.sounds_folder).resolve())),
                automatic=False,
            )
            pumps = [asyncio.create_task(follow(c, live)) for c in clients]
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S * 3):
                    while live.resyncs < len(clients):
                        await asyncio.sleep(0.05)
                await live.settle()
                sessions = async_session_factory(engine)
                live.failed = await failed_controls(sessions, [c.call_id for c in live.calls])
                pumps.append(asyncio.create_task(_follow_failures(live, sessions)))
                yield live
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
    finally:
        await engine.dispose()


async def _follow_failures(live: LiveControl, sessions) -> None:
    """Which live calls ``serve`` could not steer on their switch (recorded in the database),
    read again every second while watching."""
    while True:
        await asyncio.sleep(1)
        live.failed = await failed_controls(sessions, [c.call_id for c in live.calls])


def _talk(live: LiveControl, call: LiveCall) -> str:
    if call.answered_at is None:
        return "ringing" if not call.answered else "answered"
    seconds = max(0, int((live.clock() - call.answered_at).total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"


def call_row(live: LiveControl, call: LiveCall) -> dict[str, Any]:
    charge = live.charge(call)
    return {
        "call_id": call.call_id,
        "node": call.node,
        "number": call.number,
        "caller": call.caller.shown(),
        "answered_by": call.agent,
        "failed_attempts": [{"destination": a.destination, "cause": a.cause} for a in call.failed_attempts],
        "talk": _talk(live, call),
        "tariff_code": call.code,
        "segments": [{"code": s.code, "start_s": s.start_s, "announcement_s": s.announcement_s}
                     for s in call.segments],
        "charge": decimal_text(charge) if charge is not None else None,
        "cost_cap_at": datetime.fromtimestamp(call.cap_at, UTC).isoformat() if call.cap_at else None,
        "not_applied": list(live.failed.get(call.call_id, ())),  # cost_cap, tariff_switch: the switch refused
    }


def _shown_number(number: str) -> str:
    return format_swiss(number) if number.startswith("+") else number


def calls_table(live: LiveControl, zone) -> Table:
    table = Table("call", "node", "number", "caller", "answered by", "failed", "talk", "code", "CHF", "cap at",
                  "not applied", title=f"{len(live.calls)} live calls · {datetime.now(zone):%H:%M:%S}")
    for call in sorted(live.calls, key=lambda c: c.created_at):
        row = call_row(live, call)
        failed = ", ".join(f"{a['destination']} {a['cause']}" for a in row["failed_attempts"]) or "-"
        cap = datetime.fromtimestamp(call.cap_at, zone).strftime("%H:%M:%S") if call.cap_at else "-"
        table.add_row(call.call_id[:8], call.node, _shown_number(call.number), row["caller"], row["answered_by"] or "-",
                      failed, row["talk"], f"{call.code:02d}", row["charge"] or "-", cap,
                      ", ".join(row["not_applied"]) or "-")
    return table


def calls(node: NodeOption = None, once: Annotated[bool, typer.Option(
        "--once", help="Print the table once and stop, instead of refreshing it in place.")] = False,
          as_json: JsonFlag = False) -> None:
    """The live calls of every node, refreshed in place until Ctrl-C."""
    settings = load_settings()

    async def watch() -> None:
        async with _watching(settings, node) as live:
            if once or as_json:
                if as_json:
                    typer.echo(json.dumps([call_row(live, c) for c in live.calls], indent=2))
                else:
                    console().print(calls_table(live, settings.zone))
                return
            with Live(calls_table(live, settings.zone), console=console(), refresh_per_second=4) as screen:
                while True:
                    await asyncio.sleep(0.5)
                    screen.update(calls_table(live, settings.zone))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(watch())


def _found(live: LiveControl, call_id: str) -> LiveCall:
    call = live.calls.get(call_id)
    if call is None:
        matches = [c for c in live.calls if c.call_id.startswith(call_id)] if len(call_id) >= 8 else []
        if len(matches) != 1:
            raise InputError(f"call {call_id}: no such live call")
        call = matches[0]
    return call


@call_cli.command("show")
def call_show(call_id: str, node: NodeOption = None, as_json: JsonFlag = False) -> None:
    """Everything known of one live call (its id, or its first 8 characters)."""
    settings = load_settings()

    async def show() -> dict[str, Any]:
        async with _watching(settings, node) as live:
            return call_row(live, _found(live, call_id))

    row = asyncio.run(show())
    if as_json:
        typer.echo(json.dumps(row, indent=2))
        return
    table = Table("field", "value", show_header=False)
    for key, value in row.items():
        table.add_row(key, json.dumps(value) if isinstance(value, (list, dict)) else str(value if value is not None else "-"))
    console().print(table)


@call_cli.command("hangup")
def call_hangup(call_id: str, node: NodeOption = None) -> None:
    """End a live call now."""
    settings = load_settings()

    async def hang_up() -> str:
        async with _watching(settings, node) as live:
            call = _found(live, call_id)
            await live.hang_up(call.call_id)
            return call.call_id

    typer.echo(f"call {asyncio.run(hang_up())}: hung up")


@call_cli.command("tariff")
def call_tariff(call_id: str, code: Annotated[int, typer.Argument(min=1, max=90, help="Tariff code 1-90.")],
                node: NodeOption = None, as_json: JsonFlag = False) -> None:
    """Switch a live call's tariff: announced to the caller first where the price is above CHF 2."""
    settings = load_settings()

    async def switch() -> dict[str, Any]:
        async with _watching(settings, node) as live:
            call = _found(live, call_id)
            result = await live.switch_tariff(call.call_id, code)
            segment = result.segment
            return {"call_id": call.call_id, "code": code, "outcome": result.outcome.value,
                    "segment": None if segment is None else
                    {"code": segment.code, "start_s": segment.start_s, "announcement_s": segment.announcement_s},
                    "ok": result.ok}

    outcome = asyncio.run(switch())
    if as_json:
        typer.echo(json.dumps(outcome, indent=2))
    else:
        segment = outcome["segment"]
        detail = f" from {segment['start_s']} s of talk" if segment else ""
        typer.echo(f"call {outcome['call_id']}: tariff {code:02d}: {outcome['outcome']}{detail}")
    if not outcome["ok"]:
        raise typer.Exit(1)


def event_line(event: CallEvent | LiveLeg) -> dict[str, Any]:
    """One neutral event as a JSON object (the same words the core uses)."""
    if isinstance(event, LiveLeg):
        return {"event": "LiveLeg", "node": event.node, "call_id": event.call_id, "leg_id": event.leg_id,
                "direction": event.direction.value, "caller": event.caller.shown(),
                "destination": event.destination, "answered": event.answered, "other_leg_id": event.other_leg_id,
                "answered_at": event.answered_at.isoformat() if event.answered_at else None, "tags": event.tags}
    line: dict[str, Any] = {"event": type(event).__name__, "at": event.at.isoformat(), "node": event.node,
                            "call_id": event.call_id, "leg_id": event.leg_id}
    for name in ("direction", "destination", "other_leg_id", "cause", "digit", "kind", "tags"):
        value = getattr(event, name, None)
        if value is not None and value != {}:
            line[name] = str(value) if name == "direction" else value
    if hasattr(event, "caller"):
        line["caller"] = event.caller.shown()
    if isinstance(event, DigitPressed) and event.is_a_leg:
        line["digit"] = "•"  # a caller's digits may be the age-check PIN: never printed
    if isinstance(event, LegHungUp):
        line["billed_ms"] = event.billed_ms
    return line


def events(node: NodeOption = None, follow_: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing events as they come, until Ctrl-C.")] = False) -> None:
    """Neutral call events, one JSON object a line: first the legs alive now,
    then, with --follow, every event as it comes."""
    settings = load_settings()

    async def stream() -> None:
        async with _connected(settings, node) as clients:
            queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

            async def one(client: EventSocketClient) -> None:
                snapshots = 0
                async for item in client.events():
                    if isinstance(item, Resync):
                        for leg in item.legs:
                            queue.put_nowait(event_line(leg))
                        snapshots += 1
                        if snapshots == 1 and not follow_:
                            queue.put_nowait(None)
                            return
                        continue
                    event = translate.call_event(item, client.node)
                    if event is not None and snapshots and follow_:
                        queue.put_nowait(event_line(event))

            readers = [asyncio.create_task(one(c)) for c in clients]
            done = 0
            try:
                while done < len(clients):
                    line = await queue.get()
                    if line is None:
                        done += 1
                        continue
                    typer.echo(json.dumps(line, ensure_ascii=False), nl=True)
            finally:
                for reader in readers:
                    reader.cancel()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(stream())


def register(cli: typer.Typer) -> None:
    cli.command("calls")(calls)
    cli.add_typer(call_cli, name="call")
    cli.command("events")(events)
