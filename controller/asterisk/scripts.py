"""ARI traffic as a real Asterisk 22.10.1 sent it, kept as scripts the simulator replays.

Each scenario is the ordered list of WebSocket events of one capture (``shared/asterisk/samples``),
every frame byte for byte with its moment; the order of each event type's fields (for the
events the simulator makes itself, such as ``ApplicationReplaced``); the answers of the read-only resources (``info``,
``ping``) are kept as Asterisk wrote them. ``python -m controller.asterisk.scripts
<shared/asterisk>`` rebuilds ``scripts.json.gz`` from the captures.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

SCRIPTS_FILE = Path(__file__).with_name("scripts.json.gz")

# Frames that answer the client (REST over the WebSocket) or concern the link, not a call:
# the simulator makes them from what happens to it.
NOT_REPLAYED = frozenset({"RESTResponse", "ApplicationReplaced"})
# The read-only answers kept as they were: (capture, path, query).
ANSWERS = {
    "asterisk/info": ("06_rest_misc_and_errors.jsonl", "/ari/asterisk/info", {"api_key": "asterisk:asterisk"}),
    "asterisk/ping": ("06_rest_misc_and_errors.jsonl", "/ari/asterisk/ping", None),
}


def scenario_name(capture: Path) -> str:
    """``03_outbound_originate_bridge.jsonl`` → ``outbound_originate_bridge``."""
    return capture.stem.split("_", 1)[1]


def build(root: Path) -> dict:
    """The scripts from the captures under ``root`` (``shared/asterisk``)."""
    samples = root / "samples"
    scenarios: dict[str, list[tuple[int, str]]] = {}
    answers: dict[str, str] = {}
    orders: dict[str, list[str]] = {}
    for capture in sorted(samples.glob("*.jsonl")):
        records = [json.loads(line) for line in capture.read_text().splitlines() if line.strip()]
        scenarios[scenario_name(capture)] = [
            (r["t_ms"], r["raw"]) for r in records if r["kind"] == "ws_event" and r["type"] not in NOT_REPLAYED
        ]
        for record in records:
            if record["kind"] == "ws_event":
                keys = list(record["event"])
                known = orders.setdefault(record["type"], [])
                if len(keys) > len(known):
                    known[:] = keys + [k for k in known if k not in keys]
        for name, (file, path, query) in ANSWERS.items():
            if capture.name == file:
                answers[name] = next(r["response_raw"] for r in records if r["kind"] == "rest"
                                     and r["path"] == path and r["query"] == query and r["status"] == 200)
    return {"scenarios": scenarios, "answers": answers, "orders": orders}


def load() -> dict:
    with gzip.open(SCRIPTS_FILE, "rt") as file:
        return json.load(file)


if __name__ == "__main__":
    data = build(Path(sys.argv[1]))
    with gzip.open(SCRIPTS_FILE, "wt") as file:
        json.dump(data, file, separators=(",", ":"))
    print(f"{SCRIPTS_FILE}: {len(data['scenarios'])} scenarios")
