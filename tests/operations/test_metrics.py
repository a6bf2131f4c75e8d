"""``GET /metrics`` of a real serve application (Event Socket links to the simulator, live
control, hangup capture and rating, the dialplan fetches' listener), parsed with
prometheus_client's own parser; ``/health`` and ``/ready``; the token that guards the metrics."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from datetime import timedelta
from decimal import Decimal

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from controller.freeswitch.client import EventSocketClient
from controller.freeswitch.simulator import FreeSwitchSimulator
from controller.live.service import LiveControl, database_failures, database_tariffs
from controller.live.voice import PriceVoice
from rating.operator_prices import set_price
from smartnumbers import accounts, numbers
from smartnumbers.db import async_session_factory, make_async_engine, utcnow
from smartnumbers.models import ChangeKind, ChangeStatus, ScheduledChange
from smartnumbers.phone import CallerOrigin, RangeClass
from smartnumbers.settings import load_settings
from smartnumbers.main import serve_app
from smartnumbers.version import installed_version
from sync.app import build_app
from sync.live import LIVE
from tests.calls.calls import a_leg, store
from tests.live.conftest import NUMBER, OPERATOR, numbers_in_db, place_smart_call, until  # noqa: F401
from tests.live.test_control_failures import RefusingSwitch

TOKEN = "metrics-token-0123456789"
SWITCH_PASSWORD = "switch-secret-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parsed(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape by name and labels, as Prometheus reads it."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape(client: TestClient) -> dict:
    reply = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 200, await reply.text()
    assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parsed(await reply.text())


@pytest.fixture
def price_list(session) -> None:
    """The operator's prices for premium calls: what rating needs besides the number's tariff."""
    for origin in CallerOrigin:
        set_price(session, OPERATOR, RangeClass.PREMIUM, origin, interconnection_per_minute=Decimal("0.05"),
                  payout_share_percent=Decimal("70"))
    session.commit()


@pytest.fixture
async def serving(db_url, numbers_in_db, price_list, monkeypatch, tmp_path):
    """``serve``'s application on one simulated node, with its own dialplan listener."""
    switch = FreeSwitchSimulator(heartbeat_interval=0)
    await switch.start()
    dialplan_port = free_port()
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES", json.dumps(
        [{"name": "vm", "host": "127.0.0.1", "port": switch.port, "password": "ClueCon"}]))
    monkeypatch.setenv("SMARTNUMBERS_SOUNDS_FOLDER", str(tmp_path / "sounds"))
    monkeypatch.setenv("SMARTNUMBERS_DIALPLAN_HTTP", f"127.0.0.1:{dialplan_port}")
    monkeypatch.setenv("SMARTNUMBERS_SWITCH_HTTP_PASSWORD", SWITCH_PASSWORD)
    monkeypatch.setenv("SMARTNUMBERS_METRICS_TOKEN", TOKEN)
    app = serve_app(load_settings())
    try:
        async with TestClient(TestServer(app)) as client:
            await until(lambda: app[LIVE].resyncs, "connected to the node")
            yield client, switch, f"http://127.0.0.1:{dialplan_port}/freeswitch/dialplan"
    finally:
        await switch.stop()


async def test_a_call_a_fetch_and_a_rating_show_in_the_scrape(serving, numbers_in_db):
    client, switch, dialplan_url = serving
    before = await scrape(client)
    assert value(before, "smartnumbers_build_info", version=installed_version()) == 1
    assert value(before, "smartnumbers_duty_held", duty="node:vm") == 1
    assert value(before, "smartnumbers_duty_held", duty="scheduler") == 1
    assert value(before, "smartnumbers_duty_held", duty="cdr_sweep") is None  # no error folders set
    assert value(before, "smartnumbers_node_up", node="vm") == 1
    assert value(before, "smartnumbers_calls_total") == 0
    assert value(before, "smartnumbers_cdr_lag_seconds_count") == 0

    a_leg = place_smart_call(switch, NUMBER, numbers_in_db["owner"])
    live = client.app[LIVE]
    await until(lambda: a_leg in switch.scheduled, "the call is answered and its cap scheduled")
    talking = await scrape(client)
    assert value(talking, "smartnumbers_calls_up") == 1
    assert value(talking, "smartnumbers_calls_total") == 1
    assert value(talking, "smartnumbers_node_events_total", node="vm") > value(before, "smartnumbers_node_events_total",
                                                                            node="vm")
    assert value(talking, "smartnumbers_node_queue_depth", node="vm") is not None
    assert value(talking, "smartnumbers_node_events_dropped_total", node="vm") == 0

    switch.hang_up(a_leg)
    await until(lambda: not live.calls.get(a_leg), "the call has ended")
    rated = {}

    async def lag_observed() -> bool:
        rated.update(await scrape(client))
        return value(rated, "smartnumbers_cdr_lag_seconds_count") == 1

    async with asyncio.timeout(10):
        while not await lag_observed():
            await asyncio.sleep(0.05)
    assert value(rated, "smartnumbers_calls_up") == 0
    assert value(rated, "smartnumbers_call_setups_total", outcome="answered") == 1
    assert value(rated, "smartnumbers_unrated_calls") == 0
    assert value(rated, "smartnumbers_cdr_lag_seconds_bucket", le="+Inf") == 1
    again = await scrape(client)  # a call is observed once, however often it is scraped
    assert value(again, "smartnumbers_cdr_lag_seconds_count") == 1

    basic = "Basic " + base64.b64encode(f"freeswitch:{SWITCH_PASSWORD}".encode()).decode()
    async with aiohttp.ClientSession(headers={"Authorization": basic}) as http:
        async with http.post(dialplan_url, data={"section": "dialplan", "Caller-Destination-Number": "0800000000",
                                                 "Caller-Context": "public"}) as fetched:
            assert fetched.status == 200
    fetches = await scrape(client)
    assert value(fetches, "smartnumbers_dialplan_fetch_seconds_count") == 1
    assert value(fetches, "smartnumbers_dialplan_fetch_seconds_bucket", le="1.0") == 1


