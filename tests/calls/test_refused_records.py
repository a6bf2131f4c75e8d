"""A bad leg record never blocks good ones: each value out of any sane range, on each of the
three capture paths (hangup event, CDR post, swept CDR file), beside the four real legs of the
hunt 7201. The good legs are stored and rated, the bad one is refused with its reason, recorded,
and listed by ``cdr reconcile``."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from controller import capture
from controller.freeswitch.cdr_folders import REJECTED, SWEPT, sweep_all
from controller.calls import LegHungUp
from controller.freeswitch import translate
from controller.freeswitch.hangup_capture import HangupCapture
from controller.freeswitch.protocol import JsonEvent
from smartnumbers.models import CallRecord, CapturedLeg, LegSource, RatedCall, RejectedLeg
from smartnumbers.settings import load_settings
from sync.app import build_app
from tests.calls.conftest import PAYFAST_PERCENT, ZONE
from tests.calls.test_capture import BUSY
from tests.calls.test_cdr_paths import PASSWORD, cdr_folder, hunt_number  # noqa: F401 (a fixture)
from tests.calls.test_hangup_capture import all_events
from tests.foundation.cli import invoke

DEEP = 200_000
# Each bad value, as (what it replaces, the value, what the recorded reason says). "uuid" is the
# leg's id, "switch" the switch's name, "var:<name>" a channel variable; "deep" nests a variable.
BAD_VALUES = {
    "timestamp of 25 digits": ("var:start_uepoch", "1" * 25, "start_uepoch"),
    "negative billmsec": ("var:billmsec", "-3020", "billmsec"),
    "billmsec of 30 digits": ("var:billmsec", "9" * 30, "billmsec"),
    "uuid of 500,000 characters": ("uuid", "u" * 500_000, "uuid"),
    "uuid with a NUL": ("uuid", str(uuid.uuid4()) + "\x00", "uuid"),
    "switch name of 300 kB": ("switch", "n" * 300_000, "switch name"),
    "nesting 200,000 deep": ("deep", None, "not JSON"),
    "lone surrogate": ("var:hangup_cause", "USER_BUSY\ud800", "not JSON"),
    "answer 70 years after the start": ("var:answer_uepoch", "4000000000000000", "answer_uepoch"),
}


def bad_bytes(document: dict, field: str, value: str | None, *, event: bool) -> bytes:
    """A real record (a CDR's document or a hangup event's headers) with a fresh leg id and one
    bad value, as the switch's bytes."""
    doc = json.loads(json.dumps(document))
    fresh = str(uuid.uuid4())
    if event:
        doc["Unique-ID"] = doc["variable_uuid"] = fresh
    else:
        doc["variables"]["uuid"] = fresh
    if field == "uuid":
        if event:
            doc["Unique-ID"] = doc["variable_uuid"] = value
        else:
            doc["variables"]["uuid"] = value
    elif field == "switch":
        doc["FreeSWITCH-Switchname" if event else "switchname"] = value
    elif field.startswith("var:") or field == "deep":
        name = field.removeprefix("var:") if field != "deep" else "deep"
        target = doc if event else doc["variables"]
        target[("variable_" if event else "") + name] = "__BAD__" if field == "deep" else value
    # Compact, as the switch writes; a NUL as \u0000, a lone surrogate as \ud800.
    raw = json.dumps(doc, separators=(",", ":")).encode()
    if field == "deep":
        raw = raw.replace(b'"__BAD__"', b"[" * DEEP + b"]" * DEEP)
    return raw


def counts(session):
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(t)) for t in (CapturedLeg, CallRecord, RatedCall))


def rejected(session) -> list[RejectedLeg]:
    session.expire_all()
    return list(session.scalars(select(RejectedLeg)))


def busy_cdr(captures) -> dict:
    return json.loads((cdr_folder(captures) / f"{BUSY}.cdr.json").read_bytes())


