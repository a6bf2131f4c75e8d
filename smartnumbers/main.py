"""The composition root: builds the ``smartnumbers`` command from the commands each part
registers, and wires the ``serve`` process. The only module that imports every part."""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import logging
import socket
import sys
from typing import Annotated, Any

import typer
import uvloop
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from controller import cdr_commands
from controller import commands as node_commands
from controller.dialplan import commands as dialplan_commands
from controller.live import commands as live_commands
from notify import commands as mail_commands
from notify.delivery import MailDelivery
from notify.relay import MailRelay
from notify.alerts import ALERT_CHECK_MINUTES, check_alerts, expired_blacklist_entries, suspended_numbers
from notify.due import RUN_AT, write_due_mails
from rating import commands as rating_commands
from rating.operator_prices import missing_entries
from smartnumbers import commands as domain_commands
from smartnumbers import logs
from smartnumbers.db import make_engine, session_factory, utcnow
from smartnumbers.errors import InputError, NotFound, Stale
from smartnumbers.settings import Settings, SettingsError, load_settings
from smartnumbers.version import installed_version
from sync import xml_curl
from sync.app import build_app
from sync.keys import SESSIONS, SETTINGS
from sync.live import live_control

log = logging.getLogger("smartnumbers")


def serve_app(settings: Settings) -> web.Application:
    """The serve process's application: the HTTP API, live call control on the configured
    switches, and the dialplan fetches' own listener (it binds a port of its own, so it hangs on
    this process and not on every application the tests build)."""
    app = build_app(settings)
    app.cleanup_ctx.append(live_control)
    app.cleanup_ctx.append(xml_curl.listener)
    app.cleanup_ctx.append(mail_delivery)
    app.on_startup.append(_keep_the_loop_free)  # after the cleanup contexts, which are one startup step
    return app


async def _keep_the_loop_free(app: web.Application) -> None:
    """Once everything is started, two things keep the loop (every dialplan fetch in flight)
    from standing still. What was built so far (modules, the application, settings) lives as
    long as the process: frozen, the garbage collector's full collections no longer walk it.
    With the listener's parser unlinked (``sync/xml_curl.py``) this took the listener's
    collections in a 5 s run of ``benchmarks/dialplan.py`` from about 200, the longest 16.5 to
    150 ms (the p99 of 16.8 and 21.3 ms), to 2 to 13, the longest 0.4 ms. And an executor
    thread (the change schedule's poll, a publication) hands the interpreter back to the loop
    within 1 ms, not 5: while 100,000 numbers were rendered the loop waited 6.2 ms at every
    turn, under 2 ms with this."""
    sys.setswitchinterval(0.001)
    gc.collect()
    gc.freeze()


async def mail_delivery(app: web.Application):
    """The outbox's delivery, the daily job that writes the mails due (statements, digests) and
    the alerts' check, on the serve process's loop. Without a relay in the settings none runs:
    mails wait in the outbox."""
    settings = app[SETTINGS]
    if not settings.mail_server or not settings.mail_sender:
        log.info("mail: no relay configured (SMARTNUMBERS_MAIL_SERVER, SMARTNUMBERS_MAIL_SENDER); mails wait")
        yield
        return
    sessions = app[SESSIONS]

    async def write_due() -> None:
        async with sessions() as session, session.begin():
            written = await session.run_sync(write_due_mails, settings, utcnow())
        log.info("mail: %d statement mails and %d digests written", written.statements, written.digests)

    async def check() -> None:
        async with sessions() as session, session.begin():
            now = utcnow()
            written = await session.run_sync(check_alerts, settings, now)
            written += await session.run_sync(expired_blacklist_entries, settings, now)
            written += await session.run_sync(suspended_numbers, settings, now)
        if written:
            log.info("mail: %d alerts written", written)

    # Two coarse jobs, in memory: a daily run missed while serve was down is made up at start.
    scheduler = AsyncIOScheduler(timezone=settings.zone, job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(write_due, "cron", hour=RUN_AT.hour, minute=RUN_AT.minute, id="mail-due")
    scheduler.add_job(write_due, id="mail-due-at-start")
    scheduler.add_job(check, "interval", minutes=ALERT_CHECK_MINUTES, id="mail-alerts")
    scheduler.start()
    delivery = MailDelivery(MailRelay(settings), sessions, settings.mail_sender)
    task = asyncio.create_task(delivery.run(), name="mail-delivery")
    yield
    scheduler.shutdown(wait=False)
    delivery.stop()
    await task


def run_serve(app: web.Application, settings: Settings) -> None:
    """Run the serve process's application on uvloop: a dialplan fetch holds a call in routing,
    and on uvloop a fetch's connection costs about half of what it costs on asyncio's own loop."""
    host, port = settings.http_address
    web.run_app(app, host=host, port=port, loop=uvloop.new_event_loop(), print=lambda m: log.info(m.strip()))


def check_listeners(settings: Settings) -> None:
    """Both of serve's ports can be listened on, or start-up stops in one line naming the setting
    to change (aiohttp would stop with a traceback, after one listener had already started)."""
    if settings.http_address == settings.dialplan_address:
        raise SettingsError("SMARTNUMBERS_DIALPLAN_HTTP: the same address as SMARTNUMBERS_HTTP: "
                            "give it a port of its own")
    for setting, (host, port) in (("SMARTNUMBERS_HTTP", settings.http_address),
                                  ("SMARTNUMBERS_DIALPLAN_HTTP", settings.dialplan_address)):
        try:
            socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET).close()
        except OSError as exc:
            raise SettingsError(f"{setting}: cannot listen on {host}:{port} ({exc.strerror}): set {setting} to a "
                                "free HOST:PORT, or stop what listens there") from None


