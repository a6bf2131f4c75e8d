"""Event Socket ingest: this project's client against greenswitch and genesis, same run.

A replay server (its own process) sends one recorded stream of real FreeSWITCH 1.10.12 events
(``shared/freeswitch/samples``: call events and command events, mixed, repeated) over
loopback; each client (its own process) counts events per second from the socket to a handler
that reads Event-Name, Unique-ID and one variable, in plain and in JSON, median of the runs.
Every run checks the client delivered exactly the capture's events. Then the resident memory
of this client while the simulator holds 10,000 live calls. Last line: the JSON figures.

The peers are installed (first run only) into an environment of their own, beside the user's
caches rather than in the project's: genesis pins an older typer than the project uses. Their
client processes run with that environment's Python, the same version as the project's. A
peer that cannot be installed stops the benchmark: a ratio without its peer means nothing.

    .venv/bin/python benchmarks/esl_ingest.py [--events 100000] [--runs 5] [--calls 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

REPO = Path(__file__).resolve().parents[1]
CAPTURES = REPO / ".." / "shared" / "freeswitch"
VARIABLE = "variable_sip_from_uri"  # URL-encoded in plain (%40): decoding is part of the work
TARGET_EVENTS_PER_S = 100_000
TARGET_RATIO = 5
TARGET_RSS_MB = 150
PASSWORD = "ClueCon"
CPU_START = 0.0
PEERS = ("greenswitch", "genesis")  # PyPI names, also their import names
PEER_ENV = (Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smartnumbers"
            / f"esl-peers-py{sys.version_info.major}.{sys.version_info.minor}")


def start_cpu_clock() -> None:
    global CPU_START
    CPU_START = time.process_time()

sys.path.insert(0, str(REPO))


# -- the recorded stream ---------------------------------------------------------------------


def recorded_events(fmt: str) -> list[bytes]:
    """The event frames (exact wire bytes) of every sample capture, in capture order."""
    frames = []
    for folder in sorted((CAPTURES / "samples").iterdir()):
        path = folder / f"esl-{fmt}.raw"
        split = folder / f"esl-{fmt}-frames.jsonl"
        if not path.exists() or not split.exists():
            continue
        for line in split.read_text().splitlines():
            frame = json.loads(line)
            kind = frame["headers"].get("Content-Type", "")
            if not kind.startswith("text/event-"):
                continue
            head = "".join(f"{k}: {v}\n" for k, v in frame["headers"].items())
            frames.append(head.encode() + b"\n" + frame["body"].encode())
    return frames


def expected_triple(fmt: str, frame: bytes) -> tuple[str | None, str | None, str | None]:
    """What the handler must see, decoded independently of the client under test."""
    body = frame.split(b"\n\n", 1)[1]
    if fmt == "json":
        data = json.loads(body)
        return data.get("Event-Name"), data.get("Unique-ID"), data.get(VARIABLE)
    headers: dict[str, str] = {}
    for line in body.split(b"\n\n", 1)[0].decode().split("\n"):
        key, _, value = line.partition(": ")
        headers.setdefault(key, unquote(value))
    return headers.get("Event-Name"), headers.get("Unique-ID"), headers.get(VARIABLE)


def digest(triples) -> str:
    h = hashlib.sha256()
    for triple in triples:
        h.update(repr(triple).encode())
    return h.hexdigest()


def stream_plan(fmt: str, count: int) -> tuple[bytes, int, str]:
    events = recorded_events(fmt)
    reps = max(1, count // len(events))
    one = [expected_triple(fmt, e) for e in events]
    return b"".join(events) * reps, len(events) * reps, digest(one * reps)


# -- replay server (own process) ---------------------------------------------------------------


def replay_server(port_file: str, count: int) -> None:
    """Blocking sockets on purpose: this process only replays bytes, as fast as the kernel
    takes them, one client at a time, so the replay is never what is measured."""
    streams = {fmt: stream_plan(fmt, count)[0] for fmt in ("plain", "json")}
    listener = socket.create_server(("127.0.0.1", 0))
    Path(port_file).write_text(str(listener.getsockname()[1]))
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            conn.sendall(b"Content-Type: auth/request\n\n")
            pending = b""
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    pending += data
                    while b"\n\n" in pending:
                        block, pending = pending.split(b"\n\n", 1)
                        line = block.decode().strip().split("\n")[0]
                        if line.startswith("auth "):
                            conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
                        elif line.startswith("event "):
                            fmt = "json" if " json" in line else "plain"
                            conn.sendall(f"Content-Type: command/reply\nReply-Text: +OK event listener enabled {fmt}\n\n".encode())
                            conn.sendall(streams[fmt])
                        elif line == "exit":
                            conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK bye\n\n")
                            raise ConnectionResetError
                        else:
                            conn.sendall(b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n")
            except OSError:
                pass


# -- clients (each in its own process) ---------------------------------------------------------


def result(name: str, fmt: str, seen: list, elapsed: float, expected: int, want: str, cpu: float | None = None) -> dict:
    got = digest(seen)
    cpu = time.process_time() - CPU_START if cpu is None else cpu
    return {
        "client": name,
        "format": fmt,
        "events": len(seen),
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "events_per_s": len(seen) / elapsed if elapsed > 0 else 0.0,
        "events_per_cpu_s": len(seen) / cpu if cpu > 0 else 0.0,
        "exact": len(seen) == expected and got == want,
    }


async def run_ours(port: int, fmt: str, expected: int, want: str) -> dict:
    from controller.freeswitch.client import EventSocketClient

    client = EventSocketClient(
        "127.0.0.1", port, PASSWORD, encoding=fmt, subscription=f"event {fmt} ALL", resync=False, queue_size=1 << 30
    )
    seen: list = []
    append = seen.append
    task = asyncio.create_task(client.run())
    await client.wait_up(10)
    start = time.perf_counter()
    start_cpu_clock()

    async def consume() -> None:
        async for event in client.events():
            append((event.get("Event-Name"), event.get("Unique-ID"), event.get(VARIABLE)))
            if len(seen) >= expected:
                return

    consumer = asyncio.create_task(consume())
    last = -1
    while not consumer.done():
        await asyncio.wait({consumer}, timeout=5)
        if len(seen) == last:
            consumer.cancel()  # stalled: the check below reports it
            break
        last = len(seen)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - CPU_START
    await client.stop()
    await task
    return result("smartnumbers", fmt, seen, elapsed, expected, want, cpu)


async def run_genesis(port: int, fmt: str, expected: int, want: str) -> dict:
    import logging

    logging.disable(logging.CRITICAL)
    from genesis import Inbound

    seen: list = []
    done = asyncio.Event()

    async def handler(event) -> None:
        def first(value):
            return value[0] if isinstance(value, list) else value

        seen.append((first(event.get("Event-Name")), first(event.get("Unique-ID")), first(event.get(VARIABLE))))
        if len(seen) >= expected:
            done.set()

    async with Inbound("127.0.0.1", port, PASSWORD) as client:
        client.on("*", handler)
        start = time.perf_counter()
        start_cpu_clock()
        await client.send(f"event {fmt} ALL")
        last = -1
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), 10)
            except TimeoutError:
                if len(seen) == last:
                    break
                last = len(seen)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - CPU_START
    return result("genesis", fmt, seen, elapsed, expected, want, cpu)


def run_greenswitch(port: int, fmt: str, expected: int, want: str) -> dict:
    import gevent
    import greenswitch

    seen: list = []

    def handler(event) -> None:
        h = event.headers
        seen.append((h.get("Event-Name"), h.get("Unique-ID"), h.get(VARIABLE)))

    client = greenswitch.InboundESL(host="127.0.0.1", port=port, password=PASSWORD)
    client.connect()
    client.register_handle("*", handler)
    start = time.perf_counter()
    start_cpu_clock()
    client.send(f"event {fmt} ALL")
    last, idle = -1, time.monotonic()
    while len(seen) < expected:
        gevent.sleep(0.01)
        if len(seen) != last:
            last, idle = len(seen), time.monotonic()
        elif time.monotonic() - idle > 10:
            break
    elapsed = time.perf_counter() - start
    return result("greenswitch", fmt, seen, elapsed, expected, want)


def client_main(name: str, port: int, fmt: str, count: int) -> None:
    _, expected, want = stream_plan(fmt, count)
    try:
        if name == "greenswitch":
            outcome = run_greenswitch(port, fmt, expected, want)
        elif name == "genesis":
            outcome = asyncio.run(run_genesis(port, fmt, expected, want))
        else:
            outcome = asyncio.run(run_ours(port, fmt, expected, want))
    except ImportError:
        raise  # a peer missing from its environment: no result, and the benchmark stops
    except Exception as exc:  # a peer that cannot do it at all
        outcome = {"client": name, "format": fmt, "events": 0, "seconds": 0, "events_per_s": 0.0, "exact": False, "error": repr(exc)[:200]}
    print(json.dumps(outcome), flush=True)
    os._exit(0)  # peers' reader greenlets/tasks may still block on the socket


# -- memory with 10,000 live calls ---------------------------------------------------------------


async def simulator_main(port_file: str, calls: int) -> None:
    from controller.freeswitch.simulator import FreeSwitchSimulator

    sim = FreeSwitchSimulator(heartbeat_interval=20)
    await sim.start()
    sim.hold_calls(calls)
    Path(port_file).write_text(str(sim.port))
    await asyncio.Event().wait()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def memory_main(port: int) -> None:
    from controller.freeswitch.client import EventSocketClient, Resync

    client = EventSocketClient("127.0.0.1", port, PASSWORD, command_timeout=60)
    task = asyncio.create_task(client.run())
    item = await asyncio.wait_for(client.next_event(), 600)
    while not isinstance(item, Resync):
        item = await asyncio.wait_for(client.next_event(), 600)
    legs = item.legs
    print(json.dumps({"legs": len(legs), "calls": len({leg.call_id for leg in legs}), "rss_mb": rss_mb()}), flush=True)
    await client.stop()
    await task


# -- the peers' own environment -------------------------------------------------------------------


def peer_python() -> tuple[Path, dict[str, str]]:
    """The Python of the peers' environment, created and filled if needed, and their versions.
    Exits with the reason when a peer cannot be installed or imported there."""
    python = PEER_ENV / "bin" / "python"
    if not python.exists():
        print(f"# creating the peers' environment at {PEER_ENV}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_ENV)], check=True)
    probe = "import importlib.metadata as m, json; " + "; ".join(f"import {p}" for p in PEERS) + \
        "; print(json.dumps({p: m.version(p) for p in %r}))" % (PEERS,)
    found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    if found.returncode != 0:
        print(f"# installing {', '.join(PEERS)} into {PEER_ENV}", file=sys.stderr, flush=True)
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEERS], capture_output=True, text=True)
        found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
        if install.returncode != 0 or found.returncode != 0:
            detail = (install.stderr or found.stderr).strip().splitlines()[-3:]
            sys.exit(f"cannot install the peers {', '.join(PEERS)} into {PEER_ENV}: " + " | ".join(detail))
    return python, json.loads(found.stdout)


# -- orchestration ----------------------------------------------------------------------------------


def spawn(*args: str, python: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(python or sys.executable), __file__, *args], stdout=subprocess.PIPE, text=True, cwd=REPO)


def wait_port(path: Path, proc: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        if proc.poll() is not None:
            raise RuntimeError("helper process died")
        time.sleep(0.05)
    raise TimeoutError("helper process did not start")


def one_client_run(name: str, port: int, fmt: str, count: int, python: Path | None = None) -> dict:
    proc = spawn("--client", name, "--port", str(port), "--format", fmt, "--events", str(count), python=python)
    try:
        out, _ = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"client": name, "format": fmt, "events_per_s": 0.0, "exact": False, "error": "hung (killed after 180 s)"}
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{name} ({fmt}) gave no result (its error is above)")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--client")
    parser.add_argument("--port", type=int)
    parser.add_argument("--format", default="plain")
    parser.add_argument("--serve")
    parser.add_argument("--simulate")
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()

    if args.serve:
        replay_server(args.serve, args.events)
        return
    if args.simulate:
        asyncio.run(simulator_main(args.simulate, args.calls))
        return
    if args.memory:
        asyncio.run(memory_main(args.port))
        return
    if args.client:
        client_main(args.client, args.port, args.format, args.events)
        return

    if not (CAPTURES / "samples").is_dir():
        sys.exit(f"captures not found at {CAPTURES.resolve()} (shared/freeswitch beside the repo)")
    peers_python, versions = peer_python()
    print(f"# peers {', '.join(f'{p} {v}' for p, v in versions.items())}, run with {peers_python} (their own environment)",
          file=sys.stderr, flush=True)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"esl_ingest.{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    server = spawn("--serve", str(tmp / "replay.port"), "--events", str(args.events))
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        port = wait_port(tmp / "replay.port", server)
        for run in range(args.runs):
            for fmt in ("plain", "json"):
                for name in ("smartnumbers", *PEERS):
                    outcome = one_client_run(name, port, fmt, args.events, None if name == "smartnumbers" else peers_python)
                    results.setdefault((name, fmt), []).append(outcome)
                    print(f"# run {run + 1} {fmt:5} {name:12} {outcome.get('events_per_s', 0):>10,.0f} events/s exact={outcome.get('exact')}"
                          + (f" error={outcome['error']}" if outcome.get("error") else ""), file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait()

    sim = spawn("--simulate", str(tmp / "sim.port"), "--calls", str(args.calls))
    try:
        sim_port = wait_port(tmp / "sim.port", sim, timeout=600)
        proc = spawn("--memory", "--port", str(sim_port))
        out, _ = proc.communicate(timeout=900)
        memory = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    finally:
        sim.terminate()
        sim.wait()

    def median(name: str, fmt: str) -> tuple[float, bool]:
        runs = results[(name, fmt)]
        exact = all(r.get("exact") for r in runs)
        return statistics.median(r.get("events_per_s", 0.0) for r in runs), exact

    def cpu_median(name: str, fmt: str) -> float:
        return statistics.median(r.get("events_per_cpu_s", 0.0) for r in results[(name, fmt)])

    print(f"Event Socket ingest, {args.events:,} events a run, median of {args.runs} runs, events/s (socket -> handler)")
    print(f"peers: {', '.join(f'{p} {v}' for p, v in versions.items())}, from their own environment {PEER_ENV}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
          "(wall-clock figures suffer when the machine is shared; per CPU-second figures less so)")
    print(f"{'client':14} {'plain':>10} {'per cpu-s':>10} {'exact':>6} {'json':>10} {'per cpu-s':>10} {'exact':>6}")
    table = {}
    for name in ("smartnumbers", "greenswitch", "genesis"):
        plain, plain_ok = median(name, "plain")
        js, js_ok = median(name, "json")
        table[name] = (plain, plain_ok, js, js_ok)
        errors = {r.get("error") for fmt in ("plain", "json") for r in results[(name, fmt)] if r.get("error")}
        print(f"{name:14} {plain:>10,.0f} {cpu_median(name, 'plain'):>10,.0f} {str(plain_ok):>6} "
              f"{js:>10,.0f} {cpu_median(name, 'json'):>10,.0f} {str(js_ok):>6}" + (f"  {sorted(errors)}" if errors else ""))
    print(f"resident memory of the client with {memory['calls']:,} live calls ({memory['legs']:,} legs) resynchronised: {memory['rss_mb']:.1f} MB")

    ours = min(table["smartnumbers"][0], table["smartnumbers"][2])
    ours_exact = table["smartnumbers"][1] and table["smartnumbers"][3]

    def peer_best(index: int, ok_index: int) -> float:
        # a peer that garbles or loses events gets no credit for speed in that format
        return max((table[p][index] for p in ("greenswitch", "genesis") if table[p][ok_index]), default=0.0)

    faster_plain = peer_best(0, 1)
    faster_json = peer_best(2, 3)
    ratio_plain = table["smartnumbers"][0] / faster_plain if faster_plain else None
    ratio_json = table["smartnumbers"][2] / faster_json if faster_json else None
    ratios = [r for r in (ratio_plain, ratio_json) if r is not None]
    ratio = min(ratios) if ratios else None
    print(f"ratio to the faster peer: plain {ratio_plain and f'{ratio_plain:.1f}'}, json {ratio_json and f'{ratio_json:.1f}' or 'no peer delivered JSON exactly'}")
    figures = {
        "events_per_s": {"value": round(ours), "unit": "events/s", "target": TARGET_EVENTS_PER_S, "meets_target": bool(ours_exact and ours >= TARGET_EVENTS_PER_S)},
        "ratio_to_faster_peer": {"value": round(ratio, 2) if ratio is not None else None, "unit": "x", "target": TARGET_RATIO, "meets_target": bool(ratio is not None and ratio >= TARGET_RATIO)},
        "rss_mb_10k_calls": {"value": round(memory["rss_mb"], 1), "unit": "MB", "target": TARGET_RSS_MB, "under": True, "meets_target": bool(memory["rss_mb"] < TARGET_RSS_MB)},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
