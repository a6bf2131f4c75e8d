"""Each feature of a number's extension: its golden file, and what the switch does with it
(evaluated as FreeSWITCH evaluates it). ``SMARTNUMBERS_UPDATE_GOLDEN=1`` rewrites the files."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controller.announcements import file_name
from controller.dialplan import render, view
from smartnumbers.models import AgeCheck, CallerIdPolicy, Language
from tests.dialplan import freeswitch_dialplan as fsd
from tests.dialplan.plans import NUMBER, OPTIONS, dialplan, number_context, plan

GOLDEN = Path(__file__).parent / "golden"
ZURICH = ZoneInfo("Europe/Zurich")
UTC = dt.timezone.utc
WEEKDAY_NOON = dt.datetime(2026, 12, 2, 12, 0, tzinfo=ZURICH).timestamp()  # a Wednesday

OFFICE = plan({
    "slots": [{"days": "mon-fri", "start": "08:00", "end": "18:00",
               "destinations": [{"target": "+41446681800", "ring_timeout": 20},
                                {"target": "sip:desk@pbx.example.com", "ring_timeout": 15},
                                {"target": "+41791234567", "ring_timeout": 30}]}],
    "outside": {"action": "announcement", "announcement": "Wir sind ab 8 Uhr wieder da."},
    "holidays": {"canton": "ZH", "rule": "closed", "dates": ["2026-12-31"]},
})
TRUNK_TYPE = "rpid"  # a trunk set to Remote-Party-ID: what vars.xml says reaches every leg
PRICE = view.Announcement("Dieser Anruf kostet 3 Franken 50 pro Minute.", Language.DE)

FEATURES = {
    "plain": {},
    "suspended": {"unavailable": view.Unavailable("suspended", None)},
    "not_ported": {"unavailable": view.Unavailable("not_ported", dt.datetime(2026, 12, 14, 23, 0, tzinfo=UTC))},
    "blacklist": {"blocks": (view.CallerBlock(("+41791112233",), ("+4176",), None),
                             view.CallerBlock((), ("+33",), dt.datetime(2026, 12, 22, 23, 0, tzinfo=UTC)))},
    "limit": {"max_calls": 3},
    "price_announcement": {"price": PRICE},
    "caller_id_smart_number": {"caller_id": CallerIdPolicy.SMART_NUMBER},
    "caller_id_fixed": {"caller_id": CallerIdPolicy.FIXED, "caller_id_number": "+41446681899"},
    "caller_id_withheld": {"caller_id": CallerIdPolicy.WITHHELD},
    "age_check_digit": {"age_check": AgeCheck.DIGIT},
    "age_check_pin": {"age_check": AgeCheck.PIN, "age_pins": ("4711", "20261127")},
    "tariff_codes": {"tariff_codes": True, "price": PRICE},
    "cost_cap": {"price": PRICE, "cost_cap": view.CostCap(Decimal("400.00"), 6857)},
}


def rendered(name: str, spec=OFFICE) -> str:
    return render.number_file(dialplan(spec, **FEATURES.get(name, {})), OPTIONS)


def context(name: str, spec=OFFICE):
    return number_context(dialplan(spec, **FEATURES.get(name, {})))


def call(name: str, *, at: float = WEEKDAY_NOON, caller: str = "+41441112233", spec=OFFICE, legs=lambda leg: "answer"):
    # a global variable of vars.xml, and the address the carrier's INVITE came in on
    switch = {"smartnumbers_caller_id_type": TRUNK_TYPE, "sip_local_network_addr": "192.0.2.10"}
    channel = fsd.Channel("0901234567", caller, at, variables=switch)
    outcome = fsd.run(fsd.hunt(context(name, spec), channel), channel, legs)
    return outcome, channel.variables


def sound_of(text: str) -> str:
    return f"{OPTIONS.sounds_dir}/{file_name(text, Language.DE)}"


GOLDEN_CASES = [*FEATURES, "outside_fallback", "outside_reject"]


def _spec_of(name: str):
    if name == "outside_fallback":
        return plan({"slots": [{"days": "sat,sun", "start": "22:00", "end": "02:00",
                                "destinations": [{"target": "+41446681800", "ring_timeout": 20}]}],
                     "outside": {"action": "fallback", "destinations": [{"target": "+41446681801",
                                                                         "ring_timeout": 25}]}})
    if name == "outside_reject":
        return plan({"slots": [{"days": "mon", "start": "00:00", "end": "24:00",
                                "destinations": [{"target": "sip:ops@10.0.0.7:5070", "ring_timeout": 60}]}]})
    return OFFICE


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_golden_file(name):
    text = rendered(name, _spec_of(name))
    path = GOLDEN / f"{name}.xml"
    if os.environ.get("SMARTNUMBERS_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{path.name} differs; rerun with SMARTNUMBERS_UPDATE_GOLDEN=1 if intended"


def test_the_order_of_the_extension_is_designs():
    """Notice, blacklist, limit, price announcement, caller-ID, slot, hunt, fallback."""
    text = rendered("not_ported")
    names = [line.split('"')[1] for line in text.splitlines() if "<extension name=" in line]
    assert names == ["number", "unavailable", "admission", "withheld_caller", "when", "hunt"]
    everything = render.number_file(dialplan(OFFICE, **FEATURES["blacklist"], unavailable=view.Unavailable(
        "suspended", None), price=PRICE), OPTIONS)
    order = [everything.index(marker) for marker in (
        'name="unavailable"', 'name="blacklist_1"', 'application="limit"', 'name="when"', 'expression="^1$"',
        PRICE and file_name(PRICE.text, Language.DE), 'application="bridge"', 'smart_outcome=nobody_answered')]
    assert order == sorted(order)
    assert everything.index('data="timezone=Europe/Zurich" inline="true"') < everything.index("minute-of-day")


def test_hunt_in_order_each_with_its_own_timeout_through_gateway_and_sip():
    outcome, variables = call("plain", legs=lambda leg: "answer" if "sip:desk" in leg.endpoint else "busy")
    assert [(leg.endpoint, leg.timeout) for leg in outcome.tried] == [
        ("sofia/gateway/carrier/+41446681800", 20), ("sofia/carrier/sip:desk@pbx.example.com", 15)]
    assert outcome.answered.endpoint.endswith("sip:desk@pbx.example.com")
    assert outcome.hangup_cause == "NORMAL_CLEARING" and not outcome.pre_answered
    assert variables["smart_number"] == NUMBER and variables["smart_account"] == "7"
    assert variables["smart_tariff_code"] == "1" and variables["smart_tariff_version"] == "1"
    assert variables["smart_slot"] == "1" and variables["smart_slot_name"] == "mon,tue,wed,thu,fri 08:00-18:00"
    assert variables["ignore_early_media"] if "ignore_early_media" in variables else True
    assert variables["ringback"] == render.RINGBACK


def test_when_every_destination_fails_a_notice_then_a_meaningful_cause():
    outcome, variables = call("plain", legs=lambda leg: "busy")
    assert len(outcome.tried) == 3 and outcome.answered is None
    assert outcome.pre_answered and outcome.played == [sound_of(
        "Im Moment ist niemand erreichbar. Bitte rufen Sie später wieder an.")]
    assert outcome.hangup_cause == "NO_ANSWER" and variables["smart_outcome"] == "nobody_answered"
    assert variables["sip_ignore_remote_cause"] == "true"  # the caller gets 480, not the last leg's code


def test_a_suspended_number_answers_with_a_notice_only():
    outcome, variables = call("suspended")
    assert outcome.tried == [] and outcome.pre_answered
    assert outcome.played == [sound_of("Diese Nummer ist zurzeit nicht erreichbar.")]
    assert outcome.hangup_cause == "CALL_REJECTED"


def test_a_number_not_ported_yet_gives_its_notice_until_the_port_date_then_routes():
    before = dt.datetime(2026, 12, 14, 23, 0, tzinfo=UTC).timestamp() - 1
    on_the_day = dt.datetime(2026, 12, 15, 9, 0, tzinfo=ZURICH).timestamp()
    outcome, _ = call("not_ported", at=before)
    assert outcome.hangup_cause == "UNALLOCATED_NUMBER" and outcome.tried == []
    outcome, _ = call("not_ported", at=on_the_day)
    assert outcome.answered is not None


@pytest.mark.parametrize("caller", ["+41791112233", "41791112233", "0791112233", "0041791112233", "0761234567",
                                    "+41769999999"])
def test_a_blacklisted_caller_in_any_form_is_refused_with_a_notice(caller):
    outcome, variables = call("blacklist", caller=caller)
    assert outcome.tried == [] and outcome.pre_answered and outcome.hangup_cause == "CALL_REJECTED"
    assert outcome.played == [sound_of("Ihr Anruf kann nicht angenommen werden.")]
    assert variables["smart_outcome"] == "blacklisted"


@pytest.mark.parametrize("caller", ["+41791112234", "0781112233", "+4179111223", "anonymous", ""])
def test_other_callers_pass_the_blacklist(caller):
    outcome, _ = call("blacklist", caller=caller)
    assert outcome.answered is not None


def test_a_temporary_entry_holds_only_until_its_end():
    end = dt.datetime(2026, 12, 22, 23, 0, tzinfo=UTC).timestamp()  # midnight in Zurich
    for caller in ("+33142000000", "0033142000000", "33142000000"):
        assert call("blacklist", caller=caller, at=end - 1)[1]["smart_outcome"] == "blacklisted"
        assert call("blacklist", caller=caller, at=end)[1].get("smart_outcome") == "outside_hours"
        assert call("blacklist", caller=caller, at=end + 10 * 3600)[0].answered is not None
    assert render.epoch_before(dt.datetime.fromtimestamp(end, UTC)) and len(str(int(end))) == 10


def test_epoch_regex_is_exact_around_its_moment():
    import re

    for moment in (1796083200, 1799999999, 1800000000, 1798153200, 2000000001):
        pattern = re.compile(render.epoch_before(dt.datetime.fromtimestamp(moment, UTC)))
        for value in (moment - 100_000, moment - 1, moment, moment + 1, moment + 86_400, 1_000_000_001):
            assert bool(pattern.search(str(value))) == (value < moment), (moment, value)


def test_the_limit_of_simultaneous_calls_refuses_with_user_busy():
    outcome, _ = call("limit")
    assert outcome.limits == [f"hash smartnumbers {NUMBER} 3 !USER_BUSY"]
    assert outcome.applications.index("limit") < outcome.applications.index("bridge")


def test_the_price_announcement_plays_in_early_media_before_the_hunt():
    outcome, variables = call("price_announcement")
    apps = outcome.applications
    assert outcome.pre_answered and outcome.played == [sound_of(PRICE.text)]
    assert apps.index("pre_answer") < apps.index("playback") < apps.index("bridge")
    assert variables["smart_price_announced"] == "true"
    outside = dt.datetime(2026, 12, 2, 20, 0, tzinfo=ZURICH).timestamp()
    assert sound_of(PRICE.text) not in call("price_announcement", at=outside)[0].played


@pytest.mark.parametrize("name, expected", [
    ("plain", {"sip_cid_type": TRUNK_TYPE}),
    ("caller_id_smart_number", {"origination_caller_id_number": NUMBER, "origination_caller_id_name": "_undef_",
                                "origination_privacy": "screen", "sip_cid_type": TRUNK_TYPE}),
    ("caller_id_fixed", {"origination_caller_id_number": "+41446681899", "origination_caller_id_name": "_undef_",
                         "origination_privacy": "screen", "sip_cid_type": TRUNK_TYPE}),
    ("caller_id_withheld", {"sip_from_uri": "sip:anonymous@anonymous.invalid", "sip_from_display": "Anonymous",
                            "origination_privacy": "screen:hide_name:hide_number", "sip_cid_type": TRUNK_TYPE,
                            "sip_invite_domain": "192.0.2.10"}),
])
def test_the_caller_id_policy_reaches_every_leg(name, expected):
    """The switch's own tests (test_real_freeswitch.py) show the headers these make."""
    outcome, _ = call(name, legs=lambda leg: "busy")
    for leg in outcome.tried:
        assert {k: leg.variables.get(k) for k in expected} == expected
        assert leg.variables["ignore_early_media"] == "true"
        if name == "plain":
            assert not any(k.startswith(("origination_", "sip_from")) for k in leg.variables)
        if name == "caller_id_withheld":  # the real caller stays on the leg, for the identity header
            assert not any(k.startswith("origination_caller") for k in leg.variables)


