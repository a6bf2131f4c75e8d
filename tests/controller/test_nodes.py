"""The node registry and ``smartnumbers nodes`` against simulated switches."""

from __future__ import annotations

import asyncio
import json

import pytest
import typer
from typer.testing import CliRunner

from controller import commands
from controller.freeswitch.client import EventSocketClient
from controller.freeswitch.simulator import FreeSwitchSimulator
from controller.nodes import NodeRegistry
from smartnumbers.settings import FreeSwitchNode


@pytest.fixture
async def sims():
    good, other = FreeSwitchSimulator(heartbeat_interval=0.05), FreeSwitchSimulator(heartbeat_interval=0)
    await good.start()
    await other.start()
    yield good, other
    await good.stop(graceful=False)
    await other.stop(graceful=False)


async def test_every_node_has_its_own_link_and_status(sims):
    good, other = sims
    good.hold_calls(2)
    nodes = [
        FreeSwitchNode(name="zh1", host="127.0.0.1", port=good.port, password="ClueCon"),
        FreeSwitchNode(name="ge1", host="127.0.0.1", port=other.port, password="wrong"),
    ]
    registry = NodeRegistry(nodes, lambda n: EventSocketClient(n.host, n.port, n.password, node=n.name))
    await registry.start()
    async with asyncio.timeout(5):
        while True:
            by_name = {s.name: s for s in registry.snapshot()}
            if by_name["zh1"].session_count == 4 and by_name["ge1"].state == "refused":
                break
            await asyncio.sleep(0.02)
    zh1, ge1 = by_name["zh1"], by_name["ge1"]
    assert zh1.state == "up" and zh1.last_event_at is not None and zh1.address == f"127.0.0.1:{good.port}"
    assert "refused the password" in ge1.last_error
    assert ge1.session_count is None
    await registry.stop()
    assert {s.state for s in registry.snapshot()} <= {"stopped", "refused"}


async def test_the_nodes_command_probes_every_node(sims, monkeypatch):
    good, _ = sims
    good.hold_calls(3)
    nodes = [{"name": "zh1", "host": "127.0.0.1", "port": good.port, "password": "ClueCon"}]
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES", json.dumps(nodes))
    cli = typer.Typer()
    commands.register(cli)
    cli.command("noop")(lambda: None)
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["nodes", "--probe", "--json", "--seconds", "3"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.splitlines()[0])
    assert row["name"] == "zh1" and row["state"] == "up" and row["sessions"] == 6


def test_the_nodes_command_shows_what_serve_recorded(session, monkeypatch):
    """Without --probe the command reads the status the serve process keeps in the database."""
    from datetime import UTC, datetime

    from controller.nodes import NodeStatus, record_status

    since = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    record_status(session, [NodeStatus(name="zh1", address="", state="up", since=since, session_count=42,
                                       last_event_at=since, events_received=0, events_dropped=0, connects=1,
                                       last_error=None)])
    session.commit()
    nodes = [{"name": "zh1", "host": "192.0.2.1", "port": 8021, "password": "ClueCon"}]
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES", json.dumps(nodes))
    cli = typer.Typer()
    commands.register(cli)
    cli.command("noop")(lambda: None)
    result = CliRunner().invoke(cli, ["nodes", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.splitlines()[0])
    assert (row["state"], row["sessions"], row["address"]) == ("up", 42, "192.0.2.1:8021")
    assert row["since"] == "2026-11-27T08:00:00+00:00"
