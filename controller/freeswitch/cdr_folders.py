"""The CDR files FreeSWITCH writes: ``<uuid>.cdr.json`` in a node's ``err-log-dir`` when
mod_json_cdr gave up posting (it never re-sends them; FACTS 6), and in its ``log-dir`` when
``log-http-and-disk`` keeps a copy of every CDR.

The sweeper hands each error file to the capture service as a leg that came by file, then
moves it to ``swept/`` beside it (kept for audit and reconciliation). A file the adapter refuses
(not a CDR, or values out of any sane range) is recorded with its reason in the same
transaction and goes to ``rejected/``, with ``<name>.reason`` beside it; every other file of the
sweep is stored. A file younger than a few seconds may still be being written: it waits for
the next sweep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from controller.capture import ArrivedLeg, RefusedArrival, Stored, committing_store
from controller.freeswitch.translate import RefusedLeg, cdr_document, leg_from_cdr, named_leg
from smartnumbers.files import private_folder
from smartnumbers.models import LegSource
from smartnumbers.settings import Settings

log = logging.getLogger(__name__)

SUFFIX = ".cdr.json"
SWEPT = "swept"
REJECTED = "rejected"
REASON = ".reason"  # beside a rejected file: why
SETTLE_S = 5.0


def cdr_paths(folder: Path) -> Iterator[Path]:
    """The CDR files directly in a folder (``<uuid>.cdr.json``, ``a_<uuid>.cdr.json``, or the
    log-dir's ``<channel name>__<uuid>.cdr.json``), oldest first."""
    if not folder.is_dir():
        return iter(())
    return iter(sorted((p for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file()),
                       key=lambda p: p.stat().st_mtime))


def read_cdr_file(path: Path, node: str, source: LegSource = LegSource.FILE) -> ArrivedLeg:
    return arrived_cdr(path.read_bytes(), node, source)


def arrived_cdr(body: bytes, node: str, source: LegSource = LegSource.FILE) -> ArrivedLeg:
    """The leg of a CDR file's bytes; ``RefusedLeg`` with the reason."""
    document, text = cdr_document(body, "application/json")
    return ArrivedLeg(leg_from_cdr(document, node), source, text)


@dataclass(slots=True)
class Sweep:
    """One sweep of one node's folder."""

    node: str
    folder: Path
    stored: int = 0
    already_known: int = 0
    rejected: list[str] = field(default_factory=list)


def sweep_folder(
    node: str,
    folder: Path,
    store: Callable[[list[ArrivedLeg], list[RefusedArrival]], Stored],
    *,
    batch: int = 200,
    settle_s: float = SETTLE_S,
) -> Sweep:
    """Store every settled CDR file of the folder through ``store`` (one transaction a batch,
    with the refusals of the batch, committed before the files move), then move them to
    ``swept/``, or to ``rejected/`` with the reason."""
    sweep = Sweep(node, folder)
    now = time.time()
    pending: list[tuple[Path, ArrivedLeg]] = []
    refused: list[tuple[Path, RefusedArrival]] = []

    def flush() -> None:
        if not pending and not refused:
            return
        stored = store([arrival for _, arrival in pending], [refusal for _, refusal in refused])
        sweep.stored += len(stored.new_legs)
        sweep.already_known += len(stored.known_legs)
        _move([path for path, _ in pending], folder / SWEPT)
        for path, refusal in refused:
            _move([path], folder / REJECTED)
            (folder / REJECTED / (path.name + REASON)).write_text(refusal.reason + "\n")
            sweep.rejected.append(path.name)
        pending.clear()
        refused.clear()

    for path in cdr_paths(folder):
        if now - path.stat().st_mtime < settle_s:
            continue
        body = b""
        try:
            body = path.read_bytes()
            pending.append((path, arrived_cdr(body, node)))
        except (RefusedLeg, OSError) as exc:
            log.error("%s: %s refused (%s): moved to %s/", node, path.name, exc, REJECTED)
            refused.append((path, RefusedArrival(node, LegSource.FILE, str(exc), body, named_leg(body), path.name)))
        if len(pending) + len(refused) >= batch:
            flush()
    flush()
    return sweep


def _move(paths: list[Path], target: Path) -> None:
    private_folder(target)
    for path in paths:
        path.replace(target / path.name)


def sweep_all(settings: Settings) -> list[Sweep]:
    """Sweep every configured node's folder once (blocking: from the event loop, in an executor)."""
    with committing_store(settings.database_url, settings.payfast_fee_percent, settings.zone) as store:
        return [sweep_folder(node, Path(folder), store) for node, folder in settings.cdr_error_folders.items()]
