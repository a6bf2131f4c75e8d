"""mod_xml_curl's dialplan endpoint (``/freeswitch/dialplan``, basic credentials and address
allow-list by the middleware): answered from the in-memory table, never from the database.

An unknown number, another section or another context gets "not found", on which FreeSWITCH
falls back to the deployed files (FACTS.md section 5): the files come from the same rendering,
so the answer for a number is the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from controller.dialplan import render
from controller.dialplan.publisher import build_publisher
from controller.dialplan.schedule import ChangeSchedule
from controller.dialplan.table import DialplanTable, fetch_target
from controller.freeswitch.client import EventSocketClient
from smartnumbers.db import make_engine, session_factory
from sync.keys import SETTINGS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
DIALPLANS = web.AppKey("dialplans", DialplanTable)
XML = "text/xml"


@routes.post("/freeswitch/dialplan")
async def dialplan(request: web.Request) -> web.Response:
    fetch = fetch_target(await request.read())
    table = request.app.get(DIALPLANS)
    if table is None or fetch.get("section") != "dialplan":
        return web.Response(text=render.NOT_FOUND, content_type=XML)
    return web.Response(text=table.answer(fetch.get("destination", ""), fetch.get("context", "")), content_type=XML)


async def dialplans(app: web.Application):
    """While serve runs: the table filled and the files deployed from the database, the nodes'
    Event Socket links for ``reloadxml``, and the schedule of changes. Without switches in the
    settings there is nothing to publish to, and every fetch is "not found"."""
    settings = app[SETTINGS]
    if not settings.freeswitch_nodes and not settings.dialplan_folders:
        yield
        return
    engine = make_engine(settings.database_url)
    switches = {node.name: EventSocketClient(node.host, node.port, node.password, node=node.name,
                                             subscription="event plain HEARTBEAT", resync=False)
                for node in settings.freeswitch_nodes}
    links = [asyncio.create_task(client.run()) for client in switches.values()]
    table = app[DIALPLANS] = DialplanTable()
    publisher = build_publisher(settings, session_factory(engine), switches, table)
    schedule = ChangeSchedule(publisher, session_factory(engine), settings.database_url)

    async def start() -> None:
        await asyncio.gather(*(c.wait_up(5) for c in switches.values()), return_exceptions=True)
        report = await publisher.publish()
        log.info("dialplans: %d numbers published, %d withdrawn", report.rendered, len(report.withdrawn))
        await schedule.start()

    starting = asyncio.create_task(start())
    yield
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    schedule.stop()
    for client in switches.values():
        await client.stop()
    for link in links:
        link.cancel()
    await asyncio.gather(*links, return_exceptions=True)
    engine.dispose()
