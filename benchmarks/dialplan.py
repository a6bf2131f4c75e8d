"""Dialplans at scale: rendering, deployment and mod_xml_curl fetches beside their targets, measured in one run.

- ``render_deploy_100k_s``: 100,000 numbers (office hours, nights, around the clock, with
  canton holidays; three destinations each, every number its own) rendered from their
  in-memory dialplans and written as one file each into a node's include folder (in the
  folder of the number's last three digits, beside the thousand context files), then
  ``reloadxml`` issued (to the FreeSWITCH simulator; what a real switch's reload of these
  files costs is measured on one and written in controller/dialplan/deploy.py);
- ``single_change_ms``: one number's destinations changed in the database, then the whole path
  of a change: read from the database, rendered, its file rewritten (atomically) in two nodes'
  folders that hold the 100,000 files, ``reloadxml`` answered by every node; median of 30;
- ``xml_curl_throughput_ratio`` and ``xml_curl_p99_ms``: 64 concurrent mod_xml_curl fetches
  against the application's dialplan listener as ``serve`` runs it (credentials, allow-list,
  in-memory table) and, in the same run and by the same load, against a bare aiohttp handler
  returning a fixed document of the same size on the same loop; each server in its own
  process, the load from another, the two loaded in turn ``--runs`` times (the ratio is the
  median of the runs' ratios, the p99 the worst run's). A fetch is sent as the switch sends it:
  the captured request of FACTS.md section 5 (137 form fields, for random numbers of the
  100,000; its headers, with the basic credentials libcurl adds and no ``Expect``) on a new
  connection, closed after the answer (mod_xml_curl runs one libcurl handle per fetch). The
  load is wrk, in C, so that the load generator takes little of the machine's two cores; its
  latency runs from the request, written as soon as the connection is made, to the answer's
  last byte;
- ``xml_curl_attack_p99_ms`` and ``xml_curl_attack_rss_growth_mb``: fetches one after the
  other (each on its own connection, as the switch makes them) against the same listener,
  first alone, then while another process from 127.0.0.2 (not on the allow-list) keeps 1,100
  idle connections and two connections streaming a header without end open, reopening each
  a second after the listener closed it; the p99 under attack beside the p99 alone, and the
  listener's peak memory before and after.

A fully quiet machine gives the figures their meaning; the load average is printed with them.

    .venv/bin/python benchmarks/dialplan.py [--numbers 100000] [--seconds 10] [--runs 5] [--xml-curl-only]

(needs Debian's wrk; ``--xml-curl-only`` renders the table without deploying it and measures the
mod_xml_curl figures alone, a few minutes less.)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import gc
import http.client
import json
import multiprocessing
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import uvloop  # noqa: E402
from aiohttp import web  # noqa: E402

from controller.dialplan import render, view  # noqa: E402
from controller.dialplan.deploy import DialplanFolder, Deployment, NodeDeployment  # noqa: E402
from controller.dialplan.publisher import build_publisher, dialplan_files, render_all  # noqa: E402
from controller.dialplan.table import DialplanTable  # noqa: E402
from controller.freeswitch.client import EventSocketClient  # noqa: E402
from controller.freeswitch.simulator import FreeSwitchSimulator  # noqa: E402
from smartnumbers.models import CallerIdPolicy, Language, OutsideAction  # noqa: E402
from smartnumbers.routing import DestinationPolicy, parse_plan  # noqa: E402

SHARED = REPO.parent / "shared"
PASSWORD = "benchmark-switch-password"
POLICY = DestinationPolicy(False, lambda e164: False)
SHAPES = [
    {"slots": [{"days": "mon-fri", "start": "08:00", "end": "12:00"}, {"days": "mon-fri", "start": "13:00", "end": "18:00"}],
     "canton": "ZH", "rule": "closed", "outside": "announcement"},
    {"slots": [{"days": "mon-thu", "start": "20:00", "end": "06:00"}, {"days": "fri", "start": "18:00", "end": "24:00"}],
     "canton": "BE", "rule": "as_sunday", "outside": "reject"},
    {"slots": [{"days": "mon-sun", "start": "00:00", "end": "24:00"}], "canton": "GE", "rule": "closed",
     "outside": "reject"},
    {"slots": [{"days": "mon-sat", "start": "07:30", "end": "19:30"}], "canton": "TI", "rule": "as_sunday",
     "outside": "fallback"},
]


def number_dialplan(i: int, today: dt.date) -> view.NumberDialplan:
    """The i-th of the numbers: 0900 000 000 + i, its own destinations, one of the shapes."""
    e164 = f"+41900{i:06d}"
    shape = SHAPES[i % len(SHAPES)]
    destinations = [{"target": f"+4144{i:07d}", "ring_timeout": 20}, {"target": f"sip:d{i}@pbx{i % 97}.example.com",
                                                                       "ring_timeout": 15},
                    {"target": f"+4179{i:07d}", "ring_timeout": 30}]
    outside = {"action": shape["outside"]}
    if shape["outside"] == "announcement":
        outside["announcement"] = "Wir sind ab 8 Uhr wieder da."
    if shape["outside"] == "fallback":
        outside["destinations"] = [{"target": f"+4158{i:07d}", "ring_timeout": 25}]
    spec = parse_plan({"slots": [{**s, "destinations": destinations} for s in shape["slots"]], "outside": outside,
                       "holidays": {"canton": shape["canton"], "rule": shape["rule"]}}, POLICY)
    return view.NumberDialplan(
        e164=e164, account_id=1 + i // 10, zone="Europe/Zurich", language=list(Language)[i % 4], unavailable=None,
        blocks=(view.CallerBlock(("+41791112233",), ("+4176",), None),) if i % 5 == 0 else (), max_calls=30,
        tariff_code=1, tariff_version=1,
        price=view.Announcement(f"Dieser Anruf kostet {2 + i % 8} Franken pro Minute.", Language.DE),
        caller_id=(CallerIdPolicy.CALLER, CallerIdPolicy.SMART_NUMBER, CallerIdPolicy.WITHHELD)[i % 3],
        caller_id_number=None, rules=view.time_rules(spec, today),
        hunts=tuple(view.Hunt(str(k), s.describe(), s.destinations) for k, s in enumerate(spec.slots, 1)),
        outside=spec.outside_action,
        outside_announcement=view.Announcement(spec.outside_announcement, Language.DE)
        if spec.outside_announcement else None,
        fallback=view.Hunt(view.FALLBACK, "outside every slot", spec.fallback)
        if spec.outside_action is OutsideAction.FALLBACK else None)


def render_files(dialplans: list[view.NumberDialplan], options) -> tuple[dict[str, str], dict[str, str]]:
    """What the publisher does for a full deploy: the bodies, then the files."""
    by_number = {n.e164: n for n in dialplans}
    bodies, errors = render_all(by_number, options)
    assert not errors, errors
    return bodies, dialplan_files(by_number, bodies, options)


# --- deployment --------------------------------------------------------------------------------------


async def measure_render_deploy(dialplans, options, folder: Path) -> tuple[float, dict, DialplanTable]:
    sim = FreeSwitchSimulator(heartbeat_interval=0)
    await sim.start()
    client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", node="fs1", subscription="event plain HEARTBEAT",
                               resync=False)
    link = asyncio.create_task(client.run())
    await client.wait_up(5)
    try:
        deployment = Deployment([NodeDeployment("fs1", DialplanFolder(folder), client)])
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        bodies, files = await loop.run_in_executor(None, render_files, dialplans, options)
        rendered = time.perf_counter() - start
        report = await deployment.publish(files, complete=True)
        total = time.perf_counter() - start
        table = DialplanTable()
        table.replace_all(bodies)
        assert report.written["fs1"] == len(files) and report.reloaded["fs1"].startswith("+OK")
        return total, {"render_s": rendered, "write_reload_s": total - rendered,
                       "bytes": sum(len(t) for t in files.values())}, table
    finally:
        await client.stop()
        link.cancel()
        await asyncio.gather(link, return_exceptions=True)
        await sim.stop()


async def measure_single_change(folders: list[Path], runs: int = 30) -> list[float]:
    """The whole path of one change, through the publisher, against folders of 100,000 files."""
    from decimal import Decimal

    from smartnumbers import accounts, numbers, routing, tariffs
    from smartnumbers.audit import Actor
    from smartnumbers.db import make_engine, session_factory
    from smartnumbers.migrate import upgrade
    from smartnumbers.models import ActorKind
    from smartnumbers.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="dialplan-bench-db-"))
    url = f"sqlite:///{work / 'smartnumbers.db'}"
    engine = make_engine(url)
    upgrade(engine)
    operator = Actor(ActorKind.CLI, "bench")
    sessions = session_factory(engine)
    with sessions() as session:
        account = accounts.add_account(session, "Bench AG")
        n = numbers.add_number(session, operator, "0900 000 007", account, caller_id_policy="smart_number")
        tariffs.set_tariff(session, operator, n, 1, tariffs.TariffTerms(Decimal("3.50")),
                           valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
        session.commit()
    sims, clients, links = [], {}, []
    for k, _ in enumerate(folders):
        sim = FreeSwitchSimulator(heartbeat_interval=0)
        await sim.start()
        client = EventSocketClient("127.0.0.1", sim.port, "ClueCon", node=f"fs{k + 1}",
                                   subscription="event plain HEARTBEAT", resync=False)
        links.append(asyncio.create_task(client.run()))
        await client.wait_up(5)
        sims.append(sim)
        clients[f"fs{k + 1}"] = client
    settings = load_settings(database_url=url, dialplan_folders={f"fs{k + 1}": str(f) for k, f in enumerate(folders)},
                             sounds_folder=str(work / "sounds"))
    publisher = build_publisher(settings, sessions, clients)
    for node in publisher.deployment.nodes:
        node.folder._inventory()  # the serve process knows its folders long before a change
    timings = []
    try:
        for run in range(runs + 1):
            with sessions() as session:
                number = numbers.find_number(session, "0900 000 007")
                spec = routing.parse_plan({"slots": [{"days": "mon-fri", "start": "08:00", "end": "18:00",
                                                      "destinations": [{"target": f"+4144{run:07d}",
                                                                        "ring_timeout": 20}]}]},
                                          routing.destination_policy(session, number))
                routing.store_plan(session, operator, number, spec)
                session.commit()
            start = time.perf_counter()
            report = await publisher.publish(["+41900000007"])
            elapsed = time.perf_counter() - start
            assert all(v == 1 for v in report.deploy.written.values()), report.deploy
            assert all(r.startswith("+OK") for r in report.deploy.reloaded.values())
            if run:  # the first run makes the announcements with espeak-ng
                timings.append(elapsed * 1000)
    finally:
        for client in clients.values():
            await client.stop()
        for link in links:
            link.cancel()
        await asyncio.gather(*links, return_exceptions=True)
        for sim in sims:
            await sim.stop()
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    return timings


# --- mod_xml_curl --------------------------------------------------------------------------------------


def _serve(kind: str, port: int, table: DialplanTable, ready, pauses) -> None:
    """A server process: the application's dialplan listener, built and run as ``serve`` does,
    or the bare aiohttp handler on the same loop (it returns one number's real answer, so both
    send documents of the same size); its garbage collections timed into ``pauses``."""
    _time_collections(pauses)
    if kind == "bare":
        document = table.answer("0900000000", "carrier")

        async def fixed(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(text=document, content_type="text/xml")

        app = web.Application()
        app.router.add_post("/freeswitch/dialplan", fixed)
        ready.set()
        web.run_app(app, host="127.0.0.1", port=port, loop=uvloop.new_event_loop(), print=None, access_log=None)
    else:
        from smartnumbers.main import run_serve, serve_app
        from smartnumbers.settings import load_settings
        from sync import xml_curl

        settings = load_settings(database_url="sqlite:///:memory:",  # never read: the table is given
                                 switch_http_password=PASSWORD, http=f"127.0.0.1:{_free_port()}",
                                 dialplan_http=f"127.0.0.1:{port}")
        app = serve_app(settings)
        app[xml_curl.DIALPLANS] = table
        ready.set()
        run_serve(app, settings)


def _time_collections(pauses) -> None:
    """Each garbage collection of this process counted in ``pauses`` (collections, milliseconds
    in all, the longest): the loop stands still while one runs."""
    started = 0.0

    def timed(phase: str, info: dict) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            ms = (time.perf_counter() - started) * 1000
            pauses[0], pauses[1], pauses[2] = pauses[0] + 1, pauses[1] + ms, max(pauses[2], ms)

    gc.callbacks.append(timed)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch_form(numbers: int) -> tuple[str, dict[str, str]]:
    """The captured mod_xml_curl request (FACTS.md section 5): its form of 137 fields with
    ``@NUMBER@`` where the switch puts the dialled number, and its headers with the basic
    credentials the binding adds (no ``Expect``: the binding disables it)."""
    captured = _captured_fetch()
    form = captured["form"]
    keys = [k for k, v in form.items() if v == "7501"]
    form = {k: ("carrier" if v == "public" else v) for k, v in form.items()}
    body = urllib.parse.urlencode({**form, **{k: "@NUMBER@" for k in keys}}, safe="@")
    assert "Expect" not in captured["headers"]
    assert captured["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    credentials = base64.b64encode(f"freeswitch:{PASSWORD}".encode()).decode()
    headers = {k: v for k, v in captured["headers"].items() if k not in ("Host", "Content-Length")}
    return body, {**headers, "Authorization": f"Basic {credentials}"}


def _captured_fetch() -> dict:
    path = SHARED / "freeswitch" / "facts" / "raw" / "item5-xml-curl" / "http" / "requests.jsonl"
    return json.loads(path.read_text().splitlines()[0])


# The load: wrk (C), so that the load generator costs little of the two cores' time. Each fetch
# is the captured form for one of 5,000 random numbers of the table (formatted before the
# clock starts, taken in turn), on a connection of its own
# ("Connection: close": mod_xml_curl makes one libcurl handle per fetch and cleans it up after).
# wrk times a fetch from writing the request (right after the connect, so the wait for the
# server's accept is in it) to the answer's last byte; ``done`` prints one line of JSON.
_WRK_SCRIPT = """
local template = [==[{body}]==]
local numbers, pool, fetches, next = {numbers}, {pool}, {{}}, 0
wrk.method = "POST"
wrk.headers = {{{headers}}}