@pytest.mark.parametrize("case", BAD_VALUES)
async def test_the_event_path_stores_the_good_hangups_and_records_the_bad_one(case, db_url, captures, session,
                                                                           hunt_number):
    field, value, reason = BAD_VALUES[case]
    events = all_events(captures)
    busy = next(e for e in events if e.get("Unique-ID") == BUSY and e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE")
    bad = JsonEvent(bad_bytes(json.loads(busy.raw), field, value, event=True))
    with capture.committing_store(db_url, PAYFAST_PERCENT, ZONE) as store:
        hangups = HangupCapture(store)
        for event in events[:len(events) // 2] + [bad] + events[len(events) // 2:]:
            hangups.offer(event, "vm")
        await hangups.drain()
        assert (hangups.stored, hangups.refused, hangups.waiting, hangups.failures) == (4, 1, 0, 0)
        await hangups.drain()  # nothing is retried
        assert (hangups.stored, hangups.refused) == (4, 1)
    assert counts(session) == (4, 1, 1)
    (refused,) = rejected(session)
    assert refused.source == LegSource.EVENT and refused.node == "vm" and reason in refused.reason
    assert len(refused.excerpt) <= 500 and "\x00" not in refused.excerpt


@pytest.mark.parametrize("case", [*BAD_VALUES, "switch not configured"])
async def test_a_bad_post_is_answered_400_and_recorded_and_the_good_ones_stored(case, db_url, captures, session,
                                                                              hunt_number):
    field, value, reason = BAD_VALUES.get(case, ("switch", "intruder", "not one of the configured nodes"))
    settings = load_settings(database_url=db_url, switch_http_password=PASSWORD,
                             freeswitch_nodes=[{"name": "vm", "host": "127.0.0.1", "password": "x"}])
    auth = {"Authorization": "Basic " + base64.b64encode(f"freeswitch:{PASSWORD}".encode()).decode(),
            "Content-Type": "application/json"}
    paths = sorted(cdr_folder(captures).glob("*.cdr.json"))
    async with TestClient(TestServer(build_app(settings))) as client:
        for path in paths[:2]:
            assert (await client.post("/freeswitch/cdr", data=path.read_bytes(), headers=auth)).status == 200
        bad = bad_bytes(busy_cdr(captures), field, value, event=False)
        for _ in range(3):  # FreeSWITCH retries a refused post: recorded once
            answer = await client.post("/freeswitch/cdr", data=bad, headers=auth)
            assert answer.status == 400
            assert reason in await answer.text()  # a switch route answers plain text
        for path in paths[2:]:
            assert (await client.post("/freeswitch/cdr", data=path.read_bytes(), headers=auth)).status == 200
    assert counts(session) == (4, 1, 1)
    (refused,) = rejected(session)
    assert refused.source == LegSource.POST and refused.node == "127.0.0.1" and reason in refused.reason


@pytest.mark.parametrize("case", BAD_VALUES)
def test_the_sweep_moves_a_bad_file_aside_with_its_reason_and_stores_the_others(case, db_url, captures, session,
                                                                              hunt_number, tmp_path, capsys,
                                                                              monkeypatch):
    field, value, reason = BAD_VALUES[case]
    err_dir = tmp_path / "json_cdr_err"
    err_dir.mkdir()
    for path in cdr_folder(captures).glob("*.cdr.json"):
        (err_dir / path.name).write_bytes(path.read_bytes())
    (err_dir / "bad.cdr.json").write_bytes(bad_bytes(busy_cdr(captures), field, value, event=False))
    for path in err_dir.iterdir():
        os.utime(path, (1, 1))  # settled long ago
    settings = load_settings(database_url=db_url, cdr_error_folders={"vm": str(err_dir)})

    (sweep,) = sweep_all(settings)
    assert (sweep.stored, sweep.rejected) == (4, ["bad.cdr.json"])
    assert sorted(p.name for p in (err_dir / REJECTED).iterdir()) == ["bad.cdr.json", "bad.cdr.json.reason"]
    assert reason in (err_dir / REJECTED / "bad.cdr.json.reason").read_text()
    assert len(list((err_dir / SWEPT).iterdir())) == 4 and list(err_dir.glob("*.cdr.json")) == []
    assert counts(session) == (4, 1, 1)
    (refused,) = rejected(session)
    assert refused.source == LegSource.FILE and refused.file == "bad.cdr.json" and reason in refused.reason

    monkeypatch.setenv("SMARTNUMBERS_DATABASE_URL", db_url)
    today = dt.datetime.now(ZONE).date().isoformat()
    result = invoke(capsys, "cdr", "reconcile", "--day", today, "--json")
    assert result.code == 1
    (line,) = result.json()["differences"]["refused by capture"]
    assert "(file from vm, bad.cdr.json): " in line and line.endswith(refused.reason)
    assert result.json()["rejected"][0]["reason"] == refused.reason


@pytest.mark.parametrize("case", BAD_VALUES)
def test_live_control_reads_past_a_bad_hangup(case, captures):
    """The same event feeds live call control: it is read as far as it can be, never raising
    into the node's event stream."""
    field, value, _ = BAD_VALUES[case]
    busy = next(e for e in all_events(captures)
                if e.get("Unique-ID") == BUSY and e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE")
    event = translate.call_event(JsonEvent(bad_bytes(json.loads(busy.raw), field, value, event=True)), "vm")
    assert event is None or (isinstance(event, LegHungUp) and 0 <= event.billed_ms <= translate.MAX_LEG_MS)
