"""What a real FreeSWITCH does by itself from the rendered dialplan, with no ``serve`` process at
all (never started in these tests): the CHF 400 cap (here the owner's lower one) cuts the call at
its last legal second and the call rated from the switch's own CDR costs the cap at most; the
price announcement plays in early media; the limit of simultaneous calls holds; and a dialplan
fetch that is accepted and never answered still routes the call, blacklist included, by the
deployed files after xml_curl's timeout.

Needs ``SMARTNUMBERS_TEST_FREESWITCH=host:port:password`` and sipp, as test_real_freeswitch.py.
"""

from __future__ import annotations

import asyncio
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from controller.capture import committing_store, leg_from_json
from controller.freeswitch.cdr_folders import sweep_folder
from controller.live.segments import end_reason
from rating.operator_prices import set_price
from smartnumbers import accounts, blacklist, numbers, routing, tariffs
from smartnumbers.models import CallerOrigin, CallRecord, CapturedLeg, RangeClass, RatedCall
from tests.dialplan.test_real_freeswitch import (  # noqa: F401 (the fixture)
    OPERATOR,
    SIPP_SCENARIOS,
    Sipp,
    _publish,
    freeswitch,
)

pytestmark = pytest.mark.freeswitch

ZURICH = ZoneInfo("Europe/Zurich")
ALWAYS = {"days": "mon-sun", "start": "00:00", "end": "24:00"}


def _route(session, number, *targets: str) -> None:
    routing.store_plan(session, OPERATOR, number, routing.parse_plan(
        {"slots": [{**ALWAYS, "destinations": [{"target": t, "ring_timeout": 10} for t in targets]}]},
        routing.destination_policy(session, number)))


def _cdr_files(freeswitch) -> int:
    folder = freeswitch["root"] / "log" / "json_cdr_err"
    return len(list(folder.glob("*.json"))) if folder.exists() else 0


def test_the_switch_cuts_a_premium_call_at_its_cap_by_itself(freeswitch, session, db_url, tmp_path):
    """CHF 10 a minute by the second under an owner's cap of CHF 1.00: 6 s of talk. The caller
    waits for the switch's BYE; the CDR the switch could not post lands in its error folder,
    and the call rated from it costs CHF 1.00 at most, recorded as ended by the cap."""
    sipp = Sipp(tmp_path)
    try:
        agent = sipp.uas("agent", None)
        account = accounts.add_account(session, "Hotline AG")
        number = numbers.add_number(session, OPERATOR, "0901 555 777", account, call_cost_cap=Decimal("1.00"))
        tariffs.set_tariff(session, OPERATOR, number, 1, tariffs.TariffTerms(
            Decimal("10.00"), first_unit_s=1, next_unit_s=1), valid_from=number.created_at)
        _route(session, number, f"sip:agent@127.0.0.1:{agent}")
        for origin in CallerOrigin:
            set_price(session, OPERATOR, RangeClass.PREMIUM, origin, interconnection_per_minute=Decimal("0.05"),
                      payout_share_percent=Decimal("70"))
        session.commit()
        report = asyncio.run(_publish(freeswitch, db_url))
        assert report.errors == {}

        before = _cdr_files(freeswitch)
        started = time.monotonic()
        assert sipp.call("caller", freeswitch["sip"], "0901555777", "41791234567", timeout=60,
                         scenario=SIPP_SCENARIOS / "uac_wait_bye.xml", talk_ms=40000) == 0
        trace = sipp.trace("caller")
        assert "SIP/2.0 183" in trace and trace.index("SIP/2.0 183") < trace.index("SIP/2.0 200")  # the price first
        assert "BYE sip:" in trace.split("SIP/2.0 200", 1)[1]  # the switch hung up, long before the caller's 40 s
        assert time.monotonic() - started < 35

        deadline = time.monotonic() + 30
        while _cdr_files(freeswitch) < before + 2:  # the caller's leg and the agent's
            assert time.monotonic() < deadline, "the switch wrote no CDR files"
            time.sleep(0.2)
        with committing_store(db_url, Decimal("2.5"), ZURICH) as store:
            sweep = sweep_folder("fs", freeswitch["root"] / "log" / "json_cdr_err", store, settle_s=0)
        assert sweep.rejected == []
        session.expire_all()
        record = session.scalars(select(CallRecord).where(CallRecord.number_id == number.id)).one()
        rated = session.get(RatedCall, record.call_id)
        assert record.cause == "ALLOTTED_TIMEOUT" and 5 <= record.talk_s <= 6
        # 6 s at CHF 10 a minute: CHF 1.00; 5 s (the task ran early in its second): CHF 0.83
        assert rated is not None and rated.caller == {6: Decimal("1.00"), 5: Decimal("0.83")}[record.talk_s]
        a_leg = leg_from_json(session.get(CapturedLeg, record.call_id).record)
        assert a_leg.tags["cost_cap_s"] == "6" and a_leg.tags["cost_cap"] == "1.00"
        assert end_reason(a_leg.tags, a_leg.cause, a_leg.ended_at) == "cost_cap"
    finally:
        sipp.stop()


