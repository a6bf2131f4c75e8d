"""What a new operator gets wrong at the command line: one line, status 2, nothing written; and
the README's examples as a newcomer types them."""

import datetime as dt
import json
import os
import re
import socket
from zoneinfo import ZoneInfo

import pytest

from tests.foundation.cli import invoke, row_counts

ACME = "Acme AG"


@pytest.fixture
def acme(db_url, capsys):
    for argv in (
        ("account", "add", ACME),
        ("number", "add", "0900 123 456", "--account", ACME),
        ("number", "add", "0906 123 456", "--account", ACME),
        ("route", "set", "0900123456", "--slot", "mon-fri 08:00-18:00 +41446681800/20 sip:desk@pbx.example.com/15",
         "--slot", "sat 22:00-02:00 +41791234567/30", "--outside", "announcement",
         "--announcement", "Wir sind geschlossen", "--canton", "ZH"),
    ):
        result = invoke(capsys, *argv)
        assert result.code == 0, (argv, result.err)
    return db_url


def refused(capsys, *argv, stdin=None, monkeypatch=None):
    """Run a command that must be refused: status 2, one line on stderr, nothing on stdout."""
    result = invoke(capsys, *argv, stdin=stdin, monkeypatch=monkeypatch)
    assert result.code == 2, result
    assert result.err.count("\n") == 1 and result.err.startswith("smartnumbers: ") and result.out == "", result
    return result.err


# --- 1. no traceback for an operator's ordinary mistakes ----------------------------------------


def test_statement_pdf_into_a_missing_folder_or_onto_a_folder(acme, capsys, tmp_path):
    before = row_counts(acme)
    err = refused(capsys, "statement", "--account", ACME, "--month", "2026-11", "--issue",
                  "--pdf", str(tmp_path / "missing" / "statement.pdf"))
    assert "does not exist" in err and str(tmp_path / "missing") in err
    err = refused(capsys, "statement", "--account", ACME, "--month", "2026-11", "--issue", "--pdf", str(tmp_path))
    assert "is a folder" in err
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    err = refused(capsys, "statement", "--account", ACME, "--month", "2026-11", "--issue",
                  "--pdf", str(locked / "statement.pdf"))
    assert "cannot be written" in err
    assert os.listdir(locked) == []
    assert row_counts(acme) == before  # not issued
    assert os.listdir(tmp_path) == ["locked"]


def test_statement_pdf_is_written_whole(acme, capsys, tmp_path):
    target = tmp_path / "statement.pdf"
    result = invoke(capsys, "statement", "--account", ACME, "--month", "2026-11", "--pdf", str(target))
    assert result.code == 0, result.err
    assert target.read_bytes().startswith(b"%PDF-") and os.listdir(tmp_path) == ["statement.pdf"]


