"""NOC commands for captured calls: sweep the CDR folders now, reconcile a day."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from controller.freeswitch.cdr_folders import SWEPT, cdr_paths, read_cdr_file, sweep_all
from controller.freeswitch.translate import RefusedLeg
from controller.reconcile import reconcile_day, rejection_line
from smartnumbers.commands import JsonFlag, console, transaction
from smartnumbers.errors import InputError
from smartnumbers.models import LegSource
from smartnumbers.settings import load_settings

log = logging.getLogger(__name__)
cdr_cli = typer.Typer(help="Captured calls: sweep the switches' CDR folders, reconcile a day.", no_args_is_help=True)


@cdr_cli.command("sweep")
def cdr_sweep(as_json: JsonFlag = False) -> None:
    """Store the CDRs waiting in each node's folder of failed posts now (serve does it every minute)."""
    sweeps = sweep_all(load_settings())
    rows = [{"node": s.node, "folder": str(s.folder), "new_legs": s.stored, "known_legs": s.already_known,
             "rejected": s.rejected} for s in sweeps]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("node", "folder", "new legs", "known legs", "rejected")
    for row in rows:
        table.add_row(row["node"], row["folder"], str(row["new_legs"]), str(row["known_legs"]), str(len(row["rejected"])))
    console().print(table)


def _folders(extra: list[str]) -> list[tuple[str, Path]]:
    settings = load_settings()
    folders = []
    for node, folder in settings.cdr_error_folders.items():
        folders += [(node, Path(folder)), (node, Path(folder) / SWEPT)]
    for item in extra:
        node, sep, path = item.partition("=")
        if not sep or not node or not path:
            raise InputError(f"--cdr-folder: {item!r} is not NODE=PATH")
        folders.append((node, Path(path)))
    return folders


def _cdr_legs(folders: list[tuple[str, Path]]):
    for node, folder in folders:
        for path in cdr_paths(folder):
            try:
                yield read_cdr_file(path, node).record
            except (RefusedLeg, OSError) as exc:
                log.warning("%s: %s", path, exc)


@cdr_cli.command("reconcile")
def cdr_reconcile(
    day: Annotated[str, typer.Option(help="The day, Europe/Zurich: 2026-11-26.")],
    cdr_folder: Annotated[list[str], typer.Option(
        help="NODE=PATH of more CDR files the switch wrote (its log-dir); repeatable.")] = [],  # noqa: B006
    as_json: JsonFlag = False,
) -> None:
    """Compare what the switches reported for a day with what was stored; exit 1 on any difference."""
    try:
        wanted = dt.date.fromisoformat(day)
    except ValueError:
        raise InputError(f"--day: {day!r} is not a date like 2026-11-26") from None
    settings = load_settings()
    legs = list(_cdr_legs(_folders(cdr_folder)))
    with transaction() as session:
        result = reconcile_day(session, wanted, settings.zone, legs)
    differences = {
        "not stored": [f"{leg} ({who})" for leg, who in result.not_stored],
        "CDR waiting in a folder": result.unswept,
        "no CDR from the switch (hangup event only)": result.events_only,
        "B-legs without their A-leg": result.incomplete_calls,
        "A-leg without call record": result.not_built,
        "call to a smart number not rated": result.unrated,
        "live control not applied on the switch": result.not_applied,
        "refused by capture": [rejection_line(rejected) for rejected in result.rejected],
    }
    if as_json:
        typer.echo(json.dumps({
            "day": day, "reported_legs": result.reported_legs, "stored_legs": result.stored_legs,
            "stored_by_source": result.by_source, "calls": result.calls, "rated": result.rated,
            "differences": {key: value for key, value in differences.items()},
            "rejected": [{"node": r.node, "source": LegSource(r.source).name.lower(), "leg_id": r.leg_id,
                          "file": r.file, "reason": r.reason, "received_at": r.received_at.isoformat()}
                         for r in result.rejected],
        }, indent=2))
    else:
        summary = Table("day", "legs reported", "legs stored", "by event", "by post", "by file", "calls", "rated")
        summary.add_row(day, str(result.reported_legs), str(result.stored_legs), str(result.by_source["event"]),
                        str(result.by_source["post"]), str(result.by_source["file"]), str(result.calls),
                        str(result.rated))
        console().print(summary)
        for what, items in differences.items():
            for item in items:
                typer.echo(f"{what}: {item}")
        typer.echo(f"{result.differences} difference(s)")
    if result.differences:
        raise typer.Exit(1)


def register(cli: typer.Typer) -> None:
    cli.add_typer(cdr_cli, name="cdr")
