"""What a switch and the application must agree on, read from the switch itself.

Both processes read one environment file (``docs/smartnumbers.env.example``):
``freeswitch_conf/vars.xml`` turns its ``SMARTNUMBERS_*`` variables into the switch's global
variables, the application reads the same names as its settings. A switch started with another
file (or none: it then makes up a random password, and every post it makes is refused) is found
here: each pair is read over the Event Socket with ``global_getvar`` and compared; every
disagreement is one line naming the variable and what each side has (never a password).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from controller.freeswitch.client import EventSocketClient, EventSocketError, LinkState
from smartnumbers.settings import Settings, url_port

log = logging.getLogger(__name__)

# the switch's global variables (freeswitch_conf/vars.xml) and the setting each pairs with
CDR_URL = "smartnumbers_http"  # SMARTNUMBERS_APP_URL
DIALPLAN_URL = "smartnumbers_dialplan_http"  # SMARTNUMBERS_DIALPLAN_URL
HTTP_USER = "smartnumbers_http_user"  # SMARTNUMBERS_SWITCH_HTTP_USER
HTTP_PASSWORD = "smartnumbers_http_password"  # SMARTNUMBERS_SWITCH_HTTP_PASSWORD
DIALPLAN_DIR = "smartnumbers_dialplan_dir"  # SMARTNUMBERS_FS_DIALPLAN_DIR
CDR_ERROR_DIR = "smartnumbers_cdr_error_dir"  # SMARTNUMBERS_FS_CDR_ERROR_DIR
SIP_PORT = "smartnumbers_sip_port"  # SMARTNUMBERS_SIP_PORT
RECHECK_S = 1.0  # how often a link is looked at for a reconnect (the switch may have restarted)


def _url(what: str, variable: str, url: str | None, listen: str, listen_setting: str,
         actual: str) -> str | None:
    if url is not None:
        return None if actual == url else f"{variable} is {actual!r} on the switch, {what} {url!r} here"
    host, _, port = listen.rpartition(":")
    if urlsplit(actual).hostname is None or url_port(actual) != int(port):
        return (f"{variable} is {actual!r} on the switch, but {listen_setting} listens on {listen}: "
                f"set {what} for both")
    return None


def _same(variable: str, setting: str, expected: str | None, actual: str) -> str | None:
    if expected is None or actual == expected:
        return None
    return f"{variable} is {actual!r} on the switch, {setting} {expected!r} here"


def _password(settings: Settings, actual: str) -> str | None:
    if settings.switch_http_password is None:
        return "SMARTNUMBERS_SWITCH_HTTP_PASSWORD is not set here: every CDR post and dialplan fetch is refused"
    if actual != settings.switch_http_password.get_secret_value():
        return ("SMARTNUMBERS_SWITCH_HTTP_PASSWORD differs between the switch and here: its CDR posts and "
                "dialplan fetches are refused")
    return None


def _checks(settings: Settings) -> dict[str, Callable[[str], str | None]]:
    """Each variable of the switch with the check of its value against this process's side."""
    return {
        CDR_URL: lambda v: _url("SMARTNUMBERS_APP_URL", CDR_URL, settings.app_url, settings.http,
                                "SMARTNUMBERS_HTTP", v),
        DIALPLAN_URL: lambda v: _url("SMARTNUMBERS_DIALPLAN_URL", DIALPLAN_URL, settings.dialplan_url,
                                     settings.dialplan_http, "SMARTNUMBERS_DIALPLAN_HTTP", v),
        HTTP_USER: lambda v: _same(HTTP_USER, "SMARTNUMBERS_SWITCH_HTTP_USER", settings.switch_http_user, v),
        HTTP_PASSWORD: lambda v: _password(settings, v),
        DIALPLAN_DIR: lambda v: _same(DIALPLAN_DIR, "SMARTNUMBERS_FS_DIALPLAN_DIR", settings.fs_dialplan_dir, v),
        CDR_ERROR_DIR: lambda v: _same(CDR_ERROR_DIR, "SMARTNUMBERS_FS_CDR_ERROR_DIR", settings.fs_cdr_error_dir, v),
        SIP_PORT: lambda v: _same(SIP_PORT, "SMARTNUMBERS_SIP_PORT", str(settings.sip_port), v),
    }


async def disagreements(client: EventSocketClient, settings: Settings) -> list[str]:
    """One line per pair the switch behind ``client`` and these settings disagree on."""
    lines = []
    for variable, check in _checks(settings).items():
        actual = (await client.api(f"global_getvar {variable}")).strip()
        problem = check(actual)
        if problem is not None:
            lines.append(f"node {client.node}: {problem}")
    return lines


async def follow(client: EventSocketClient, settings: Settings,
                 report: Callable[[tuple[str, ...]], None]) -> None:
    """Check the switch each time the link comes up (a restarted switch may have read another
    file), log each disagreement as a warning, and hand the lines to ``report``."""
    checked_at = -1
    while True:
        if client.state is LinkState.UP and client.metrics.connects != checked_at:
            checked_at = client.metrics.connects
            try:
                lines = await disagreements(client, settings)
            except EventSocketError as exc:  # the link went down meanwhile: checked when it is back
                log.warning("node %s: its variables could not be read (%s)", client.node, exc)
                checked_at = -1
            else:
                for line in lines:
                    log.warning(line)
                report(tuple(lines))
        await asyncio.sleep(RECHECK_S)
