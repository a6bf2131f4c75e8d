"""Every event a real Asterisk 22.10.1 sent (``shared/asterisk``) turns into the neutral call
event its facts call for, and nothing else does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.asterisk import translate
from controller.calls import (
    DialEnded,
    DigitPressed,
    LegAnswered,
    LegCreated,
    LegDirection,
    LegHungUp,
    LegsBridged,
    LegsUnbridged,
)
from smartnumbers.phone import normalise_caller

NODE = "ast1"


def _captures(root: Path) -> list[Path]:
    return sorted(root.glob("samples/*.jsonl")) + sorted(root.glob("pjsip/*.jsonl"))


def _events(capture: Path) -> list[dict]:
    records = (json.loads(line) for line in capture.read_text().splitlines() if line.strip())
    return [r["event"] for r in records if r["kind"] == "ws_event"]


def _at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def _expected(event: dict):
    """What the captures' README says each event means, read from the raw event."""
    kind, at = event["type"], _at(event["timestamp"])
    if kind == "StasisStart":
        channel = event["channel"]
        if channel["state"] == "Up":
            return None
        return LegCreated(NODE, channel["id"], channel["id"], at, direction=LegDirection.INBOUND,
                          caller=normalise_caller(channel["caller"]["number"]),
                          destination=channel["dialplan"]["exten"], tags={})
    if kind == "Dial":
        peer = event["peer"]
        if event["dialstatus"] == "":
            return LegCreated(NODE, peer["id"], peer["id"], at, direction=LegDirection.OUTBOUND,
                              caller=normalise_caller(peer["caller"]["number"]), destination=event["dialstring"], tags={})
        cause = {"BUSY": "USER_BUSY", "NOANSWER": "NO_ANSWER", "CONGESTION": "NORMAL_CIRCUIT_CONGESTION"}.get(event["dialstatus"])
        return DialEnded(NODE, peer["id"], peer["id"], at, cause=cause) if cause else None
    if kind == "ChannelStateChange":
        channel = event["channel"]
        return LegAnswered(NODE, channel["id"], channel["id"], at, direction=LegDirection.INBOUND, tags={}) \
            if channel["state"] == "Up" else None
    if kind == "ChannelDestroyed":
        channel = event["channel"]
        q850 = event["cause"] or None
        names = {16: "NORMAL_CLEARING", 17: "USER_BUSY", 19: "NO_ANSWER", 21: "CALL_REJECTED",
                 34: "NORMAL_CIRCUIT_CONGESTION"}
        return (channel["id"], q850, names.get(q850, ""),
                int((at - _at(channel["creationtime"])).total_seconds() * 1000))
    if kind == "ChannelDtmfReceived":
        channel = event["channel"]
        return DigitPressed(NODE, channel["id"], channel["id"], at, digit=event["digit"], via="unknown")
    if kind in ("ChannelEnteredBridge", "ChannelLeftBridge"):
        leg = event["channel"]["id"]
        others = [c for c in event["bridge"]["channels"] if c != leg]
        if not others or event["channel"]["name"].startswith("Announcer/"):
            return None
        shape = LegsBridged if kind == "ChannelEnteredBridge" else LegsUnbridged
        return shape(NODE, leg, leg, at, other_leg_id=others[0])
    return None


def test_every_captured_event_is_translated_as_its_facts_say(asterisk_captures):
    seen: dict[str, int] = {}
    for capture in _captures(asterisk_captures):
        for event in _events(capture):
            got = translate.call_event(event, NODE)
            expected = _expected(event)
            if isinstance(expected, tuple):  # a ChannelDestroyed
                leg, q850, cause, duration_ms = expected
                assert isinstance(got, LegHungUp), (capture.name, event)
                assert (got.leg_id, got.q850, got.cause, got.duration_ms) == (leg, q850, cause, duration_ms)
                assert got.answered_at is None and got.billed_ms == 0
            else:
                assert got == expected, (capture.name, event)
            if got is not None:
                seen[type(got).__name__] = seen.get(type(got).__name__, 0) + 1
    # every handler met real traffic
    assert set(seen) == {"LegCreated", "DialEnded", "LegAnswered", "LegHungUp", "DigitPressed",
                         "LegsBridged", "LegsUnbridged"}
    assert seen["DialEnded"] >= 5 and seen["LegHungUp"] >= 40


