"""Secrets stay secret: passwords in the settings are never shown, and what the product keeps on
disk (the SQLite database, the folders it makes) is readable by its owner only."""

import asyncio
import json
import logging
import os
import stat

import pytest
from pydantic import SecretStr

from controller.dialplan.deploy import DialplanFolder
from controller.freeswitch.client import AuthenticationFailed, EventSocketClient
from controller.freeswitch.simulator import FreeSwitchSimulator
from smartnumbers.files import private_folder
from smartnumbers.settings import SettingsError, load_settings
from tests.foundation.cli import invoke

SWITCH_SECRET = "switch-http-secret-1"
NODE_SECRET = "node-esl-secret-2"
DATABASE_SECRET = "database-secret-3"


@pytest.fixture
def secret_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("SMARTNUMBERS_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SMARTNUMBERS_DATABASE_URL", f"postgresql+psycopg://sn:{DATABASE_SECRET}@127.0.0.1:1/sn")
    monkeypatch.setenv("SMARTNUMBERS_SWITCH_HTTP_PASSWORD", SWITCH_SECRET)
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES",
                       json.dumps([{"name": "zh1", "host": "127.0.0.1", "password": NODE_SECRET}]))
    return monkeypatch


def _shown(text: str) -> bool:
    return any(secret in text for secret in (SWITCH_SECRET, NODE_SECRET, DATABASE_SECRET))


def test_passwords_are_secret_values_never_in_a_repr_or_a_dump(secret_settings):
    settings = load_settings()
    assert isinstance(settings.switch_http_password, SecretStr)
    assert isinstance(settings.freeswitch_nodes[0].password, SecretStr)
    assert isinstance(settings.database_url, SecretStr)
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.freeswitch_nodes),
                 str(settings.database_url), f"{settings.database_url}"):
        assert not _shown(text), text
    assert str(settings.database_url) == "postgresql+psycopg://sn:***@127.0.0.1:1/sn"  # still says where
    assert settings.switch_http_password.get_secret_value() == SWITCH_SECRET  # for the code that sends it


@pytest.mark.parametrize("name, value", [
    ("SWITCH_HTTP_PASSWORD", "short-9c"),
    ("FREESWITCH_NODES", json.dumps([{"name": "zh1", "host": "h", "port": 0, "password": NODE_SECRET}])),
    ("FREESWITCH_NODES", json.dumps([{"name": "zh1", "host": "h", "password": NODE_SECRET * 20}])),
    ("DATABASE_URL", f"mysql://sn:{DATABASE_SECRET}@db/sn"),
    ("DATABASE_URL", f"postgresql+psycopg://sn:{DATABASE_SECRET}@db:port/sn"),
])
def test_a_wrong_setting_never_quotes_a_password(secret_settings, capsys, name, value):
    secret_settings.setenv(f"SMARTNUMBERS_{name}", value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert f"SMARTNUMBERS_{name}" in str(refused.value)
    assert not _shown(str(refused.value)) and "short-9c" not in str(refused.value)
    assert invoke(capsys, "number", "list").code == 2
    err = capsys.readouterr().err + str(refused.value)
    assert not _shown(err)


def test_an_unreachable_database_is_named_without_its_password(secret_settings, capsys):
    result = invoke(capsys, "number", "list")
    assert result.code == 1 and "database" in result.err
    assert not _shown(result.err + result.out)


async def test_a_refused_event_socket_password_is_in_no_log_and_no_error(caplog):
    simulator = FreeSwitchSimulator(heartbeat_interval=0, seed=7)
    await simulator.start()
    try:
        client = EventSocketClient("127.0.0.1", simulator.port, NODE_SECRET, node="zh1")
        with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationFailed) as refused:
            await asyncio.wait_for(client.run(), 5)
    finally:
        await simulator.stop(graceful=False)
    assert "refused the password" in str(refused.value)
    assert not _shown(str(refused.value) + repr(refused.value) + caplog.text + repr(vars(client)))


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_db_upgrade_makes_var_and_the_database_for_the_owner_only(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMARTNUMBERS_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("SMARTNUMBERS_DATABASE_URL", raising=False)
    old = os.umask(0o002)  # as wide as a careless shell's: the modes must not come from it
    try:
        assert invoke(capsys, "db", "upgrade").code == 0
        assert invoke(capsys, "account", "add", "Acme AG").code == 0
    finally:
        os.umask(old)
    assert _mode(tmp_path / "var") == 0o700
    files = sorted(p.name for p in (tmp_path / "var").iterdir())
    assert "smartnumbers.db" in files
    assert {name: _mode(tmp_path / "var" / name) for name in files} == {name: 0o600 for name in files}


def test_folders_the_product_makes_are_for_the_owner_only(tmp_path):
    old = os.umask(0o002)
    try:
        private_folder(tmp_path / "a" / "b" / "sounds")
        folder = DialplanFolder(tmp_path / "dialplans" / "fs1")
        folder.write({"456/41900123456.xml": "<include/>", "sn_456.xml": "<include/>"})
        operators = tmp_path / "made-by-the-operator"
        operators.mkdir(mode=0o750)
        os.chmod(operators, 0o750)
        DialplanFolder(operators).write({"456/41900123456.xml": "<include/>"})
    finally:
        os.umask(old)
    for made in ("a", "a/b", "a/b/sounds", "dialplans", "dialplans/fs1", "dialplans/fs1/456"):
        assert _mode(tmp_path / made) == 0o700, made
    # a folder made beforehand keeps its mode, and a number group inside it is as open as it is
    assert _mode(operators) == 0o750 and _mode(operators / "456") == 0o750


def test_a_database_made_by_migrations_is_for_the_owner_only(tmp_path):
    from smartnumbers.db import make_engine
    from smartnumbers.migrate import upgrade

    old = os.umask(0o002)
    try:
        engine = make_engine(f"sqlite:///{tmp_path}/smartnumbers.db")
        upgrade(engine)
        engine.dispose()
    finally:
        os.umask(old)
    assert {p.name: _mode(p) for p in tmp_path.iterdir()} == {p.name: 0o600 for p in tmp_path.iterdir()}
