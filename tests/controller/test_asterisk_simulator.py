"""The ARI simulator speaks like the real Asterisk 22.10.1 of ``shared/asterisk/samples``: the
same frames, the same REST answers and errors, the same one-socket-per-application rule."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from controller.asterisk import scripts
from controller.asterisk.simulator import SCENARIOS, AsteriskSimulator

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
AUTH = {"Authorization": aiohttp.encode_basic_auth("asterisk", "asterisk")}


def _records(capture: Path) -> list[dict]:
    return [json.loads(line) for line in capture.read_text().splitlines() if line.strip()]


def _capture(root: Path, scenario: str) -> Path:
    return next(p for p in (root / "samples").glob("*.jsonl") if scripts.scenario_name(p) == scenario)


@pytest.fixture
async def sim():
    simulator = AsteriskSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http(sim):
    async with aiohttp.ClientSession() as session:
        yield session


class RawSocket:
    """A bare events WebSocket (no client logic) that records every frame."""

    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session, self.port = session, port
        self.frames: list[str] = []

    async def open(self, app: str = "smartnumbers") -> RawSocket:
        self.ws = await self.session.ws_connect(f"http://127.0.0.1:{self.port}/ari/events",
                                                params={"app": app, "api_key": "asterisk:asterisk"})
        return self

    async def read(self, count: int) -> list[str]:
        while len(self.frames) < count:
            message = await asyncio.wait_for(self.ws.receive(), 5)
            assert message.type is aiohttp.WSMsgType.TEXT, message
            self.frames.append(message.data)
        return self.frames


def test_the_scripts_are_the_captures_and_every_capture_is_proven(asterisk_captures):
    assert json.loads(json.dumps(scripts.build(asterisk_captures))) == scripts.load()
    names = {scripts.scenario_name(p) for p in (asterisk_captures / "samples").glob("*.jsonl")}
    # the one capture without call events: its REST errors and ApplicationReplaced are proven below
    assert names - set(SCENARIOS) == {"rest_misc_and_errors"}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_each_scenario_replays_the_captured_frames_with_fresh_ids_and_times(sim, http, asterisk_captures, scenario):
    captured = [r["raw"] for r in _records(_capture(asterisk_captures, scenario))
                if r["kind"] == "ws_event" and r["type"] not in scripts.NOT_REPLAYED]
    socket = await RawSocket(http, sim.port).open()
    before = datetime.now(UTC) - timedelta(seconds=1)
    fresh = await sim.replay(scenario)
    frames = await socket.read(len(captured))
    assert len(frames) == len(captured) and sim.missed == 0
    old_ids = re.compile("|".join(re.escape(i) for i in sorted(fresh, key=len, reverse=True)))
    for real, got in zip(captured, frames):
        # byte for byte the captured frame once its ids are renamed and its times set aside
        assert STAMP.sub("T", got) == STAMP.sub("T", old_ids.sub(lambda m: fresh[m.group()], real))
        assert not set(fresh) & set(re.findall(r'"id":"([^"]+)"', got))
    # times are now, and keep the captured spacing
    first_real, first_got = (datetime.fromisoformat(STAMP.search(f).group()) for f in (captured[0], frames[0]))
    last_real, last_got = (datetime.fromisoformat(STAMP.search(f).group()) for f in (captured[-1], frames[-1]))
    assert first_got >= before
    assert last_got - first_got == last_real - first_real
    assert len(set(fresh.values())) == len(fresh)  # one fresh id each


async def test_the_replayed_calls_are_listed_while_they_last(sim, http, asterisk_captures):
    captured = _records(_capture(asterisk_captures, "inbound_dialplan_stasis"))
    real = next(r["response_json"] for r in captured if r["kind"] == "rest" and r["method"] == "GET"
                and r["path"] == "/ari/channels")
    sim.hold_calls(1)
    async with http.get(f"http://127.0.0.1:{sim.port}/ari/channels", headers=AUTH) as response:
        listed = await response.json()
    assert response.status == 200 and len(listed) == 2
    assert all(list(channel) == list(real[0]) for channel in listed)  # the captured fields, in order
    async with http.get(f"http://127.0.0.1:{sim.port}/ari/bridges", headers=AUTH) as response:
        (bridge,) = await response.json()
    real_bridge = next(r["event"]["bridge"] for r in _records(_capture(asterisk_captures, "iax2_real_network_calls"))
                       if r["kind"] == "ws_event" and r["type"] == "ChannelEnteredBridge")
    assert list(bridge) == list(real_bridge) and set(bridge["channels"]) == {c["id"] for c in listed}
    # a replayed call is gone once its events say so
    await RawSocket(http, sim.port).open()
    await sim.replay("iax2_real_network_calls")
    assert len(sim.channels) == 2 and sim.live_calls == 1


def _error_exchanges(root: Path) -> list[dict]:
    """Every captured REST exchange that failed for a reason the simulator can reproduce
    without the call it needed: no credentials, an unknown resource or id, a wrong method."""
    found = []
    for capture in sorted((root / "samples").glob("*.jsonl")):
        for record in _records(capture):
            if record["kind"] == "rest" and (record["status"] in (401, 405) or "no-such" in record["path"]):
                found.append(record)
    return found


async def test_rest_errors_are_asterisks_own(sim, http, asterisk_captures):
    exchanges = _error_exchanges(asterisk_captures)
    assert len(exchanges) >= 9
    for record in exchanges:
        auth = {"basic": AUTH, None: {}}.get(record["auth"], {"Authorization": aiohttp.encode_basic_auth("nobody", "wrong")})
        async with http.request(record["method"], f"http://127.0.0.1:{sim.port}{record['path']}",
                                params=record["query"], headers=auth) as response:
            body = await response.read()
        assert (response.status, body.decode()) == (record["status"], record["response_raw"]), record["path"]
        assert response.content_type == record["response_content_type"]


async def test_rest_answers_have_the_captured_shapes(sim, http, asterisk_captures):
    records = [r for p in sorted((asterisk_captures / "samples").glob("*.jsonl")) for r in _records(p)
               if r["kind"] == "rest"]

    def real(method: str, path: str, status: int = 200) -> dict:
        return next(r for r in records if r["method"] == method and re.fullmatch(path, r["path"]) and r["status"] == status)

    (leg,) = sim.hold_calls(1)
    base = f"http://127.0.0.1:{sim.port}/ari"
    for method, path, pattern in (("GET", "/asterisk/ping", "/ari/asterisk/ping"),
                                  ("GET", "/asterisk/info", "/ari/asterisk/info"),
                                  ("GET", "/applications/smartnumbers", "/ari/applications/smartnumbers"),
                                  ("GET", f"/channels/{leg}", r"/ari/channels/[\d.]+")):
        async with http.request(method, base + path, headers=AUTH) as response:
            got = await response.json()
        assert response.status == 200 and list(got) == list(real(method, pattern)["response_json"]), path
    assert leg in got["id"]
    # variables: set, read back, a missing one
    async with http.post(f"{base}/channels/{leg}/variable", params={"variable": "SN_TAG", "value": "vip"}, headers=AUTH) as r:
        assert r.status == real("POST", r"/ari/channels/[\d.]+/variable", 204)["status"]
    async with http.get(f"{base}/channels/{leg}/variable", params={"variable": "SN_TAG"}, headers=AUTH) as r:
        assert await r.read() == b'{"value":"vip"}'
    async with http.get(f"{base}/channels/{leg}/variable", params={"variable": "NOT_SET"}, headers=AUTH) as r:
        assert (r.status, (await r.read()).decode()) == (404, real("GET", r"/ari/channels/[\d.]+/variable", 404)["response_raw"])
    # a channel that is not in the application
    sim.in_application["smartnumbers"].discard(leg)
    async with http.post(f"{base}/channels/{leg}/answer", headers=AUTH) as r:
        conflict = real("POST", r"/ari/channels/[\d.]+/answer", 409)
        assert (r.status, (await r.read()).decode()) == (409, conflict["response_raw"])
    # subscribing to it: the captured answer's shape, naming the channel
    async with http.post(f"{base}/applications/smartnumbers/subscription", params={"eventSource": f"channel:{leg}"},
                         headers=AUTH) as r:
        got = await r.json()
    assert list(got) == list(real("POST", "/ari/applications/smartnumbers/subscription")["response_json"])
    assert leg in got["channel_ids"]


async def test_rest_over_the_websocket_answers_like_asterisk(sim, http, asterisk_captures):
    captured = _records(_capture(asterisk_captures, "rest_over_websocket"))
    sent = {r["message"]["request_id"]: r["message"] for r in captured if r["kind"] == "ws_send"}
    answered = {r["event"]["request_id"]: r["event"] for r in captured if r["kind"] == "ws_event" and r["type"] == "RESTResponse"}
    socket = await RawSocket(http, sim.port).open()
    # the requests that need no originated channel: asterisk/info and a missing channel
    for request_id in ("r1", "r5"):
        await socket.ws.send_str(json.dumps(sent[request_id]))
        got = json.loads((await socket.read(len(socket.frames) + 1))[-1])
        real = answered[request_id]
        assert list(got) == list(real)
        assert {k: got[k] for k in real if k != "timestamp"} == {k: real[k] for k in real if k != "timestamp"}


async def test_a_second_socket_takes_the_application_over(sim, http, asterisk_captures):
    real = next(r["raw"] for r in _records(asterisk_captures / "samples" / "06_rest_misc_and_errors.jsonl")
                if r["kind"] == "ws_event" and r["type"] == "ApplicationReplaced")
    first = await RawSocket(http, sim.port).open()
    second = await RawSocket(http, sim.port).open()
    (replaced,) = await first.read(1)
    assert STAMP.sub("T", replaced) == STAMP.sub("T", real)
    await sim.replay("dtmf_loopback")
    await second.read(26)
    assert len(first.frames) == 1  # the events go to the new socket only


async def test_a_hangup_is_reported_with_the_captured_events(sim, http, asterisk_captures):
    orders = {}
    for capture in sorted((asterisk_captures / "samples").glob("*.jsonl")):
        for record in _records(capture):
            if record["kind"] == "ws_event":
                orders.setdefault(record["type"], set()).add(tuple(record["event"]))
    socket = await RawSocket(http, sim.port).open()
    caller, other = sim.hold_calls(2)
    async with http.delete(f"http://127.0.0.1:{sim.port}/ari/channels/{caller}", headers=AUTH) as r:
        assert r.status == 204
    assert sim.hang_up(other, 17)
    frames = [json.loads(f) for f in await socket.read(6)]
    assert [(f["type"], f.get("cause"), f.get("soft")) for f in frames] == [
        ("ChannelHangupRequest", 32, True), ("StasisEnd", None, None), ("ChannelDestroyed", 16, None),
        ("ChannelHangupRequest", 17, None), ("StasisEnd", None, None), ("ChannelDestroyed", 17, None)]
    for frame in frames:
        assert tuple(frame) in orders[frame["type"]]  # fields as a real Asterisk orders them
    assert frames[5]["cause_txt"] == "User busy"
    assert caller not in sim.channels and sim.live_calls == 0


async def test_events_without_a_socket_are_lost_as_on_asterisk(sim):
    await sim.replay("dtmf_loopback")
    assert sim.missed == 26


async def test_it_holds_ten_thousand_calls(sim):
    sim.hold_calls(10_000)
    assert sim.live_calls == 10_000 and len(sim.channels) == 20_000
