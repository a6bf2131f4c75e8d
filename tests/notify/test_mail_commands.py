"""``smartnumbers mail test`` and ``mail status`` against the real SMTP server on loopback."""

from __future__ import annotations

from tests.foundation.cli import invoke, row_counts
from tests.notify.conftest import PASSWORD, SENDER, USER, DROP, free_port


def use_relay(monkeypatch, relay, **overrides) -> None:
    values = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(relay.port), "MAIL_USER": USER, "MAIL_PASSWORD": PASSWORD,
              "MAIL_SENDER": SENDER, "MAIL_CA_FILE": str(relay.cert), **overrides}
    for name, value in values.items():
        monkeypatch.setenv(f"SMARTNUMBERS_{name}", value)


def test_mail_test_sends_one_through_the_outbox(db_url, relay, monkeypatch, capsys):
    use_relay(monkeypatch, relay)
    result = invoke(capsys, "mail", "test", "noc@acme.example")
    assert result.code == 0, result.err
    assert result.out.strip() == "mail 1 sent to noc@acme.example"
    [received] = relay.handler.received
    assert received.recipients == ["noc@acme.example"] and received.message["Subject"] == "Smart Numbers: test mail"

    status = invoke(capsys, "mail", "status", "--json").json()
    assert status == {"counts": {"pending": 0, "sending": 0, "sent": 1, "failed": 0}, "unsent": []}


def test_mail_test_says_what_the_relay_answered_and_status_shows_the_queue(db_url, relay, monkeypatch, capsys):
    use_relay(monkeypatch, relay)
    relay.handler.plan("DATA", "550 5.7.1 Relaying denied", DROP)
    refused = invoke(capsys, "mail", "test", "noc@acme.example")
    assert refused.code == 1 and refused.err.splitlines()[-1] == "mail 1 to noc@acme.example given up: 550 5.7.1 Relaying denied"
    waiting = invoke(capsys, "mail", "test", "noc@acme.example")
    assert waiting.code == 1 and waiting.err.splitlines()[-1].startswith("mail 2 to noc@acme.example not sent yet: relay: ")

    status = invoke(capsys, "mail", "status", "--json").json()
    assert status["counts"] == {"pending": 1, "sending": 0, "sent": 0, "failed": 1}
    assert [(m["id"], m["status"], m["attempts"]) for m in status["unsent"]] == [(2, "pending", 1), (1, "failed", 1)]
    assert status["unsent"][1]["last_error"] == "550 5.7.1 Relaying denied"
    table = invoke(capsys, "mail", "status")
    assert table.code == 0 and table.out.splitlines()[0] == "pending 1  sending 0  sent 0  failed 1"
    assert "Relaying denied" in table.out
    assert relay.handler.received == []


def test_bad_input_is_one_line_and_writes_nothing(db_url, relay, monkeypatch, capsys):
    use_relay(monkeypatch, relay)
    before = row_counts(db_url)
    bad = invoke(capsys, "mail", "test", "noc@acme.example\r\nRCPT TO:<x@evil.example>")
    assert bad.code == 2 and bad.err.startswith("smartnumbers: recipient: ") and len(bad.err.splitlines()) == 1
    monkeypatch.delenv("SMARTNUMBERS_MAIL_SERVER")
    unset = invoke(capsys, "mail", "test", "noc@acme.example")
    assert unset.code == 2 and "SMARTNUMBERS_MAIL_SERVER" in unset.err
    use_relay(monkeypatch, relay, MAIL_PORT=str(free_port()), MAIL_SENDER="not an address")
    assert invoke(capsys, "mail", "test", "noc@acme.example").err.startswith("smartnumbers: SMARTNUMBERS_MAIL_SENDER: ")
    assert row_counts(db_url) == before and relay.handler.received == []


def test_subscriptions_at_the_command_line(db_url, monkeypatch, capsys):
    assert invoke(capsys, "account", "add", "Acme AG", "--language", "it").code == 0
    for email, role in (("anna@acme.example", "finance"), ("rolf@acme.example", "routing")):
        assert invoke(capsys, "user", "add", email, "--account", "Acme AG", "--role", role, "--password-stdin",
                      stdin="a-long-password-1\n", monkeypatch=monkeypatch).code == 0
    done = invoke(capsys, "mail", "subscribe", "anna@acme.example", "statement", "--attach-pdf")
    assert done.code == 0 and done.out.strip() == "anna@acme.example subscribed to statement mails in it with the PDF"
    before = row_counts(db_url)
    for argv, message in (
            (("subscribe", "rolf@acme.example", "statement"), "routing: statement mails go to admin, billing only"),
            (("subscribe", "anna@acme.example", "gossip"), "topic: 'gossip' is not one of statement"),
            (("subscribe", "anna@acme.example", "statement", "--language", "rm"), "language: 'rm' is not one of"),
            (("unsubscribe", "rolf@acme.example", "statement"), "rolf@acme.example is not subscribed to statement")):
        refused = invoke(capsys, "mail", *argv)
        assert refused.code == 2 and message in refused.err and len(refused.err.splitlines()) == 1
    assert row_counts(db_url) == before
    assert invoke(capsys, "mail", "subscriptions", "--json").json() == [
        {"user": "anna@acme.example", "topic": "statement", "attach_pdf": True, "language": "it"}]
    assert invoke(capsys, "mail", "unsubscribe", "anna@acme.example", "statement").code == 0
    assert invoke(capsys, "mail", "subscriptions", "--json").json() == []
