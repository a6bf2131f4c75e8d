"""Properties of the rating engine over generated tariffs and calls."""

import dataclasses
from decimal import Decimal as D
from decimal import localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from rating.engine import CallUsage, call_cap, caller_charge, rate_call, seconds_within_cap
from rating.money import EXACT, RAPPEN, Amount, to_rappen
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

HALF_RAPPEN = RAPPEN / 2


def chf(max_value, places=2):
    return st.decimals(min_value=0, max_value=max_value, places=places, allow_nan=False, allow_infinity=False)


units = st.one_of(st.sampled_from([(60, 60), (30, 6), (1, 1), (30, 30)]), st.tuples(st.integers(1, 120), st.integers(1, 120)))


@st.composite
def tariff_terms(draw, version=st.integers(1, 1000)):
    first, next_ = draw(units)
    return TariffTerms(
        tariff_version_id=draw(version),
        code=draw(st.integers(1, 90)),
        price_per_minute=draw(chf(10, places=4)),
        first_unit_s=first,
        next_unit_s=next_,
        price_per_call=draw(st.one_of(st.just(D(0)), chf(100))),
        one_off_fees=tuple(draw(st.lists(st.builds(OneOffFee, st.integers(1, 4000), chf(100)), max_size=2))),
        recurring_fees=tuple(draw(st.lists(st.builds(RecurringFee, st.integers(1, 1200), chf(30)), max_size=2))),
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
        number_cap=draw(st.one_of(st.none(), chf(500))),
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
                    interconnection_per_minute=draw(chf(3, places=4)),
                    owner_per_minute=D(0) if premium else draw(chf(2, places=4)),
                    payout_share_percent=draw(chf(100)) if premium else D(0),
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


def amounts(rated):
    return {
        "caller incl. VAT": rated.caller.incl_vat,
        "caller excl. VAT": rated.caller.excl_vat,
        "interconnection": rated.interconnection,
        "net revenue": rated.net_revenue,
        "owner cost": rated.owner_cost,
        "owner payout": rated.owner_payout,
        "PayFast fee": rated.payfast_fee,
    }


def floats_in(value):
    if isinstance(value, float):
        return True
    if dataclasses.is_dataclass(value):
        return any(floats_in(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, tuple):
        return any(floats_in(item) for item in value)
    return False


@settings(max_examples=300, deadline=None)
@given(usages(), price_lists(), st.sampled_from(list(PayoutOption)), chf(100))
def test_runs_are_rounded_once_within_half_a_rappen_and_hold_no_float(usage, price_list, option, fee):
    rated = rate_call(usage, price_list, payout_option=option, payfast_fee_percent=fee)
    for name, amount in amounts(rated).items():
        assert isinstance(amount, Amount), name
        assert amount.rounded == amount.rounded.quantize(RAPPEN), name
        assert abs(amount.rounded - amount.exact) <= HALF_RAPPEN, name
    assert not floats_in(rated)
    caller = rated.caller
    assert caller.incl_vat.rounded == caller.excl_vat.rounded + caller.vat.rounded
    assert abs(caller.vat.rounded - caller.vat.exact) <= RAPPEN  # derived from two roundings
    with localcontext(EXACT):
        assert caller.vat.exact == caller.incl_vat.exact - caller.excl_vat.exact
        assert abs(caller.excl_vat.exact * D("1.081") - caller.incl_vat.exact) < D("1e-25")
    assert rated.owner_payout.exact >= 0 and rated.owner_cost.exact >= 0 and rated.payfast_fee.exact >= 0
    assert rated.payfast_fee.exact <= rated.owner_payout.exact
    if option is PayoutOption.STANDARD:
        assert rated.payfast_fee.exact == 0
    assert set(rated.tariff_version_ids) <= {s.terms.tariff_version_id for s in usage.segments}


@settings(max_examples=300, deadline=None)
@given(usages(), st.integers(0, 3000))
def test_charge_is_monotonic_in_duration(usage, more):
    if not usage.answered:
        return
    longer = dataclasses.replace(usage, talk_s=usage.talk_s + more)
    shorter, longer = caller_charge(usage), caller_charge(longer)
    assert shorter.incl_vat.exact <= longer.incl_vat.exact
    assert shorter.incl_vat.rounded <= longer.incl_vat.rounded
    assert shorter.uncapped <= longer.uncapped


@settings(max_examples=300, deadline=None)
@given(usages())
def test_charge_never_exceeds_the_caps(usage):
    rated = rate_call(usage, _ANY_PRICES, payout_option=PayoutOption.STANDARD, payfast_fee_percent=D(0))
    charge = rated.caller
    assert charge.incl_vat.exact <= charge.uncapped
    if usage.range_class is RangeClass.FREEPHONE:
        assert charge.incl_vat.rounded == 0
    elif usage.range_class is RangeClass.SHARED_COST:
        billed = sum(s.billed_s for s in rated.segments)
        with localcontext(EXACT):
            assert charge.excl_vat.exact <= SHARED_COST_MAX_PER_MINUTE_EXCL_VAT * billed / 60 + D("1e-25")
    else:
        assert charge.incl_vat.rounded <= call_cap(usage.number_cap)
        time = sum(s.time_charge for s in rated.segments)
        assert charge.uncapped - time <= PREMIUM_MAX_FIXED_PER_CALL + D("1e-25")


@settings(max_examples=150, deadline=None)
@given(tariff_segments(), st.one_of(st.none(), chf(500)))
def test_seconds_within_cap_is_the_last_second_the_engine_keeps_within_the_cap(segments, number_cap):
    cap = call_cap(number_cap)
    seconds = seconds_within_cap(segments, cap)

    def uncapped(talk_s):
        usage = CallUsage(
            range_class=RangeClass.PREMIUM, origin=CallerOrigin.FIXED, answered=True, talk_s=talk_s, segments=segments
        )
        return caller_charge(usage).uncapped

    if seconds is None:
        assert to_rappen(uncapped(10**7)) <= cap
    elif seconds == 0 and to_rappen(uncapped(0)) > cap:
        pass  # answering alone passes the cap
    else:
        assert to_rappen(uncapped(seconds)) <= cap
        assert to_rappen(uncapped(seconds + 1)) > cap
