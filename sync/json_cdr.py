"""mod_json_cdr's backstop: the switch posts every leg's CDR here (``/freeswitch/cdr``, basic
credentials and address allow-list by the middleware), and the nodes' folders of CDRs it failed
to post are swept in the background. Both hand legs to the capture service, which counts a leg
once whatever path it comes by.

The post is answered 200 only after the leg is committed: FreeSWITCH counts only a 2xx as
delivered and otherwise retries, then writes the file the sweeper picks up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from sqlalchemy.orm import Session

from controller import capture
from controller.freeswitch import cdr_folders
from controller.freeswitch.translate import RefusedLeg, cdr_document, leg_from_cdr, named_leg, shown
from smartnumbers.models import LegSource
from smartnumbers.settings import Settings
from sync.keys import SESSIONS, SETTINGS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
SWEEP_EVERY_S = 60.0


@routes.post("/freeswitch/cdr")
async def post_cdr(request: web.Request) -> web.Response:
    body = await request.read()
    settings = request.app[SETTINGS]
    try:
        document, text = cdr_document(body, request.content_type)
        leg = leg_from_cdr(document, nodes=frozenset(node.name for node in settings.freeswitch_nodes))
    except RefusedLeg as exc:
        await _record_refusal(request, capture.RefusedArrival(
            request.remote or "", LegSource.POST, str(exc), body, named_leg(body)))
        raise web.HTTPBadRequest(text=f"json CDR refused: {exc}") from None
    named = request.query.get("uuid")
    if named and named.removeprefix("a_") != leg.leg_id:
        raise web.HTTPBadRequest(text=f"the URL names leg {shown(named)}, the CDR leg {leg.leg_id}")
    rate = capture.rating_with(settings.payfast_fee_percent, settings.zone)
    arrival = capture.ArrivedLeg(leg, LegSource.POST, text)

    def store(session: Session) -> capture.Stored:
        return capture.store_legs(session, [arrival], rate)

    async with request.app[SESSIONS]() as session:
        async with session.begin():
            stored = await session.run_sync(store)
    return web.json_response({"leg_id": leg.leg_id, "new": bool(stored.new_legs), "calls_built": stored.built_calls})


async def _record_refusal(request: web.Request, refusal: capture.RefusedArrival) -> None:
    """The refusal is kept before the 400 (FreeSWITCH then writes the CDR to its error folder)."""
    log.warning("json CDR from %s refused: %s", refusal.node, refusal.reason)
    async with request.app[SESSIONS]() as session:
        async with session.begin():
            await session.run_sync(lambda s: capture.record_refusals(s, [refusal]))


async def _sweep_forever(settings: Settings) -> None:
    while True:
        try:
            for sweep in await asyncio.to_thread(cdr_folders.sweep_all, settings):
                if sweep.stored or sweep.rejected:
                    log.info("swept %s: %d legs new, %d known, %d rejected", sweep.node, sweep.stored,
                             sweep.already_known, len(sweep.rejected))
        except Exception:  # a broken sweep must not end the loop; it is retried next time
            log.exception("sweeping the CDR folders failed")
        await asyncio.sleep(SWEEP_EVERY_S)


async def sweeper(app: web.Application):
    """Background sweeping of the nodes' CDR error folders, while the application runs."""
    task = None
    if app[SETTINGS].cdr_error_folders:
        task = asyncio.create_task(_sweep_forever(app[SETTINGS]))
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