def test_outside_hours_the_owners_announcement_then_rejected():
    evening = dt.datetime(2026, 12, 2, 19, 0, tzinfo=ZURICH).timestamp()
    outcome, variables = call("plain", at=evening)
    assert outcome.tried == [] and outcome.played == [sound_of("Wir sind ab 8 Uhr wieder da.")]
    assert outcome.hangup_cause == "CALL_REJECTED" and variables["smart_slot"] == "outside"


def test_a_holiday_closes_the_day():
    for day in (dt.datetime(2026, 12, 25, 12, 0, tzinfo=ZURICH), dt.datetime(2026, 12, 31, 12, 0, tzinfo=ZURICH)):
        outcome, variables = call("plain", at=day.timestamp())
        assert outcome.tried == [] and variables["smart_slot"] == "outside"


def test_fallback_outside_hours_hunts_the_fallback():
    spec = _spec_of("outside_fallback")
    outcome, variables = call("outside_fallback", spec=spec)
    assert [leg.endpoint for leg in outcome.tried] == ["sofia/gateway/carrier/+41446681801"]
    assert variables["smart_slot"] == "fallback"


def test_every_form_of_the_called_number_reaches_the_extension():
    ctx = context("plain")
    for dialled in ("+41901234567", "41901234567", "0041901234567", "0901234567"):
        channel = fsd.Channel(dialled, "+41441112233", WEEKDAY_NOON)
        assert fsd.run(fsd.hunt(ctx, channel), channel).answered is not None
    for dialled in ("0901234568", "+41901234567 ", "9012345670", "x0901234567"):
        channel = fsd.Channel(dialled, "+41441112233", WEEKDAY_NOON)
        # nothing rings: the context's last extension refuses a number the platform does not have
        assert fsd.hunt(ctx, channel) == [fsd.Action("hangup", "UNALLOCATED_NUMBER", False)], dialled


