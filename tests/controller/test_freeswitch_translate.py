"""What the real switch said (captures), in neutral form."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.calls import (
    DigitPressed,
    HangupSide,
    LegAnswered,
    LegCreated,
    LegDirection,
    LegHungUp,
    LegsBridged,
    ProductSignal,
)
from controller.freeswitch import translate
from controller.freeswitch.protocol import FrameReader, event_from_frame


def events(path: Path):
    frames = FrameReader().feed(path.read_bytes())
    return [e for e in (event_from_frame(f) for f in frames) if e is not None]


def neutral(path: Path):
    return [c for c in (translate.call_event(e, "vm") for e in events(path)) if c is not None]


def test_a_bridged_call_ties_both_legs_to_the_a_leg(captures):
    for kind in ("plain", "json"):
        calls = neutral(captures / "samples" / "bridge-call-9998" / f"esl-{kind}.raw")
        created = [c for c in calls if isinstance(c, LegCreated)]
        assert [c.direction for c in created] == [LegDirection.INBOUND, LegDirection.OUTBOUND]
        a, b = created
        assert a.is_a_leg and not b.is_a_leg
        assert b.call_id == a.leg_id
        assert b.destination == "9998"
        bridged = [c for c in calls if isinstance(c, LegsBridged)]
        assert bridged and bridged[0].leg_id == a.leg_id and bridged[0].other_leg_id == b.leg_id
        answered = [c for c in calls if isinstance(c, LegAnswered)]
        assert [x.leg_id for x in answered] == [b.leg_id, a.leg_id]  # B answers first (README)
        hung = [c for c in calls if isinstance(c, LegHungUp)]
        assert {h.leg_id for h in hung} == {a.leg_id, b.leg_id}
        assert all(h.call_id == a.leg_id for h in hung)
        by_leg = {h.leg_id: h for h in hung}
        assert by_leg[a.leg_id].cause == "NORMAL_CLEARING" and by_leg[a.leg_id].q850 == 16
        assert by_leg[a.leg_id].side is HangupSide.REMOTE  # the caller hung up
        assert by_leg[b.leg_id].side is HangupSide.SWITCH
        assert by_leg[a.leg_id].billed_ms > 2000
        assert by_leg[a.leg_id].answered_at is not None


def test_a_hunt_through_busy_no_answer_and_answer(captures):
    calls = neutral(captures / "facts" / "raw" / "item2-hunt" / "7201" / "esl-json.raw")
    a = next(c for c in calls if isinstance(c, LegCreated) and c.direction is LegDirection.INBOUND)
    assert a.caller.e164 == "+41791234567" and not a.caller.withheld
    assert a.destination == "7201"
    assert a.tags.get("number") is None  # set later in the dialplan, not yet at CREATE
    hung = [c for c in calls if isinstance(c, LegHungUp)]
    assert all(h.call_id == a.leg_id for h in hung)
    b_causes = [h.cause for h in hung if h.direction is LegDirection.OUTBOUND]
    assert b_causes[:2] == ["USER_BUSY", "ALLOTTED_TIMEOUT"]
    assert "NORMAL_CLEARING" in b_causes[2:]
    a_hangup = next(h for h in hung if h.leg_id == a.leg_id)
    assert a_hangup.tags["number"] == "0800111222"


def test_busy_unreachable_and_no_answer_causes(captures):
    """The B-leg carries why the destination failed; the A-leg's own cause is what the
    dialplan did afterwards (NORMAL_CLEARING after continue_on_fail, FACTS 2)."""
    hunt = captures / "facts" / "raw" / "item2-hunt"
    b_causes, a_causes = {}, {}
    for ext in ("7206", "7208", "7209"):
        calls = neutral(hunt / ext / "esl-json.raw")
        a = next(c for c in calls if isinstance(c, LegHungUp) and c.is_a_leg)
        b = next(c for c in calls if isinstance(c, LegHungUp) and not c.is_a_leg)
        assert b.call_id == a.leg_id
        a_causes[ext], b_causes[ext] = a.cause, b.cause
        assert a.billed_ms == 0 and a.answered_at is None
    assert b_causes == {"7206": "USER_BUSY", "7208": "NORMAL_TEMPORARY_FAILURE", "7209": "NO_ANSWER"}
    assert a_causes == {"7206": "USER_BUSY", "7208": "NORMAL_CLEARING", "7209": "NORMAL_CLEARING"}


def test_dtmf_from_the_b_leg_is_tied_to_the_call(captures):
    calls = neutral(captures / "facts" / "raw" / "item4-midcall" / "7401" / "esl-json.raw")
    a = next(c for c in calls if isinstance(c, LegCreated) and c.is_a_leg)
    digits = [c for c in calls if isinstance(c, DigitPressed)]
    assert "".join(d.digit for d in digits).startswith("*12")
    assert all(d.call_id == a.leg_id and not d.is_a_leg for d in digits)
    assert {d.via for d in digits} == {"media", "signalling"}


def test_the_products_own_custom_event(captures):
    calls = neutral(captures / "facts" / "raw" / "item4-midcall" / "7409" / "esl-json.raw")
    signals = [c for c in calls if isinstance(c, ProductSignal)]
    assert signals
    assert signals[0].kind == "code" and signals[0].tags["kind"] == "dtmf_code"
    assert signals[0].tags["digits"] == "*12"
    assert not signals[0].is_a_leg


def test_every_json_cdr_becomes_a_leg_record(captures):
    paths = sorted(captures.rglob("*.cdr.json"))
    assert len(paths) > 50
    refused = {}
    for path in paths:
        try:
            record = translate.leg_from_cdr(json.loads(path.read_text()))
        except translate.RefusedLeg as exc:
            refused[path.parent.parent.name] = str(exc)
            continue
        assert record.leg_id and record.call_id
        assert record.ended_at >= record.started_at
        assert 0 <= record.billed_ms <= record.duration_ms
    assert refused == {}


def test_an_oversized_variable_the_product_does_not_read_is_left_out_and_the_leg_kept(captures):
    """The experiment that set variables of 64 KiB and 1 MiB (FACTS 4c) is still a call."""
    path = next((captures / "facts" / "raw" / "item4-midcall" / "7405" / "json_cdr").glob("*.cdr.json"))
    document = json.loads(path.read_text())
    record = translate.leg_from_cdr(document)
    assert sorted(name for name in record.tags if name.startswith("big")) == ["big_1024"]
    document["variables"]["smart_tariff_segments"] = "1@0" * 5000
    with pytest.raises(translate.RefusedLeg, match="smart_tariff_segments"):
        translate.leg_from_cdr(document)


def test_a_hunt_cdr_lists_every_attempt(captures):
    folder = captures / "facts" / "raw" / "item2-hunt" / "7201" / "json_cdr"
    records = [translate.leg_from_cdr(json.loads(p.read_text())) for p in folder.glob("*.cdr.json")]
    a = next(r for r in records if r.direction is LegDirection.INBOUND)
    assert [h.cause for h in a.hunt] == ["USER_BUSY", "ALLOTTED_TIMEOUT", "NONE"]
    assert a.tags["number"] == "0800111222"
    assert a.billed_ms == 3020 and a.caller.e164 == "+41791234567"
    b_legs = [r for r in records if r.direction is LegDirection.OUTBOUND]
    assert len(b_legs) == 3 and all(r.call_id == a.leg_id for r in b_legs)
    assert {r.leg_id for r in b_legs} == {h.leg_id for h in a.hunt}
    assert sorted(r.side for r in b_legs) == sorted([HangupSide.REMOTE, HangupSide.SWITCH, HangupSide.SWITCH])


def test_xml_curl_requests_become_routing_requests(captures):
    lines = (captures / "samples" / "xml-curl" / "xml_curl-requests.jsonl").read_text().splitlines()
    requests = [translate.routing_request(json.loads(line)["form"]) for line in lines if line.strip()]
    assert requests
    first = requests[0]
    assert first.section == "dialplan" and first.node == "vm"
    assert first.destination == "9995" and first.context == "public"
    assert first.leg_id and first.call_id


def test_resync_from_the_real_listings(captures):
    results = json.loads((captures / "facts" / "raw" / "item7-resync" / "results.json").read_text())
    got = {key.split(": ", 1)[1]: value for key, value in results["results"].items() if key.startswith("immediately: ")}
    dumps = {key.split()[1]: value for key, value in got.items() if key.startswith("uuid_dump ")}
    assert len(dumps) == 1  # the capture dumped the A-leg only
    legs = translate.live_legs(got["show channels as json"], got["show detailed_calls as json"], dumps, "vm")
    by_id = {leg.leg_id: leg for leg in legs}
    a, b = by_id[results["A"]], by_id[results["B"]]
    assert a.call_id == b.call_id == results["A"]
    assert a.other_leg_id == b.leg_id and b.other_leg_id == a.leg_id
    assert a.answered and b.answered
    # the answer time is in the dump alone (microseconds); the B-leg was not dumped
    assert a.answered_at == datetime(2026, 11, 27, 10, 21, 5, 361526, tzinfo=UTC) and b.answered_at is None
    assert a.tags["number"] == "0800111222" and a.tags["call_id"] == "7701"
    assert a.caller.e164 == "+41791234567"
    assert translate.rows('{"row_count": 0}') == []


def test_subscription_is_filtered():
    command = translate.subscription("plain")
    assert "ALL" not in command.split()
    assert command.startswith("event plain CHANNEL_CREATE")
    assert "CUSTOM smart::code" in command
