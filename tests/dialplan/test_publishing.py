"""One source, two deliveries: files written atomically and incrementally into every node's
folder with ``reloadxml`` over the Event Socket (against the simulator), and the mod_xml_curl
endpoint answered from memory with the same extensions; the CLI commands."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import socket
import threading
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine, event

from controller.dialplan.deploy import DialplanFolder, Deployment, NodeDeployment
from controller.dialplan.publisher import build_publisher
from controller.dialplan.table import called_number, fetch_target
from controller.freeswitch.client import EventSocketClient
from controller.freeswitch.simulator import FreeSwitchSimulator
from smartnumbers import accounts, blacklist, numbers, routing, tariffs
from smartnumbers.audit import Actor
from smartnumbers.db import make_engine, session_factory
from smartnumbers.main import serve_app
from smartnumbers.models import ActorKind
from smartnumbers.settings import load_settings
from sync import xml_curl
from tests.dialplan import freeswitch_dialplan as fsd
from tests.foundation.cli import invoke

OPERATOR = Actor(ActorKind.CLI, "noc")
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PASSWORD = "switch-secret-123"


def office(session, number):
    spec = routing.parse_plan({"slots": [{"days": "mon-sun", "start": "00:00", "end": "24:00", "destinations": [
        {"target": "+41446681800", "ring_timeout": 20}, {"target": "sip:desk@pbx.example.com", "ring_timeout": 15}]}]},
        routing.destination_policy(session, number))
    routing.store_plan(session, OPERATOR, number, spec)


@pytest.fixture
def platform(session):
    account = accounts.add_account(session, "Acme AG")
    premium = numbers.add_number(session, OPERATOR, "0900 123 456", account, caller_id_policy="smart_number")
    tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(Decimal("3.50")),
                       valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    free = numbers.add_number(session, OPERATOR, "0800 555 666", account)
    for n in (premium, free):
        office(session, n)
    session.commit()
    return {"premium": premium, "free": free, "account": account}


@pytest.fixture
async def switch():
    sim = FreeSwitchSimulator(heartbeat_interval=0)
    await sim.start()
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", node="fs1", subscription="event plain HEARTBEAT",
                               resync=False)
    link = asyncio.create_task(client.run())
    await client.wait_up(5)
    yield sim, client
    await client.stop()
    link.cancel()
    await asyncio.gather(link, return_exceptions=True)
    await sim.stop()


def settings_for(db_url, tmp_path, **extra):
    return load_settings(database_url=db_url, dialplan_folders={"fs1": str(tmp_path / "fs1"),
                                                                "fs2": str(tmp_path / "fs2")},
                         sounds_folder=str(tmp_path / "sounds"), switch_http_password=PASSWORD, **extra)


async def test_deploy_writes_each_number_once_per_node_then_reloads_every_node(db_url, platform, tmp_path, switch):
    sim, client = switch
    settings = settings_for(db_url, tmp_path)
    engine = make_engine(db_url)
    publisher = build_publisher(settings, session_factory(engine), {"fs1": client})
    report = await publisher.publish()
    assert report.rendered == 2 and report.errors == {}
    # each number's file in the folder of its last digits, and the context of those digits
    assert report.deploy.written == {"fs1": 4, "fs2": 4} and report.deploy.reloaded["fs1"].startswith("+OK")
    assert sorted(os.listdir(tmp_path / "fs1")) == ["456", "666", "sn_456.xml", "sn_666.xml"]
    assert os.listdir(tmp_path / "fs1" / "666") == ["41800555666.xml"]
    assert 'data="$${smartnumbers_dialplan_dir}/666/*.xml"' in (tmp_path / "fs1" / "sn_666.xml").read_text()
    assert report.announcements_made == 2  # the price (de) and the "nobody answered" notice
    assert "bgapi reloadxml" in sim.commands

    # unchanged: nothing written, no reload
    sim.commands.clear()
    again = await publisher.publish()
    assert again.deploy.written == {"fs1": 0, "fs2": 0} and again.deploy.reloaded == {} and sim.commands == []

    # one number changes: one file per node rewritten, the other untouched, one reload
    untouched = (tmp_path / "fs1" / "666" / "41800555666.xml").stat().st_mtime_ns
    with session_factory(engine)() as session:
        blacklist.add_entry(session, OPERATOR, accounts.find_account(session, "Acme AG"), "+4179*", "spam",
                            number=numbers.find_number(session, "0900 123 456"))
        session.commit()
    one = await publisher.publish(["+41900123456"])
    assert one.deploy.written == {"fs1": 1, "fs2": 1} and sim.commands == ["bgapi reloadxml"]
    assert (tmp_path / "fs1" / "666" / "41800555666.xml").stat().st_mtime_ns == untouched
    assert "blacklist_1" in (tmp_path / "fs2" / "456" / "41900123456.xml").read_text()
    assert not [p for p in (tmp_path / "fs1").rglob("*") if p.name.endswith(".tmp")]
    engine.dispose()


async def test_a_deleted_number_and_stray_files_are_removed_by_a_full_deploy(db_url, platform, tmp_path):
    settings = settings_for(db_url, tmp_path)
    engine = make_engine(db_url)
    publisher = build_publisher(settings, session_factory(engine), {})
    (tmp_path / "fs1" / "000").mkdir(parents=True)
    (tmp_path / "fs1" / "000" / "41848000000.xml").write_text("<include/>")
    (tmp_path / "fs1" / "sn_000.xml").write_text("<include/>")
    (tmp_path / "fs1" / "sn_41848000001.xml").write_text("<include/>")  # a context per number, as once
    (tmp_path / "fs1" / "carrier.xml").write_text("<include/>")  # not deployment's: left alone
    report = await publisher.publish()
    assert report.deploy.removed["fs1"] == 3
    assert sorted(os.listdir(tmp_path / "fs1")) == ["000", "456", "666", "carrier.xml", "sn_456.xml", "sn_666.xml"]
    engine.dispose()


def test_a_reader_never_sees_half_a_file(tmp_path):
    folder = DialplanFolder(tmp_path)
    big = {"456/41900123456.xml": "<include>" + "x" * 2_000_000 + "</include>"}
    folder.write(big)
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            seen.add(len((tmp_path / "456" / "41900123456.xml").read_text()))

    reader = threading.Thread(target=read)
    reader.start()
    versions = ["<include>" + str(i) * (1_000_000 + i) + "</include>" for i in range(30)]
    for text in versions:
        folder.write({"456/41900123456.xml": text})
    stop.set()
    reader.join()
    assert seen <= {len(text) for text in [big["456/41900123456.xml"], *versions]} and len(seen) > 1


def test_called_numbers_in_every_carrier_form():
    for dialled in ("+41900123456", "41900123456", "0041900123456", "0900123456"):
        assert called_number(dialled) == "+41900123456"
    for dialled in ("900123456", "+4190012345", "+419001234567", "0900 123 456", "+33900123456", ""):
        assert called_number(dialled) is None


def _fetch_form(destination: str, context: str = "carrier") -> dict[str, str]:
    """A real mod_xml_curl request (FACTS.md section 5, 137 fields) for another number."""
    path = SHARED / "freeswitch" / "facts" / "raw" / "item5-xml-curl" / "http" / "requests.jsonl"
    if not path.exists():
        pytest.skip(f"real xml_curl captures not found at {path}")
    form = json.loads(path.read_text().splitlines()[0])["form"]
    assert len(form) == 137
    for key in list(form):
        if form[key] == "7501":
            form[key] = destination
        if form[key] == "public":
            form[key] = context
    return form


def _basic(user="freeswitch", password=PASSWORD):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_xml_curl_answers_from_memory_the_same_extensions_as_the_file(db_url, platform, tmp_path):
    port = _free_port()
    settings = settings_for(db_url, tmp_path, dialplan_http=f"127.0.0.1:{port}")
    app = serve_app(settings)
    url = f"http://127.0.0.1:{port}/freeswitch/dialplan"
    async with TestClient(TestServer(app)) as api, aiohttp.ClientSession() as client:
        table = app[xml_curl.DIALPLANS]
        for _ in range(100):
            if len(table) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(table) == 2
        queries = []

        def record(conn, cursor, statement, parameters, *args):
            # the request runs on the event loop's thread; the schedule polls from executor
            # threads, and APScheduler reads its own job table from the loop (and, as it starts,
            # asks whether that table exists, naming it in the parameters)
            if threading.current_thread() is threading.main_thread() and "dialplan_jobs" not in (
                    statement + repr(parameters)):
                queries.append(statement)

        event.listen(Engine, "before_cursor_execute", record)
        try:
            reply = await client.post(url, data=_fetch_form("0900123456"), headers=_basic())
            text = await reply.text()
        finally:
            event.remove(Engine, "before_cursor_execute", record)
        assert reply.status == 200 and reply.content_type == "text/xml" and queries == []
        served = fsd.contexts(text)["carrier"]
        on_disk = fsd.parse_context(ET.fromstring((tmp_path / "fs1" / "456" / "41900123456.xml").read_text()))
        assert served == on_disk
        channel = fsd.Channel("0900123456", "+41791112233", dt.datetime(2026, 12, 2, 10, tzinfo=dt.timezone.utc).timestamp())
        outcome = fsd.run(fsd.hunt(served, channel), channel)
        assert outcome.answered.endpoint == "sofia/gateway/carrier/+41446681800" and outcome.pre_answered

        # after the static dispatcher's transfer the context is the one of the number's last digits
        reply = await client.post(url, data=_fetch_form("+41900123456", "sn_456"), headers=_basic())
        assert fsd.contexts(await reply.text())["sn_456"] == on_disk

        for form in (_fetch_form("0900999999"), _fetch_form("0900123456", "default"), _fetch_form("12345"),
                     {**_fetch_form("0900123456"), "section": "directory"}):
            reply = await client.post(url, data=form, headers=_basic())
            assert 'status="not found"' in await reply.text()

        assert (await client.post(url, data=_fetch_form("0900123456"))).status == 401
        wrong = await client.post(url, data=_fetch_form("0900123456"), headers=_basic(password="x" * 12))
        assert wrong.status == 401
        # the API's port does not answer fetches: FreeSWITCH would fall back to the files
        assert (await api.post("/freeswitch/dialplan", data=_fetch_form("0900123456"), headers=_basic())).status == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_render_deploy_and_diff(db_url, platform, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SMARTNUMBERS_DIALPLAN_FOLDERS", json.dumps({"fs1": str(tmp_path / "fs1")}))
    monkeypatch.setenv("SMARTNUMBERS_SOUNDS_FOLDER", str(tmp_path / "sounds"))
    one = invoke(capsys, "dialplan", "render", "0900 123 456")
    assert one.code == 0 and "for +41900123456" in one.out and '<extension name="number"' in one.out
    assert invoke(capsys, "dialplan", "render", "0900 999 999").code == 2
    out = invoke(capsys, "dialplan", "render", "--out", str(tmp_path / "out"))
    assert out.code == 0 and sorted(os.listdir(tmp_path / "out")) == ["456", "666", "sn_456.xml", "sn_666.xml"]

    diff = invoke(capsys, "dialplan", "diff")
    assert diff.code == 0 and diff.out.count("new") == 4 and "4 file(s) would change" in diff.out
    refused = invoke(capsys, "dialplan", "deploy")  # a folder, but no node to reload it
    assert refused.code == 2 and "nothing reached a switch" in refused.err
    monkeypatch.setenv("SMARTNUMBERS_FREESWITCH_NODES",
                       json.dumps([{"name": "fs1", "host": "127.0.0.1", "port": _free_port(), "password": "x"}]))
    deployed = invoke(capsys, "dialplan", "deploy", "--wait", "0.2")  # the files, but the node is down
    assert deployed.code == 1 and "2 number(s) published" in deployed.out
    assert "nothing reached a switch: the files are written" in deployed.err
    assert "0 file(s) would change" in invoke(capsys, "dialplan", "diff").out
    assert invoke(capsys, "route", "set", "0800 555 666", "--slot", "mon-fri 08:00-12:00 +41446681800/20").code == 0
    diff = invoke(capsys, "dialplan", "diff", "--show")
    assert "+41800555666" in diff.out and "changed" in diff.out and "1 file(s) would change" in diff.out
    assert "+      <condition wday=" in diff.out or "+      <condition" in diff.out


def test_fetch_target_reads_only_the_routing_fields():
    body = b"hostname=vm&section=dialplan&Caller-Destination-Number=0800555666&Hunt-Context=sn_41800555666" \
           b"&Hunt-Destination-Number=%2B41800555666&variable_x=%3C%2Fdocument%3E"
    assert fetch_target(body) == {"section": "dialplan", "destination": "+41800555666", "context": "sn_41800555666"}
    assert fetch_target(b"") == {}


async def test_without_espeak_the_dialplans_are_still_published_and_the_error_reported(db_url, platform, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    engine = make_engine(db_url)
    publisher = build_publisher(settings_for(db_url, tmp_path), session_factory(engine), {})
    report = await publisher.publish()
    assert report.rendered == 2 and "espeak-ng is not installed" in report.errors["announcements"]
    assert sorted(os.listdir(tmp_path / "fs1")) == ["456", "666", "sn_456.xml", "sn_666.xml"]
    engine.dispose()


async def test_reloads_of_a_node_never_overlap_and_coalesce(tmp_path):
    """Ten changes while a slow reload runs: one more reload covers them all."""

    class SlowSwitch:
        def __init__(self):
            self.running = 0
            self.reloads = 0

        async def bgapi(self, command, timeout=None):
            assert self.running == 0, "two reloads at once"
            self.running += 1
            await asyncio.sleep(0.2)
            self.running -= 1
            self.reloads += 1
            return "+OK [Success]"

    switch = SlowSwitch()
    deployment = Deployment([NodeDeployment("fs1", DialplanFolder(tmp_path), switch)])
    first = asyncio.create_task(deployment.publish({"001/41900000001.xml": "<include/>"}))
    await asyncio.sleep(0.05)
    later = [asyncio.create_task(deployment.publish({f"00{i}/4190000000{i}.xml": f"<include>{i}</include>"}))
             for i in range(2, 10)]
    reports = await asyncio.gather(first, *later)
    assert switch.reloads == 2 and all(r.reloaded["fs1"] == "+OK [Success]" for r in reports)


async def test_nodes_sharing_a_folder_have_it_written_once(tmp_path):
    class Switch:
        reloads = 0

        async def bgapi(self, command, timeout=None):
            Switch.reloads += 1
            return "+OK [Success]"

    deployment = Deployment([NodeDeployment(name, DialplanFolder(tmp_path / "shared"), Switch())
                             for name in ("fs1", "fs2")])
    files = {f"{i % 1000:03d}/41900{i:06d}.xml": f"<include>{i}</include>" for i in range(3000)}
    report = await deployment.publish(files, complete=True)
    assert report.written == {"fs1": 3000, "fs2": 3000} and Switch.reloads == 2
    assert sorted(p.name for p in (tmp_path / "shared").rglob("*.tmp")) == []
    assert (tmp_path / "shared" / "999" / "41900002999.xml").read_text() == "<include>2999</include>"


def test_a_folder_is_made_by_writing_only(tmp_path):
    folder = DialplanFolder(tmp_path / "fs1")
    assert folder.names() == [] and not (tmp_path / "fs1").exists()  # what diff reads
    assert folder.write({"sn_001.xml": "<include/>"}) == (1, 0)
    assert folder.names() == ["sn_001.xml"]


def test_fetch_target_matches_whole_field_names_only():
    body = b"X-Hunt-Context=evil&section=dialplan&Hunt-Destination-Number=0800555666&Hunt-Context=carrier"
    assert fetch_target(body) == {"section": "dialplan", "destination": "0800555666", "context": "carrier"}
    assert fetch_target(b"section=dialplan") == {"section": "dialplan"}
    assert fetch_target(b"variable_section=dialplan&x=1") == {}
