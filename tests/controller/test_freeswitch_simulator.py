"""The simulator speaks like the real switch: same frames, same header sets, same answers."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from controller.freeswitch import call_scripts
from controller.freeswitch.protocol import Frame, FrameReader, event_from_frame
from controller.freeswitch.simulator import SCENARIOS, FreeSwitchSimulator


class RawListener:
    """A bare socket listener (no client logic) that records every frame."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.frames: list[Frame] = []
        self.reader = FrameReader()

    async def open(self, *commands: str) -> None:
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
        await self._frames(1)
        for command in ("auth ClueCon", *commands):
            self.w.write(command.encode() + b"\n\n")
            await self._frames(len(self.frames) + 1)

    async def _frames(self, count: int) -> None:
        while len(self.frames) < count:
            data = await asyncio.wait_for(self.r.read(65536), 5)
            if not data:
                raise EOFError
            self.frames.extend(self.reader.feed(data))

    async def send(self, command: str, replies: int = 1) -> list[Frame]:
        before = len(self.frames)
        self.w.write(command.encode() + b"\n\n")
        await self._frames(before + replies)
        return self.frames[before : before + replies]

    async def drain(self) -> None:
        """Read whatever is in flight (the simulator has settled)."""
        self.w.write(b"api status\n\n")
        while True:
            await self._frames(len(self.frames) + 1)
            if self.frames[-1].content_type == "api/response":
                return

    def events(self):
        return [e for e in (event_from_frame(f) for f in self.frames) if e is not None]

    def close(self) -> None:
        self.w.close()


@pytest.fixture
async def sim():
    simulator = FreeSwitchSimulator(heartbeat_interval=0, seed=1)
    await simulator.start()
    yield simulator
    await simulator.stop(graceful=False)


def _captured(root: Path, scenario: str) -> list[list[tuple[str, object]]]:
    """The events of the captured call the scenario replays, in order."""
    source = "bridged" if scenario == "callee_hangs_up" else scenario
    script = call_scripts.record(root)[source]
    return [[(k, v) for k, v in pairs] for _, pairs in script["events"]]


def _names(pairs: Iterable[tuple[str, object]]) -> list[str]:
    return [k for k, _ in pairs if k not in ("_body",)]


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_each_scenario_has_the_captured_header_sets(sim, captures, scenario):
    plain, js = RawListener(sim.port), RawListener(sim.port)
    await plain.open("event plain ALL")
    await js.open("event json ALL")
    sim.place_call(scenario, caller="0791234567")
    await sim.settle()
    await plain.drain()
    await js.drain()
    captured = _captured(captures, scenario)
    got_plain, got_json = plain.events(), js.events()
    assert len(got_plain) == len(got_json) == len(captured)
    for real, p, j in zip(captured, got_plain, got_json):
        # the same headers, in the same order, duplicates included
        assert [k for k, _ in p.items()] == _names(real)
        # plain follows the plain captures' encoding: decoding it gives the JSON strings
        assert p.items() == j.items()
    for frame in plain.frames + js.frames:
        if frame.content_type and frame.content_type.startswith("text/event"):
            assert [k for k, _ in frame.headers] == ["Content-Length", "Content-Type"]
    legs = {e.get("Unique-ID") for e in got_plain}
    assert not legs & {dict(real)["Unique-ID"] for real in captured}  # fresh ids every call
    a_leg = got_plain[0].get("Channel-Call-UUID")
    assert all(e.get("Channel-Call-UUID") == a_leg or e.get("Other-Leg-Unique-ID") == a_leg for e in got_plain)
    assert sim.live_calls == 0
    plain.close()
    js.close()


async def test_caller_and_ids_are_the_calls_own(sim, captures):
    listener = RawListener(sim.port)
    await listener.open("event json CHANNEL_CREATE")
    first = sim.place_call("bridged", caller="41441234567")
    second = sim.place_call("bridged", caller="41441234567")
    await sim.settle()
    await listener.drain()
    created = listener.events()
    assert len(created) == 4
    assert {e.get("Channel-Call-UUID") for e in created} == {first, second}
    real_a = [e for e in _captured(captures, "bridged") if dict(e)["Event-Name"] == "CHANNEL_CREATE"][0]
    assert dict(real_a)["Caller-Caller-ID-Number"] != "41441234567"
    assert created[0].get("Caller-Caller-ID-Number") == "41441234567"


