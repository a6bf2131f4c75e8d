"""Properties of the rating engine over generated tariffs and calls, and its agreement with an
independent exact reference (``reference.py``, fractions of a franc) on every run."""

import dataclasses
import random
from decimal import Decimal as D
from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st

from rating.engine import CallUsage, call_cap, caller_charge, rate_call, seconds_within_cap
from rating.money import EXACT_PER_RAPPEN, Percent, exact_chf
from rating.price_list import PayoutOption, PriceList, PriceListEntry
from rating.tariff import (
    PREMIUM_MAX_FIXED_PER_CALL,
    SHARED_COST_MAX_PER_MINUTE_EXCL_VAT,
    OneOffFee,
    RecurringFee,
    TariffSegment,
    TariffTerms,
)
from smartnumbers.phone import CallerOrigin, RangeClass
from tests.rating import reference

HALF_RAPPEN = EXACT_PER_RAPPEN // 2


def amounts(max_value, places=(2,)):
    """Decimal amounts from 0 to ``max_value`` with the given numbers of places (the database
    keeps six; people type up to four)."""
    return st.one_of(*(
        st.decimals(min_value=0, max_value=max_value, places=p, allow_nan=False, allow_infinity=False)
        for p in places
    ))


PRICE_PLACES = (2, 4, 6)
units = st.one_of(st.sampled_from([(60, 60), (30, 6), (1, 1), (30, 30)]), st.tuples(st.integers(1, 120), st.integers(1, 120)))


@st.composite
def tariff_terms(draw, version=st.integers(1, 1000)):
    first, next_ = draw(units)
    return TariffTerms(
        tariff_version_id=draw(version),
        code=draw(st.integers(1, 90)),
        price_per_minute=draw(amounts(10, PRICE_PLACES)),
        first_unit_s=first,
        next_unit_s=next_,
        price_per_call=draw(st.one_of(st.just(D(0)), amounts(100, PRICE_PLACES))),
        one_off_fees=tuple(draw(st.lists(st.builds(OneOffFee, st.integers(1, 4000), amounts(100)), max_size=2))),
        recurring_fees=tuple(draw(st.lists(st.builds(RecurringFee, st.integers(1, 1200), amounts(30)), max_size=2))),
    )


@st.composite
def tariff_segments(draw):
    segments = [TariffSegment(draw(tariff_terms()))]
    for _ in range(draw(st.integers(0, 3))):
        announced_at = segments[-1].start_s + draw(st.integers(0, 900))
        announcement = draw(st.integers(0, 30))
        segments.append(TariffSegment(draw(tariff_terms()), start_s=announced_at + announcement, announcement_s=announcement))
    return tuple(segments)


@st.composite
def usages(draw, range_class=st.sampled_from(list(RangeClass))):
    answered = draw(st.booleans())
    return CallUsage(
        range_class=draw(range_class),
        origin=draw(st.sampled_from(list(CallerOrigin))),
        answered=answered,
        talk_s=draw(st.integers(0, 6000)) if answered else 0,
        segments=draw(tariff_segments()),
        number_cap=draw(st.one_of(st.none(), amounts(500))),
    )


@st.composite
def price_lists(draw):
    entries = []
    for range_class in RangeClass:
        for origin in CallerOrigin:
            premium = range_class is RangeClass.PREMIUM
            entries.append(
                PriceListEntry(
                    range_class=range_class,
                    origin=origin,
                    interconnection_per_minute=draw(amounts(3, PRICE_PLACES)),
                    owner_per_minute=D(0) if premium else draw(amounts(2, PRICE_PLACES)),
                    payout_share_percent=draw(amounts(100, (2, 6))) if premium else D(0),
                )
            )
    return PriceList(tuple(entries))


_ANY_PRICES = PriceList(
    tuple(
        PriceListEntry(
            range_class=range_class,
            origin=origin,
            interconnection_per_minute=D("0.1"),
            payout_share_percent=D(50) if range_class is RangeClass.PREMIUM else D(0),
        )
        for range_class in RangeClass
        for origin in CallerOrigin
    )
)
NO_FEE = Percent(D(0))


def runs(rated):
    """Each run's (exact, rounded) amounts."""
    return {
        "caller incl. VAT": (rated.caller.incl_vat_exact, rated.caller.incl_vat),
        "interconnection": (rated.interconnection_exact, rated.interconnection),
        "net revenue": (rated.net_revenue_exact, rated.net_revenue),
        "owner cost": (rated.owner_cost_exact, rated.owner_cost),
        "owner payout": (rated.owner_payout_exact, rated.owner_payout),
        "PayFast fee": (rated.payfast_fee_exact, rated.payfast_fee),
    }


