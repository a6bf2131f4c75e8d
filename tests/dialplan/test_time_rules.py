"""The rendered time conditions, evaluated as FreeSWITCH evaluates them, route every minute of
a year of Europe/Zurich time (both DST weekends included) as ``routing.decide`` does."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from smartnumbers.errors import InputError
from smartnumbers.routing import decide
from tests.dialplan import freeswitch_dialplan as fsd
from tests.dialplan.plans import dialplan, number_context, plan, reference_routes, switch_routes

UTC = dt.timezone.utc


def d(target="+41446681800", timeout=20):
    return {"target": target, "ring_timeout": timeout}


OFFICE = plan({
    "slots": [
        {"days": "mon-fri", "start": "08:00", "end": "12:00", "destinations": [d(), d("sip:desk@pbx.example.com", 15)]},
        {"days": "mon-fri", "start": "13:00", "end": "18:00", "destinations": [d("+41791234567", 25)]},
        {"days": "sat", "start": "09:00", "end": "12:00", "destinations": [d("+41446681801", 30)]},
    ],
    "outside": {"action": "fallback", "destinations": [d("+41446681802", 10)]},
    "holidays": {"canton": "ZH", "rule": "closed"},
})
NIGHTS = plan({
    "slots": [
        {"days": "mon-thu", "start": "20:00", "end": "06:00", "destinations": [d("+41791111111", 40)]},
        {"days": "fri", "start": "18:00", "end": "24:00", "destinations": [d("+41792222222", 20)]},
        {"days": "sun", "start": "01:30", "end": "03:30", "destinations": [d("+41793333333", 20)]},
        {"days": "sun", "start": "10:00", "end": "14:00", "destinations": [d("+41794444444", 20)]},
    ],
    "outside": {"action": "announcement", "announcement": "Geschlossen."},
    "holidays": {"canton": "BE", "rule": "as_sunday", "dates": ["2026-03-28", "2026-03-29", "2026-10-24"]},
})
AROUND_THE_CLOCK = plan({
    "slots": [
        {"days": "mon-sun", "start": "02:00", "end": "03:00", "destinations": [d("+41795555555", 20)]},
        {"days": "mon-sat", "start": "03:00", "end": "02:00", "destinations": [d("+41796666666", 20)]},
        {"days": "sun", "start": "03:00", "end": "01:00", "destinations": [d("sip:night@pbx.example.com:5070", 60)]},
    ],
    "holidays": {"canton": "TI", "rule": "as_sunday", "dates": ["2026-10-25", "2026-12-31"]},
})


def _year_epochs(year: int):
    return range(calendar.timegm((year, 1, 1, 0, 0, 0)) - 3600, calendar.timegm((year + 1, 1, 1, 0, 0, 0)) - 3600, 60)


@pytest.mark.parametrize("spec", [OFFICE, NIGHTS, AROUND_THE_CLOCK], ids=["office", "nights", "around-the-clock"])
def test_every_minute_of_a_year_routes_as_the_reference(spec):
    """All 525,600 minutes of 2026 in Zurich. The switch's answer depends on nothing but the
    results of the time conditions, whose date parts are constant over a local day and whose
    clock parts only depend on the minute of the day; so the evaluator runs once per distinct
    combination of results and its answer is reused. The reference is asked at every minute."""
    context = number_context(dialplan(spec))
    timed = [c for x in context for c in x.conditions if c.time]
    assert not any(c.field and "strepoch" in c.field for x in context for c in x.conditions)
    zone = fsd.timezones()["Europe/Zurich"]
    clock_parts: dict[tuple, int] = {}
    clock_of_minute = [clock_parts.setdefault(
        tuple(fsd.minute_check(c.time, fsd.Tm(2026, 1, 1, 4, 0, m // 60, m % 60, 0, False)) for c in timed),
        len(clock_parts)) for m in range(1440)]
    switch_answers: dict[tuple, tuple] = {}
    day, signature = None, None
    minutes = mismatches = 0
    for epoch in _year_epochs(2026):
        offset, isdst = zone.offset_at(epoch)
        tm = fsd.Tm.at(epoch, offset, isdst)
        if (tm.year, tm.yday) != day:
            day = (tm.year, tm.yday)
            signature = tuple(fsd.day_check(c.time, tm) for c in timed)
        key = (signature, clock_of_minute[tm.hour * 60 + tm.min])
        got = switch_answers.get(key)
        if got is None:
            got = switch_answers[key] = switch_routes(context, epoch)[:2]
        want = reference_routes(spec, decide(spec, dt.datetime.fromtimestamp(epoch, UTC)))
        minutes += 1
        if got != want:
            mismatches += 1
            assert got == want, f"{dt.datetime.fromtimestamp(epoch, UTC).isoformat()}: switch {got}, reference {want}"
    assert minutes == 365 * 1440 and mismatches == 0


def test_the_dst_weekends_are_in_the_sweep():
    """Spring 2026-03-29 02:00 does not exist in Zurich; autumn 2026-10-25 02:00-02:59 happens twice."""
    zone = fsd.timezones()["Europe/Zurich"]
    spring = calendar.timegm((2026, 3, 29, 1, 0, 0))
    assert fsd.Tm.at(spring - 60, *zone.offset_at(spring - 60)).hour == 1
    assert fsd.Tm.at(spring, *zone.offset_at(spring)).hour == 3
    autumn = calendar.timegm((2026, 10, 25, 0, 30, 0))
    assert [fsd.Tm.at(t, *zone.offset_at(t)).hour for t in (autumn, autumn + 3600)] == [2, 2]


def test_a_slot_past_midnight_belongs_to_its_starting_day_on_the_switch_too():
    context = number_context(dialplan(NIGHTS))
    thursday_late = dt.datetime(2026, 11, 26, 23, 0, tzinfo=fsd_zone()).timestamp()
    friday_early = dt.datetime(2026, 11, 27, 5, 59, tzinfo=fsd_zone()).timestamp()
    friday_six = dt.datetime(2026, 11, 27, 6, 0, tzinfo=fsd_zone()).timestamp()
    assert switch_routes(context, thursday_late)[0] == "1"
    assert switch_routes(context, friday_early)[0] == "1"
    assert switch_routes(context, friday_six)[0] == "outside"


def fsd_zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Zurich")


_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@st.composite
def random_plans(draw):
    slots = []
    for i in range(draw(st.integers(1, 5))):
        days = draw(st.sets(st.sampled_from(_DAYS), min_size=1, max_size=7))
        start = draw(st.integers(0, 95)) * 15
        end = draw(st.integers(1, 96)) * 15
        if end == start:
            end = (end + 15) % 1440 or 1440
        slots.append({"days": ",".join(days), "start": f"{start // 60:02d}:{start % 60:02d}",
                      "end": f"{end // 60:02d}:{end % 60:02d}",
                      "destinations": [d(f"+4179{i}{j}00000", 5 + j) for j in range(draw(st.integers(1, 3)))]})
    outside = draw(st.sampled_from([{"action": "reject"}, {"action": "fallback", "destinations": [d("+41446681899")]}]))
    holidays = {"canton": draw(st.sampled_from([None, "ZH", "VD", "TI", "BS"])),
                "rule": draw(st.sampled_from(["closed", "as_sunday"])),
                "dates": draw(st.lists(st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31)), max_size=4))}
    try:
        return plan({"slots": slots, "outside": outside, "holidays": holidays})
    except InputError:
        assume(False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(spec=random_plans(), instants=st.lists(st.integers(calendar.timegm((2026, 1, 1, 0, 0, 0)),
                                                          calendar.timegm((2027, 12, 31, 22, 0, 0))),
                                              min_size=20, max_size=20))
def test_random_plans_at_random_instants(spec, instants):
    context = number_context(dialplan(spec))
    for epoch in instants:
        got = switch_routes(context, epoch)[:2]
        want = reference_routes(spec, decide(spec, dt.datetime.fromtimestamp(epoch, UTC)))
        assert got == want, dt.datetime.fromtimestamp(epoch, UTC).isoformat()