async def test_replies_have_the_captured_shapes_and_texts(sim, captures):
    actor = RawListener(sim.port)
    await actor.open("event plain BACKGROUND_JOB")
    real = [json.loads(line) for line in (captures / "samples" / "error-cases" / "actor-plain-frames.jsonl").read_text().splitlines()]
    real_by_body = {r["body"]: r for r in real}

    (frame,) = await actor.send("api uuid_kill 00000000-0000-0000-0000-000000000000")
    assert frame.body == b"-ERR No such channel!\n"
    assert [k for k, _ in frame.headers] == list(real_by_body["-ERR No such channel!\n"]["headers"])
    (frame,) = await actor.send("api no_such_command")
    assert frame.body.decode() in real_by_body
    (frame,) = await actor.send("no_such_esl_command")
    assert frame.headers == [("Content-Type", "command/reply"), ("Reply-Text", "-ERR command not found")]
    (frame,) = await actor.send("api show channels as json")
    assert frame.body.decode() in real_by_body  # '{"row_count": 0}\n'
    (frame,) = await actor.send("api reloadxml")
    assert frame.body == b"+OK [Success]\n"
    reply, job = await actor.send("bgapi originate {originate_timeout=4}sofia/external/nobody@127.0.0.1:5099 &park()", 2)
    real_reply = next(r for r in real if "Job-UUID" in r["headers"])
    assert [k for k, _ in reply.headers] == list(real_reply["headers"])
    event = event_from_frame(job)
    real_job = event_from_frame(FrameReader().feed((captures / "samples" / "error-cases" / "actor-plain.raw").read_bytes())[10])
    assert [k for k, _ in event.items()] == [k for k, _ in real_job.items()]
    assert event.body == real_job.body == "-ERR NORMAL_TEMPORARY_FAILURE\n"
    assert event.get("Job-UUID") == reply.header("Job-UUID")
    actor.close()


async def test_listings_have_the_real_columns(sim, captures):
    results = json.loads((captures / "facts" / "raw" / "item7-resync" / "results.json").read_text())["results"]
    real_channels = json.loads(results["immediately: show channels as json"])["rows"]
    real_calls = json.loads(results["immediately: show detailed_calls as json"])["rows"]
    dump_key = next(k for k in results if k.startswith("immediately: uuid_dump"))
    real_dump = json.loads(results[dump_key])
    a_legs = sim.hold_calls(2, "bridged", caller="41791234567")
    actor = RawListener(sim.port)
    await actor.open()
    (frame,) = await actor.send("api show channels as json")
    channels = json.loads(frame.body)
    assert channels["row_count"] == 4
    assert all(list(row) == list(real_channels[0]) for row in channels["rows"])
    assert {row["call_uuid"] for row in channels["rows"]} == set(a_legs)
    (frame,) = await actor.send("api show detailed_calls as json")
    calls = json.loads(frame.body)
    assert calls["row_count"] == 2
    assert all(list(row) == list(real_calls[0]) for row in calls["rows"])
    assert {row["uuid"] for row in calls["rows"]} == set(a_legs)
    (frame,) = await actor.send(f"api uuid_dump {a_legs[0]} json")
    dump = json.loads(frame.body)
    assert dump["Event-Name"] == real_dump["Event-Name"] == "CHANNEL_DATA"
    assert dump["Unique-ID"] == a_legs[0]
    # the real dump's own keys are there (a dump is the channel's last event, plus variables)
    core = {k for k in real_dump if not k.startswith("variable_")}
    assert len(core & set(dump)) > 0.9 * len(core)
    (frame,) = await actor.send("api show channels count")
    assert frame.body == b"\n4 total.\n"
    actor.close()