def assert_as_reference(usage, price_list, option, fee):
    """Every run of the engine, exact and rounded, is the reference's, to the last unit."""
    rated = rate_call(usage, price_list, payout_option=option, payfast_fee=Percent(fee))
    expected = reference.rate(usage, price_list.entry(usage.range_class, usage.origin), option, fee)
    wanted = {
        "caller incl. VAT": expected.incl_vat,
        "interconnection": expected.interconnection,
        "net revenue": expected.net_revenue,
        "owner cost": expected.owner_cost,
        "owner payout": expected.payout,
        "PayFast fee": expected.payfast_fee,
    }
    for name, (exact, rounded) in runs(rated).items():
        assert exact_chf(exact) == wanted[name], name
        assert F(rounded, 100) == reference.half_up(wanted[name]), name
    assert exact_chf(rated.caller.uncapped_exact) == expected.uncapped
    assert (F(rated.caller.incl_vat, 100), F(rated.caller.vat, 100), F(rated.caller.excl_vat, 100)) == (
        expected.total, expected.vat, expected.excl_vat)
    assert [
        (s.tariff_version_id, s.start_s, s.talk_s, exact_chf(s.time_charge_exact), exact_chf(s.fixed_charge_exact))
        for s in rated.segments
    ] == expected.segments
    assert chf_incl(caller_charge(usage)) == chf_incl(rated.caller)


def chf_incl(charge):
    return charge.incl_vat_exact, charge.incl_vat


@settings(max_examples=500, deadline=None)
@given(usages(), price_lists(), st.sampled_from(list(PayoutOption)), amounts(100, (1, 2, 4)))
def test_every_run_is_the_exact_reference(usage, price_list, option, fee):
    assert_as_reference(usage, price_list, option, fee)


def test_every_run_is_the_exact_reference_on_many_random_calls():
    """A broad seeded sweep beside the property: many calls, prices of 2, 4 and 6 places,
    talk times near increments and fee moments, tariffs switched up to three times."""
    rnd = random.Random(20261127)

    def amount(most, places):
        scale = 10**places
        return D(rnd.randint(0, most * scale)).scaleb(-places)

    def terms():
        first, next_ = rnd.choice([(60, 60), (30, 6), (1, 1), (30, 30), (rnd.randint(1, 90), rnd.randint(1, 90))])
        return TariffTerms(
            tariff_version_id=rnd.randint(1, 9), code=rnd.randint(1, 90), price_per_minute=amount(10, rnd.choice(PRICE_PLACES)),
            first_unit_s=first, next_unit_s=next_,
            price_per_call=amount(100, rnd.choice(PRICE_PLACES)) if rnd.random() < 0.5 else D(0),
            one_off_fees=tuple(OneOffFee(rnd.randint(1, 3000), amount(100, 2)) for _ in range(rnd.randint(0, 2))),
            recurring_fees=tuple(RecurringFee(rnd.randint(1, 900), amount(30, 2)) for _ in range(rnd.randint(0, 2))),
        )

    def price_list():
        return PriceList(tuple(
            PriceListEntry(
                range_class=range_class, origin=origin, interconnection_per_minute=amount(3, rnd.choice(PRICE_PLACES)),
                owner_per_minute=D(0) if range_class is RangeClass.PREMIUM else amount(2, rnd.choice(PRICE_PLACES)),
                payout_share_percent=amount(100, rnd.choice((0, 2, 6))) if range_class is RangeClass.PREMIUM else D(0),
            )
            for range_class in RangeClass for origin in CallerOrigin
        ))

    prices = price_list()
    for i in range(20_000):
        if i % 500 == 0:
            prices = price_list()
        segments = [TariffSegment(terms())]
        for _ in range(rnd.choice((0, 0, 1, 1, 2, 3))):
            announcement = rnd.randint(0, 30)
            start = segments[-1].start_s + rnd.randint(0, 600) + announcement
            segments.append(TariffSegment(terms(), start_s=start, announcement_s=announcement))
        range_class = rnd.choice(list(RangeClass))
        answered = rnd.random() < 0.95
        usage = CallUsage(
            range_class=range_class, origin=rnd.choice(list(CallerOrigin)), answered=answered,
            talk_s=rnd.choice((rnd.randint(0, 90), rnd.randint(0, 3600))) if answered else 0,
            segments=tuple(segments) if answered and range_class is not RangeClass.FREEPHONE or rnd.random() < 0.5 else (),
            number_cap=amount(500, 2) if rnd.random() < 0.3 else None,
        )
        assert_as_reference(usage, prices, rnd.choice(list(PayoutOption)), amount(100, rnd.choice((1, 2, 4))))


