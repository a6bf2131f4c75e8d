"""``smartnumbers dialplan``: render, deploy and diff the numbers' dialplans, for NOC staff."""

from __future__ import annotations

import asyncio
import difflib
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from controller.dialplan.deploy import DialplanFolder
from controller.dialplan.publisher import DialplanPublisher, build_publisher, dialplan_files, render_all
from controller.freeswitch.client import EventSocketClient
from smartnumbers.db import make_engine, session_factory, utcnow
from smartnumbers.errors import InputError
from smartnumbers.files import check_output_folder
from smartnumbers.phone import parse_smart_number
from smartnumbers.settings import load_settings

dialplan_cli = typer.Typer(help="The numbers' FreeSWITCH dialplans.", no_args_is_help=True)


def _publisher(switches=None) -> tuple[DialplanPublisher, object]:
    settings = load_settings()
    engine = make_engine(settings.database_url, create=False)
    return build_publisher(settings, session_factory(engine), switches or {}), engine


def _rendered(publisher: DialplanPublisher, e164s: list[str] | None) -> tuple[dict[str, str], dict[str, str]]:
    """File name -> file text of the numbers that render (and of their contexts); number -> error
    of those that do not."""
    dialplans = publisher.load(e164s, utcnow())
    bodies, errors = render_all(dialplans, publisher.options)
    return dialplan_files(dialplans, bodies, publisher.options), errors


def _report_errors(errors: dict[str, str]) -> None:
    for e164, message in sorted(errors.items()):
        typer.echo(f"smartnumbers: {e164} not rendered: {message}", err=True)


@dialplan_cli.command("render")
def dialplan_render(
    number: Annotated[Optional[str], typer.Argument(help="One number; all numbers when left out.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write one file per number into this folder.")] = None,
) -> None:
    """Render dialplans: one number's to standard output, or every number's into --out (laid out
    as deploy lays out a node's folder)."""
    if out is not None:
        check_output_folder(out, what="--out")
    publisher, engine = _publisher()
    try:
        e164s = [parse_smart_number(number)] if number else None
        files, errors = _rendered(publisher, e164s)
    finally:
        engine.dispose()
    if number and not files and not errors:
        raise InputError(f"number: {number} is not a smart number of the platform")
    _report_errors(errors)
    if out is None:
        if number is None:
            raise InputError("dialplan render: give a NUMBER, or --out DIR for all numbers")
        for name, text in files.items():
            if "/" in name:  # the number's own file, not its context's
                typer.echo(text, nl=False)
    else:
        try:
            written, _ = DialplanFolder(out).write(files)
        except OSError as exc:
            raise InputError(f"--out: {out} cannot be written ({exc.strerror}): give another folder") from None
        typer.echo(f"{written} dialplan file(s) written to {out}")
    if errors:
        raise typer.Exit(1)


@dialplan_cli.command("deploy")
def dialplan_deploy(
    wait: Annotated[float, typer.Option(help="Seconds to wait for each node's Event Socket.")] = 5.0,
) -> None:
    """Write every number's file into each node's folder, then reloadxml on every node."""
    settings = load_settings()
    if not settings.freeswitch_nodes:
        raise InputError("dialplan deploy: nothing reached a switch: SMARTNUMBERS_FREESWITCH_NODES names no node")
    if not any(node.name in settings.dialplan_folders for node in settings.freeswitch_nodes):
        raise InputError("dialplan deploy: nothing reached a switch: no node has a folder in "
                         "SMARTNUMBERS_DIALPLAN_FOLDERS (without one, a switch fetches its dialplans from serve)")
    switches = {n.name: EventSocketClient(n.host, n.port, n.password, node=n.name,
                                          subscription="event plain HEARTBEAT", resync=False, backoff_cap=1.0)
                for n in settings.freeswitch_nodes}

    async def deploy():
        links = [asyncio.create_task(c.run()) for c in switches.values()]
        try:
            await asyncio.gather(*(c.wait_up(wait) for c in switches.values()), return_exceptions=True)
            publisher, engine = _publisher(switches)
            try:
                return await publisher.publish()
            finally:
                engine.dispose()
        finally:
            for client in switches.values():
                await client.stop()
            for link in links:
                link.cancel()
            await asyncio.gather(*links, return_exceptions=True)

    report = asyncio.run(deploy())
    _report_errors(report.errors)
    table = Table(header_style="bold")
    for column in ("node", "written", "removed", "reloadxml"):
        table.add_column(column)
    nodes = sorted(set(report.deploy.written) | set(report.deploy.reloaded))
    for node in nodes:
        table.add_row(node, str(report.deploy.written.get(node, "-")), str(report.deploy.removed.get(node, "-")),
                      report.deploy.reloaded.get(node, "not needed" if not report.deploy.changed else "no link"))
    Console(soft_wrap=True).print(table)
    typer.echo(f"{report.rendered} number(s) published, {len(report.withdrawn)} withdrawn, "
               f"{report.announcements_made} announcement(s) made")
    failed = [n for n, r in report.deploy.reloaded.items() if not r.startswith("+OK")]
    if report.deploy.changed and len(failed) == len(report.deploy.reloaded):
        typer.echo("smartnumbers: dialplan deploy: nothing reached a switch: the files are written, but no node "
                   "reloaded them (reloadxml)", err=True)
    if report.errors or failed:
        raise typer.Exit(1)


@dialplan_cli.command("diff")
def dialplan_diff(
    show: Annotated[bool, typer.Option(help="Print the changed lines too.")] = False,
) -> None:
    """What a deploy would change, per node and number: new, changed or removed files."""
    publisher, engine = _publisher()
    try:
        files, errors = _rendered(publisher, None)
    finally:
        engine.dispose()
    _report_errors(errors)
    table = Table(header_style="bold")
    for column in ("node", "number", "change"):
        table.add_column(column)
    changes = 0
    for node in publisher.deployment.nodes:
        if node.folder is None:
            continue
        folder = node.folder.path
        present = set(node.folder.names())
        for name in sorted(set(files) | present):
            number = "+" + name[4:-4] if "/" in name else f"context {name[:-4]}"
            old = (folder / name).read_text() if name in present else None
            new = files.get(name)
            if old == new:
                continue
            change = "new" if old is None else "removed" if new is None else "changed"
            changes += 1
            table.add_row(node.name, number, change)
            if show:
                typer.echo("".join(difflib.unified_diff((old or "").splitlines(True), (new or "").splitlines(True),
                                                        f"{node.name}/{name}", f"{node.name}/{name} (new)")))
    Console(soft_wrap=True).print(table)
    typer.echo(f"{changes} file(s) would change")


def register(cli: typer.Typer) -> None:
    cli.add_typer(dialplan_cli, name="dialplan")