async def test_it_holds_ten_thousand_calls(sim):
    sim.hold_calls(10_000)
    assert sim.live_calls == 10_000 and sim.live_legs == 20_000


async def test_a_wrong_password_is_refused_like_freeswitch(sim):
    r, w = await asyncio.open_connection("127.0.0.1", sim.port)
    w.write(b"auth wrong\n\n")
    data = b""
    while True:
        chunk = await asyncio.wait_for(r.read(4096), 5)
        if not chunk:
            break
        data += chunk
    frames = FrameReader().feed(data)
    assert [f.content_type for f in frames] == ["auth/request", "command/reply", "text/disconnect-notice"]
    assert frames[1].header("Reply-Text") == "-ERR invalid"
    w.close()


async def test_traffic_places_every_scenario_in_turn(sim):
    listener = RawListener(sim.port)
    await listener.open("event json CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE")
    await sim.traffic(rate=0, count=len(SCENARIOS) * 2, scenarios=SCENARIOS)
    await sim.settle()
    await listener.drain()
    events = listener.events()
    inbound = [e for e in events if e.name == "CHANNEL_CREATE" and e.get("Call-Direction") == "inbound"]
    assert len(inbound) == len(SCENARIOS) * 2
    created = {e.get("Unique-ID") for e in events if e.name == "CHANNEL_CREATE"}
    completed = {e.get("Unique-ID") for e in events if e.name == "CHANNEL_HANGUP_COMPLETE"}
    assert created == completed  # every leg of every call ended
    assert sim.live_calls == 0
    listener.close()


async def test_mid_call_commands_answer_like_the_real_switch(sim):
    """FACTS 4 and the real switch's error texts (uuid_broadcast, uuid_setvar, sched_hangup, sched_del)."""
    a_leg = sim.place_call("bridged", hold=True)
    await sim.settle()
    gone = "00000000-0000-0000-0000-000000000000"
    actor = RawListener(sim.port)
    await actor.open()

    async def api(command: str) -> bytes:
        (frame,) = await actor.send("api " + command)
        return frame.body

    assert await api(f"uuid_broadcast {a_leg} /sounds/price.wav aleg") == b"+OK Message sent\n"
    assert sim.broadcasts == [(a_leg, "/sounds/price.wav", "aleg")]
    assert await api(f"uuid_broadcast {gone} /sounds/price.wav aleg") == b"-ERR invalid uuid\n"
    assert await api(f"uuid_broadcast {a_leg}") == b"-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"

    assert await api(f"uuid_setvar {a_leg} smart_tariff CHF 2.50/min") == b"+OK\n"
    assert await api(f"uuid_getvar {a_leg} smart_tariff") == b"CHF 2.50/min"
    assert await api(f"uuid_setvar {a_leg} smart_tariff") == b"+OK\n"  # no value: unset
    assert await api(f"uuid_getvar {a_leg} smart_tariff") == b"_undef_"
    assert await api(f"uuid_setvar {gone} smart_tariff 1") == b"-ERR No such channel!\n"
    assert await api(f"uuid_setvar {a_leg}") == b"-USAGE: <uuid> <var> [value]\n"

    later = int(time.time()) + 3600
    assert await api(f"sched_hangup {later} {a_leg} ALLOTTED_TIMEOUT") == b"+OK\n"  # no task id
    assert sim.scheduled == {a_leg: (later, "ALLOTTED_TIMEOUT")}
    assert await api(f"sched_del {a_leg}") == b"+OK Deleted: 1\n"  # the group is the channel's uuid
    assert await api(f"sched_del {a_leg}") == b"+OK Deleted: 0\n"
    assert await api(f"sched_hangup +60 {a_leg}") == b"+OK\n"
    assert sim.scheduled[a_leg][1] == "ALLOTTED_TIMEOUT"
    assert await api(f"sched_hangup {later} {gone} ALLOTTED_TIMEOUT") == b"-ERR No such channel!\n"
    assert await api("sched_hangup") == b"-USAGE: [+]<time> <uuid> [<cause>]\n"

    # a moment already past: the switch hangs up at once, and the call's end takes its tasks along
    assert await api(f"sched_hangup {int(time.time()) - 1} {a_leg} ALLOTTED_TIMEOUT") == b"+OK\n"
    async with asyncio.timeout(5):
        while sim.live_calls:
            await asyncio.sleep(0.01)
    await sim.settle()
    assert sim.scheduled == {}
    actor.close()