def test_a_busy_sip_destination_ends_with_its_cause_and_a_busy_local_one_only_in_its_dial(asterisk_captures):
    # pjsip B: a real SIP 486 reports 17 on the channel itself
    hunt = [translate.call_event(e, NODE) for e in _events(asterisk_captures / "pjsip" / "b_hunting.jsonl")]
    busy_leg = next(e.leg_id for e in hunt if isinstance(e, DialEnded) and e.cause == "USER_BUSY")
    busy = [e for e in hunt if e is not None and e.leg_id == busy_leg]
    assert [type(e).__name__ for e in busy] == ["LegCreated", "DialEnded", "LegHungUp"]
    assert busy[0].direction is LegDirection.OUTBOUND and busy[0].destination == "busy"
    assert (busy[2].cause, busy[2].q850) == ("USER_BUSY", 17)
    # the originate with timeout=4: no final Dial, only ChannelDestroyed 19
    timed_out = [e for e in hunt if isinstance(e, LegHungUp) and e.q850 == 19]
    assert len(timed_out) == 1 and timed_out[0].cause == "NO_ANSWER"
    # samples 05: a busy Local channel is destroyed with cause 0; its Dial says BUSY
    outcomes = [translate.call_event(e, NODE) for e in _events(asterisk_captures / "samples" / "05_originate_outcomes.jsonl")]
    ended = {e.leg_id: e.cause for e in outcomes if isinstance(e, DialEnded)}
    assert set(ended.values()) == {"USER_BUSY", "NORMAL_CIRCUIT_CONGESTION"}
    unknown = {e.leg_id for e in outcomes if isinstance(e, LegHungUp) and e.q850 is None}
    assert unknown & {leg for leg, cause in ended.items() if cause in ("USER_BUSY", "NORMAL_CIRCUIT_CONGESTION")}


def test_the_inbound_sip_caller_is_normalised_and_keeps_the_dialled_number(asterisk_captures):
    events = _events(asterisk_captures / "pjsip" / "a_inbound_early_media.jsonl")
    starts = [e for e in events if e["type"] == "StasisStart"]
    created = [translate.call_event(e, NODE) for e in starts]
    assert len(created) >= 4 and all(isinstance(c, LegCreated) for c in created)
    # the dialplan hands the dialled number over as Stasis(smartnumbers,${EXTEN})
    assert [(c.caller.e164, c.destination) for c in created] == [("+41791234567", e["args"][0]) for e in starts]
    assert "0900123456" in {c.destination for c in created}


def test_the_product_variables_name_the_call_its_legs_and_who_was_bridged(asterisk_captures):
    events = _events(asterisk_captures / "samples" / "09_iax2_real_network_calls.jsonl")
    start = next(e for e in events if e["type"] == "StasisStart" and e["channel"]["state"] == "Ring")
    dial = next(e for e in events if e["type"] == "Dial" and e["dialstatus"] == "")
    entered = [e for e in events if e["type"] == "ChannelEnteredBridge"]
    caller, callee = start["channel"]["id"], dial["peer"]["id"]
    start["channel"]["channelvars"] = {"smart_number": "+41900123456", "smart_tariff_code": "1"}
    dial["peer"]["channelvars"] = {"smart_call": caller, "smart_destination": "+41446681800"}
    created = translate.call_event(start, NODE)
    assert created.tags == {"number": "+41900123456", "tariff_code": "1"} and created.call_id == caller
    placed = translate.call_event(dial, NODE)
    assert (placed.call_id, placed.destination, placed.tags) == (caller, "+41446681800", {"destination": "+41446681800"})
    # the called leg enters last: the pair is the caller's leg and it, whatever the order
    second = entered[-1]
    assert second["channel"]["id"] == callee
    second["channel"]["channelvars"] = {"smart_call": caller}
    bridged = translate.call_event(second, NODE)
    assert (bridged.leg_id, bridged.call_id, bridged.other_leg_id) == (caller, caller, callee)


def test_live_legs_come_from_channels_and_bridges(asterisk_captures):
    records = [json.loads(line) for line in
               (asterisk_captures / "samples" / "01_inbound_dialplan_stasis.jsonl").read_text().splitlines()]
    channels = next(r["response_json"] for r in records if r["kind"] == "rest" and r["method"] == "GET" and r["path"] == "/ari/channels")
    assert len(channels) == 2
    legs = translate.live_legs(channels, [], NODE)
    assert [(leg.leg_id, leg.answered, leg.caller.e164, leg.other_leg_id) for leg in legs] == [
        (c["id"], True, "+15551230001", None) for c in channels]
    assert legs[0].created_at == _at(channels[0]["creationtime"])
    bridge = {"id": "b1", "channels": [channels[0]["id"], channels[1]["id"]]}
    paired = translate.live_legs(channels, [bridge], NODE)
    assert [leg.other_leg_id for leg in paired] == [channels[1]["id"], channels[0]["id"]]


def test_what_cannot_be_read_is_skipped_not_fatal():
    assert translate.call_event({"type": "StasisStart"}, NODE) is None  # no channel
    assert translate.call_event({"type": "ChannelDestroyed", "channel": "x"}, NODE) is None
    assert translate.call_event({"type": "NoSuchEvent"}, NODE) is None
    with pytest.raises(ValueError):
        translate.parse(b"[1, 2]")
    with pytest.raises(ValueError):
        translate.parse(b"{not json")
    assert translate.q850_name(0) == ("", None) and translate.q850_name(999) == ("", None)
    assert translate.error_text(500, {"error": "Allocation failed"}) == "Allocation failed"
    assert translate.error_text(404, {"message": "Channel not found"}) == "Channel not found"