NEIGHBOURS = {  # numbers ending in the same digits as NUMBER, each with what differs most
    "+41800111567": {"unavailable": view.Unavailable("suspended", None)},
    "+41848222567": {"blocks": (view.CallerBlock(("+41791112233",), ("+4176",), None),)},
    "+41906333567": {"age_check": AgeCheck.DIGIT, "price": PRICE},
    "+41901234567": {"caller_id": CallerIdPolicy.WITHHELD},
    "+41900444567": {},
}


@pytest.mark.parametrize("moment", [dt.datetime(2026, 12, 2, 12, 0), dt.datetime(2026, 12, 5, 23, 0),
                                    dt.datetime(2026, 12, 2, 3, 0)])  # a Wednesday and a Saturday
@pytest.mark.parametrize("caller", ["+41441112233", "+41791112233"])
def test_numbers_sharing_a_context_never_act_on_each_others_calls(moment, caller):
    """Every extension of a number checks the number, so in the context of their last digits a
    call to any of them is routed as if the number were alone there (the age check's transfer
    to its refusal included)."""
    night = _spec_of("outside_fallback")
    plans = {e164: dialplan(night if i % 2 else OFFICE, e164=e164, **changes)
             for i, (e164, changes) in enumerate(NEIGHBOURS.items())}
    shared = number_context(*plans.values())
    at = moment.replace(tzinfo=ZURICH).timestamp()
    for e164, n in plans.items():
        outcomes = []
        for ctx in (shared, number_context(n)):
            channel = fsd.Channel("0" + e164[3:], caller, at)
            actions = fsd.hunt(ctx, channel)
            outcomes.append((actions, channel.variables))
            refusal = fsd.Channel(render.AGE_REFUSED + e164, caller, at, variables=dict(channel.variables))
            outcomes.append((fsd.hunt(ctx, refusal), refusal.variables))
        assert outcomes[0] == outcomes[2] and outcomes[1] == outcomes[3], e164
        assert outcomes[0][1]["smart_number"] == e164


