"""One environment file for the switch and the application: every variable
``freeswitch_conf/vars.xml`` reads is in the example file, the application derives its side
from the same variables, and ``serve`` and ``smartnumbers nodes`` say what a switch disagrees on
(read over the Event Socket from the simulator's global variables)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import subprocess
from pathlib import Path

import pytest
import typer
from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from controller import commands
from controller.freeswitch.agreement import disagreements
from controller.freeswitch.client import EventSocketClient
from controller.freeswitch.simulator import FreeSwitchSimulator
from smartnumbers.main import serve_app
from smartnumbers.settings import load_settings
from sync import live
from sync.live import NODES
from tests.live.conftest import until

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "smartnumbers.env.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def example_environment() -> dict[str, str]:
    """The example file as a shell loads it (``set -a; . FILE``): the SMARTNUMBERS_* it sets."""
    dump = subprocess.run(["bash", "-c", f'set -a; . "{EXAMPLE}"; env -0'], capture_output=True, check=True,
                          env={"PATH": "/usr/bin:/bin"}).stdout.decode()
    return dict(item.split("=", 1) for item in dump.split("\0") if item.startswith("SMARTNUMBERS_"))


def test_the_example_file_sets_every_variable_the_switch_reads_and_the_application_takes_it(monkeypatch):
    read_by_switch = set(re.findall(r"\$(SMARTNUMBERS_[A-Z_]+)", (REPO / "freeswitch_conf" / "vars.xml").read_text()))
    environment = example_environment()
    assert read_by_switch <= environment.keys(), read_by_switch - environment.keys()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    [node] = settings.freeswitch_nodes
    assert (node.port, node.password.get_secret_value()) == (8021, environment["SMARTNUMBERS_ESL_PASSWORD"])
    assert settings.http == "127.0.0.1:8080" and settings.dialplan_http == "127.0.0.1:8081"
    assert settings.dialplan_folders == {"fs1": "/etc/freeswitch/smartnumbers"}
    assert settings.cdr_error_folders == {"fs1": "/var/log/freeswitch/json_cdr_err"}
    assert settings.switch_http_password.get_secret_value() == environment["SMARTNUMBERS_SWITCH_HTTP_PASSWORD"]
    assert environment["SMARTNUMBERS_METRICS_TOKEN"] not in repr(settings)


def test_what_is_set_on_its_own_wins_over_what_is_derived():
    settings = load_settings(app_url="http://app.example.com:9000", dialplan_url="http://[::1]:9001",
                             http="127.0.0.1:8088", esl_password="from-the-file", esl_port=8022,
                             fs_dialplan_dir="/srv/dialplans", dialplan_folders={"a": "/mnt/a"},
                             freeswitch_nodes=[{"name": "a", "host": "h", "port": 9021, "password": "own"},
                                               {"name": "b", "host": "h"}])
    assert settings.http == "127.0.0.1:8088"  # set: kept
    assert settings.dialplan_http == "[::1]:9001"  # derived: the URL's address and port
    assert settings.dialplan_folders == {"a": "/mnt/a"}
    a, b = settings.freeswitch_nodes
    assert (a.port, a.password.get_secret_value(), b.port, b.password.get_secret_value()) == (9021, "own", 8022, "from-the-file")
    assert load_settings(app_url="http://app:9000").http == "0.0.0.0:9000"  # a host name: every address


@pytest.mark.parametrize("overrides, message", [
    ({"freeswitch_nodes": [{"name": "a", "host": "h"}]},
     "SMARTNUMBERS_FREESWITCH_NODES: a node without a password needs SMARTNUMBERS_ESL_PASSWORD"),
    ({"app_url": "ftp://app:21"}, "SMARTNUMBERS_APP_URL: expected http://HOST:PORT (no path), got 'ftp://app:21'"),
    ({"dialplan_url": "http://app:8081/freeswitch/dialplan"}, "SMARTNUMBERS_DIALPLAN_URL: expected http://HOST:PORT"),
    ({"fs_dialplan_dir": "relative/dir"}, "SMARTNUMBERS_FS_DIALPLAN_DIR: "),
])
def test_a_wrong_shared_variable_is_one_line(overrides, message):
    from smartnumbers.settings import SettingsError

    with pytest.raises(SettingsError) as raised:
        load_settings(**overrides)
    assert str(raised.value).startswith(message)


AGREEING = {
    "smartnumbers_http": "http://127.0.0.1:8080",
    "smartnumbers_dialplan_http": "http://127.0.0.1:8081",
    "smartnumbers_http_user": "freeswitch",
    "smartnumbers_http_password": "switch-secret-123",
    "smartnumbers_dialplan_dir": "/etc/freeswitch/smartnumbers",
    "smartnumbers_cdr_error_dir": "/var/log/freeswitch/json_cdr_err",
    "smartnumbers_sip_port": "5080",
}


@pytest.fixture
async def switch():
    simulator = FreeSwitchSimulator(heartbeat_interval=0)
    await simulator.start()
    simulator.global_variables.update(AGREEING)
    yield simulator
    await simulator.stop()


async def checked(switch: FreeSwitchSimulator, **settings) -> list[str]:
    client = EventSocketClient("127.0.0.1", switch.port, "ClueCon", node="fs1", resync=False)
    running = asyncio.create_task(client.run())
    try:
        await client.wait_up(10)
        return await disagreements(client, load_settings(**settings))
    finally:
        await client.stop()
        running.cancel()


SAME = {"switch_http_password": "switch-secret-123", "fs_dialplan_dir": "/etc/freeswitch/smartnumbers",
        "fs_cdr_error_dir": "/var/log/freeswitch/json_cdr_err"}


async def test_a_switch_that_agrees_says_nothing(switch):
    assert await checked(switch, **SAME) == []
    # a variable the application has no side of is not compared: with no FS_* folders set here
    assert await checked(switch, switch_http_password="switch-secret-123") == []


async def test_each_disagreement_is_one_line_and_no_password_is_shown(switch):
    switch.global_variables.update({
        "smartnumbers_http": "http://10.0.0.9:8090", "smartnumbers_http_password": "a-random-one-0123",
        "smartnumbers_dialplan_dir": "/usr/local/freeswitch/conf/smartnumbers", "smartnumbers_sip_port": "5090"})
    del switch.global_variables["smartnumbers_cdr_error_dir"]
    lines = await checked(switch, **SAME)
    assert lines == [
        "node fs1: smartnumbers_http is 'http://10.0.0.9:8090' on the switch, but SMARTNUMBERS_HTTP listens on "
        "127.0.0.1:8080: set SMARTNUMBERS_APP_URL for both",
        "node fs1: SMARTNUMBERS_SWITCH_HTTP_PASSWORD differs between the switch and here: its CDR posts and "
        "dialplan fetches are refused",
        "node fs1: smartnumbers_dialplan_dir is '/usr/local/freeswitch/conf/smartnumbers' on the switch, "
        "SMARTNUMBERS_FS_DIALPLAN_DIR '/etc/freeswitch/smartnumbers' here",
        "node fs1: smartnumbers_cdr_error_dir is '' on the switch, SMARTNUMBERS_FS_CDR_ERROR_DIR "
        "'/var/log/freeswitch/json_cdr_err' here",
        "node fs1: smartnumbers_sip_port is '5090' on the switch, SMARTNUMBERS_SIP_PORT '5080' here",
    ]
    assert not any("a-random-one" in line or "switch-secret" in line for line in lines)
    url = await checked(switch, **SAME, app_url="http://app:8080")
    assert url[0] == ("node fs1: smartnumbers_http is 'http://10.0.0.9:8090' on the switch, SMARTNUMBERS_APP_URL "
                      "'http://app:8080' here")
    unset = await checked(switch, fs_dialplan_dir="/usr/local/freeswitch/conf/smartnumbers")
    assert ("node fs1: SMARTNUMBERS_SWITCH_HTTP_PASSWORD is not set here: every CDR post and dialplan fetch is "
            "refused") in unset


async def test_serve_says_at_start_what_a_switch_disagrees_on_and_nodes_shows_it(
        switch, db_url, monkeypatch, tmp_path, caplog):
    switch.global_variables["smartnumbers_sip_port"] = "5090"
    dialplan_port = free_port()
    switch.global_variables["smartnumbers_dialplan_http"] = f"http://127.0.0.1:{dialplan_port}"
    for name, value in {"FREESWITCH_NODES": json.dumps([{"name": "fs1", "host": "127.0.0.1", "port": switch.port}]),
                        "ESL_PASSWORD": "ClueCon", "SOUNDS_FOLDER": str(tmp_path / "sounds"),
                        "DIALPLAN_HTTP": f"127.0.0.1:{dialplan_port}",
                        "SWITCH_HTTP_PASSWORD": "switch-secret-123"}.items():
        monkeypatch.setenv(f"SMARTNUMBERS_{name}", value)
    monkeypatch.setattr(live, "STATUS_EVERY_S", 0.05)
    caplog.set_level(logging.WARNING)
    expected = "node fs1: smartnumbers_sip_port is '5090' on the switch, SMARTNUMBERS_SIP_PORT '5080' here"
    app = serve_app(load_settings())
    async with TestClient(TestServer(app)):
        await until(lambda: app[NODES].disagreements.get("fs1") is not None, "the node was checked")
        assert app[NODES].disagreements["fs1"] == (expected,)
        assert [r.getMessage() for r in caplog.records if r.name == "controller.freeswitch.agreement"] == [expected]
        cli = typer.Typer()
        commands.register(cli)
        cli.command("noop")(lambda: None)

        async def recorded() -> dict:
            result = await asyncio.to_thread(CliRunner().invoke, cli, ["nodes", "--json"])
            assert result.exit_code == 0, result.output
            return json.loads(result.output.splitlines()[0])

        async with asyncio.timeout(10):
            while (row := await recorded())["disagreements"] is None:
                await asyncio.sleep(0.05)
        assert row["disagreements"] == [expected]
        table = await asyncio.to_thread(CliRunner().invoke, cli, ["nodes"])
        assert table.output.rstrip().endswith(expected)
        probed = await asyncio.to_thread(CliRunner().invoke, cli, ["nodes", "--probe", "--json", "--seconds", "3"])
        assert json.loads(probed.output.splitlines()[0])["disagreements"] == [expected]
