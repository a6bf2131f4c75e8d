"""Whole calls as a real FreeSWITCH 1.10.12 reported them, kept as scripts the simulator replays.

Each script is the ordered list of events of one captured call (``shared/freeswitch``): every
header, in wire order, duplicates and multi-value arrays kept. The simulator replays a script
with fresh leg ids, the current time and the caller it is told, so what it sends has the real
shapes and header sets. ``python -m controller.freeswitch.call_scripts <shared/freeswitch>``
rebuilds ``call_scripts.json.gz`` from the captures.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

SCRIPTS_FILE = Path(__file__).with_name("call_scripts.json.gz")

# scenario -> (capture, json events file, what it shows)
SOURCES: dict[str, tuple[str, str]] = {
    "answered": ("samples/tone-call-9999/esl-json-frames.jsonl", "the switch answers, plays a tone, hangs up"),
    "bridged": ("samples/bridge-call-9998/esl-json-frames.jsonl", "A bridged to one B-leg; the caller hangs up"),
    "hunted": ("facts/raw/item2-hunt/7201/events.jsonl", "busy, then no answer, then answered on the third B-leg"),
    "busy": ("facts/raw/item2-hunt/7206/events.jsonl", "the only destination is busy; A refused USER_BUSY"),
    "failed": ("facts/raw/item2-hunt/7208/events.jsonl", "the destination is unreachable (503)"),
    "unanswered": ("facts/raw/item2-hunt/7209/events.jsonl", "the destination rings until the hunt gives up"),
    "dtmf": ("facts/raw/item4-midcall/7401/events.jsonl", "bridged; the called side presses *12 and *34"),
}

# Not call events: the switch's own, or answers to commands.
_SKIP = {"API", "HEARTBEAT", "RE_SCHEDULE", "BACKGROUND_JOB", "RELOADXML", "MODULE_LOAD", "MODULE_UNLOAD"}


def _pairs_from_json(body: str) -> list[list[object]]:
    pairs = json.loads(body, object_pairs_hook=lambda p: p)
    return [[k, v] for k, v in pairs]


def _load(root: Path, source: str) -> list[tuple[float, list[list[object]]]]:
    events = []
    for line in (root / source).read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if "event" in item:  # facts/raw: {"t", "event": {...}} -- re-read the raw for duplicates
            continue
        if item["headers"].get("Content-Type") != "text/event-json":
            continue
        events.append((item["t"], _pairs_from_json(item["body"])))
    if events:
        return events
    # facts/raw captures: take the exact bytes (esl-json.raw) for duplicate keys and arrays,
    # and the arrival times from events.jsonl (same events, same order).
    from controller.freeswitch.protocol import FrameReader

    times = [json.loads(line)["t"] for line in (root / source).read_text().splitlines() if line.strip()]
    frames = FrameReader().feed((root / source).with_name("esl-json.raw").read_bytes())
    bodies = [f.body.decode() for f in frames if f.content_type == "text/event-json"]
    if len(bodies) != len(times):
        raise ValueError(f"{source}: {len(bodies)} events in the raw capture, {len(times)} in events.jsonl")
    return [(t, _pairs_from_json(b)) for t, b in zip(times, bodies)]


def record(root: Path) -> dict[str, dict[str, object]]:
    """Build every script from the captures under ``root`` (shared/freeswitch)."""
    scripts: dict[str, dict[str, object]] = {}
    for name, (source, about) in SOURCES.items():
        raw = _load(root, source)
        legs: list[str] = []
        for _, pairs in raw:
            headers = dict((k, v) for k, v in pairs)
            if headers.get("Event-Name") == "CHANNEL_CREATE":
                legs.append(str(headers["Unique-ID"]))
        events = []
        start = None
        for t, pairs in raw:
            headers = dict((k, v) for k, v in pairs)
            if headers.get("Event-Name") in _SKIP or headers.get("Unique-ID") not in legs:
                continue
            start = t if start is None else start
            events.append([round(t - start, 6), pairs])
        hold = None
        for index, (_, pairs) in enumerate(events):
            event_name = next(v for k, v in pairs if k == "Event-Name")
            if event_name == "CHANNEL_BRIDGE" or (event_name == "CHANNEL_ANSWER" and hold is None and name == "answered"):
                hold = index + 1
        scripts[name] = {"source": source, "about": about, "legs": legs, "hold_after": hold, "events": events}
    scripts["switch"] = {"source": "samples/loopback-originate-and-reloadxml, samples/shutdown", "events": _switch_events(root)}
    return scripts


def _switch_events(root: Path) -> dict[str, list[list[object]]]:
    """One real example each of the events the switch raises on its own or for commands."""
    from controller.freeswitch.protocol import FrameReader, event_from_frame

    found: dict[str, list[list[object]]] = {}
    for source in (
        "samples/loopback-originate-and-reloadxml/esl-json.raw",
        "samples/shutdown/esl-plain.raw",
    ):
        for frame in FrameReader().feed((root / source).read_bytes()):
            event = event_from_frame(frame)
            if event is None:
                continue
            name = event.name or ""
            if name in ("HEARTBEAT", "RELOADXML", "BACKGROUND_JOB", "SHUTDOWN") and name not in found:
                if name == "BACKGROUND_JOB" and event.get("Job-Command-Arg") is None:
                    continue
                pairs: list[list[object]] = [[k, v] for k, v in event.items()]
                if event.body is not None:
                    pairs.append(["_body", event.body])
                found[name] = pairs
    return found


def load() -> dict[str, dict[str, object]]:
    with gzip.open(SCRIPTS_FILE, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m controller.freeswitch.call_scripts <shared/freeswitch>", file=sys.stderr)
        return 2
    scripts = record(Path(argv[1]))
    data = json.dumps(scripts, ensure_ascii=False, separators=(",", ":")).encode()
    SCRIPTS_FILE.write_bytes(gzip.compress(data, 9, mtime=0))
    for name, script in scripts.items():
        if name == "switch":
            print(f"switch       {sorted(script['events'])}")
            continue
        print(f"{name:12} {len(script['events']):4} events, legs {len(script['legs'])}, hold after {script['hold_after']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