def test_a_premium_call_schedules_its_own_hangup_at_the_cap_when_answered():
    """The caller's leg carries the cap and the command the switch runs at answer: a hangup
    in the group of the leg's uuid, which the controller's ``sched_del`` replaces."""
    channel = fsd.Channel("0901234567", "+41441112233", WEEKDAY_NOON, variables={"uuid": "a-leg-uuid"})
    outcome = fsd.run(fsd.hunt(context("cost_cap"), channel), channel)
    assert outcome.answered is not None
    assert channel.variables["api_on_answer"] == "sched_hangup +6857 a-leg-uuid ALLOTTED_TIMEOUT"
    assert channel.variables["smart_cost_cap"] == "400.00" and channel.variables["smart_cost_cap_s"] == "6857"
    for leg in outcome.tried:  # the agent's leg carries none of it
        assert not any(k.startswith(("api_on", "smart_cost")) for k in leg.variables)
    plain = fsd.Channel("0901234567", "+41441112233", WEEKDAY_NOON)
    fsd.run(fsd.hunt(context("plain"), plain), plain)
    assert "api_on_answer" not in plain.variables


def test_each_leg_names_its_whole_destination():
    """Two SIP destinations sharing a user part are told apart: each leg carries the destination
    as the plan wrote it in ``smart_destination`` (the switch's destination_number is ``desk``)."""
    spec = plan({"slots": [{"days": "mon-fri", "start": "08:00", "end": "18:00", "destinations": [
        {"target": "sip:desk@pbx1.example.com", "ring_timeout": 15},
        {"target": "sip:desk@pbx2.example.com:5070", "ring_timeout": 15},
        {"target": "+41446681800", "ring_timeout": 20}]}]})
    outcome, _ = call("plain", spec=spec, legs=lambda leg: "busy")
    assert [(leg.endpoint, leg.variables["smart_destination"]) for leg in outcome.tried] == [
        ("sofia/carrier/sip:desk@pbx1.example.com", "sip:desk@pbx1.example.com"),
        ("sofia/carrier/sip:desk@pbx2.example.com:5070", "sip:desk@pbx2.example.com:5070"),
        ("sofia/gateway/carrier/+41446681800", "+41446681800")]