def test_dialplan_render_out_onto_a_file_or_an_unwritable_place(acme, capsys, tmp_path):
    a_file = tmp_path / "plans"
    a_file.write_text("mine")
    assert "is a file, not a folder" in refused(capsys, "dialplan", "render", "--out", str(a_file))
    assert "is a file, not a folder" in refused(capsys, "dialplan", "render", "--out", str(a_file / "fs1"))
    assert a_file.read_text() == "mine"
    # a place nobody can make a folder in, root included
    assert "cannot be written" in refused(capsys, "dialplan", "render", "--out", "/proc/smartnumbers-plans")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)  # read-only: refused even to root, who could write there
    assert "cannot be written" in refused(capsys, "dialplan", "render", "--out", str(locked / "plans"))
    assert "cannot be written" in refused(capsys, "dialplan", "render", "--out", str(locked))
    assert os.listdir(locked) == []
    assert sorted(os.listdir(tmp_path)) == ["locked", "plans"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("setting, other", [("SMARTNUMBERS_HTTP", "SMARTNUMBERS_DIALPLAN_HTTP"),
                                            ("SMARTNUMBERS_DIALPLAN_HTTP", "SMARTNUMBERS_HTTP")])
def test_serve_on_a_port_in_use_names_the_setting(acme, capsys, monkeypatch, setting, other):
    before = row_counts(acme)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv(setting, f"127.0.0.1:{port}")
        monkeypatch.setenv(other, f"127.0.0.1:{free_port()}")
        err = refused(capsys, "serve")
    assert err.startswith(f"smartnumbers: {setting}: cannot listen on 127.0.0.1:{port}")
    assert f"set {setting} to a free HOST:PORT" in err
    assert row_counts(acme) == before


def test_user_add_with_a_piped_password_but_no_flag(acme, capsys, monkeypatch):
    before = row_counts(acme)
    err = refused(capsys, "user", "add", "anna@acme.ch", "--account", ACME, stdin="correct horse battery\n",
                  monkeypatch=monkeypatch)
    assert "--password-stdin" in err
    assert row_counts(acme) == before


def test_a_sqlite_url_in_a_missing_folder_makes_nothing(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SMARTNUMBERS_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SMARTNUMBERS_DATABASE_URL", f"sqlite:///{tmp_path}/typo/smartnumbers.db")
    for argv in (("number", "list"), ("db", "upgrade"), ("dialplan", "render", "0900123456")):
        err = refused(capsys, *argv)
        assert f"SMARTNUMBERS_DATABASE_URL: the folder {tmp_path}/typo does not exist" in err
    monkeypatch.setenv("SMARTNUMBERS_DATABASE_URL", f"sqlite:///{tmp_path}/smartnumbers.db")
    assert "no database at" in refused(capsys, "number", "list")
    assert "smartnumbers db upgrade" in refused(capsys, "account", "add", ACME)
    assert os.listdir(tmp_path) == []
    assert invoke(capsys, "db", "upgrade").code == 0  # the one command that makes a database
    assert invoke(capsys, "number", "list", "--json").json() == []


# --- 7. the README as a newcomer reads it -------------------------------------------------------


def test_the_age_check_example_works_in_the_order_shown(acme, capsys):
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    line = next(x for x in readme.splitlines() if x.startswith("smartnumbers ") and "age-check" in x)
    steps = [step.split()[1:] for step in line.split("#")[0].split("&&")]
    for step in steps:
        argv = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', " ".join(step))]
        result = invoke(capsys, *argv)
        assert result.code == 0, (argv, result.err)
    assert invoke(capsys, "number", "show", "0906123456", "--json").json()["age_check"] == "pin"


def test_a_plan_shown_as_json_is_taken_back_unchanged(acme, capsys, tmp_path):
    shown = invoke(capsys, "route", "show", "0900123456", "--json")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(shown.out)
    assert invoke(capsys, "route", "set", "0900123456", "--file", str(plan_file)).code == 0
    assert invoke(capsys, "route", "show", "0900123456", "--json").out == shown.out
    # a file that names its number is taken for that number only, not for another by mistake
    plan_file.write_text(json.dumps({"number": "+41900123456", **json.loads(shown.out)}))
    assert invoke(capsys, "route", "set", "0900123456", "--file", str(plan_file)).code == 0
    err = refused(capsys, "route", "set", "0906123456", "--file", str(plan_file))
    assert "plan of 0900 123 456, not of 0906 123 456" in err


def test_pricelist_set_says_what_it_stored(acme, capsys):
    result = invoke(capsys, "pricelist", "set", "--range", "premium", "--origin", "mobile",
                    "--interconnection", "0.0345", "--share", "60")
    assert result.code == 0, result.err
    assert result.out == ("price list premium/mobile stored: interconnection CHF 0.0345/min, "
                          "owner's share 60 % of the net revenue (excl. VAT)\n")
    result = invoke(capsys, "pricelist", "set", "--range", "freephone", "--origin", "fixed",
                    "--interconnection", "0.02", "--owner-per-minute", "0.10")
    assert "freephone/fixed stored: interconnection CHF 0.02/min, owner CHF 0.10/min" in result.out


def test_dialplan_deploy_that_reaches_no_switch_says_so(acme, capsys, monkeypatch, tmp_path):
    err = refused(capsys, "dialplan", "deploy")
    assert "nothing reached a switch" in err and "SMARTNUMBERS_FREESWITCH_NODES" in err
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES", '[{"name": "fs1", "host": "127.0.0.1", "password": "x"}]')
    err = refused(capsys, "dialplan", "deploy")
    assert "nothing reached a switch" in err and "SMARTNUMBERS_DIALPLAN_FOLDERS" in err
    assert os.listdir(tmp_path) == []


def test_dialplan_deploy_to_unreachable_nodes_says_nothing_reached_them(acme, capsys, monkeypatch, tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nobody listens once closed
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES",
                       f'[{{"name": "fs1", "host": "127.0.0.1", "port": {port}, "password": "x"}}]')
    monkeypatch.setenv("SMARTNUMBERS_DIALPLAN_FOLDERS", json.dumps({"fs1": str(tmp_path / "fs1")}))
    monkeypatch.setenv("SMARTNUMBERS_SOUNDS_FOLDER", str(tmp_path / "sounds"))
    result = invoke(capsys, "dialplan", "deploy", "--wait", "0.5")
    assert result.code == 1 and "nothing reached a switch" in result.err


def test_blacklist_until_a_date_alone_means_to_the_end_of_that_day(acme, capsys):
    today = dt.datetime.now(ZoneInfo("Europe/Zurich")).date()
    for pattern, day in (("079*", "2027-12-31"), ("078*", "2027-07-31"), ("077*", today.isoformat())):
        assert invoke(capsys, "blacklist", "add", pattern, "--account", ACME, "--reason", "spam wave",
                      "--until", day).code == 0
    rows = invoke(capsys, "blacklist", "list", "--account", ACME, "--json").json()
    # the next midnight in Zurich, the first moment no longer refused: CET in winter, CEST in summer
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), ZoneInfo("Europe/Zurich"))
    assert [r["until"] for r in rows] == ["2027-12-31T23:00:00+00:00", "2027-07-31T22:00:00+00:00",
                                          midnight.astimezone(dt.UTC).isoformat()]


def _commands(group, path=()):
    yield path, group
    for name, sub in getattr(group, "commands", {}).items():
        yield from _commands(sub, path + (name,))


def test_every_help_text_reads_as_sentences(capsys, monkeypatch):
    import typer

    from smartnumbers.main import build_cli, plain_help

    monkeypatch.setenv("COLUMNS", "400")  # one help text, one line: a break inside it would show
    tree = plain_help(typer.main.get_command(build_cli()))
    paths = [path for path, _ in _commands(tree)]
    assert len(paths) > 30
    for path, command in _commands(tree):
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        for text in texts:
            assert "`" not in text and ":class:" not in text and ":func:" not in text, (path, text)
            for paragraph in text.split("\n\n"):
                assert "\n" not in paragraph, (path, text)
        result = invoke(capsys, *path, "--help")
        assert result.code == 0, (path, result.err)
        assert "`" not in result.out, (path, result.out)
        if command.help:  # shown whole, on one line, as written
            first = command.help.split("\n\n")[0]
            assert first.replace("\\[", "[") in result.out, (path, result.out)
