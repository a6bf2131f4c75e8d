"""Deploying rendered dialplans: one file per number in each node's include folder (grouped
under a thousand context files), written atomically, then ``reloadxml`` on every node over its
Event Socket.

The folder holds one context file per group of numbers that end in the same three digits
(``sn_567.xml``, the context ``sn_567``), which includes the folder of its numbers' files
(``567/41901234567.xml``): a thousand contexts, each with about a thousandth of the numbers,
at any number count. FreeSWITCH 1.10.12's XML loader inserts each element after walking its
earlier siblings (``switch_xml_insert``), so one context per number made a reload grow with
the square of the numbers (10,000: 3.7 s, 30,000: 27 s, 100,000: not done in 5 minutes), and
one context for all would do the same with extensions. A call is matched only against the
numbers of its own context: with 100,000 numbers, the early media of a call to the last of a
context's hundred came 7.1 ms after its INVITE, against 6.5 ms for the first (medians of 15 on
FreeSWITCH 1.10.12, the few extensions of each number passed each costing microseconds); a
context per last four digits would put ten thousand contexts in every reload to save that.

A file is written to a temporary name in the same folder and renamed over the old one, so
FreeSWITCH, which may reload at any moment, reads either the old file or the new one, never
half of one. Nothing is fsynced: the files are derived data, written again from the database
by the full deploy every start does, and the rename alone is what makes a file's change atomic
for a reader; syncing 100,000 files (or their folder after each change) would buy only a
durability the next start restores anyway. The folder remembers what it last wrote, so a
change to one number rewrites one file and a full deploy of unchanged numbers writes nothing.
File work runs in an executor, one thread per node: the event loop never waits on a disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from controller.dialplan.render import BUCKET_DIGITS
from smartnumbers.files import private_folder

log = logging.getLogger(__name__)

# the contexts (and one context per number, the earlier layout, removed by a full deploy), the numbers
_FILE = re.compile(rf"^sn_[0-9]{{{BUCKET_DIGITS},15}}\.xml$|^[0-9]{{{BUCKET_DIGITS}}}/[0-9]{{6,15}}\.xml$")
_BUCKET = re.compile(rf"^[0-9]{{{BUCKET_DIGITS}}}$")


class Switch(Protocol):
    """What deployment needs of a node's Event Socket link (``EventSocketClient`` has it).

    ``reloadxml`` goes through ``bgapi``: the switch runs a plain ``api`` in the listener's
    thread, and a reload of 100,000 numbers (13 s) would hold back every reply live call
    control waits for on the same link."""

    async def bgapi(self, command: str, timeout: float | None = None) -> str: ...


def number_file_name(e164: str, bucket: str) -> str:
    name = f"{bucket}/{e164.lstrip('+')}.xml"
    if not _FILE.match(name) or not e164.endswith(bucket):
        raise ValueError(f"{name!r} is not a number's dialplan file")
    return name


def context_file_name(bucket: str) -> str:
    name = f"sn_{bucket}.xml"
    if not _FILE.match(name):
        raise ValueError(f"{name!r} is not a context's dialplan file")
    return name


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _write_file(path: str, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
    finally:
        os.close(descriptor)


class DialplanFolder:
    """One node's include folder: ``sn_<bucket>.xml`` per context and ``<bucket>/<digits>.xml``
    per number, nothing else touched."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._known: dict[str, bytes] | None = None  # file name -> digest of what is on disk

    def _inventory(self) -> dict[str, bytes]:
        if self._known is None:
            self._known = {}
            for entry in os.scandir(self.path) if self.path.is_dir() else ():
                if _FILE.match(entry.name):
                    self._known[entry.name] = b""  # unknown content: compared on first write
                elif _BUCKET.match(entry.name) and entry.is_dir():
                    for inner in os.scandir(entry.path):
                        name = f"{entry.name}/{inner.name}"
                        if _FILE.match(name):
                            self._known[name] = b""
        return self._known

    def names(self) -> list[str]:
        """The files of the folder that deployment owns."""
        return sorted(self._inventory())

    def write(self, files: Mapping[str, str | None], *, complete: bool = False) -> tuple[int, int]:
        """Write ``files`` (name -> content, None to remove); with ``complete`` every other
        number's file is removed too. Returns (written, removed); unchanged files are left."""
        known = self._inventory()
        private_folder(self.path)
        # a number group's folder is as open as the node's folder: the switch reads both
        group_mode = self.path.stat().st_mode & 0o777
        written = removed = 0
        folder = str(self.path)
        made: set[str] = set()
        for name, text in files.items():
            if not _FILE.match(name):
                raise ValueError(f"{name!r} is not a dialplan file of the folder")
            if text is None:
                removed += self._remove(name)
                continue
            data = text.encode()
            digest = _digest(data)
            previous = known.get(name)
            if previous == digest:
                continue
            target = os.path.join(folder, name)
            if previous == b"":
                try:
                    with open(target, "rb") as existing:
                        if _digest(existing.read()) == digest:
                            known[name] = digest
                            continue
                except OSError:
                    pass
            directory, _, base = name.rpartition("/")
            if directory and directory not in made:
                os.makedirs(os.path.join(folder, directory), mode=group_mode, exist_ok=True)
                made.add(directory)
            temporary = os.path.join(folder, directory, f".{base}.tmp")
            _write_file(temporary, data)
            os.replace(temporary, target)
            known[name] = digest
            written += 1
        if complete:
            for name in [n for n in known if n not in files]:
                removed += self._remove(name)
        return written, removed

    def _remove(self, name: str) -> int:
        known = self._inventory()
        try:
            os.unlink(os.path.join(self.path, name))
        except FileNotFoundError:
            pass
        return 1 if known.pop(name, None) is not None else 0


