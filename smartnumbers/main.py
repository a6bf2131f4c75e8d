"""The composition root: builds the ``smartnumbers`` command from the commands each part
registers, and wires the ``serve`` process. The only module that imports every part."""

from __future__ import annotations

import asyncio
import logging
import sys

import typer
import uvloop
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
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
from smartnumbers import commands as domain_commands
from smartnumbers.db import utcnow
from smartnumbers.errors import InputError
from smartnumbers.settings import Settings, SettingsError, load_settings
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
    return app


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


def serve() -> None:
    """Run the serve process: the HTTP API and everything later parts hang on it."""
    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_serve(serve_app(settings), settings)


def build_cli() -> typer.Typer:
    cli = typer.Typer(
        name="smartnumbers",
        help="Smart Numbers: Swiss service numbers on FreeSWITCH.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    cli.command("serve")(serve)
    domain_commands.register(cli)
    node_commands.register(cli)
    cdr_commands.register(cli)
    rating_commands.register(cli)
    live_commands.register(cli)
    dialplan_commands.register(cli)
    mail_commands.register(cli)
    return cli


def run(argv: list[str] | None = None) -> int:
    """Run the command line; bad input and bad settings are one line on stderr and status 2."""
    try:
        build_cli()(args=argv, prog_name="smartnumbers")
    except (InputError, SettingsError) as exc:
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
