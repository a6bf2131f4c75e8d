"""ARI ingest: this project's client against asyncari, same run.

A replay server (its own process) serves the Swagger documents of Asterisk 22.10.1 (asyncari
loads them at start) and, on the events WebSocket, one recorded stream of real ARI events
(``controller/asterisk/scripts.json.gz``, from ``shared/asterisk/samples``: every call event of
every scenario, repeated) written as fast as the socket takes it. Each client (its own process)
counts events per second from the socket through its dispatch to a handler reading the event's
type: ours parses, queues and translates each event into the neutral call events
(``translate.call_event``); asyncari parses, builds its model objects and hands each event to
a ``*`` listener. Every run checks the client delivered exactly the stream's events. asyncari
runs from an environment of its own (``--peer-python``; created with ``pip install asyncari``
on first use), never the project's. Then the resident memory of our client while the ARI
simulator holds 10,000 live calls and the client has read them back. Last line: the JSON figures.

    .venv/bin/python benchmarks/ari_ingest.py [--events 100000] [--runs 3] [--calls 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "controller" / "asterisk" / "scripts.json.gz"
API_DOCS = REPO / ".." / "shared" / "asterisk" / "samples" / "api-docs"
PEER_ENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "smartnumbers-bench" / "asyncari"
TARGET_EVENTS_PER_S = 50_000
TARGET_RATIO = 5
TARGET_RSS_MB = 150
USER, PASSWORD, APPLICATION = "asterisk", "asterisk", "smartnumbers"


# -- the recorded stream (standard library only: the peer's process reads it too) ---------------


def stream(count: int) -> tuple[list[str], str]:
    """``count`` captured event frames, cycling through every scenario, and the digest of their
    types in order (what each client must have delivered)."""
    with gzip.open(SCRIPTS, "rt") as file:
        scenarios = json.load(file)["scenarios"]
    # DeviceStateChanged (sent only with subscribeAll, which the controller never asks for)
    # stops asyncari 0.20 whole: its DeviceState model has no REST resource ("You need to
    # override .api"), so it is left out for both clients.
    frames = [raw for events in scenarios.values() for _, raw in events if '"type":"DeviceStateChanged"' not in raw]
    chosen = [frames[i % len(frames)] for i in range(count)]
    return chosen, digest(json.loads(f)["type"] for f in chosen)


def digest(types) -> str:
    h = hashlib.sha256()
    for kind in types:
        h.update(kind.encode())
        h.update(b"\n")
    return h.hexdigest()


def result(name: str, types: list[str], elapsed: float, cpu: float, expected: int, want: str) -> dict:
    exact = len(types) == expected and digest(types) == want
    return {"client": name, "events": len(types), "seconds": round(elapsed, 3), "exact": exact,
            "events_per_s": len(types) / elapsed if elapsed else 0.0,
            "events_per_cpu_s": len(types) / cpu if cpu else 0.0}


# -- the replay server ---------------------------------------------------------------------------


def _ws_frame(text: str) -> bytes:
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 65536:
        head = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return head + payload


async def replay_server(port_file: str, count: int) -> None:
    from aiohttp import web

    frames, _ = stream(count)
    chunks = [b"".join(_ws_frame(f) for f in frames[i:i + 2000]) for i in range(0, len(frames), 2000)]

    async def api_doc(request: web.Request) -> web.Response:
        text = (API_DOCS / request.match_info["name"]).read_text()
        return web.Response(text=text.replace("http://127.0.0.1:8088", f"http://127.0.0.1:{port}"),
                            content_type="application/json")

    async def events(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        transport = request.transport
        assert transport is not None
        await asyncio.sleep(1.0)  # time for a client to register its listeners (asyncari does so after connecting)
        for chunk in chunks:  # pre-encoded frames straight to the socket: the server is never the limit
            transport.write(chunk)
            while transport.get_write_buffer_size() > 8 << 20:
                await asyncio.sleep(0.001)
        async for _ in socket:  # keep it open until the client leaves
            pass
        return socket

    app = web.Application()
    app.router.add_get("/ari/api-docs/{name}", api_doc)
    app.router.add_get("/ari/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    Path(port_file).write_text(str(port))
    await asyncio.Event().wait()


# -- the clients ---------------------------------------------------------------------------------


async def run_ours(port: int, expected: int, want: str) -> dict:
    sys.path.insert(0, str(REPO))
    from controller.asterisk import translate
    from controller.asterisk.client import AriClient

    client = AriClient("127.0.0.1", port, USER, PASSWORD, application=APPLICATION, resync=False)
    types: list[str] = []
    call_event = translate.call_event
    start = cpu_start = 0.0
    task = asyncio.create_task(client.run())
    async with asyncio.timeout(600):
        async for batch in client.batches():
            if not types:  # timed from the first event: connecting is not ingest
                start, cpu_start = time.perf_counter(), time.process_time()
            for event in batch:
                call_event(event, "ast1")
                types.append(event["type"])
            if len(types) >= expected:
                break
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    outcome = result("smartnumbers", types, elapsed, cpu, expected, want)
    outcome["dropped"] = client.metrics.events_dropped
    await client.close()
    await asyncio.gather(task, return_exceptions=True)
    return outcome


async def run_asyncari(port: int, expected: int, want: str) -> dict:
    import logging

    import anyio
    import asyncari

    logging.disable(logging.CRITICAL)
    types: list[str] = []
    start = cpu_start = 0.0
    with anyio.move_on_after(600):
        async with asyncari.connect(f"http://127.0.0.1:{port}/", APPLICATION, USER, PASSWORD) as client:
            async with client.on_event("*") as listener:
                async for message in listener:
                    if not types:
                        start, cpu_start = time.perf_counter(), time.process_time()
                    types.append(message["type"])
                    if len(types) >= expected:
                        break
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            outcome = result("asyncari", types, elapsed, cpu, expected, want)
            return outcome
    return result("asyncari", types, time.perf_counter() - start, time.process_time() - cpu_start, expected, want)


def client_main(name: str, port: int, count: int) -> None:
    _, want = stream(count)
    try:
        if name == "asyncari":
            import anyio

            outcome = anyio.run(run_asyncari, port, count, want)
        else:
            outcome = asyncio.run(run_ours(port, count, want))
    except Exception as exc:  # a peer that cannot do it at all
        outcome = {"client": name, "events": 0, "events_per_s": 0.0, "exact": False, "error": repr(exc)[:300]}
    print(json.dumps(outcome), flush=True)
    os._exit(0)


# -- memory with 10,000 live calls ---------------------------------------------------------------


async def simulator_main(port_file: str, calls: int) -> None:
    sys.path.insert(0, str(REPO))
    from controller.asterisk.simulator import AsteriskSimulator

    sim = AsteriskSimulator(user=USER, password=PASSWORD)
    await sim.start()
    sim.hold_calls(calls, application=APPLICATION)
    Path(port_file).write_text(str(sim.port))
    await asyncio.Event().wait()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def memory_main(port: int) -> None:
    sys.path.insert(0, str(REPO))
    from controller.asterisk.client import AriClient
    from controller.calls import Resync

    client = AriClient("127.0.0.1", port, USER, PASSWORD, application=APPLICATION, request_timeout=120)
    task = asyncio.create_task(client.run())
    item = await asyncio.wait_for(client.next_event(), 600)
    while not isinstance(item, Resync):
        item = await asyncio.wait_for(client.next_event(), 600)
    legs = item.legs
    print(json.dumps({"legs": len(legs), "calls": len({leg.call_id for leg in legs}), "rss_mb": rss_mb()}), flush=True)
    await client.close()
    await asyncio.gather(task, return_exceptions=True)


# -- orchestration ---------------------------------------------------------------------------------


def peer_python(given: str | None) -> str:
    """The Python of asyncari's own environment, made on first use."""
    if given:
        return given
    python = PEER_ENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_ENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "asyncari"], check=True)
    return str(python)


