"""The weekly plan: parsing, the fraud rule, overlaps, and what rings when (Europe/Zurich)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartnumbers.errors import InputError
from smartnumbers.models import DestinationKind, OutsideAction
from smartnumbers.routing import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    DestinationPolicy,
    DestinationSpec,
    OwnSwitches,
    PlanSpec,
    SlotSpec,
    check_overlaps,
    decide,
    parse_destination,
    parse_plan,
    plan_document,
)

ZURICH = ZoneInfo("Europe/Zurich")
UTC = dt.timezone.utc
OWN = {"+41800123456"}
DOMESTIC = DestinationPolicy(False, OWN.__contains__)
ABROAD_OK = DestinationPolicy(True, OWN.__contains__)


def zurich(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZURICH)


def dest(target="+41446681800", timeout=20):
    return {"target": target, "ring_timeout": timeout}


def plan(*slots, **extra):
    return parse_plan({"slots": list(slots), **extra}, DOMESTIC)


def slot(days, start, end, *targets):
    return {"days": days, "start": start, "end": end, "destinations": [dest(t) for t in targets or ["+41446681800"]]}


@pytest.mark.parametrize(
    "target, rule",
    [
        ("+41900123456", "premium-rate"),
        ("0901 123 456", "premium-rate"),
        ("0848 123 456", "shared-cost"),
        ("+41800123456", "loop"),
        ("+4930123456", "abroad"),
        ("+49 900 1234567", "premium-rate"),
        ("+44 871 234 5678", "premium-rate or shared-cost"),
        ("sip:+41900123456@gw.example.com", "premium-rate"),
        ("sip:0041800123456@gw.example.com", "loop"),
    ],
)
def test_fraud_rule_refuses_destinations(target, rule):
    with pytest.raises(InputError, match=rule) as info:
        parse_destination(target, 20, DOMESTIC, what="destination")
    assert info.value.rule == "fraud"


OWN_SIP = {"+41800111222"}
SWITCHES = OwnSwitches(frozenset({"10.0.0.5", "fs2.sn.example.net"}), frozenset({("127.0.0.2", 5080)}),
                       frozenset({5060, 5061, 5080}))
GUARDED = DestinationPolicy(False, OWN_SIP.__contains__, SWITCHES)


@pytest.mark.parametrize(
    "target, rule",
    [
        # the forms, and their plain twins
        ("sip:+41-900-222-333@gw.example.com", "premium-rate"),
        ("sip:+41900222333@gw.example.com", "premium-rate"),
        ("sip:0800.111.222@gw.example.com", "loop"),
        ("sip:0800111222@gw.example.com", "loop"),
        ("sip:00-41-900-222-333@gw.example.com", "premium-rate"),
        # separators and escapes a far end drops
        ("sip:0900.222.333@gw.example.com", "premium-rate"),
        ("sip:(0900)222-333@gw.example.com", "premium-rate"),
        ("sip:0900 222 333@gw.example.com", "premium-rate"),
        ("sip:0900%20222%20333@gw.example.com", "premium-rate"),
        ("sip:0900%2D222%2D333@gw.example.com", "premium-rate"),
        ("sip:0900%2d222%2d333@gw.example.com", "premium-rate"),
        ("sip:%2B41900222333@gw.example.com", "premium-rate"),
        ("sip:0900%252D222333@gw.example.com", "premium-rate"),  # escaped twice
        ("sip:0900_222_333@gw.example.com", "premium-rate"),
        ("sip:+41(0)900-222-333@gw.example.com", "premium-rate"),
        ("sip:+41-848-123-456@gw.example.com", "shared-cost"),
        ("sip:0842.123.456@gw.example.com", "shared-cost"),
        ("SIP:0901-123-456@gw.example.com", "premium-rate"),
        ("sips:0906.123.456@gw.example.com:5061", "premium-rate"),
        ("sip:0900222333;user=phone@gw.example.com", "premium-rate"),
        # international without a prefix, national without its 0
        ("sip:41900222333@gw.example.com", "premium-rate"),
        ("sip:900222333@gw.example.com", "premium-rate"),
        ("sip:41800111222@gw.example.com", "loop"),
        ("sip:00.41.800.111.222@gw.example.com", "loop"),
        # abroad, however written
        ("sip:+49-30-123-456@gw.example.com", "abroad"),
        ("sip:0049.30.123456@gw.example.com", "abroad"),
        ("sip:4930123456@gw.example.com", "abroad"),
        ("sip:1-212-555-0123@gw.example.com", "abroad"),
        # premium-rate short numbers (directory enquiries)
        ("sip:1818@gw.example.com", "premium-rate short number"),
        ("sip:1811@gw.example.com", "premium-rate short number"),
        # a '+' no reading is sure of
        ("sip:++41900222333@gw.example.com", "does not read as one number"),
        ("sip:0041+900222333@gw.example.com", "does not read as one number"),
        # the platform's own switches: loopback, the nodes' hosts, numeric spellings of them
        ("sip:desk@127.0.0.1", "own switches"),
        ("sip:desk@127.0.0.1:5060", "own switches"),
        ("sip:desk@127.8.9.10:5080", "own switches"),
        ("sip:desk@localhost", "own switches"),
        ("sip:desk@LOCALHOST:5080", "own switches"),
        ("sip:desk@pbx.localhost", "own switches"),
        ("sip:desk@localhost.localdomain", "own switches"),
        ("sip:desk@ip6-localhost", "own switches"),
        ("sip:desk@0.0.0.0", "own switches"),
        ("sip:desk@10.0.0.5:5080", "own switches"),
        ("sip:desk@FS2.sn.example.net", "own switches"),
        ("sips:desk@127.0.0.1", "own switches"),  # 5061
        ("sip:desk@127.0.0.2:5060", "own switches"),  # allowed on 5080 only
        ("sip:desk@127.1", "four decimal numbers"),
        ("sip:desk@2130706433", "four decimal numbers"),
        ("sip:desk@0x7f.0.0.1", "four decimal numbers"),
        ("sip:desk@0177.0.0.1", "four decimal numbers"),
        ("sip:desk@127.000.000.001", "four decimal numbers"),
        ("sip:desk@0", "four decimal numbers"),
        ("sip:desk@010.0.0.5", "four decimal numbers"),
        ("sip:desk@999.1.1.1", "not an address"),
    ],
)
def test_a_sip_destination_is_read_as_a_far_end_reads_it(target, rule):
    with pytest.raises(InputError, match=rule) as info:
        parse_destination(target, 20, GUARDED, what="destination")
    assert info.value.rule == "fraud"


@pytest.mark.parametrize(
    "target",
    [
        "sip:desk@pbx.example.com",
        "sip:+41446681800@gw.example.com",
        "sip:+41-44-668-18-00@gw.example.com",
        "sip:044.668.18.00@gw.example.com",
        "sip:0041446681800@gw.example.com",
        "sip:0800123456@gw.example.com",  # a freephone number that is not the platform's
        "sip:desk-1@pbx.example.com:5080",
        "sip:200@pbx.example.com",
        "sip:5551234@pbx.example.com",
        "sip:0900-desk@pbx.example.com",  # a name, not a number
        "sip:desk@127.0.0.1:5090",  # no switch listens there: a phone beside it
        "sip:desk@127.0.0.2:5080",  # the operator allowed this host:port
        "sip:desk@10.0.0.50",
        "sip:desk@203.0.113.7:5060",
        "sip:desk@localhost-pbx.example.com",
    ],
)
def test_legitimate_sip_destinations_are_accepted_as_typed(target):
    assert parse_destination(target, 20, GUARDED, what="destination") == DestinationSpec(
        DestinationKind.SIP, target, 20)


def test_a_sip_gateway_abroad_where_the_account_allows_it():
    policy = DestinationPolicy(True, OWN_SIP.__contains__, SWITCHES)
    assert parse_destination("sip:0049-30-123456@gw.example.com", 20, policy, what="d").kind is DestinationKind.SIP
    with pytest.raises(InputError, match="premium-rate"):
        parse_destination("sip:0049-900-1234567@gw.example.com", 20, policy, what="d")


def test_a_host_allowed_without_a_port_is_allowed_on_every_port():
    policy = DestinationPolicy(False, OWN_SIP.__contains__, OwnSwitches(frozenset(), frozenset({("localhost", None)})))
    assert parse_destination("sip:desk@localhost:5080", 20, policy, what="d").target == "sip:desk@localhost:5080"
    with pytest.raises(InputError, match="own switches"):
        parse_destination("sip:desk@127.0.0.1:5080", 20, policy, what="d")


def test_abroad_only_where_the_account_allows_it():
    assert parse_destination("+4930123456", 20, ABROAD_OK, what="d").target == "+4930123456"


@pytest.mark.parametrize(
    "uri",
    [
        "sip:desk@pbx.example.com;transport=tcp",
        "sip:desk@pbx.example.com?X-Evil=1",
        "sip:<desk>@pbx.example.com",
        'sip:desk"/><action application="bridge"/>@x',
        "sip:desk@pbx example.com",
        "sip:dësk@pbx.example.com",
        "sip:desk@-bad-.example.com",
        "sip:desk@pbx.example.com:99999",
        "sip:" + "a" * 300 + "@x.com",
        "sip:@pbx.example.com",
    ],
)
def test_malformed_sip_uris_are_refused(uri):
    with pytest.raises(InputError):
        parse_destination(uri, 20, DOMESTIC, what="destination")


def test_sip_and_pstn_destinations():
    assert parse_destination("sip:desk@pbx.example.com:5080", 15, DOMESTIC, what="d") == DestinationSpec(
        DestinationKind.SIP, "sip:desk@pbx.example.com:5080", 15)
    assert parse_destination("044 668 18 00", 25, DOMESTIC, what="d") == DestinationSpec(
        DestinationKind.PSTN, "+41446681800", 25)


@pytest.mark.parametrize("timeout", [0, 4, 301, -1, True, "20"])
def test_ring_timeouts_out_of_range(timeout):
    with pytest.raises(InputError):
        parse_destination("+41446681800", timeout, DOMESTIC, what="d")


def test_one_to_three_destinations():
    with pytest.raises(InputError, match="1 to 3"):
        plan(slot("mon", "08:00", "12:00", "+41446681800", "+41446681801", "+41446681802", "+41446681803"))
    with pytest.raises(InputError, match="1 to 3"):
        plan({"days": "mon", "start": "08:00", "end": "12:00", "destinations": []})


@pytest.mark.parametrize(
    "a, b",
    [
        (("mon-fri", "08:00", "18:00"), ("wed", "17:59", "19:00")),
        (("sat", "22:00", "02:00"), ("sun", "01:59", "03:00")),  # across midnight
        (("sun", "23:00", "01:00"), ("mon", "00:30", "06:00")),  # across the end of the week
        (("mon", "00:00", "24:00"), ("mon", "12:00", "13:00")),
    ],
)
def test_overlapping_slots_are_refused(a, b):
    with pytest.raises(InputError, match="overlap"):
        plan(slot(*a), slot(*b))


def test_adjacent_slots_are_fine():
    spec = plan(slot("mon-fri", "08:00", "12:00"), slot("mon-fri", "12:00", "18:00"),
                slot("sun", "22:00", "00:00"), slot("mon", "00:00", "08:00"))
    assert len(spec.slots) == 4
    assert spec.slots[2].end_minute == MINUTES_PER_DAY


@pytest.mark.parametrize("bad", ["25:00", "12:60", "8", "24:01", "０８:00", "08:00<"])
def test_bad_clock_times(bad):
    with pytest.raises(InputError):
        plan(slot("mon", bad, "18:00"))


def test_same_start_and_end_is_refused():
    with pytest.raises(InputError, match="same time"):
        plan(slot("mon", "08:00", "08:00"))


def test_document_round_trip():
    spec = plan(
        slot("mon-fri", "08:00", "18:00", "+41446681800", "sip:desk@pbx.example.com"),
        slot("sat", "22:00", "02:00", "+41791234567"),
        outside={"action": "fallback", "destinations": [dest("+41313000000", 30)]},
        holidays={"canton": "BE", "rule": "as_sunday", "dates": ["2026-12-31"]},
    )
    assert parse_plan(plan_document(spec), DOMESTIC) == spec


def test_weekly_plan_with_a_slot_across_midnight():
    spec = plan(slot("mon-fri", "08:00", "18:00", "+41446681800"), slot("sat", "22:00", "02:00", "+41791234567"))
    assert decide(spec, zurich("2026-11-27 08:00")).slot == spec.slots[0]  # Friday
    assert decide(spec, zurich("2026-11-27 07:59")).slot is None
    assert decide(spec, zurich("2026-11-27 18:00")).slot is None
    assert decide(spec, zurich("2026-11-28 22:00")).slot == spec.slots[1]  # Saturday
    assert decide(spec, zurich("2026-11-29 01:59")).slot == spec.slots[1]  # Sunday, Saturday's slot
    assert decide(spec, zurich("2026-11-29 02:00")).slot is None
    assert decide(spec, zurich("2026-11-27 23:00")).outside_action is OutsideAction.REJECT


def test_holidays_close_the_day_or_follow_sunday():
    slots = [slot("mon-fri", "08:00", "18:00", "+41446681800"), slot("sun", "10:00", "12:00", "+41791234567")]
    closed = plan(*slots, holidays={"canton": "ZH", "rule": "closed"})
    christmas = zurich("2026-12-25 11:00")  # a Friday
    decision = decide(closed, christmas)
    assert decision.slot is None and decision.holiday == "Christmas Day"
    as_sunday = plan(*slots, holidays={"canton": "ZH", "rule": "as_sunday"})
    assert decide(as_sunday, christmas).slot == as_sunday.slots[1]
    # Berchtold's day (2 January) is a public holiday in Bern but not in Geneva
    assert decide(plan(*slots, holidays={"canton": "BE"}), zurich("2026-01-02 09:00")).slot is None
    assert decide(plan(*slots, holidays={"canton": "GE"}), zurich("2026-01-02 09:00")).slot is not None
    owners = plan(*slots, holidays={"dates": ["2026-12-30"]})
    assert decide(owners, zurich("2026-12-30 09:00")).slot is None


def test_spring_and_autumn_weekends():
    spec = plan(slot("sun", "02:00", "03:00", "+41446681800"), slot("sun", "03:00", "04:00", "+41791234567"))
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST; the first slot never happens
    assert decide(spec, dt.datetime(2026, 3, 29, 0, 59, tzinfo=UTC)).slot is None  # 01:59 CET
    assert decide(spec, dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)).slot == spec.slots[1]  # 03:00 CEST
    # 25 October 2026: 03:00 CEST falls back to 02:00 CET; 02:xx happens twice
    assert decide(spec, dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)).slot == spec.slots[0]  # 02:30 CEST
    assert decide(spec, dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)).slot == spec.slots[0]  # 02:30 CET
    assert decide(spec, dt.datetime(2026, 10, 25, 2, 30, tzinfo=UTC)).slot == spec.slots[1]  # 03:30 CET


@st.composite
def weekly_plans(draw):
    """Random plans without overlaps, built by drawing slots and keeping those that fit."""
    slots: list[SlotSpec] = []
    for _ in range(draw(st.integers(1, 8))):
        days = frozenset(draw(st.sets(st.integers(1, 7), min_size=1, max_size=7)))
        start = draw(st.integers(0, MINUTES_PER_DAY - 1))
        end = draw(st.integers(1, MINUTES_PER_DAY).filter(lambda e: e != start))
        candidate = SlotSpec(days, start, end, (DestinationSpec(DestinationKind.PSTN, f"+4144668{len(slots):04d}", 20),))
        try:
            check_overlaps([*slots, candidate])
        except InputError:
            continue
        slots.append(candidate)
    return PlanSpec(tuple(slots))


@settings(max_examples=300, deadline=None)
@given(weekly_plans(), st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31),
                                    timezones=st.just(UTC)))
def test_decide_agrees_with_a_minute_of_week_table(spec, instant):
    """An independent model: paint each slot's minutes of the week, then look the instant up."""
    week = [None] * MINUTES_PER_WEEK
    for slot_spec in spec.slots:
        for start, end in slot_spec.week_intervals():
            for minute in range(start, end):
                assert week[minute] is None
                week[minute] = slot_spec
    local = instant.astimezone(ZURICH)
    minute_of_week = (local.isoweekday() - 1) * MINUTES_PER_DAY + local.hour * 60 + local.minute
    assert decide(spec, instant).slot == week[minute_of_week]
