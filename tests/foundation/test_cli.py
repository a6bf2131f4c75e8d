"""The ``smartnumbers`` command on both databases: what NOC staff type, and what they must not."""

import pytest

from tests.foundation.cli import invoke, row_counts

ACME = "Acme AG"


@pytest.fixture
def acme(db_url, capsys):
    """An account with a premium number, a freephone number and a plan."""
    for argv in (
        ("account", "add", ACME),
        ("account", "add", "Acme Bern", "--parent", ACME),
        ("number", "add", "0900 123 456", "--account", ACME),
        ("number", "add", "0800 123 456", "--account", ACME),
        ("number", "add", "0848 123 456", "--account", ACME),
        ("route", "set", "0900123456", "--slot", "mon-fri 08:00-18:00 +41446681800/20 sip:desk@pbx.example.com/15",
         "--slot", "sat 22:00-02:00 +41791234567/30", "--outside", "announcement",
         "--announcement", "Wir sind geschlossen", "--canton", "ZH"),
    ):
        result = invoke(capsys, *argv)
        assert result.code == 0, (argv, result.err)
    return db_url


def test_accounts_and_numbers_as_tables_and_json(acme, capsys):
    table = invoke(capsys, "number", "list")
    assert table.code == 0 and "0900 123 456" in table.out and "0800 123 456" in table.out
    rows = invoke(capsys, "number", "list", "--json").json()
    assert {r["number"]: r["range_class"] for r in rows} == {
        "+41800123456": "freephone", "+41848123456": "shared_cost", "+41900123456": "premium"}
    shown = invoke(capsys, "number", "show", "0900123456", "--json").json()
    assert shown["premium_category"] == "business" and shown["account"] == ACME
    accounts = invoke(capsys, "account", "list", "--json").json()
    assert {a["name"]: a["parent"] for a in accounts} == {ACME: None, "Acme Bern": ACME}


def test_route_show_at_a_moment(acme, capsys):
    christmas_eve = invoke(capsys, "route", "show", "0900 123 456", "--at", "2026-12-24 17:59", "--json").json()
    assert [d["target"] for d in christmas_eve["destinations"]] == ["+41446681800", "sip:desk@pbx.example.com"]
    closed = invoke(capsys, "route", "show", "0900 123 456", "--at", "2026-12-24 18:00")
    assert closed.code == 0 and "outside every slot" in closed.out and "Wir sind geschlossen" in closed.out
    after_midnight = invoke(capsys, "route", "show", "0900123456", "--at", "2026-11-29 01:59", "--json").json()
    assert after_midnight["slot"] == "sat 22:00-02:00"
    holiday = invoke(capsys, "route", "show", "0900123456", "--at", "2026-12-25 10:00", "--json").json()
    assert holiday["holiday"] == "Christmas Day" and holiday["destinations"] == []
    table = invoke(capsys, "route", "show", "0900123456")
    assert "044 668 18 00 (20 s)" in table.out


def test_route_set_from_a_plan_file(acme, capsys, tmp_path):
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(
        '[[slots]]\ndays = "mon-sun"\nstart = "00:00"\nend = "24:00"\n'
        'destinations = [{target = "+41313000000", ring_timeout = 25}]\n'
        '[outside]\naction = "reject"\n[holidays]\ncanton = "BE"\nrule = "as_sunday"\n'
    )
    assert invoke(capsys, "route", "set", "0800123456", "--file", str(plan_file)).code == 0
    shown = invoke(capsys, "route", "show", "0800123456", "--json").json()
    assert shown["slots"][0]["destinations"] == [{"target": "+41313000000", "ring_timeout": 25}]
    assert shown["holidays"] == {"canton": "BE", "rule": "as_sunday", "dates": []}


