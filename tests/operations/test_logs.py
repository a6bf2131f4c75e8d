"""Structured logs: with ``SMARTNUMBERS_LOG_FORMAT=json`` every line is one JSON object, and
every line about a call names it, also the lines written in the tasks live control starts."""

from __future__ import annotations

import json
import logging

import pytest

from smartnumbers import logs
from tests.live.conftest import NUMBER, numbers_in_db, rig  # noqa: F401 (the fixtures)
from tests.live.test_control_failures import RefusingSwitch


@pytest.fixture
def json_lines(capsys):
    """Starts the root logger writing JSON lines to the captured stderr, as serve sets it up
    (in the test itself: the stream captured during the setup is closed after it), and returns
    what it wrote since the last call; the logger is restored after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def written() -> list[dict]:
        if not any(isinstance(h.formatter, logs.JsonFormatter) for h in root.handlers):
            logs.configure("json")
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield written
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


async def test_lines_about_a_call_carry_its_id(rig, numbers_in_db, json_lines):
    json_lines()
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    json_lines()  # what the call's setup wrote
    logging.getLogger("smartnumbers").info("not about a call")
    result = await rig.code(a_leg, "*55")  # no tariff 55: refused, and the outcome logged by its own task
    await rig.live.settle()
    assert result.outcome == "no_such_code"
    lines = json_lines()
    [outcome] = [line for line in lines if "tariff code 55" in line["message"]]
    assert outcome["call_id"] == a_leg
    assert outcome["level"] == "INFO" and outcome["logger"] == "controller.live.service"
    assert outcome["time"].endswith("+00:00")
    [other] = [line for line in lines if line["message"] == "not about a call"]
    assert "call_id" not in other


async def test_an_api_tariff_switch_logs_with_the_call_id(rig, numbers_in_db, json_lines):
    """A switch the API asked for fails on the switch (it refuses the new cap): the error
    lines name the call."""
    json_lines()
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    json_lines()
    rig.live.controls["vm"] = RefusingSwitch(rig.client)
    result = await rig.live.switch_tariff(a_leg, 13)
    assert result.outcome == "switch_failed"
    failures = [line for line in json_lines() if line["level"] == "ERROR"]
    assert failures and all(line["call_id"] == a_leg for line in failures)


def test_text_lines_stay_text(capsys):
    root = logging.getLogger()
    handlers = list(root.handlers)
    logs.configure("text")
    try:
        with logs.about_call("abc"):
            logging.getLogger("smartnumbers").warning("plain")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
    assert capsys.readouterr().err.rstrip().endswith(" WARNING smartnumbers: plain")