def startup_warnings(settings: Settings) -> list[str]:
    """What makes a started serve fail its switches or its owners without stopping it."""
    warnings = []
    if settings.switch_http_password is None:
        warnings.append("SMARTNUMBERS_SWITCH_HTTP_PASSWORD is not set: every mod_xml_curl and mod_json_cdr post "
                        "of the switches is refused (401)")
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            missing = missing_entries(session)
    finally:
        engine.dispose()
    if missing:
        pairs = ", ".join(f"{range_class}/{origin}" for range_class, origin in missing)
        warnings.append(f"price list: no entry for {pairs}: such calls are stored but not rated until "
                        "`smartnumbers pricelist set` sets one (then `smartnumbers rate --period YYYY-MM` rates them)")
    return warnings


def serve() -> None:
    """Run the serve process: the HTTP API, the dialplan fetches' listener and live call control."""
    settings = load_settings()
    check_listeners(settings)
    logs.configure(settings.log_format)
    for warning in startup_warnings(settings):
        log.warning(warning)
    run_serve(serve_app(settings), settings)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"smartnumbers {installed_version()}")
        raise typer.Exit()


def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the release and exit")] = False,
) -> None:
    """Smart Numbers: Swiss service numbers on FreeSWITCH."""


def build_cli() -> typer.Typer:
    cli = typer.Typer(
        name="smartnumbers",
        help="Smart Numbers: Swiss service numbers on FreeSWITCH.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    cli.callback()(_options)
    cli.command("serve")(serve)
    domain_commands.register(cli)
    node_commands.register(cli)
    cdr_commands.register(cli)
    rating_commands.register(cli)
    live_commands.register(cli)
    dialplan_commands.register(cli)
    mail_commands.register(cli)
    return cli


def _sentences(text: str) -> str:
    """A docstring as help shows it: its paragraphs as sentences (the source's line breaks and
    reST quotes are the code's, not the reader's), nothing taken for rich markup."""
    paragraphs = inspect.cleandoc(text).replace("`", "").split("\n\n")
    return escape("\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs))


def plain_help(command: Any) -> Any:
    """Every command's and option's help as sentences, throughout the (click) command tree."""
    if command.help:
        command.help = _sentences(command.help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = _sentences(param.help)
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
    return command


@functools.cache
def command_line() -> Any:
    """The command line, built once a process: typer evaluates every command's annotations to
    build it (about 0.1 s with every part's commands), and the tests run it thousands of times."""
    return plain_help(typer.main.get_command(build_cli()))


def run(argv: list[str] | None = None) -> int:
    """Run the command line; bad input and bad settings are one line on stderr and status 2."""
    try:
        command_line()(args=argv, prog_name="smartnumbers")
    except (InputError, NotFound, Stale, SettingsError) as exc:
        typer.echo(f"smartnumbers: {exc}", err=True)
        return 2
    except DBAPIError as exc:  # an unreachable or unmigrated database: say so, no traceback
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        typer.echo(f"smartnumbers: database: {reason} (is it running, and migrated with `smartnumbers db upgrade`?)",
                   err=True)
        return 1
    except SystemExit as exit_:  # the command line always ends this way, usage errors included
        return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
    return 0


def main() -> None:
    sys.exit(run())