def test_tariffs_make_versions_and_respect_the_caps(acme, capsys):
    assert invoke(capsys, "tariff", "set", "0900123456", "--code", "1", "--per-minute", "3.50",
                  "--per-call", "1.00", "--fee", "2.00/600", "--increments", "30/6").code == 0
    assert invoke(capsys, "tariff", "set", "0900123456", "--code", "1", "--per-minute", "4.00").code == 0
    versions = invoke(capsys, "tariff", "list", "0900123456", "--all-versions", "--json").json()
    assert [(v["version"], v["price_per_minute"]) for v in versions] == [(1, "3.50"), (2, "4.00")]
    assert versions[0]["fees"] == [{"amount": "2.00", "at_s": None, "every_s": 600}]
    assert invoke(capsys, "tariff", "list", "0900123456", "--json").json()[0]["version"] == 2
    assert invoke(capsys, "tariff", "set", "0848123456", "--code", "1", "--per-minute", "0.081").code == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (("tariff", "set", "0900123456", "--code", "2", "--per-minute", "10.01"), "090x cap of CHF 10.00/min"),
        (("tariff", "set", "0900123456", "--code", "2", "--per-minute", "1", "--per-call", "100.01"), "fixed charges"),
        (("tariff", "set", "0900123456", "--code", "2", "--per-minute", "1", "--per-call", "60", "--fee", "50@300"),
         "fixed charges of CHF 110.00"),
        (("tariff", "set", "0848123456", "--code", "1", "--per-minute", "0.0812"), "084x cap"),
        (("tariff", "set", "0848123456", "--code", "1", "--per-minute", "0.05", "--per-call", "0.10"), "084x"),
        (("tariff", "set", "0800123456", "--code", "1", "--per-minute", "0.01"), "free for the caller"),
        (("tariff", "set", "0900123456", "--code", "91", "--per-minute", "1"), "1 to 90"),
        (("tariff", "set", "0900123456", "--code", "1", "--per-minute", "1", "--increments", "0/60"), "first unit"),
        (("number", "add", "044 668 18 00", "--account", ACME), "not a Swiss service number"),
        (("number", "add", "0900 123 457", "--account", "Nobody"), "no account named"),
        (("number", "add", "０９００ １２３ ４５７", "--account", ACME), "not a phone number"),
        (("number", "add", "0900123457`reboot`", "--account", ACME), "not a phone number"),
        (("number", "add", "0900 123 456", "--account", ACME), "already on the platform"),
        (("number", "add", "0900 123 457", "--account", ACME, "--cost-cap", "400.01"), "at most CHF 400"),
        (("number", "add", "0800 123 457", "--account", ACME, "--cost-cap", "50"), "only premium-rate"),
        (("number", "add", "0900 123 457", "--account", ACME, "--caller-id", "fixed"), "give the number"),
        (("number", "add", "0900 123 457", "--account", ACME, "--language", "rm"), "language"),
        (("number", "add", "0900 123 457", "--account", ACME, "--max-calls", "0"), "simultaneous"),
        (("route", "set", "0900123456", "--slot", "mon-fri 08:00-18:00 +41446681800/20",
          "--slot", "fri 17:00-19:00 +41446681801/20"), "overlap on fri at 17:00"),
        (("route", "set", "0900123456", "--slot", "sat 22:00-02:00 +41446681800/20",
          "--slot", "sun 01:00-03:00 +41446681801/20"), "overlap on sun at 01:00"),
        (("route", "set", "0900123456", "--slot", "mon 08:00-18:00 +41900999999/20"), "premium-rate"),
        (("route", "set", "0900123456", "--slot", "mon 08:00-18:00 +41800123456/20"), "loop"),
        (("route", "set", "0900123456", "--slot", "mon 08:00-18:00 +4930123456/20"), "abroad"),
        (("route", "set", "0900123456", "--slot", "mon 08:00-18:00 sip:a@b.com;transport=tcp/20"), "not a SIP URI"),
        (("route", "set", "0900123456", "--slot", 'mon 08:00-18:00 sip:x"/><action/>@b.com/20'), "not a SIP URI"),
        (("route", "set", "0900123456", "--outside", "announcement", "--announcement", "a\x00b"), "control character"),
        (("route", "set", "0900123456", "--outside", "announcement", "--announcement", "x" * 501), "too long"),
        (("route", "set", "0900123456", "--canton", "XX"), "canton"),
        (("route", "show", "0900123456", "--at", "2026-03-29 02:30"), "does not exist"),
        (("route", "show", "0901123456"), "not a smart number of the platform"),
        (("blacklist", "add", "+41 79 123 45 67 && id", "--account", ACME, "--reason", "spam"), "not a phone number"),
        (("blacklist", "add", "+4179*", "--account", ACME, "--reason", ""), "reason: empty"),
        (("blacklist", "add", "+4179*", "--account", ACME, "--reason", "x", "--until", "2020-01-01 00:00"), "past"),
        (("blacklist", "remove", "999", "--account", ACME), "no entry 999"),
        (("account", "add", "A" * 121), "too long"),
        (("account", "add", "Acme\u202eGA"), "control character"),
        (("account", "add", ACME), "exists already"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(acme, capsys, argv, message):
    before = row_counts(acme)
    result = invoke(capsys, *argv)
    assert result.code == 2, result
    assert result.err.count("\n") == 1 and message in result.err, result.err
    assert result.out == ""
    assert row_counts(acme) == before


@pytest.mark.parametrize("target, message", [
    ("sip:+41-900-222-333@gw.example.com", "premium-rate"),
    ("sip:00-41-900-222-333@gw.example.com", "premium-rate"),
    ("sip:0900%20222%20333@gw.example.com", "premium-rate"),
    ("sip:0800.123.456@gw.example.com", "loop"),  # the platform's own 0800 123 456
    ("sip:41800123456@gw.example.com", "loop"),
    ("sip:desk@127.0.0.1:5060", "own switches"),
    ("sip:desk@localhost", "own switches"),
    ("sip:desk@10.1.2.3:5080", "own switches"),  # the node's host in SMARTNUMBERS_FREESWITCH_NODES
    ("sip:desk@127.1:5090", "four decimal numbers"),
])
def test_route_set_refuses_a_destination_that_walks_around_the_fraud_rule(acme, capsys, monkeypatch, target, message):
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES", '[{"name": "fs1", "host": "10.1.2.3", "password": "ClueCon"}]')
    monkeypatch.setenv("SMARTNUMBERS_SIP_ALLOWED_OWN_HOSTS", "127.0.0.1:5061")
    before = row_counts(acme)
    result = invoke(capsys, "route", "set", "0800123456", "--slot", f"mon 08:00-18:00 {target}/20")
    assert result.code == 2 and result.err.count("\n") == 1 and message in result.err, result.err
    assert row_counts(acme) == before


def test_an_own_host_the_operator_allowed_is_accepted(acme, capsys, monkeypatch):
    slot = "mon 08:00-18:00 sip:desk@127.0.0.1:5080/20 sip:+41446681800@gw.example.com/20"
    assert "own switches" in invoke(capsys, "route", "set", "0800123456", "--slot", slot).err
    monkeypatch.setenv("SMARTNUMBERS_SIP_ALLOWED_OWN_HOSTS", '["127.0.0.1:5080"]')
    assert invoke(capsys, "route", "set", "0800123456", "--slot", slot).code == 0
    shown = invoke(capsys, "route", "show", "0800123456", "--json").json()
    assert [d["target"] for d in shown["slots"][0]["destinations"]] == [
        "sip:desk@127.0.0.1:5080", "sip:+41446681800@gw.example.com"]


def test_a_phone_beside_the_switch_is_not_the_switch(acme, capsys, monkeypatch):
    """Loopback on a port that is none of the switches' SIP ports is a PBX or a test phone."""
    monkeypatch.setenv("SMARTNUMBERS_SIP_PORT", "5070")
    refused = invoke(capsys, "route", "set", "0800123456", "--slot", "mon 08:00-18:00 sip:desk@127.0.0.1:5070/20")
    assert refused.code == 2 and "own switches" in refused.err
    slot = "mon 08:00-18:00 sip:desk@127.0.0.1:5090/20 sip:desk@localhost:5080/20"
    assert invoke(capsys, "route", "set", "0800123456", "--slot", slot).code == 0


def test_hostile_text_is_stored_verbatim_and_shown_escaped_nowhere_else(acme, capsys):
    name = '<Acme & "Söhne"> $(rm -rf /); DROP TABLE account;--'
    assert invoke(capsys, "account", "add", name).code == 0
    names = [a["name"] for a in invoke(capsys, "account", "list", "--json").json()]
    assert name in names
    assert invoke(capsys, "number", "add", "0901 123 456", "--account", name).code == 0
    rows = invoke(capsys, "number", "list", "--account", name, "--json").json()
    assert [r["account"] for r in rows] == [name]


def test_blacklist_add_list_remove(acme, capsys):
    assert invoke(capsys, "blacklist", "add", "079*", "--account", ACME, "--reason", "spam wave").code == 0
    assert invoke(capsys, "blacklist", "add", "+41 44 668 18 00", "--account", ACME, "--number", "0900123456",
                  "--reason", "abusive", "--until", "2030-01-01 00:00").code == 0
    rows = invoke(capsys, "blacklist", "list", "--account", ACME, "--json").json()
    assert [(r["pattern"], r["number"]) for r in rows] == [("+4179*", None), ("+41446681800", "0900 123 456")]
    assert rows[1]["until"].startswith("2029-12-31T23:00")  # Zurich midnight, stored in UTC
    assert invoke(capsys, "blacklist", "remove", str(rows[0]["id"]), "--account", ACME).code == 0
    assert len(invoke(capsys, "blacklist", "list", "--account", ACME, "--json").json()) == 1


def test_sub_accounts_see_only_granted_numbers(acme, capsys):
    assert invoke(capsys, "number", "list", "--account", "Acme Bern", "--json").json() == []
    assert invoke(capsys, "account", "grant", "Acme Bern", "0800 123 456").code == 0
    assert invoke(capsys, "account", "add", "Stranger AG").code == 0
    refused = invoke(capsys, "account", "grant", "Stranger AG", "0800 123 456")
    assert refused.code == 2 and "only a sub-account of the owner" in refused.err
    assert [n["number"] for n in invoke(capsys, "number", "list", "--account", "Acme Bern", "--json").json()] == [
        "+41800123456"]
    assert len(invoke(capsys, "number", "list", "--account", ACME, "--json").json()) == 3


def test_user_add_with_password_from_stdin(acme, capsys, monkeypatch, session):
    from sqlalchemy import select

    from smartnumbers.accounts import verify_password
    from smartnumbers.models import User

    result = invoke(capsys, "user", "add", "Anna@Acme.ch", "--account", ACME, "--role", "routing",
                    "--password-stdin", stdin="correct horse battery\n", monkeypatch=monkeypatch)
    assert result.code == 0, result.err
    user = session.scalar(select(User))
    assert user.email == "anna@acme.ch" and user.password_hash.startswith("$argon2")
    assert verify_password(user, "correct horse battery") and not verify_password(user, "wrong")
    bad = invoke(capsys, "user", "add", "x@acme.ch", "--account", ACME, "--role", "root", "--password-stdin",
                 stdin="correct horse battery\n", monkeypatch=monkeypatch)
    assert bad.code == 2 and "role" in bad.err


def test_suspend_and_activate_are_audited(acme, capsys, session):
    from sqlalchemy import select

    from smartnumbers.models import AuditEntry

    assert invoke(capsys, "number", "suspend", "0900123456").code == 0
    assert invoke(capsys, "number", "show", "0900123456", "--json").json()["status"] == "suspended"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "status:suspended")).one()
    assert entry.actor_kind.value == "cli" and entry.before["status"] == "active"
    assert entry.after["status"] == "suspended"
    assert invoke(capsys, "number", "activate", "0900123456").code == 0
