"""Against a real FreeSWITCH (``freeswitch_conf/`` as it is): a hunt through three SIP
destinations sharing the user part ``desk``; mod_json_cdr posts each leg's CDR to the
application, which stores the legs, and the call record names each attempt's whole destination
(the switch's own destination_number is ``desk`` for all three).

Needs ``SMARTNUMBERS_TEST_FREESWITCH`` and sipp, like ``tests/dialplan/test_real_freeswitch.py``,
whose switch fixture it shares.
"""

from __future__ import annotations

import asyncio
import socket
import time

from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from smartnumbers import accounts, numbers, routing
from smartnumbers.models import CallRecord, CapturedLeg, LegSource, RejectedLeg
from smartnumbers.settings import load_settings
from sync.app import build_app
from tests.dialplan.test_real_freeswitch import (  # noqa: F401 (freeswitch: the fixture)
    ESL_PASSWORD,
    OPERATOR,
    SWITCH_HTTP_PASSWORD,
    Sipp,
    _publish,
    freeswitch,
)

pytestmark = __import__("pytest").mark.freeswitch


def test_posted_cdrs_name_each_attempts_whole_destination(freeswitch, session, db_url, tmp_path):
    sipp = Sipp(tmp_path)
    try:
        busy = sipp.uas("busy", "uas_busy.xml")
        silent = sipp.uas("noanswer", "uas_noanswer.xml")
        answer = sipp.uas("answer", None)
        destinations = [f"sip:desk@127.0.0.1:{busy}", f"sip:desk@127.0.0.1:{silent}", f"sip:desk@127.0.0.1:{answer}"]
        account = accounts.add_account(session, "Desk AG")
        number = numbers.add_number(session, OPERATOR, "0800 555 777", account)
        routing.store_plan(session, OPERATOR, number, routing.parse_plan(
            {"slots": [{"days": "mon-sun", "start": "00:00", "end": "24:00", "destinations": [
                {"target": target, "ring_timeout": 5} for target in destinations]}]},
            routing.destination_policy(session, number)))
        session.commit()
        report = asyncio.run(_publish(freeswitch, db_url))
        assert report.errors == {}

        async def scenario() -> int:
            # The switch names itself by its host name (``switchname``): the configured node.
            settings = load_settings(database_url=db_url, switch_http_password=SWITCH_HTTP_PASSWORD,
                                     freeswitch_nodes=[{"name": socket.gethostname(), "host": "127.0.0.1",
                                                        "port": freeswitch["esl"], "password": ESL_PASSWORD}])
            server = TestServer(build_app(settings), host="127.0.0.1", port=freeswitch["app"])
            await server.start_server()
            try:
                code = await asyncio.get_running_loop().run_in_executor(
                    None, sipp.call, "caller", freeswitch["sip"], "0800555777", "41791234567")
                deadline = time.monotonic() + 20
                while posted() < 4 and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                return code
            finally:
                await server.close()

        def posted() -> int:
            session.expire_all()
            return session.scalar(select(func.count()).select_from(CapturedLeg)
                                  .where(CapturedLeg.sources.op("&")(int(LegSource.POST)) != 0))

        assert asyncio.run(scenario()) == 0
        assert posted() == 4, session.scalars(select(RejectedLeg.reason)).all()
        (call,) = session.scalars(select(CallRecord)).all()
        assert [(a["destination"], a["outcome"]) for a in call.attempts] == [
            (destinations[0], "busy"), (destinations[1], "no_answer"), (destinations[2], "answered")]
        assert call.number_id == number.id and call.answered
    finally:
        sipp.stop()
