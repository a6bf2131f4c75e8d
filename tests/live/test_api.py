"""The live-call API: an account lists and switches its own calls only."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from smartnumbers import accounts
from smartnumbers.models import Account
from smartnumbers.settings import load_settings
from sync.app import build_app
from sync.live import LIVE
from tests.live.conftest import NUMBER


@pytest.fixture
def tokens(session, numbers_in_db) -> dict[str, str]:
    issued = {name: accounts.add_token(session, session.get(Account, account_id), "portal").secret
              for name, account_id in numbers_in_db.items()}
    session.commit()
    return issued


@pytest.fixture
async def api(rig, tokens):
    app = build_app(load_settings())
    app[LIVE] = rig.live
    async with TestClient(TestServer(app)) as client:
        yield client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_an_account_switches_its_own_call(api, rig, tokens, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    rig.clock.talk(rig.live.calls.get(a_leg).answered_at, 40.2)
    reply = await api.post(f"/api/v1/calls/{a_leg}/tariff", json={"code": 12}, headers=bearer(tokens["owner"]))
    assert reply.status == 200
    body = await reply.json()
    assert body["outcome"] == "switched"
    assert body["segment"] == {"code": 12, "start_s": 44, "announcement_s": 4}
    assert rig.switch.variable(a_leg, "smart_tariff_segments") == "1@0;12@44+4"
    # a client asked: the answer is HTTP, the agent hears no tone
    assert not [b for b in rig.switch.broadcasts if b[1].startswith("tone_stream")]
    listed = await (await api.get("/api/v1/calls", headers=bearer(tokens["owner"]))).json()
    [call] = listed["calls"]
    assert call["call_id"] == a_leg and call["tariff_code"] == 12 and call["charge"] == "1.50"


async def test_another_account_can_neither_see_nor_switch_the_call(api, rig, tokens, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    listed = await (await api.get("/api/v1/calls", headers=bearer(tokens["other"]))).json()
    assert listed == {"calls": []}
    reply = await api.post(f"/api/v1/calls/{a_leg}/tariff", json={"code": 12}, headers=bearer(tokens["other"]))
    assert reply.status == 404
    assert rig.switch.variable(a_leg, "smart_tariff_segments") is None


async def test_refusals_answer_with_their_reason(api, rig, tokens, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    rig.clock.talk(rig.live.calls.get(a_leg).answered_at, 20)
    owner = bearer(tokens["owner"])
    unknown = await api.post(f"/api/v1/calls/{a_leg}/tariff", json={"code": 55}, headers=owner)
    assert unknown.status == 422 and (await unknown.json())["outcome"] == "no_such_code"
    for bad in ({"code": 0}, {"code": "12"}, {"code": 91}, [12]):
        assert (await api.post(f"/api/v1/calls/{a_leg}/tariff", json=bad, headers=owner)).status == 400
    assert (await api.post("/api/v1/calls/nonexistent/tariff", json={"code": 12}, headers=owner)).status == 404
    assert (await api.post(f"/api/v1/calls/{a_leg}/tariff", json={"code": 12})).status == 401
    assert rig.switch.variable(a_leg, "smart_tariff_segments") is None


async def test_serve_runs_live_control_on_the_configured_nodes(db_url, numbers_in_db, tokens, monkeypatch, tmp_path):
    """As ``smartnumbers serve`` wires it: the app connects to the node, schedules the cap of
    an answered call and lists it to its owner."""
    import json

    from sync.live import live_control
    from controller.freeswitch.simulator import FreeSwitchSimulator
    from tests.live.conftest import place_smart_call, until

    switch = FreeSwitchSimulator(heartbeat_interval=0)
    await switch.start()
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES", json.dumps(
        [{"name": "vm", "host": "127.0.0.1", "port": switch.port, "password": "ClueCon"}]))
    monkeypatch.setenv("SMARTNUMBERS_SOUNDS_FOLDER", str(tmp_path / "sounds"))
    app = build_app(load_settings())
    app.cleanup_ctx.append(live_control)
    try:
        async with TestClient(TestServer(app)) as client:
            live = app[LIVE]
            await until(lambda: live.resyncs, "connected to the node")
            a_leg = place_smart_call(switch, NUMBER, numbers_in_db["owner"])
            await until(lambda: a_leg in switch.scheduled, "the cap is scheduled on the switch")
            listed = await (await client.get("/api/v1/calls", headers=bearer(tokens["owner"]))).json()
            assert [c["call_id"] for c in listed["calls"]] == [a_leg]
    finally:
        await switch.stop()


async def test_live_answers_are_those_the_document_describes(api, rig, tokens, numbers_in_db):
    from tests.api.conftest import assert_described

    document = await (await api.get("/api/v1/openapi.json")).json()
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    rig.clock.talk(rig.live.calls.get(a_leg).answered_at, 40.2)
    switch = "/api/v1/calls/{call_id}/tariff"
    asked = [("GET", "/api/v1/calls", "/api/v1/calls", None, 200),
             ("POST", switch, switch.format(call_id=a_leg), {"code": 12}, 200),
             ("POST", switch, switch.format(call_id=a_leg), {"code": 55}, 422),
             ("POST", switch, switch.format(call_id=a_leg), {"code": "12"}, 400),
             ("POST", switch, switch.format(call_id="gone"), {"code": 12}, 404),
             ("GET", "/api/v1/calls", "/api/v1/calls", None, 200)]
    for method, template, path, body, status in asked:
        reply = await api.request(method, path, json=body, headers=bearer(tokens["owner"]))
        answer = await reply.read()
        assert reply.status == status, answer
        assert_described(document, method, template, reply.status, reply.content_type, answer)
    listed = await (await api.get("/api/v1/calls", headers=bearer(tokens["owner"]))).json()
    assert listed["calls"][0]["started_at"][-6:] in ("+01:00", "+02:00")