def spawn(python: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([python, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=REPO)


def wait_port(path: Path, proc: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        if proc.poll() is not None:
            raise RuntimeError("helper process died")
        time.sleep(0.05)
    raise TimeoutError("helper process did not start")


def one_client_run(python: str, name: str, port: int, count: int) -> dict:
    proc = spawn(python, "--client", name, "--port", str(port), "--events", str(count))
    try:
        out, _ = proc.communicate(timeout=660)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"client": name, "events_per_s": 0.0, "exact": False, "error": "hung (killed after 660 s)"}
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"client": name, "events_per_s": 0.0, "exact": False, "error": "no result"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--peer-python", help="the Python of an environment with asyncari installed")
    parser.add_argument("--client")
    parser.add_argument("--port", type=int)
    parser.add_argument("--serve")
    parser.add_argument("--simulate")
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()

    if args.serve:
        asyncio.run(replay_server(args.serve, args.events))
        return
    if args.simulate:
        asyncio.run(simulator_main(args.simulate, args.calls))
        return
    if args.memory:
        asyncio.run(memory_main(args.port))
        return
    if args.client:
        client_main(args.client, args.port, args.events)
        return

    if not API_DOCS.is_dir():
        sys.exit(f"ARI Swagger documents not found at {API_DOCS.resolve()} (shared/asterisk beside the repo)")
    peer = peer_python(args.peer_python)
    pythons = {"smartnumbers": sys.executable, "asyncari": peer}
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"ari_ingest.{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    results: dict[str, list[dict]] = {name: [] for name in pythons}
    for run in range(args.runs):
        for name, python in pythons.items():
            server = spawn(sys.executable, "--serve", str(tmp / f"replay.{run}.{name}.port"), "--events", str(args.events))
            try:
                port = wait_port(tmp / f"replay.{run}.{name}.port", server)
                outcome = one_client_run(python, name, port, args.events)
            finally:
                server.terminate()
                server.wait()
            results[name].append(outcome)
            print(f"# run {run + 1} {name:12} {outcome.get('events_per_s', 0):>10,.0f} events/s exact={outcome.get('exact')}"
                  + (f" error={outcome['error']}" if outcome.get("error") else ""), file=sys.stderr, flush=True)

    sim = spawn(sys.executable, "--simulate", str(tmp / "sim.port"), "--calls", str(args.calls))
    try:
        sim_port = wait_port(tmp / "sim.port", sim, timeout=600)
        proc = spawn(sys.executable, "--memory", "--port", str(sim_port))
        out, _ = proc.communicate(timeout=900)
        memory = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    finally:
        sim.terminate()
        sim.wait()

    def median(name: str, key: str) -> float:
        return statistics.median(r.get(key, 0.0) for r in results[name])

    print(f"ARI ingest, {args.events:,} events a run, median of {args.runs} runs (socket -> parse -> dispatch -> handler)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
          "(wall-clock figures suffer when the machine is shared; per CPU-second figures less so)")
    print(f"{'client':14} {'events/s':>10} {'per cpu-s':>10} {'exact':>6}")
    exact = {name: all(r.get("exact") for r in runs) for name, runs in results.items()}
    for name in pythons:
        errors = {r.get("error") for r in results[name] if r.get("error")}
        print(f"{name:14} {median(name, 'events_per_s'):>10,.0f} {median(name, 'events_per_cpu_s'):>10,.0f} "
              f"{str(exact[name]):>6}" + (f"  {sorted(errors)}" if errors else ""))
    print(f"resident memory of the client with {memory['calls']:,} live calls ({memory['legs']:,} legs) "
          f"resynchronised: {memory['rss_mb']:.1f} MB")
    ours = median("smartnumbers", "events_per_s")
    peer = median("asyncari", "events_per_s") if exact["asyncari"] else 0.0
    ratio = ours / peer if peer else None
    print(f"ratio to asyncari: {ratio and f'{ratio:.1f}' or 'asyncari did not deliver the stream exactly'}")
    figures = {
        "ari_events_per_s": {"value": round(ours), "unit": "events/s", "target": TARGET_EVENTS_PER_S,
                             "meets_target": bool(exact["smartnumbers"] and ours >= TARGET_EVENTS_PER_S)},
        "ari_ratio_to_peer": {"value": round(ratio, 2) if ratio is not None else None, "unit": "x", "target": TARGET_RATIO,
                              "meets_target": bool(ratio is not None and ratio >= TARGET_RATIO)},
        "ari_rss_mb_10k_calls": {"value": round(memory["rss_mb"], 1), "unit": "MB", "target": TARGET_RSS_MB, "under": True,
                                 "meets_target": bool(memory["rss_mb"] < TARGET_RSS_MB)},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