@dataclass
class NodeDeployment:
    name: str
    folder: DialplanFolder | None
    switch: Switch | None


@dataclass
class DeployReport:
    written: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    reloaded: dict[str, str] = field(default_factory=dict)  # node -> "+OK ..." or the error

    @property
    def changed(self) -> bool:
        return any(self.written.values()) or any(self.removed.values())


class Deployment:
    """Every node's folder and switch: files first, then ``reloadxml`` where something changed.

    A node's reloads never overlap or pile up: a change that arrives while a reload runs waits
    for one more reload, which then covers every change made meanwhile. A reload re-reads every
    file: on FreeSWITCH 1.10.12 (2 vCPU, numbers of about 4.8 kB) 10,000 numbers take 1.5 s,
    30,000 3.8 s and 100,000 13 s, in proportion to the bytes now that no element has more than
    a few hundred children (one context per number took 3.7 s, 27 s and more than 5 minutes).
    With many numbers the files are the fallback, and mod_xml_curl, answered from memory at
    once, is what makes a change live."""

    def __init__(self, nodes: list[NodeDeployment], reload_timeout: float = 120.0) -> None:
        self.nodes = nodes
        self.reload_timeout = reload_timeout
        self._locks: dict[str, asyncio.Lock] = {}
        self._requested: dict[str, int] = {}  # reloads asked for, per node
        self._covered: dict[str, tuple[int, str]] = {}  # (requests covered by the last reload, its reply)

    async def publish(self, files: Mapping[str, str | None], *, complete: bool = False,
                      force_reload: bool = False) -> DeployReport:
        report = DeployReport()
        loop = asyncio.get_running_loop()
        # Nodes that share a folder (switches on one host, one mounted volume) have it written
        # once: two writers of one folder would rename each other's temporary files.
        sharing: dict[Path, list[NodeDeployment]] = {}
        for node in self.nodes:
            if node.folder is not None:
                sharing.setdefault(node.folder.path.resolve(), []).append(node)
        results = await asyncio.gather(*(loop.run_in_executor(None, lambda f=nodes[0].folder: f.write(
            files, complete=complete)) for nodes in sharing.values()))
        for nodes, (written, removed) in zip(sharing.values(), results):
            for node in nodes:
                report.written[node.name], report.removed[node.name] = written, removed
        if report.changed or force_reload:
            results = await asyncio.gather(*(self._reload(node) for node in self.nodes if node.switch is not None))
            report.reloaded.update(results)
        return report

    async def _reload(self, node: NodeDeployment) -> tuple[str, str]:
        request = self._requested[node.name] = self._requested.get(node.name, 0) + 1
        async with self._locks.setdefault(node.name, asyncio.Lock()):
            covered, reply = self._covered.get(node.name, (0, ""))
            if covered >= request:  # a reload that began after this change's files were written
                return node.name, reply
            begins_with = self._requested[node.name]
            try:
                reply = (await node.switch.bgapi("reloadxml", timeout=self.reload_timeout)).strip()
            except Exception as exc:  # noqa: BLE001 - one node down must not stop the others
                log.warning("node %s: reloadxml failed: %s", node.name, exc)
                return node.name, f"-ERR {type(exc).__name__}: {exc}"
            if not reply.startswith("+OK"):
                log.warning("node %s: reloadxml answered %r", node.name, reply)
            self._covered[node.name] = (begins_with, reply)
            return node.name, reply