async def test_the_probes_need_no_credential_and_say_what_they_see(serving):
    client, switch, _ = serving
    assert (await client.get("/health")).status == 200
    ready = await client.get("/ready")
    assert ready.status == 200
    assert await ready.json() == {"database": "ok", "nodes": {"vm": "up"}}
    await switch.stop()
    await until(lambda: client.app[LIVE].controls["vm"].client.state != "up", "the link is down")
    ready = await client.get("/ready")
    assert ready.status == 200  # a node down leaves the API, the portal and the other nodes serving
    assert (await ready.json())["nodes"]["vm"] != "up"


async def test_ready_answers_503_when_the_database_is_unreachable(monkeypatch):
    monkeypatch.setenv("SMARTNUMBERS_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    async with TestClient(TestServer(build_app(load_settings()))) as client:
        assert (await client.get("/health")).status == 200
        ready = await client.get("/ready")
        assert ready.status == 503
        assert (await ready.json())["database"].startswith("unreachable: ")


async def test_the_metrics_need_the_token(db_url, monkeypatch):
    async with TestClient(TestServer(build_app(load_settings()))) as client:
        off = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert off.status == 403 and "SMARTNUMBERS_METRICS_TOKEN" in await off.text()
    monkeypatch.setenv("SMARTNUMBERS_METRICS_TOKEN", TOKEN)
    async with TestClient(TestServer(build_app(load_settings()))) as client:
        assert (await client.get("/metrics")).status == 401
        assert (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})).status == 401
        assert (await client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})).status == 401
        assert (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200


async def test_database_figures_unrated_calls_and_late_changes(db_url, session, monkeypatch):
    """A plan change a minute and a half overdue is due and late; one just due is due only;
    a call to a platform number that could not be rated (no tariff) is counted."""
    owner = accounts.add_account(session, "Hotline AG")
    number = numbers.add_number(session, OPERATOR, "+41900111222", owner)
    now = utcnow()
    for overdue in (timedelta(seconds=90), timedelta(seconds=5)):
        session.add(ScheduledChange(number_id=number.id, kind=ChangeKind.PLAN, payload={}, apply_at=now - overdue,
                                    status=ChangeStatus.PENDING, created_by="test"))
    session.add(ScheduledChange(number_id=number.id, kind=ChangeKind.PLAN, payload={}, apply_at=now + timedelta(hours=1),
                                status=ChangeStatus.PENDING, created_by="test"))
    session.commit()
    store(session, a_leg("+41900111222", now - timedelta(minutes=5), 30))  # no tariff: stored, not rated
    session.commit()
    monkeypatch.setenv("SMARTNUMBERS_METRICS_TOKEN", TOKEN)
    async with TestClient(TestServer(build_app(load_settings()))) as client:
        samples = await scrape(client)
    assert value(samples, "smartnumbers_scheduled_changes_due") == 2
    assert value(samples, "smartnumbers_scheduled_changes_late") == 1
    assert value(samples, "smartnumbers_unrated_calls") == 1
    assert value(samples, "smartnumbers_calls_up") is None  # no live control in this process


async def test_a_control_the_switch_refused_is_counted(db_url, numbers_in_db, monkeypatch, tmp_path):
    switch = FreeSwitchSimulator(heartbeat_interval=0)
    await switch.start()
    link = EventSocketClient("127.0.0.1", switch.port, "ClueCon", node="vm")
    running = asyncio.create_task(link.run())
    engine = make_async_engine(db_url)
    monkeypatch.setenv("SMARTNUMBERS_METRICS_TOKEN", TOKEN)
    try:
        from controller.freeswitch.call_control import follow

        await link.wait_up(10)
        sessions = async_session_factory(engine)
        live = LiveControl(controls={"vm": RefusingSwitch(link)}, tariffs=database_tariffs(sessions),
                           voice=PriceVoice(tmp_path, str(tmp_path)), failures=database_failures(sessions))
        first = await link.next_event(10)
        await live.on_resync(first.node, first.legs)
        pump = asyncio.create_task(follow(link, live))
        app = build_app(load_settings())
        app[LIVE] = live
        async with TestClient(TestServer(app)) as client:
            assert value(await scrape(client), "smartnumbers_live_controls_failed_total") == 0
            place_smart_call(switch, NUMBER, numbers_in_db["owner"])
            await until(lambda: live.failed_controls == 1, "the refused cap is counted")
            assert value(await scrape(client), "smartnumbers_live_controls_failed_total") == 1
        pump.cancel()
        await live.settle()
    finally:
        await link.stop()
        running.cancel()
        await switch.stop()
        await engine.dispose()
