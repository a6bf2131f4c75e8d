"""Live call control on the simulator: the registry, tariff codes from the agent, the price
announcement, the segment on the caller's channel, and the cost cap scheduled on the switch."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from controller import call_records
from controller.calls import LegHungUp, ProductSignal
from controller.live.segments import end_reason
from controller.live.service import Outcome, hangup_epoch
from tests.live.conftest import CAPPED, NUMBER, until

CONFIRM = "tone_stream://%(200,50,1000);%(200,50,1400)"
REFUSED = "tone_stream://%(150,100,400);%(150,100,400);%(150,100,400)"


def tones(rig, leg):
    return [what for who, what, _ in rig.switch.broadcasts if who == leg and what.startswith("tone_stream")]


def to_caller(rig, a_leg):
    return [(what, side) for who, what, side in rig.switch.broadcasts if who == a_leg and not what.startswith("tone")]


async def test_registry_shows_the_call_its_agent_and_running_charge(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    assert call.number == NUMBER
    assert call.account_id == numbers_in_db["owner"]
    assert call.caller.e164 == "+41791234567"
    assert call.agent_leg == rig.switch.agent_leg(a_leg)
    assert call.agent  # the destination that answered, from its B-leg
    assert call.failed_attempts == []
    assert call.code == 1
    rig.clock.talk(call.answered_at, 90.5)  # two minutes begun at CHF 1.50
    assert rig.live.charge(call) == Decimal("3.00")


async def test_answer_schedules_the_cost_cap_on_the_switch(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    # CHF 1.50 a begun minute: 266 whole minutes are CHF 399; one second more begins the
    # 267th, which would pass CHF 400.
    expected = hangup_epoch(call.answered_at, 266 * 60)
    assert rig.switch.scheduled[a_leg] == (expected, "ALLOTTED_TIMEOUT")
    assert rig.switch.variable(a_leg, "smart_cost_cap_at") == str(expected)
    assert rig.switch.variable(a_leg, "smart_cost_cap") == "400.00"


async def test_code_without_announcement_switches_at_the_next_second(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    agent = rig.switch.agent_leg(a_leg)
    rig.clock.talk(call.answered_at, 30.4)
    result = await rig.code(a_leg, "*13")
    assert result.outcome is Outcome.SWITCHED
    assert rig.switch.variable(a_leg, "smart_tariff_segments") == "1@0;13@31"
    assert to_caller(rig, a_leg) == []  # CHF 2.00 is not above CHF 2: nothing to announce
    assert tones(rig, agent) == [CONFIRM]
    # CHF 1.50 for the first minute begun, then CHF 2.00 a minute in 10 s steps from 31 s:
    # 1195 steps keep within CHF 400 (398.33 + 1.50), the 1196th would not.
    assert rig.switch.scheduled[a_leg] == (hangup_epoch(call.answered_at, 31 + 1195 * 10), "ALLOTTED_TIMEOUT")
    assert rig.live.calls.get(a_leg).code == 13


async def test_code_above_two_francs_is_announced_to_the_caller_first(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    agent = rig.switch.agent_leg(a_leg)
    rig.clock.talk(call.answered_at, 40.2)
    result = await rig.code(a_leg, "*12")
    assert result.outcome is Outcome.SWITCHED
    [(sound, side)] = to_caller(rig, a_leg)
    assert side == "aleg" and sound.startswith("/var/lib/smartnumbers/sounds/de_")
    assert rig.switch.variable(a_leg, "playback_terminators") == "none"  # the caller's * cannot cut it
    # old tariff until 40 s, 3 s announcement (+0.5 s lead) free, code 12 from 44 s
    assert rig.switch.variable(a_leg, "smart_tariff_segments") == "1@0;12@44+4"
    assert tones(rig, agent) == [CONFIRM]
    setvars = [c for c in rig.switch.commands if c.startswith("api uuid_setvar") and "smart_tariff_segments" in c]
    broadcast = next(i for i, c in enumerate(rig.switch.commands) if c.startswith("api uuid_broadcast " + a_leg))
    assert rig.switch.commands.index(setvars[0]) > broadcast  # announced before it applies


async def test_code_pressed_during_the_announcement_is_refused(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    agent = rig.switch.agent_leg(a_leg)
    rig.clock.talk(call.answered_at, 40.2)
    assert (await rig.code(a_leg, "*12")).outcome is Outcome.SWITCHED
    rig.clock.talk(call.answered_at, 42.0)  # the announcement plays until 44 s
    result = await rig.code(a_leg, "*13")
    assert result.outcome is Outcome.ANNOUNCING
    assert rig.switch.variable(a_leg, "smart_tariff_segments") == "1@0;12@44+4"
    assert tones(rig, agent) == [CONFIRM, REFUSED]
    assert len(to_caller(rig, a_leg)) == 1


async def test_two_codes_in_a_row(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    rig.clock.talk(call.answered_at, 30.4)
    assert (await rig.code(a_leg, "*13")).outcome is Outcome.SWITCHED
    rig.clock.talk(call.answered_at, 50.0)
    assert (await rig.code(a_leg, "*12")).outcome is Outcome.SWITCHED
    assert rig.switch.variable(a_leg, "smart_tariff_segments") == "1@0;13@31;12@54+4"
    assert rig.live.calls.get(a_leg).code == 12


async def test_two_codes_at_once_are_taken_one_after_the_other(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    rig.clock.talk(call.answered_at, 40.2)
    rig.switch.press_code(a_leg, "*12")
    rig.switch.press_code(a_leg, "*13")
    first, second = await rig.results.get(), await rig.results.get()
    assert (first.code, first.outcome) == (12, Outcome.SWITCHED)
    assert (second.code, second.outcome) == (13, Outcome.ANNOUNCING)  # the first one's price still plays
    assert rig.switch.variable(a_leg, "smart_tariff_segments") == "1@0;12@44+4"


async def test_unknown_codes_are_refused_and_change_nothing(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    agent = rig.switch.agent_leg(a_leg)
    rig.clock.talk(call.answered_at, 20)
    for digits in ("*55", "*00", "*99"):
        assert (await rig.code(a_leg, digits)).outcome is Outcome.NO_SUCH_CODE
    assert rig.switch.variable(a_leg, "smart_tariff_segments") is None
    assert tones(rig, agent) == [REFUSED] * 3


async def test_same_code_again_is_confirmed_without_a_new_segment(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    rig.clock.talk(rig.live.calls.get(a_leg).answered_at, 20)
    assert (await rig.code(a_leg, "*01")).outcome is Outcome.UNCHANGED
    assert rig.switch.variable(a_leg, "smart_tariff_segments") is None
    assert tones(rig, rig.switch.agent_leg(a_leg)) == [CONFIRM]


async def test_code_on_a_call_that_has_ended(rig, numbers_in_db):
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    agent = rig.switch.agent_leg(a_leg)
    rig.switch.hang_up(a_leg)
    await until(lambda: rig.live.calls.get(a_leg) is None, "the call has ended")
    sent = len(rig.switch.commands)
    # the agent's code event arrives after the caller's hangup, and a client asks too
    rig.live.on_event(ProductSignal("vm", agent, a_leg, datetime.now(UTC), kind="code", tags={"digits": "*12"}))
    late = await rig.results.get()
    asked = await rig.live.switch_tariff(a_leg, 12)
    assert late.outcome is Outcome.NO_SUCH_CALL and asked.outcome is Outcome.NO_SUCH_CALL
    assert rig.switch.commands[sent:] == []  # nothing sent to the switch for a call that is gone


async def test_the_cdr_holds_the_segments(rig, numbers_in_db):
    ended: list[LegHungUp] = []
    observe = rig.live.on_event
    rig.live.on_event = lambda e: (ended.append(e) if isinstance(e, LegHungUp) and e.is_a_leg else None, observe(e))
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    rig.clock.talk(call.answered_at, 40.2)
    await rig.code(a_leg, "*12")
    rig.switch.hang_up(a_leg)
    await until(lambda: ended, "the caller's leg has hung up")
    tags = ended[0].tags
    assert tags["tariff_segments"] == "1@0;12@44+4"
    assert call_records.parse_segments(tags["tariff_segments"]) == [[1, 0, 0], [12, 44, 4]]


async def test_cap_reached_inside_a_billing_increment(rig, numbers_in_db):
    a_leg = await rig.answered_call(CAPPED, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    # CHF 10 a begun minute, the owner's cap CHF 25: the third minute would make it CHF 30,
    # which any second past 120 s begins: the call ends at 120 s of talk, at CHF 20.
    expected = hangup_epoch(call.answered_at, 120)
    assert rig.switch.scheduled[a_leg] == (expected, "ALLOTTED_TIMEOUT")
    assert rig.switch.variable(a_leg, "smart_cost_cap") == "25.00"
    rig.clock.talk(call.answered_at, 120.9)
    assert rig.live.charge(call) == Decimal("20.00")
    rig.clock.talk(call.answered_at, 121)
    assert rig.live.charge(call) == Decimal("25.00")  # rating caps it even if the hangup were late
    ended: list[LegHungUp] = []
    observe = rig.live.on_event
    rig.live.on_event = lambda e: (ended.append(e) if isinstance(e, LegHungUp) and e.is_a_leg else None, observe(e))
    rig.switch.fire_scheduled(a_leg)
    await until(lambda: ended, "the switch ended the call")
    cdr = ended[0].tags
    assert cdr["cost_cap_at"] == str(expected)
    moment = datetime.fromtimestamp(expected, UTC)
    assert end_reason(cdr, "ALLOTTED_TIMEOUT", moment) == "cost_cap"
    assert end_reason(cdr, "NORMAL_CLEARING", moment) == "NORMAL_CLEARING"


def test_a_call_the_dialplan_alone_capped_ends_by_the_cap():
    """Live control never saw the call (``serve`` was down): the dialplan's tags alone say
    that the switch's own hangup ended it; the controller's moment, where written, decides."""
    moment = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    dialplan_only = {"cost_cap": "400.00", "cost_cap_s": "2394"}
    assert end_reason(dialplan_only, "ALLOTTED_TIMEOUT", moment) == "cost_cap"
    assert end_reason(dialplan_only, "NORMAL_CLEARING", moment) == "NORMAL_CLEARING"
    assert end_reason({}, "ALLOTTED_TIMEOUT", moment) == "ALLOTTED_TIMEOUT"
    later = {**dialplan_only, "cost_cap_at": str(int(moment.timestamp()) + 60)}
    assert end_reason(later, "ALLOTTED_TIMEOUT", moment) == "ALLOTTED_TIMEOUT"


async def test_switch_that_would_pass_the_cap_is_refused(rig, numbers_in_db):
    a_leg = await rig.answered_call(CAPPED, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    before = rig.switch.scheduled[a_leg]
    rig.clock.talk(call.answered_at, 70)  # CHF 20 so far; code 40 charges CHF 50 at its start
    result = await rig.code(a_leg, "*40")
    assert result.outcome is Outcome.OVER_CAP
    assert rig.switch.variable(a_leg, "smart_tariff_segments") is None
    assert rig.switch.scheduled[a_leg] == before
    assert tones(rig, rig.switch.agent_leg(a_leg)) == [REFUSED]


async def test_switch_on_unanswered_call_is_refused(rig, numbers_in_db):
    from controller.calls import LegCreated, LegDirection
    from smartnumbers.phone import normalise_caller

    rig.live.on_event(LegCreated("vm", "ringing-1", "ringing-1", datetime.now(UTC), direction=LegDirection.INBOUND,
                                 caller=normalise_caller("41791234567"), destination="0901234567"))
    assert (await rig.live.switch_tariff("ringing-1", 12)).outcome is Outcome.NOT_ANSWERED


def test_hangup_second_keeps_talk_time_within_the_allowed_seconds():
    from datetime import timedelta

    base = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    # answered at .54: second 6 runs by 6.99 at the latest, 6.45 s of talk at most
    assert hangup_epoch(base + timedelta(milliseconds=540), 6) == int(base.timestamp()) + 6
    # answered on the second: second 5, since second 6 could end at 6.99 s of talk
    assert hangup_epoch(base, 6) == int(base.timestamp()) + 5
    assert hangup_epoch(base + timedelta(microseconds=1), 6) == int(base.timestamp()) + 6


async def test_registry_keeps_the_failed_hunting_attempts(rig, numbers_in_db):
    """The captured hunt: busy, then no answer, then answered by the third destination."""
    a_leg = rig.switch.place_call("hunted", hold=True)
    await until(lambda: (c := rig.live.calls.get(a_leg)) is not None and c.agent_leg, "answered after the hunt")
    call = rig.live.calls.get(a_leg)
    # the second destination's ring timeout (leg_timeout) ends its leg ALLOTTED_TIMEOUT
    assert [(a.destination, a.cause) for a in call.failed_attempts] == [("a", "USER_BUSY"), ("b", "ALLOTTED_TIMEOUT")]
    assert len(call.attempts) == 3 and call.attempts[call.agent_leg].cause == "NONE"
    assert call.agent == "c"


async def test_single_digits_do_not_switch_the_tariff(rig, numbers_in_db):
    """Codes come from the switch's digit binding; the agent's relayed single digits (a call
    without the binding, FACTS 4b capture 7401) change nothing."""
    a_leg = rig.switch.place_call("dtmf")
    await rig.switch.settle()
    await until(lambda: rig.live.calls.get(a_leg) is None, "the call has ended")
    await rig.live.settle()
    assert rig.results.empty()
    assert not [c for c in rig.switch.commands if c.startswith("api uuid_setvar")]


async def test_a_switch_made_elsewhere_is_read_back_before_the_next(rig, numbers_in_db):
    """Another controller (a NOC command) switched the call: the next switch builds on the
    segments the channel holds, not on what this registry last saw."""
    a_leg = await rig.answered_call(NUMBER, numbers_in_db["owner"])
    call = rig.live.calls.get(a_leg)
    assert (await rig.switch_api(f"uuid_setvar {a_leg} smart_tariff_segments 1@0;13@31")) == "+OK\n"
    rig.clock.talk(call.answered_at, 50.0)
    assert (await rig.code(a_leg, "*12")).outcome is Outcome.SWITCHED
    assert rig.switch.variable(a_leg, "smart_tariff_segments") == "1@0;13@31;12@54+4"
