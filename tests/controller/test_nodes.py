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
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["nodes", "--json", "--seconds", "3"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.splitlines()[0])
    assert row["name"] == "zh1" and row["state"] == "up" and row["sessions"] == 6
