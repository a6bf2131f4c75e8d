"""Publishing dialplans: numbers read from the database, rendered once, and the one rendering
put into the xml_curl table and into every node's files, then ``reloadxml``.

One source, two deliveries: the table and the files hold the same extensions because they are
the same string. A number whose stored data breaks a rule (a destination the fraud rule now
forbids) is withdrawn from both, so the switch refuses its calls rather than ring it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import announcements
from controller.dialplan import render, view
from controller.dialplan.deploy import (
    DeployReport,
    DialplanFolder,
    Deployment,
    NodeDeployment,
    Switch,
    context_file_name,
    number_file_name,
)
from controller.dialplan.table import DialplanTable
from smartnumbers.db import utcnow
from smartnumbers.errors import InputError
from smartnumbers.models import Language, SmartNumber
from smartnumbers.settings import Settings

log = logging.getLogger(__name__)


def spoken(n: view.NumberDialplan) -> list[tuple[str, Language]]:
    """Every announcement the number's extensions play, as (text, language)."""
    items = [render.notice("nobody", n.language)]
    if n.unavailable is not None:
        items.append(render.notice(n.unavailable.reason, n.language))
    if n.blocks:
        items.append(render.notice("blocked", n.language))
    if n.age_check is not None:
        items += [render.notice(f"age_{n.age_check.value}", n.language), render.notice("age_refused", n.language)]
    items += [a for a in (n.price, n.outside_announcement) if a is not None]
    return [(a.text, a.language) for a in items]


@dataclass
class PublishReport:
    rendered: int = 0
    withdrawn: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    announcements_made: int = 0
    deploy: DeployReport | None = None


def render_all(dialplans: dict[str, view.NumberDialplan | InputError], options: render.RenderOptions
               ) -> tuple[dict[str, str], dict[str, str]]:
    """Bodies of the numbers that render, and the errors of those that do not.

    In one process: a number takes about 30 us (its kind's template rendered once, then
    filled), and forked workers on two cores cost more than they save, because each body has
    to come back to this process for the xml_curl table (measured on 100,000 numbers: 2.8 s in
    one process; 3.1 s with two workers, which used 5.3 s of CPU)."""
    bodies: dict[str, str] = {}
    errors: dict[str, str] = {}
    for e164, n in dialplans.items():
        if isinstance(n, InputError):
            errors[e164] = str(n)
            continue
        try:
            bodies[e164] = render.extensions_xml(n, options)
        except render.UnsafeValue as exc:
            errors[e164] = str(exc)
    return bodies, errors


def dialplan_files(dialplans: Mapping[str, view.NumberDialplan | InputError], bodies: Mapping[str, str],
                   options: render.RenderOptions, gone: Iterable[str] = ()) -> dict[str, str | None]:
    """Folder-relative file name -> text: each rendered number's file, the context file of each
    group those numbers belong to, and None (remove) for the numbers ``gone``."""
    files: dict[str, str | None] = {}
    buckets: set[str] = set()
    for e164, body in bodies.items():
        bucket = render.bucket_of(e164)
        buckets.add(bucket)
        files[number_file_name(e164, bucket)] = render.number_file(dialplans[e164], options, body)
    for e164 in gone:
        files[number_file_name(e164, render.bucket_of(e164))] = None
    for bucket in buckets:
        files[context_file_name(bucket)] = render.context_file(bucket)
    return files


class DialplanPublisher:
    """Reads, renders and publishes; the serve process keeps one, the CLI makes one per command."""

    def __init__(self, sessions: Callable[[], Session], options: render.RenderOptions, zone: ZoneInfo,
                 deployment: Deployment, table: DialplanTable | None = None, sounds_folder: Path | None = None) -> None:
        self.sessions = sessions
        self.options = options
        self.zone = zone
        self.deployment = deployment
        self.table = table if table is not None else DialplanTable()
        self.sounds_folder = sounds_folder
        self._lock = asyncio.Lock()  # one publication at a time: files and table move together

    def load(self, e164s: Iterable[str] | None, now: dt.datetime) -> dict[str, view.NumberDialplan | InputError]:
        with self.sessions() as session:
            return view.load_dialplans(session, now, self.zone, e164s)

    def all_numbers(self) -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(select(SmartNumber.e164)))

    async def publish(self, e164s: Iterable[str] | None = None, *, now: dt.datetime | None = None) -> PublishReport:
        """Publish the given numbers (all numbers, and nothing else, when None)."""
        complete = e164s is None
        wanted = None if complete else sorted(set(e164s))
        loop = asyncio.get_running_loop()
        async with self._lock, _collections_held():
            moment = now or utcnow()
            dialplans = await loop.run_in_executor(None, self.load, wanted, moment)
            bodies, errors = await loop.run_in_executor(None, render_all, dialplans, self.options)
            report = PublishReport(rendered=len(bodies), errors=dict(errors))
            if self.sounds_folder is not None:
                texts = [item for e164 in bodies for item in spoken(dialplans[e164])]
                try:
                    report.announcements_made = len(await announcements.ensure_async(self.sounds_folder, texts))
                except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                    # A missing announcement is silence where it should play; a dialplan not
                    # published would be the old routing. Publish, and say so loudly.
                    log.error("announcements not made: %s", exc)
                    report.errors["announcements"] = str(exc)
            gone = set(errors) | (set(wanted) - set(dialplans) if wanted is not None else set())
            for e164, message in errors.items():
                log.error("dialplan of %s withdrawn: %s", e164, message)
            report.withdrawn = sorted(gone)
            if complete:  # mod_xml_curl's answers first: they are live at once, the files at the reload
                self.table.replace_all(bodies)
            else:
                for e164, body in bodies.items():
                    self.table.put(e164, body)
                for e164 in gone:
                    self.table.put(e164, None)
            files = await loop.run_in_executor(None, dialplan_files, dialplans, bodies, self.options, gone)
            report.deploy = await self.deployment.publish(files, complete=complete)
            return report


@contextlib.asynccontextmanager
async def _collections_held():
    """No garbage collection while a publication runs. Its dialplans and renderings (millions of
    objects for 100,000 numbers) live until it ends, so each full collection meanwhile walked
    them all, in an executor thread holding the interpreter, while the serve loop and the
    dialplan fetches in flight waited: 10 collections, the longest 880 ms, while 100,000
    numbers were rendered (a loop-lag probe beside ``render_all`` of ``benchmarks/dialplan.py``'s
    numbers; the loop's longest wait 885 ms, 140 ms with collections held). The publication's
    objects are freed by reference counting as it ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_publisher(settings: Settings, sessions: Callable[[], Session], switches: Mapping[str, Switch],
                    table: DialplanTable | None = None) -> DialplanPublisher:
    """The publisher the settings describe: each node's folder and Event Socket link, the
    announcements folder (as this host and as the switches see it), gateway and profile."""
    if settings.timezone not in render.zone_names():
        raise InputError(f"timezone {settings.timezone!r} is not in FreeSWITCH's timezones.conf.xml: "
                         "the switch would compare its clock against garbage")
    sounds = Path(settings.sounds_folder).resolve()
    options = render.RenderOptions(settings.switch_sounds_folder or str(sounds), settings.pstn_gateway,
                                   settings.sip_profile)
    names = [node.name for node in settings.freeswitch_nodes]
    names += [name for name in settings.dialplan_folders if name not in names]
    nodes = [NodeDeployment(name, DialplanFolder(Path(settings.dialplan_folders[name]))
                            if name in settings.dialplan_folders else None, switches.get(name)) for name in names]
    return DialplanPublisher(sessions, options, settings.zone, Deployment(nodes), table, sounds)