function init(args)
  math.randomseed(4)
  for i = 1, pool do
    local number = string.format("0900%06d", math.random(0, numbers - 1))
    fetches[i] = wrk.format(nil, nil, nil, (template:gsub("@NUMBER@", number)))
  end
end

function request()
  next = next % pool + 1
  return fetches[next]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{{"fetches": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "refused": %d, '
    .. '"errors": %d}}\\n', summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load(port: int, numbers: int, seconds: int, concurrency: int = 64) -> dict:
    """One wrk run against ``port``: fetches per second, p50 and p99 latency, and wrk's CPU per
    fetch; any answer other than 200 or any socket error stops the benchmark."""
    body, headers = fetch_form(numbers)
    headers = {**headers, "Connection": "close"}
    script = _WRK_SCRIPT.format(body=body, numbers=numbers, pool=5000,
                                headers=", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in headers.items()))
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        url = f"http://127.0.0.1:{port}/freeswitch/dialplan"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", file.name, url],
                             capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode:
        raise SystemExit(f"wrk failed ({run.returncode}): {run.stderr or run.stdout}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if result["refused"] or result["errors"]:
        raise SystemExit(f"wrk: {result['refused']} fetches refused, {result['errors']} socket errors\n{run.stdout}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {**result, "per_s": result["fetches"] / result["seconds"], "load_cpu_ms": cpu * 1000 / result["fetches"]}


def _cpu_seconds(pid: int) -> float:
    """A process's CPU time (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def found_numbers(port: int, numbers: int, count: int = 500) -> int:
    """How many of ``count`` fetches for random numbers of the table get the number's extensions
    (a context), asked the same way as the load asks."""
    body, headers = fetch_form(numbers)
    rng = random.Random(4)
    found = 0
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("POST", "/freeswitch/dialplan", body.replace("@NUMBER@", f"0900{rng.randrange(numbers):06d}"),
                           headers)
        reply = connection.getresponse()
        found += reply.status == 200 and b"<context" in reply.read()
        connection.close()
    return found


def _started(context, kind: str, table: DialplanTable):
    """A server process of ``kind`` on a free port, once it accepts connections."""
    port = _free_port()
    ready = context.Event()
    pauses = context.Array("d", 3, lock=False)
    process = context.Process(target=_serve, args=(kind, port, table, ready, pauses), daemon=True)
    process.start()
    ready.wait(30)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, port, pauses


def measure_xml_curl(table: DialplanTable, seconds: int, numbers: int, runs: int) -> dict:
    """Both servers started, then loaded in turn ``runs`` times (so that whatever else the
    machine does falls on both alike); then the attack, on the listener."""
    if shutil.which("wrk") is None:
        raise SystemExit("benchmarks/dialplan.py loads the servers with wrk: apt-get install wrk")
    context = multiprocessing.get_context("fork")
    servers = {kind: _started(context, kind, table) for kind in ("bare", "app")}
    try:
        results = {}
        for kind, (process, port, _) in servers.items():
            load(port, numbers, 2)  # warm-up
            results[kind] = {"found": found_numbers(port, numbers), "runs": []}
        for _ in range(runs):
            for kind, (process, port, pauses) in servers.items():
                cpu = _cpu_seconds(process.pid)
                pauses[:] = [0, 0, 0]
                result = load(port, numbers, seconds)
                result["server_cpu_ms"] = (_cpu_seconds(process.pid) - cpu) * 1000 / result["fetches"]
                result["collections"], result["collections_ms"], result["longest_collection_ms"] = pauses[:]
                result["load_average"] = os.getloadavg()[0]
                results[kind]["runs"].append(result)
        results["attack"] = measure_attack(context, *servers["app"][:2], numbers, seconds)
    finally:
        for process, _, _ in servers.values():
            process.terminate()
            process.join(10)
    return results


# --- the listener under attack --------------------------------------------------------------------------

ATTACKER = "127.0.0.2"  # loopback, but not on the listener's allow-list (127.0.0.1/32, ::1/128)


def _attack(port: int, ready, stop) -> None:
    """The attacker's process: 1,100 idle connections and two streaming a header without end,
    each reopened a second after the listener closed it."""

    async def idle() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
        try:
            await reader.read()
        finally:
            writer.close()

    async def endless_header() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
        try:
            writer.write(b"POST /freeswitch/dialplan HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
            while True:
                writer.write(b"a" * 65536)
                await writer.drain()
        finally:
            writer.close()

    async def again(connection, opened: list[int]) -> None:
        while True:
            opened[0] += 1
            try:
                await connection()
            except OSError:
                pass
            await asyncio.sleep(1)

    async def main() -> None:
        opened = [0]
        tasks = [asyncio.create_task(again(idle, opened)) for _ in range(1100)]
        tasks += [asyncio.create_task(again(endless_header, opened)) for _ in range(2)]
        while opened[0] < len(tasks):
            await asyncio.sleep(0.05)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    uvloop.run(main())


def _memory_kb(pid: int) -> dict[str, int]:
    """A process's resident memory now and at its peak, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def one_by_one(port: int, numbers: int, seconds: int) -> dict:
    """Fetches one after the other for ``seconds``, each on its own connection: latency from
    the connection to the answer's last byte, and the fetches that failed or found no number
    (a fetch taking longer than the switch's 2 s is one). The same 1,000 numbers each time, so
    that the table's answers, built at a number's first fetch, are not what memory measures."""
    body, headers = fetch_form(numbers)
    rng = random.Random(5)
    forms = [body.replace("@NUMBER@", f"0900{rng.randrange(numbers):06d}") for _ in range(1000)]
    latencies, failed = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        form = forms[len(latencies) % len(forms)]
        start = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("POST", "/freeswitch/dialplan", form, headers)
            reply = connection.getresponse()
            found = reply.status == 200 and b"<context" in reply.read()
            connection.close()
        except OSError:
            found = False
        latencies.append((time.perf_counter() - start) * 1000)
        failed += not found
    latencies.sort()
    return {"p50_ms": latencies[len(latencies) // 2], "p99_ms": latencies[int(len(latencies) * 0.99)],
            "max_ms": latencies[-1], "failed": failed, "fetches": len(latencies), "load_average": os.getloadavg()[0]}


def measure_attack(context, process, port: int, numbers: int, seconds: int) -> dict:
    alone = one_by_one(port, numbers, seconds)
    before = _memory_kb(process.pid)
    ready, stop = context.Event(), context.Event()
    attacker = context.Process(target=_attack, args=(port, ready, stop), daemon=True)
    attacker.start()
    try:
        if not ready.wait(60):
            raise SystemExit("the attacker did not open its connections")
        attacked = one_by_one(port, numbers, seconds)
        after = _memory_kb(process.pid)
    finally:
        stop.set()
        attacker.join(10)
        attacker.kill()
    return {"alone": alone, "attacked": attacked, "rss_before_mb": before["VmRSS"] / 1024,
            "rss_after_mb": after["VmRSS"] / 1024, "peak_before_mb": before["VmHWM"] / 1024,
            "peak_after_mb": after["VmHWM"] / 1024}


def build_table(dialplans, options) -> DialplanTable:
    """The table alone, as the publisher fills it (``--xml-curl-only``)."""
    bodies, errors = render_all({n.e164: n for n in dialplans}, options)
    assert not errors, errors
    table = DialplanTable()
    table.replace_all(bodies)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10, help="of fetches, for each server and run")
    parser.add_argument("--runs", type=int, default=5, help="of the fetch load, for each server")
    parser.add_argument("--xml-curl-only", action="store_true", help="only the mod_xml_curl figures")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    today = dt.date(2026, 11, 27)
    options = render.RenderOptions("/var/lib/smartnumbers/sounds")
    work = Path(tempfile.mkdtemp(prefix="dialplan-bench-"))
    figures = {}
    try:
        start = time.perf_counter()
        dialplans = [number_dialplan(i, today) for i in range(args.numbers)]
        built = time.perf_counter() - start
        if args.xml_curl_only:
            table = build_table(dialplans, options)
        else:
            total, parts, table = asyncio.run(measure_render_deploy(dialplans, options, work / "fs1"))
        del dialplans  # the servers below fork from this process: only the table, as in serve
        gc.collect()
        gc.freeze()
        if not args.xml_curl_only:
            shutil.copytree(work / "fs1", work / "fs2")
            changes = asyncio.run(measure_single_change([work / "fs1", work / "fs2"]))
        fetch = measure_xml_curl(table, args.seconds, args.numbers, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at start            {load_at_start[0]:>12.2f}     (1 min; 5 min {load_at_start[1]:.2f})")
    print(f"numbers                          {args.numbers:>12,}")
    print(f"dialplans built in memory        {built:>12.2f} s   (from the model; not part of the figure)")
    if not args.xml_curl_only:
        single = statistics.median(changes)
        print(f"render                           {parts['render_s']:>12.2f} s")
        print(f"write files + reloadxml          {parts['write_reload_s']:>12.2f} s   ({parts['bytes'] / 1e6:.0f} MB)")
        print(f"render + deploy                  {total:>12.2f} s   target < 10 s")
        print(f"one change (db -> 2 nodes)       {single:>12.1f} ms  median of {len(changes)}, "
              f"max {max(changes):.1f} ms; target < 50 ms")
        figures["render_deploy_100k_s"] = {"value": round(total, 2), "unit": "s", "target": 10,
                                           "meets_target": total < 10}
        figures["single_change_ms"] = {"value": round(single, 1), "unit": "ms", "target": 50,
                                       "meets_target": single < 50}
    for run, (bare, app) in enumerate(zip(fetch["bare"]["runs"], fetch["app"]["runs"]), 1):
        for r, label in ((bare, f"run {run}: bare aiohttp handler"), (app, f"run {run}: xml_curl listener")):
            print(f"{label:<32} {r['per_s']:>12,.0f} /s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
                  f"(server CPU {r['server_cpu_ms'] * 1000:.0f} us, load generator CPU "
                  f"{r['load_cpu_ms'] * 1000:.0f} us a fetch; {r['collections']:.0f} garbage collections, "
                  f"longest {r['longest_collection_ms']:.1f} ms; load average {r['load_average']:.2f})")
    ratio = statistics.median(a["per_s"] / b["per_s"] for a, b in zip(fetch["app"]["runs"], fetch["bare"]["runs"]))
    p99 = max(r["p99_ms"] for r in fetch["app"]["runs"])
    print(f"xml_curl / bare throughput       {ratio:>12.2f}     target >= 0.5 (median of the runs' ratios)")
    print(f"xml_curl p99, worst run          {p99:>12.2f} ms  target < 5 ms ({fetch['app']['found']} of 500 sample "
          f"fetches found their number; 64 in flight, so a fetch also waits for the 63 others: "
          f"p50 ~ 64 / throughput)")
    attack = fetch["attack"]
    for key, label in (("alone", "one by one, alone"), ("attacked", "one by one, under attack")):
        r = attack[key]
        print(f"{label:<32} p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.2f} ms  "
              f"({r['failed']} of {r['fetches']} failed or not found; load average {r['load_average']:.2f})")
    growth = attack["peak_after_mb"] - attack["peak_before_mb"]
    print(f"listener memory, attack          RSS {attack['rss_before_mb']:.1f} -> {attack['rss_after_mb']:.1f} MB, "
          f"peak {attack['peak_before_mb']:.1f} -> {attack['peak_after_mb']:.1f} MB; target: peak + < 10 MB")
    attacked = attack["attacked"]["p99_ms"]
    figures["xml_curl_throughput_ratio"] = {"value": round(ratio, 2), "unit": "ratio", "target": 0.5,
                                            "meets_target": ratio >= 0.5}
    figures["xml_curl_p99_ms"] = {"value": round(p99, 2), "unit": "ms", "target": 5, "meets_target": p99 < 5}
    figures["xml_curl_attack_p99_ms"] = {"value": round(attacked, 2), "unit": "ms", "target": 5,
                                         "meets_target": attacked < 5 and not attack["attacked"]["failed"]}
    figures["xml_curl_attack_rss_growth_mb"] = {"value": round(growth, 1), "unit": "MB", "target": 10,
                                                "meets_target": growth < 10}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