def test_the_limit_of_simultaneous_calls_holds_without_the_application(freeswitch, session, db_url, tmp_path):
    """A number limited to one call: while the first talks, the second is refused busy and rings
    nobody."""
    sipp = Sipp(tmp_path)
    try:
        agent = sipp.uas("agent", None)
        account = accounts.add_account(session, "Small AG")
        number = numbers.add_number(session, OPERATOR, "0800 555 321", account, max_concurrent_calls=1)
        _route(session, number, f"sip:agent@127.0.0.1:{agent}")
        session.commit()
        assert asyncio.run(_publish(freeswitch, db_url)).errors == {}
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(sipp.call, "first", freeswitch["sip"], "0800555321", "41791234567", talk_ms=8000)
            deadline = time.monotonic() + 20
            while "INVITE sip:agent@" not in sipp.trace("agent"):
                assert time.monotonic() < deadline and not first.done(), "the first call never reached the agent"
                time.sleep(0.1)
            sipp.call("second", freeswitch["sip"], "0800555321", "41791234568")
            assert first.result() == 0
        assert "SIP/2.0 486" in sipp.trace("second")
        assert sipp.trace("agent").count("INVITE sip:agent@") == 1
    finally:
        sipp.stop()


def test_a_fetch_that_times_out_routes_the_call_by_the_files(freeswitch, session, db_url, tmp_path):
    """The dialplan listener accepts the switch's connection and never answers (a ``serve``
    starved of CPU): after the 2 s of xml_curl's timeout the switch routes by the deployed files,
    where the number answers, its blacklist refuses and an 0906 number's age check refuses a
    caller who does not confirm, never answered."""
    sipp = Sipp(tmp_path)
    silent = socket.socket()
    try:
        agent = sipp.uas("agent", None)
        account = accounts.add_account(session, "Late AG")
        number = numbers.add_number(session, OPERATOR, "0800 555 432", account)
        _route(session, number, f"sip:late@127.0.0.1:{agent}")
        blacklist.add_entry(session, OPERATOR, account, "076*", "test", number=number)
        adult = numbers.add_number(session, OPERATOR, "0906 555 432", account)
        _route(session, adult, f"sip:adult@127.0.0.1:{agent}")
        session.commit()
        assert asyncio.run(_publish(freeswitch, db_url)).errors == {}
        silent.bind(("127.0.0.1", freeswitch["dialplan"]))
        silent.listen(64)  # the kernel accepts; nobody reads or answers

        started = time.monotonic()
        assert sipp.call("caller", freeswitch["sip"], "0800555432", "41791234567") == 0
        assert time.monotonic() - started >= 2  # it did wait for the fetch
        assert "INVITE sip:late@" in sipp.trace("agent")
        sipp.call("blocked", freeswitch["sip"], "0800555432", "0761234567")
        assert "SIP/2.0 603" in sipp.trace("blocked")
        assert sipp.trace("agent").count("INVITE sip:late@") == 1
        sipp.call("minor", freeswitch["sip"], "0906555432", "41791234567", timeout=60)
        refused = sipp.trace("minor")
        assert "SIP/2.0 183" in refused and "SIP/2.0 603" in refused and "SIP/2.0 200" not in refused
        assert "INVITE sip:adult@" not in sipp.trace("agent")
        log = freeswitch["log"].read_text(errors="replace")
        assert "Timeout was reached" in log
    finally:
        silent.close()
        sipp.stop()