async def test_an_agents_tariff_code_raises_the_captured_custom_event(sim, captures):
    """FACTS 4b, 7409: the B-leg's binding raises CUSTOM smart::code with the B-leg's headers."""
    raw = (captures / "facts" / "raw" / "item4-midcall" / "7409" / "esl-json.raw").read_bytes()
    real = next(e for e in (event_from_frame(f) for f in FrameReader().feed(raw)) if e is not None and e.name == "CUSTOM")
    listener = RawListener(sim.port)
    await listener.open("event json DTMF CUSTOM smart::code")
    a_leg = sim.place_call("bridged", hold=True)
    await sim.settle()
    agent = sim.agent_leg(a_leg)
    sim.press_code(a_leg, "*12")
    await listener.drain()
    (event,) = listener.events()  # the binding keeps the digits: no DTMF events
    assert event.name == "CUSTOM" and event.get("Event-Subclass") == "smart::code"
    assert event.get("smart_kind") == "tariff_code"
    assert event.get("Unique-ID") == agent and event.get("Other-Type") == "originator"
    assert event.get("Other-Leg-Unique-ID") == event.get("Channel-Call-UUID") == a_leg
    assert event.get("variable_last_matching_digits") == "*12"
    assert sim.variable(agent, "last_matching_digits") == "*12" and sim.variable(a_leg, "last_matching_digits") is None

    def headers(e) -> list[str]:
        return [k for k, _ in e.items() if not k.startswith("variable_")]

    # the real event's headers, in its order: the subclass first, the event's own header after the name
    assert headers(event) == [k for k in headers(real) if k in set(headers(event))]
    assert set(headers(event)) == set(headers(real))
    listener.close()


async def test_xml_events_are_laid_out_like_the_capture(sim, captures):
    """switch_xml_toxml(): headers at four spaces, the body's closing tag indented after its
    line break, every closing tag ending its line."""
    raw = (captures / "samples" / "xml-format" / "esl-xml.raw").read_bytes()
    real = next(f for f in FrameReader().feed(raw) if b"<Event-Name>BACKGROUND_JOB<" in f.body)
    actor = RawListener(sim.port)
    await actor.open("event xml BACKGROUND_JOB")
    _, job = await actor.send("bgapi originate loopback/9999/public &park()", 2)
    actor.close()
    assert [k for k, _ in job.headers] == [k for k, _ in real.headers]
    def layout(body: bytes) -> bytes:  # from the end of the headers on, the uuid made neutral
        return re.sub(rb"[0-9a-f]{8}-[0-9a-f-]{27}", b"<uuid>", body[body.index(b"  </headers>"):])

    assert layout(job.body) == layout(real.body)
    assert event_from_frame(job).body.endswith("\n") and not event_from_frame(job).body.endswith(" ")


async def test_log_lines_and_refusals_have_mod_event_socket_frames(sim):
    actor = RawListener(sim.port)
    await actor.open("log 7")
    sim.log(4, "a line\n", file="switch_ivr.c", function="switch_ivr_play", line=12, channel="abc")
    await actor._frames(len(actor.frames) + 1)
    frame = actor.frames[-1]
    assert [k for k, _ in frame.headers] == ["Content-Type", "Content-Length", "Log-Level", "Text-Channel", "Log-File",
                                             "Log-Func", "Log-Line", "User-Data"]
    assert frame.body == b"a line\n" and frame.header("User-Data") == "abc"
    actor.close()
    sim.deny_access = True
    r, w = await asyncio.open_connection("127.0.0.1", sim.port)
    data = await asyncio.wait_for(r.read(), 5)  # then the switch closes the socket
    assert data == b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"
    w.close()