def test_half_a_rappen_exactly_rounds_up():
    """Amounts exactly on a half Rappen only as a sum of charges that do not terminate as
    decimals (a 34-digit Decimal computation can land a hair below): they round up."""
    cent = TariffTerms(tariff_version_id=1, code=1, price_per_minute=D("0.01"), first_unit_s=1, next_unit_s=1)
    # 10 s + 20 s at 0.01/min: 0.1/60 + 0.2/60 = 0.005 (each part 0.001666... and 0.003333...)
    usage = CallUsage(range_class=RangeClass.PREMIUM, origin=CallerOrigin.FIXED, answered=True, talk_s=30,
                      segments=(TariffSegment(cent), TariffSegment(cent, start_s=10, announcement_s=0)))
    rated = rate_call(usage, _ANY_PRICES, payout_option=PayoutOption.STANDARD, payfast_fee=NO_FEE)
    assert [exact_chf(s.time_charge_exact) for s in rated.segments] == [F(1, 600), F(2, 600)]
    assert exact_chf(rated.caller.incl_vat_exact) == F("0.005")
    assert rated.caller.incl_vat == 1
    assert_as_reference(usage, _ANY_PRICES, PayoutOption.PAYFAST, D("2.5"))
    # 0.016215 is rounded to 0.02 before its VAT is taken: 0.02 x 8.1/108.1 = 0.0015 is 0.00
    split = TariffTerms(tariff_version_id=2, code=2, price_per_minute=D("0.016215"), first_unit_s=60, next_unit_s=60)
    usage = CallUsage(range_class=RangeClass.PREMIUM, origin=CallerOrigin.FIXED, answered=True, talk_s=60,
                      segments=(TariffSegment(split),))
    rated = rate_call(usage, _ANY_PRICES, payout_option=PayoutOption.STANDARD, payfast_fee=NO_FEE)
    assert (rated.caller.incl_vat, rated.caller.excl_vat, rated.caller.vat) == (2, 2, 0)
    assert_as_reference(usage, _ANY_PRICES, PayoutOption.PAYFAST, D("2.5"))


@settings(max_examples=300, deadline=None)
@given(usages(), price_lists(), st.sampled_from(list(PayoutOption)), amounts(100))
def test_runs_are_rounded_once_within_half_a_rappen(usage, price_list, option, fee):
    rated = rate_call(usage, price_list, payout_option=option, payfast_fee=Percent(fee))
    for name, (exact, rounded) in runs(rated).items():
        assert type(exact) is int and type(rounded) is int, name
        assert abs(rounded * EXACT_PER_RAPPEN - exact) <= HALF_RAPPEN, name
    caller = rated.caller
    assert caller.incl_vat == caller.excl_vat + caller.vat
    # the VAT is the rounded total's, within half a Rappen of 8.1/108.1 of it
    assert abs(F(caller.vat) - F(caller.incl_vat * 81, 1081)) < F(1, 2)
    assert rated.owner_payout_exact >= 0 and rated.owner_cost_exact >= 0 and rated.payfast_fee_exact >= 0
    assert rated.payfast_fee_exact <= rated.owner_payout_exact
    if option is PayoutOption.STANDARD:
        assert rated.payfast_fee_exact == 0
    assert set(rated.tariff_version_ids) <= {s.terms.tariff_version_id for s in usage.segments}


@settings(max_examples=300, deadline=None)
@given(usages(), st.integers(0, 3000))
def test_charge_is_monotonic_in_duration(usage, more):
    if not usage.answered:
        return
    longer = dataclasses.replace(usage, talk_s=usage.talk_s + more)
    shorter, longer = caller_charge(usage), caller_charge(longer)
    assert shorter.incl_vat_exact <= longer.incl_vat_exact
    assert shorter.incl_vat <= longer.incl_vat
    assert shorter.uncapped_exact <= longer.uncapped_exact


@settings(max_examples=300, deadline=None)
@given(usages())
def test_charge_never_exceeds_the_caps(usage):
    rated = rate_call(usage, _ANY_PRICES, payout_option=PayoutOption.STANDARD, payfast_fee=NO_FEE)
    charge = rated.caller
    assert charge.incl_vat_exact <= charge.uncapped_exact
    if usage.range_class is RangeClass.FREEPHONE:
        assert charge.incl_vat == 0
    elif usage.range_class is RangeClass.SHARED_COST:
        billed = sum(s.billed_s for s in rated.segments)
        assert exact_chf(charge.incl_vat_exact) <= F(SHARED_COST_MAX_PER_MINUTE_EXCL_VAT) * F("1.081") * billed / 60
    else:
        assert F(charge.incl_vat, 100) <= call_cap(usage.number_cap)
        time = sum(s.time_charge_exact for s in rated.segments)
        assert exact_chf(charge.uncapped_exact - time) <= PREMIUM_MAX_FIXED_PER_CALL


@settings(max_examples=150, deadline=None)
@given(tariff_segments(), st.one_of(st.none(), amounts(500)))
def test_seconds_within_cap_is_the_last_second_the_engine_keeps_within_the_cap(segments, number_cap):
    cap = call_cap(number_cap)
    seconds = seconds_within_cap(segments, cap)

    def uncapped(talk_s):
        usage = CallUsage(
            range_class=RangeClass.PREMIUM, origin=CallerOrigin.FIXED, answered=True, talk_s=talk_s, segments=segments
        )
        return reference.half_up(exact_chf(caller_charge(usage).uncapped_exact))

    if seconds is None:
        assert uncapped(10**7) <= cap
    elif seconds == 0 and uncapped(0) > cap:
        pass  # answering alone passes the cap
    else:
        assert uncapped(seconds) <= cap
        assert uncapped(seconds + 1) > cap
