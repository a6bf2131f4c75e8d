"""Against a real FreeSWITCH: ``freeswitch_conf/`` loaded as it is, a number published by the
product (files + ``reloadxml`` over the Event Socket), and SIPp calls that hunt from a busy
destination to one that does not answer to one that answers, arriving with the chosen
caller-ID, while a blacklisted caller is refused after a notice in early media.

Needs ``SMARTNUMBERS_TEST_FREESWITCH=host:port:password`` (a reachable switch; a second
process of the same installation runs this suite's configuration on free ports) and sipp.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from controller.dialplan.publisher import build_publisher
from controller.freeswitch.client import EventSocketClient
from smartnumbers import accounts, blacklist, numbers, routing
from smartnumbers.audit import Actor
from smartnumbers.db import make_engine, session_factory
from smartnumbers.models import ActorKind
from smartnumbers.settings import load_settings

pytestmark = pytest.mark.freeswitch

REPO = Path(__file__).resolve().parents[2]
SIPP_SCENARIOS = REPO.parent / "shared" / "freeswitch" / "facts" / "sipp"
CARRIER_CALL = Path(__file__).parent / "sipp" / "uac_carrier.xml"  # the caller also in Remote-Party-ID
OPERATOR = Actor(ActorKind.CLI, "noc")
ESL_PASSWORD = "dialplan-tests-secret"
SWITCH_HTTP_PASSWORD = "xml-curl-tests-secret"


_TAKEN: set[int] = set()


def _free_port(kind=socket.SOCK_STREAM) -> int:
    """A port free for TCP and UDP alike (SIP listens on both) and not handed out before."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        if port not in _TAKEN and port + 1 not in _TAKEN:
            _TAKEN.update((port, port + 1))
            return port


async def _ask(host: str, port: int, password: str, command: str) -> str:
    client = EventSocketClient(host, port, password, subscription="event plain HEARTBEAT", resync=False)
    link = asyncio.create_task(client.run())
    try:
        await client.wait_up(5)
        return await client.api(command)
    finally:
        await client.stop()
        link.cancel()
        await asyncio.gather(link, return_exceptions=True)


