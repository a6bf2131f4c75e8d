"""Settings from the environment and smartnumbers.toml; a wrong one stops start-up in one line."""

import pytest

from smartnumbers.main import run
from smartnumbers.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "FREESWITCH_NODES", "HTTP", "TIMEZONE"):
        monkeypatch.delenv(f"SMARTNUMBERS_{name}", raising=False)
    monkeypatch.setenv("SMARTNUMBERS_CONFIG", str(tmp_path / "smartnumbers.toml"))
    return tmp_path


def test_defaults():
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/smartnumbers.db"
    assert settings.http_address == ("127.0.0.1", 8080)
    assert settings.timezone == "Europe/Zurich" and settings.freeswitch_nodes == []


def test_environment_and_toml_file(monkeypatch, clean_environment):
    (clean_environment / "smartnumbers.toml").write_text(
        'http = "0.0.0.0:9000"\n[[freeswitch_nodes]]\nname = "zh1"\nhost = "10.0.0.5"\npassword = "s3cret"\n'
    )
    settings = load_settings()
    assert settings.http == "0.0.0.0:9000" and settings.freeswitch_nodes[0].port == 8021
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES",
                       '[{"name": "zh1", "host": "127.0.0.1", "port": 8021, "password": "ClueCon"},'
                       ' {"name": "ge1", "host": "127.0.0.2", "port": 8022, "password": "x"}]')
    monkeypatch.setenv("SMARTNUMBERS_HTTP", "127.0.0.1:8181")
    settings = load_settings()  # the environment wins over the file
    assert [n.name for n in settings.freeswitch_nodes] == ["zh1", "ge1"] and settings.http_address[1] == 8181


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("HTTP", "localhost", "SMARTNUMBERS_HTTP: expected HOST:PORT"),
        ("HTTP", "127.0.0.1:99999", "SMARTNUMBERS_HTTP"),
        ("TIMEZONE", "Europe/Zurch", "SMARTNUMBERS_TIMEZONE: unknown time zone 'Europe/Zurch'"),
        ("DATABASE_URL", "mysql://x", "SMARTNUMBERS_DATABASE_URL: expected sqlite"),
        ("FREESWITCH_NODES", '[{"name": "a"}]', "SMARTNUMBERS_FREESWITCH_NODES 0.host"),
        ("FREESWITCH_NODES", "not json", "SMARTNUMBERS_FREESWITCH_NODES"),
        ("FREESWITCH_NODES", '[{"name": "a b", "host": "h", "password": "p"}]', "SMARTNUMBERS_FREESWITCH_NODES 0.name"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(monkeypatch, capsys, name, value, message):
    monkeypatch.setenv(f"SMARTNUMBERS_{name}", value)
    with pytest.raises(SettingsError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_settings()
    assert run(["number", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"SMARTNUMBERS_{name}" in err


def test_a_broken_toml_file_is_named(clean_environment, capsys):
    (clean_environment / "smartnumbers.toml").write_text("http = [unclosed\n")
    assert run(["number", "list"]) == 2
    assert capsys.readouterr().err.startswith("smartnumbers: settings:")
