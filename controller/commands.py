"""The controller's commands at the ``smartnumbers`` command line (NOC staff)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from controller.nodes import NodeRegistry, NodeStatus, recorded_status
from smartnumbers.db import make_engine, session_factory
from smartnumbers.settings import load_settings


def _probe(seconds: float) -> list[NodeStatus]:
    """Connect to every node in the settings for a moment and report what each one says."""
    from controller.freeswitch.agreement import disagreements
    from controller.freeswitch.client import EventSocketClient, LinkState

    settings = load_settings()

    def connect(node) -> EventSocketClient:
        return EventSocketClient(
            node.host, node.port, node.password, node=node.name, resync=False, command_timeout=min(5.0, seconds)
        )

    async def run() -> list[NodeStatus]:
        registry = NodeRegistry(settings.freeswitch_nodes, connect)
        await registry.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        pending = dict(registry.links)
        while pending and loop.time() < deadline:
            for name, link in list(pending.items()):
                if link.state is LinkState.UP:
                    try:
                        await link.refresh_sessions()
                        registry.disagreements[name] = tuple(await disagreements(link, settings))
                    except Exception:  # noqa: BLE001 - the state column tells the story
                        pass
                    del pending[name]
                elif link.state is LinkState.REFUSED:
                    del pending[name]
            await asyncio.sleep(0.05)
        statuses = registry.snapshot()
        await registry.stop()
        return statuses

    return asyncio.run(run())


FRESH_FOR = timedelta(seconds=30)


def _recorded() -> list[NodeStatus]:
    """What the serve process last recorded of each node, if it did so recently."""
    settings = load_settings()
    addresses = {n.name: f"{n.host}:{n.port}" for n in settings.freeswitch_nodes}
    engine = make_engine(settings.database_url, create=False)
    try:
        with session_factory(engine)() as session:
            rows = recorded_status(session)
    finally:
        engine.dispose()
    now = datetime.now(UTC)
    return [
        NodeStatus(name=row.name, address=addresses.get(row.name, "?"), state=row.state, since=row.state_since,
                   session_count=row.sessions, last_event_at=row.last_event_at, events_received=0,
                   events_dropped=0, connects=0, last_error=None,
                   disagreements=None if row.disagreements is None else tuple(row.disagreements))
        for row in rows
        if now - row.updated_at < FRESH_FOR and row.name in addresses
    ]


def nodes(
    probe: Annotated[bool, typer.Option("--probe", help="Connect to every node now, instead of asking serve.")] = False,
    seconds: Annotated[float, typer.Option(help="With --probe: how long to wait for each node, in seconds.")] = 3.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts, one object a node.")] = False,
) -> None:
    """Each FreeSWITCH node: its state, since when, its session count, its last event and
    whether its variables agree with the settings (each disagreement one line below), as the
    serve process sees it (or, when serve is not running, as a probe finds it now)."""
    statuses = [] if probe else _recorded()
    if not statuses:
        if not probe:
            typer.echo("serve has not reported the nodes in the last 30 s: probing them now", err=True)
        statuses = _probe(seconds)
    if as_json:
        for status in statuses:
            typer.echo(json.dumps({
                "name": status.name, "address": status.address, "state": status.state,
                "since": status.since.isoformat(), "sessions": status.session_count,
                "last_event_at": status.last_event_at.isoformat() if status.last_event_at else None,
                "error": status.last_error,
                "disagreements": None if status.disagreements is None else list(status.disagreements),
            }))
        return
    table = Table("node", "address", "state", "since (UTC)", "sessions", "last event (UTC)", "agrees", "error")
    for status in statuses:
        table.add_row(
            status.name, status.address, status.state, status.since.strftime("%Y-%m-%d %H:%M:%S"),
            "-" if status.session_count is None else str(status.session_count),
            status.last_event_at.strftime("%Y-%m-%d %H:%M:%S") if status.last_event_at else "-",
            "-" if status.disagreements is None else "no" if status.disagreements else "yes",
            status.last_error or "",
        )
    Console().print(table)
    for status in statuses:
        for line in status.disagreements or ():
            typer.echo(line)
    if not statuses:
        typer.echo("no FreeSWITCH nodes in the settings (SMARTNUMBERS_FREESWITCH_NODES)")


def register(cli: typer.Typer) -> None:
    cli.command("nodes")(nodes)