@pytest.fixture(scope="module")
def freeswitch(tmp_path_factory):
    """A FreeSWITCH of the reachable switch's installation, started with freeswitch_conf/."""
    target = os.environ.get("SMARTNUMBERS_TEST_FREESWITCH")
    if not target:
        pytest.skip("SMARTNUMBERS_TEST_FREESWITCH is not set (host:port:password of a reachable FreeSWITCH)")
    if shutil.which("sipp") is None:
        pytest.skip("sipp is not installed (apt-get install sipp)")
    if not (SIPP_SCENARIOS / "uas_busy.xml").exists():
        pytest.skip(f"SIPp scenarios of the FACTS not found at {SIPP_SCENARIOS}")
    host, port, password = target.rsplit(":", 2)
    try:
        base = asyncio.run(_ask(host, int(port), password, "global_getvar base_dir")).strip()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"FreeSWITCH at {host}:{port} not reachable: {exc}")
    binary = Path(base) / "bin" / "freeswitch"
    if not binary.exists():
        pytest.skip(f"the reachable FreeSWITCH is installed elsewhere than this host ({binary} missing)")
    root = tmp_path_factory.mktemp("freeswitch")
    conf = root / "conf"
    shutil.copytree(REPO / "freeswitch_conf", conf)
    for folder in ("log", "db", "run", "dialplans", "sounds"):
        (root / folder).mkdir()
    rtp = _free_port(socket.SOCK_DGRAM) // 2 * 2
    ports = {"esl": _free_port(), "sip": _free_port(socket.SOCK_DGRAM), "app": _free_port(), "dialplan": _free_port()}
    env = {**os.environ, "SMARTNUMBERS_ESL_PASSWORD": ESL_PASSWORD, "SMARTNUMBERS_ESL_PORT": str(ports["esl"]),
           "SMARTNUMBERS_SIP_PORT": str(ports["sip"]), "SMARTNUMBERS_RTP_START": str(rtp),
           "SMARTNUMBERS_RTP_END": str(rtp + 100), "SMARTNUMBERS_FS_DIALPLAN_DIR": str(root / "dialplans"),
           "SMARTNUMBERS_APP_URL": f"http://127.0.0.1:{ports['app']}",
           "SMARTNUMBERS_DIALPLAN_URL": f"http://127.0.0.1:{ports['dialplan']}",
           "SMARTNUMBERS_SWITCH_HTTP_PASSWORD": SWITCH_HTTP_PASSWORD}
    process = subprocess.Popen([str(binary), "-nf", "-nc", "-nonat", "-nonatmap", "-conf", str(conf),
                                "-log", str(root / "log"), "-db", str(root / "db"), "-run", str(root / "run")],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = asyncio.run(_ask("127.0.0.1", ports["esl"], ESL_PASSWORD, "sofia status"))
                if "RUNNING" in status:
                    break
            except Exception:  # noqa: BLE001 - still starting
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                log = (root / "log" / "freeswitch.log")
                pytest.fail("FreeSWITCH did not start with freeswitch_conf/: "
                            + (log.read_text()[-2000:] if log.exists() else "no log"))
            time.sleep(0.3)
        yield {"root": root, **ports, "log": root / "log" / "freeswitch.log"}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_configuration_loads_as_it_is(freeswitch):
    ask = lambda command: asyncio.run(_ask("127.0.0.1", freeswitch["esl"], ESL_PASSWORD, command))  # noqa: E731
    for module in ("mod_xml_curl", "mod_json_cdr", "mod_hash", "mod_sndfile", "mod_sofia", "mod_dialplan_xml"):
        assert ask(f"module_exists {module}").strip() == "true", module
    assert ask("global_getvar smartnumbers_dialplan_dir").strip() == str(freeswitch["root"] / "dialplans")
    assert "carrier" in ask("sofia status gateway carrier")
    profile = ask("sofia status profile carrier")
    assert "Context          \tcarrier" in profile or "carrier" in profile.split("Context", 1)[1].splitlines()[0]
    with pytest.raises(Exception):
        asyncio.run(_ask("127.0.0.1", freeswitch["esl"], "ClueCon", "status"))  # never the default password
    loading = freeswitch["log"].read_text().split("New Channel", 1)[0]  # what loading wrote, before any call
    assert "[ERR]" not in loading
    assert "Binding [smartnumbers-dialplan] XML Fetch Function" in loading
    # the session rate a production node needs (vars.xml), not FreeSWITCH's 30 or the 100 that
    # capped a switch at 49 calls/s; the caller-ID on the trunk in RFC 3325's headers
    assert "session(s) per Sec out of max 400," in ask("status")
    assert ask("global_getvar smartnumbers_caller_id_type").strip() == "pid"


class Sipp:
    """sipp user agents on free ports, each writing its SIP trace."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen] = []

    def uas(self, name: str, scenario: str | None) -> int:
        port = _free_port(socket.SOCK_DGRAM)
        media = _free_port(socket.SOCK_DGRAM)
        source = ["-sf", str(SIPP_SCENARIOS / scenario)] if scenario else ["-sn", "uas"]
        self.processes.append(subprocess.Popen(
            ["sipp", *source, "-i", "127.0.0.1", "-p", str(port), "-mp", str(media), "-nostdin", "-trace_msg",
             "-message_file", str(self.folder / f"{name}.log"), "-rtp_echo"],
            cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return port

    def call(self, name: str, sip_port: int, dialled: str, caller: str, timeout: int = 40,
             source: str = "127.0.0.1", scenario: Path = SIPP_SCENARIOS / "uac_call.xml", talk_ms: int = 1000,
             keys: tuple[str, ...] = ()) -> int:
        result = subprocess.run(
            ["sipp", f"127.0.0.1:{sip_port}", "-sf", str(scenario), "-s", dialled, *keys, "-d", str(talk_ms),
             "-key", "cid", caller, "-key", "cname", "Caller", "-i", source, "-p", str(_free_port(socket.SOCK_DGRAM)),
             "-mp", str(_free_port(socket.SOCK_DGRAM)), "-m", "1", "-nostdin", "-timeout",
             f"{timeout}s", "-trace_msg", "-message_file", str(self.folder / f"{name}.log"), "-rtp_echo"],
            cwd=self.folder, capture_output=True, timeout=timeout + 20)
        return result.returncode

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()

    def trace(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def invite(self, name: str, user: str) -> dict[str, list[str]]:
        """The headers of the first INVITE for ``user`` that the user agent ``name`` received."""
        return self.headers_of(self.trace(name).split(f"INVITE sip:{user}@", 1)[1])

    @staticmethod
    def headers_of(message: str) -> dict[str, list[str]]:
        """A SIP message's headers (from its request line on), by lower-case name."""
        headers: dict[str, list[str]] = {}
        for line in message.split("\n\n", 1)[0].splitlines()[1:]:
            field, _, value = line.partition(":")
            headers.setdefault(field.strip().lower(), []).append(value.strip())
        return headers


def test_sipp_hunt_caller_id_and_blacklist_on_a_real_switch(freeswitch, session, db_url, tmp_path):
    sipp = Sipp(tmp_path)
    try:
        busy = sipp.uas("busy", "uas_busy.xml")
        silent = sipp.uas("noanswer", "uas_noanswer.xml")
        answer = sipp.uas("answer", None)
        account = accounts.add_account(session, "Acme AG")
        number = numbers.add_number(session, OPERATOR, "0800 555 666", account, caller_id_policy="smart_number")
        plan = routing.parse_plan({"slots": [{"days": "mon-sun", "start": "00:00", "end": "24:00", "destinations": [
            {"target": f"sip:busy@127.0.0.1:{busy}", "ring_timeout": 5},
            {"target": f"sip:silent@127.0.0.1:{silent}", "ring_timeout": 5},
            {"target": f"sip:desk@127.0.0.1:{answer}", "ring_timeout": 10}]}]},
            routing.destination_policy(session, number))
        routing.store_plan(session, OPERATOR, number, plan)
        blacklist.add_entry(session, OPERATOR, account, "076*", "test", number=number)
        session.commit()

        report = asyncio.run(_publish(freeswitch, db_url))
        assert report.errors == {} and report.deploy.reloaded["fs"].startswith("+OK")

        assert sipp.call("caller", freeswitch["sip"], "0800555666", "41791234567") == 0
        assert "INVITE sip:busy@" in sipp.trace("busy") and "486 Busy Here" in sipp.trace("busy")
        assert "INVITE sip:silent@" in sipp.trace("noanswer") and "CANCEL sip:silent@" in sipp.trace("noanswer")
        invite = sipp.trace("answer").split("INVITE sip:desk@", 1)[1].split("\n\n", 1)[0]
        from_header = next(line for line in invite.splitlines() if line.lower().startswith("from:"))
        assert "+41800555666" in from_header and "41791234567" not in from_header

        sipp.call("blocked", freeswitch["sip"], "0800555666", "0761234567")
        refused = sipp.trace("blocked")
        assert "SIP/2.0 183" in refused and "SIP/2.0 603" in refused
        assert refused.index("SIP/2.0 183") < refused.index("SIP/2.0 603")
        assert sipp.trace("answer").count("INVITE sip:desk@") == 1  # the blocked caller rang nobody

        # the carrier trunk takes calls from the carrier's addresses only
        sipp.call("stranger", freeswitch["sip"], "0800555666", "41791234567", timeout=10, source="127.0.0.2")
        assert "SIP/2.0 403" in sipp.trace("stranger")
        assert sipp.trace("answer").count("INVITE sip:desk@") == 1
    finally:
        sipp.stop()


def test_the_destination_sees_each_caller_id_presentation_in_from_and_the_asserted_identity(
        freeswitch, session, db_url, tmp_path):
    """RFC 3325 on the trunk by default (vars.xml): the number presented is in From and in
    P-Asserted-Identity, a number shown in the caller's place goes without the caller's name,
    and a withheld caller is anonymous in From, asserted with Privacy: id. The carrier's own
    Remote-Party-ID does not decide the header; the trunk setting does."""
    sipp = Sipp(tmp_path)
    try:
        answer = sipp.uas("answer", None)
        account = accounts.add_account(session, "Presenting AG")
        presentations = {"caller": ("0800 555 101", {}), "smart": ("0800 555 102", {}),
                         "fixed": ("0800 555 103", {"caller_id_number": "+41446681899"}),
                         "withheld": ("0800 555 104", {})}
        policies = {"caller": "caller", "smart": "smart_number", "fixed": "fixed", "withheld": "withheld"}
        for user, (dialled, extra) in presentations.items():
            number = numbers.add_number(session, OPERATOR, dialled, account, caller_id_policy=policies[user], **extra)
            routing.store_plan(session, OPERATOR, number, routing.parse_plan(
                {"slots": [{"days": "mon-sun", "start": "00:00", "end": "24:00",
                            "destinations": [{"target": f"sip:{user}@127.0.0.1:{answer}", "ring_timeout": 10}]}]},
                routing.destination_policy(session, number)))
        session.commit()
        assert asyncio.run(_publish(freeswitch, db_url)).errors == {}

        for user, (dialled, _) in presentations.items():
            assert sipp.call(user, freeswitch["sip"], dialled.replace(" ", ""), "41791234567", scenario=CARRIER_CALL,
                             keys=("-key", "privacy", "off")) == 0, user
        seen = {user: sipp.invite("answer", user) for user in presentations}
        for user, headers in seen.items():
            assert "remote-party-id" not in headers, user
        assert seen["caller"]["from"][0].startswith('"Caller" <sip:41791234567@127.0.0.1>')
        assert seen["caller"]["p-asserted-identity"] == ['"Caller" <sip:41791234567@127.0.0.1>']
        assert seen["caller"]["privacy"] == ["none"]
        for user, shown in (("smart", "+41800555102"), ("fixed", "+41446681899")):
            assert seen[user]["from"][0].startswith(f"<sip:{shown}@127.0.0.1>"), seen[user]["from"]
            assert seen[user]["p-asserted-identity"] == [f"<sip:{shown}@127.0.0.1>"]
        withheld = seen["withheld"]
        assert withheld["from"][0].startswith('"Anonymous" <sip:anonymous@anonymous.invalid>')
        assert withheld["privacy"] == ["id"]
        assert withheld["p-asserted-identity"] == ['"Caller" <sip:41791234567@127.0.0.1>']

        # a caller who withheld their own number stays withheld where the caller's number is shown
        assert sipp.call("clir", freeswitch["sip"], "0800555101", "41791234567", scenario=CARRIER_CALL,
                         keys=("-key", "privacy", "full")) == 0
        clir = Sipp.headers_of(sipp.trace("answer").split("INVITE sip:caller@")[2])
        assert clir["from"][0].startswith('"Anonymous" <sip:anonymous@anonymous.invalid>')
        assert clir["privacy"] == ["id"]
        assert clir["p-asserted-identity"] == ['"Caller" <sip:41791234567@127.0.0.1>']

        # a carrier that asks for Remote-Party-ID (the trunk setting, read as each call is bridged)
        assert asyncio.run(_ask_async(freeswitch, "global_setvar smartnumbers_caller_id_type=rpid")).startswith("+OK")
        try:
            for user in ("smart", "withheld"):
                dialled = presentations[user][0].replace(" ", "")
                assert sipp.call(f"{user}-rpid", freeswitch["sip"], dialled, "41791234567", scenario=CARRIER_CALL,
                                 keys=("-key", "privacy", "off")) == 0
        finally:
            asyncio.run(_ask_async(freeswitch, "global_setvar smartnumbers_caller_id_type=pid"))
        rpid = sipp.trace("answer").split("INVITE sip:smart@")
        assert len(rpid) == 3
        smart = Sipp.headers_of(rpid[2])
        assert smart["remote-party-id"] == ["<sip:+41800555102@127.0.0.1>;party=calling;screen=yes;privacy=off"]
        assert "p-asserted-identity" not in smart
        withheld = Sipp.headers_of(sipp.trace("answer").split("INVITE sip:withheld@")[2])
        assert withheld["from"][0].startswith('"Anonymous" <sip:anonymous@anonymous.invalid>')
        assert withheld["remote-party-id"] == ['"Caller" <sip:41791234567@127.0.0.1>;party=calling;screen=yes;privacy=full']
    finally:
        sipp.stop()


def test_a_0906_caller_who_does_not_confirm_their_age_is_refused_unanswered(freeswitch, session, db_url, tmp_path):
    """The age check runs in early media: without the confirming digit the caller hears the
    prompt and the refusal (183), is refused (603), is never answered, and nothing rings."""
    sipp = Sipp(tmp_path)
    try:
        answer = sipp.uas("answer", None)
        account = accounts.add_account(session, "Night AG")
        number = numbers.add_number(session, OPERATOR, "0906 555 666", account)
        plan = routing.parse_plan({"slots": [{"days": "mon-sun", "start": "00:00", "end": "24:00", "destinations": [
            {"target": f"sip:desk@127.0.0.1:{answer}", "ring_timeout": 10}]}]},
            routing.destination_policy(session, number))
        routing.store_plan(session, OPERATOR, number, plan)
        session.commit()
        assert asyncio.run(_publish(freeswitch, db_url)).errors == {}

        sipp.call("adult", freeswitch["sip"], "0906555666", "41791234567", timeout=60)
        refused = sipp.trace("adult")
        assert "SIP/2.0 183" in refused and "SIP/2.0 603" in refused and "SIP/2.0 200" not in refused
        assert refused.index("SIP/2.0 183") < refused.index("SIP/2.0 603")
        assert "INVITE sip:desk@" not in sipp.trace("answer")
    finally:
        sipp.stop()


async def _publish(freeswitch, db_url):
    client = EventSocketClient("127.0.0.1", freeswitch["esl"], ESL_PASSWORD, node="fs",
                               subscription="event plain HEARTBEAT", resync=False)
    link = asyncio.create_task(client.run())
    try:
        await client.wait_up(5)
        settings = load_settings(database_url=db_url, dialplan_folders={"fs": str(freeswitch["root"] / "dialplans")},
                                 sounds_folder=str(freeswitch["root"] / "sounds"))
        engine = make_engine(db_url)
        report = await build_publisher(settings, session_factory(engine), {"fs": client}).publish()
        engine.dispose()
        return report
    finally:
        await client.stop()
        link.cancel()
        await asyncio.gather(link, return_exceptions=True)


def test_a_number_routed_by_xml_curl_alone_on_a_real_switch(freeswitch, session, db_url, tmp_path):
    """No file for the number: the switch asks the application's endpoint (credentials from the
    environment, the in-memory table) and the call is answered with the same extensions."""
    from aiohttp.test_utils import TestServer

    from smartnumbers.main import serve_app
    from sync import xml_curl

    sipp = Sipp(tmp_path)
    try:
        answer = sipp.uas("answer", None)
        account = accounts.add_account(session, "Curl AG")
        number = numbers.add_number(session, OPERATOR, "0800 777 888", account, caller_id_policy="withheld")
        routing.store_plan(session, OPERATOR, number, routing.parse_plan(
            {"slots": [{"days": "mon-sun", "start": "00:00", "end": "24:00",
                        "destinations": [{"target": f"sip:curl@127.0.0.1:{answer}", "ring_timeout": 10}]}]},
            routing.destination_policy(session, number)))
        session.commit()
        (freeswitch["root"] / "dialplans" / "888" / "41800777888.xml").unlink(missing_ok=True)

        async def scenario():
            settings = load_settings(database_url=db_url, switch_http_password=SWITCH_HTTP_PASSWORD,
                                     sounds_folder=str(freeswitch["root"] / "sounds"),
                                     dialplan_http=f"127.0.0.1:{freeswitch['dialplan']}")
            engine = make_engine(db_url)
            publisher = build_publisher(settings, session_factory(engine), {})
            report = await publisher.publish()  # no node folders: the table only
            assert report.errors == {} and "+41800777888" in publisher.table
            app = serve_app(settings)
            app[xml_curl.DIALPLANS] = publisher.table
            server = TestServer(app, host="127.0.0.1", port=freeswitch["app"])
            await server.start_server()
            try:
                await _ask_async(freeswitch, "reloadxml")
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(None, sipp.call, "caller", freeswitch["sip"], "0800777888",
                                                  "41791234567")
            finally:
                await server.close()
                engine.dispose()

        assert asyncio.run(scenario()) == 0
        invite = sipp.trace("answer").split("INVITE sip:curl@", 1)[1].split("\n\n", 1)[0]
        from_header = next(line for line in invite.splitlines() if line.lower().startswith("from:"))
        assert "anonymous" in from_header.lower() and "41791234567" not in from_header  # withheld
        headers = sipp.invite("answer", "curl")  # the same as through the files
        assert headers["from"][0].startswith('"Anonymous" <sip:anonymous@anonymous.invalid>')
        assert headers["privacy"] == ["id"] and "remote-party-id" not in headers
        assert headers["p-asserted-identity"] == ['"Caller" <sip:41791234567@127.0.0.1>']
    finally:
        sipp.stop()


async def _ask_async(freeswitch, command: str) -> str:
    return await _ask("127.0.0.1", freeswitch["esl"], ESL_PASSWORD, command)
