"""Golden cases: the figures other rating engines got wrong, worked out by hand."""

from decimal import Decimal as D
from decimal import localcontext
from fractions import Fraction as F

import pytest

from rating.engine import CallUsage, RatedCall, call_cap, caller_charge, rate_call, seconds_within_cap
from rating.money import Percent, chf, exact_chf
from rating.price_list import PayoutOption, PriceList, PriceListEntry
from rating.tariff import OneOffFee, RecurringFee, TariffSegment, TariffTerms, check_terms
from smartnumbers.errors import InputError
from smartnumbers.phone import CallerOrigin, RangeClass

FIXED, MOBILE = CallerOrigin.FIXED, CallerOrigin.MOBILE
WITHHELD, ABROAD = CallerOrigin.WITHHELD, CallerOrigin.ABROAD
FREEPHONE, SHARED_COST, PREMIUM = RangeClass.FREEPHONE, RangeClass.SHARED_COST, RangeClass.PREMIUM


def _entry(range_class, origin, interconnection, owner="0", share="0"):
    return PriceListEntry(
        range_class=range_class,
        origin=origin,
        interconnection_per_minute=D(interconnection),
        owner_per_minute=D(owner),
        payout_share_percent=D(share),
    )


PRICE_LIST = PriceList(
    (
        _entry(FREEPHONE, FIXED, "0.03", owner="0.08"),
        _entry(FREEPHONE, MOBILE, "0.20", owner="0.30"),
        _entry(FREEPHONE, WITHHELD, "0.20", owner="0.30"),
        _entry(FREEPHONE, ABROAD, "0.45", owner="0.60"),
        _entry(SHARED_COST, FIXED, "0.02", owner="0.10"),
        _entry(SHARED_COST, MOBILE, "0.20", owner="0.25"),
        _entry(SHARED_COST, WITHHELD, "0.20", owner="0.25"),
        _entry(SHARED_COST, ABROAD, "0.40", owner="0.50"),
        _entry(PREMIUM, FIXED, "0.60", share="70"),
        _entry(PREMIUM, MOBILE, "1.20", share="70"),
        _entry(PREMIUM, WITHHELD, "1.20", share="70"),
        _entry(PREMIUM, ABROAD, "2.00", share="60"),
    )
)


def terms(version=1, *, per_minute="0", units=(1, 1), per_call="0", one_off=(), recurring=(), code=1):
    return TariffTerms(
        tariff_version_id=version,
        code=code,
        price_per_minute=D(per_minute),
        first_unit_s=units[0],
        next_unit_s=units[1],
        price_per_call=D(per_call),
        one_off_fees=tuple(OneOffFee(at, D(amount)) for at, amount in one_off),
        recurring_fees=tuple(RecurringFee(every, D(amount)) for every, amount in recurring),
    )


def call(talk_s, *segments, range_class=PREMIUM, origin=FIXED, answered=True, number_cap=None):
    segments = tuple(s if isinstance(s, TariffSegment) else TariffSegment(s) for s in segments)
    return CallUsage(
        range_class=range_class,
        origin=origin,
        answered=answered,
        talk_s=talk_s,
        segments=segments,
        number_cap=None if number_cap is None else D(number_cap),
    )


def rate(usage, payout_option=PayoutOption.STANDARD, fee="2.5") -> RatedCall:
    return rate_call(usage, PRICE_LIST, payout_option=payout_option, payfast_fee=Percent(D(fee)))


def charged(usage) -> D:
    return chf(rate(usage).caller.incl_vat)


# -- rounding once -------------------------------------------------------------------------


def test_connect_fee_plus_increments_is_rounded_once_not_per_increment():
    rated = rate(call(7, terms(per_minute="0.07", units=(1, 1), per_call="0.50")))
    # 0.50 + 7 x 0.07/60 = 0.508166..., once rounded 0.51; rounded per second it would be
    # 0.50 + 7 x 0.00 = 0.50: every increment's 0.00116 Rappen lost.
    assert exact_chf(rated.caller.incl_vat_exact) == F("0.50") + F("0.49") / 60
    assert chf(rated.caller.incl_vat) == D("0.51")
    per_increment = D("0.50") + 7 * (D("0.07") / 60).quantize(D("0.01"))
    assert per_increment == D("0.50") != chf(rated.caller.incl_vat)


@pytest.mark.parametrize(
    ("units", "talk_s", "billed_s", "amount"),
    [
        ((60, 60), 61, 120, "2.40"),
        ((30, 6), 61, 66, "1.32"),
        ((1, 1), 61, 61, "1.22"),
        ((60, 60), 1, 60, "1.20"),
        ((30, 6), 1, 30, "0.60"),
        ((1, 1), 1, 1, "0.02"),
        ((60, 60), 0, 0, "0.00"),
    ],
)
def test_increments_60_60_against_30_6_against_1_1(units, talk_s, billed_s, amount):
    rated = rate(call(talk_s, terms(per_minute="1.20", units=units)))
    assert rated.segments[0].billed_s == billed_s
    assert chf(rated.caller.incl_vat) == D(amount)


def test_per_second_billing_does_not_drift():
    rated = rate(call(60, terms(per_minute="0.05", units=(1, 1))))
    assert exact_chf(rated.caller.incl_vat_exact) == F("0.05")  # not 0.0498
    assert chf(rated.caller.incl_vat) == D("0.05")
    assert charged(call(3600, terms(per_minute="0.05", units=(1, 1)))) == D("3.00")


# -- tariff switches -----------------------------------------------------------------------

A = terms(1, per_minute="2.00", code=1)
B = terms(2, per_minute="5.00", per_call="1.00", code=2)


def switched(talk_s, *, a=A, b=B, announced_at=120, announcement=15):
    after_announcement = TariffSegment(b, start_s=announced_at + announcement, announcement_s=announcement)
    return call(talk_s, TariffSegment(a), after_announcement)


def test_mid_call_switch_charges_each_tariff_and_not_the_announcement():
    rated = rate(switched(300))
    # A: 0-120 s at 2.00 = 4.00; announcement 120-135 s free; B: 1.00 + 165 s at 5.00 = 14.75
    assert [
        (s.tariff_version_id, s.talk_s, exact_chf(s.time_charge_exact), exact_chf(s.fixed_charge_exact))
        for s in rated.segments
    ] == [(1, 120, F("4"), F("0")), (2, 165, F("13.75"), F("1.00"))]
    assert chf(rated.caller.incl_vat) == D("18.75")
    assert rated.tariff_version_ids == (1, 2)


def test_call_ending_during_the_announcement_never_starts_the_new_tariff():
    rated = rate(switched(130))
    assert rated.tariff_version_ids == (1,)
    assert chf(rated.caller.incl_vat) == D("4.00")


def test_new_tariff_starts_when_its_announcement_ends():
    assert charged(switched(135)) == D("5.00")  # its price per call
    assert charged(switched(136)) == D("5.08")  # 4.00 + 1.00 + 1 s at 5.00


def test_increment_begun_before_a_switch_is_charged_whole():
    a = terms(1, per_minute="2.00", units=(60, 60))
    b = terms(2, per_minute="5.00", units=(60, 60), per_call="1.00")
    rated = rate(switched(130, a=a, b=b, announced_at=90, announcement=10))
    # A: 90 s bills 120 s = 4.00; B: 30 s bills 60 s = 5.00, plus 1.00
    assert [s.billed_s for s in rated.segments] == [120, 60]
    assert chf(rated.caller.incl_vat) == D("10.00")


def test_switch_back_names_each_version_once():
    back = TariffSegment(A, start_s=220, announcement_s=10)
    rated = rate(call(400, TariffSegment(A), TariffSegment(B, start_s=100, announcement_s=10), back))
    assert rated.tariff_version_ids == (1, 2)
    assert [s.tariff_version_id for s in rated.segments] == [1, 2, 1]


# -- fees during the call ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("talk_s", "amount"),
    [
        (599, "10.00"),  # 10 minutes billed, no fee yet
        (600, "15.00"),  # the fee at 10 minutes is reached
        (1799, "40.00"),  # 30 minutes billed + fees at 10 and 20 minutes
        (1800, "45.00"),  # + the fee at 30 minutes
    ],
)
def test_recurring_fee_every_ten_minutes(talk_s, amount):
    assert charged(call(talk_s, terms(per_minute="1.00", units=(60, 60), recurring=[(600, "5.00")]))) == D(amount)


def test_one_off_fee_during_the_call():
    tariff = terms(per_minute="0", per_call="2.00", one_off=[(300, "2.50")])
    assert charged(call(299, tariff)) == D("2.00")
    assert charged(call(300, tariff)) == D("4.50")


def test_fixed_charges_of_a_090x_call_stop_at_100_chf():
    tariff = terms(per_minute="1.00", units=(60, 60), per_call="20.00", recurring=[(60, "10.00")])
    rated = rate(call(3600, tariff))
    # 60 minutes = 60.00; fixed 20.00 + 60 x 10.00 = 620.00, capped at 100.00
    assert exact_chf(rated.segments[0].fixed_charge_exact) == F("620.00")
    assert exact_chf(rated.caller.uncapped_exact) == F("160.00")
    assert chf(rated.caller.incl_vat) == D("160.00")


# -- caps ----------------------------------------------------------------------------------


def test_400_chf_cap_per_call():
    rated = rate(call(3000, terms(per_minute="10.00", units=(60, 60))))
    assert exact_chf(rated.caller.uncapped_exact) == F("500")
    assert chf(rated.caller.incl_vat) == D("400.00")
    assert rated.caller.capped


def test_lower_cap_of_the_number():
    rated = rate(call(600, terms(per_minute="10.00", units=(60, 60)), number_cap="50"))
    assert chf(rated.caller.incl_vat) == D("50.00")
    assert call_cap(D("50")) == D("50")
    assert call_cap(D("500")) == D("400.00")
    assert call_cap(None) == D("400.00")


@pytest.mark.parametrize(
    ("tariff", "cap", "seconds"),
    [
        # 10.00 a minute, 60/60: 120 s cost 20.00, the increment from 120 s would make 30.00
        (terms(per_minute="10.00", units=(60, 60)), "25", 120),
        (terms(per_minute="10.00", units=(60, 60)), "400", 2400),
        (terms(per_minute="10.00", units=(1, 1)), "400", 2400),
        (terms(per_minute="10.00", units=(1, 1), per_call="1.00"), "25", 144),
        # rounding counts: 89 s cost 0.1038 (0.10), 90 s cost 0.105 (0.11)
        (terms(per_minute="0.07", units=(1, 1)), "0.10", 89),
        # a fee that would pass the cap: end before its moment
        (terms(per_minute="0", one_off=[(600, "30.00")]), "25", 599),
        # answering alone passes the cap
        (terms(per_minute="1.00", per_call="30.00"), "25", 0),
        # a charge that never grows never reaches the cap
        (terms(per_minute="0", per_call="5.00"), "25", None),
    ],
)
def test_seconds_within_cap(tariff, cap, seconds):
    segments = (TariffSegment(tariff),)
    assert seconds_within_cap(segments, D(cap)) == seconds
    if seconds:
        assert chf(caller_charge(call(seconds, tariff)).incl_vat) <= D(cap)
        assert exact_chf(caller_charge(call(seconds + 1, tariff)).uncapped_exact) > D(cap)


def test_seconds_within_cap_across_a_switch():
    # A 0-120 s = 4.00, announcement free, B from 135 s: 1.00 + 5.00 a minute; 25.00 is reached
    # at 4.00 + 1.00 + 240 s of B, i.e. 375 s
    segments = switched(0).segments
    assert seconds_within_cap(segments, D("25")) == 375
    assert chf(caller_charge(switched(375)).incl_vat) == D("25.00")
    assert exact_chf(caller_charge(switched(376)).uncapped_exact) > D("25")


# -- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "owner_cost", "interconnection"),
    [(FIXED, "0.12", "0.05"), (MOBILE, "0.45", "0.30"), (WITHHELD, "0.45", "0.30"), (ABROAD, "0.90", "0.68")],
)
def test_0800_owner_pays_by_origin_caller_pays_nothing(origin, owner_cost, interconnection):
    rated = rate(call(90, range_class=FREEPHONE, origin=origin))
    assert chf(rated.caller.incl_vat) == D("0.00")
    assert chf(rated.owner_cost) == D(owner_cost)
    assert chf(rated.interconnection) == D(interconnection)  # fixed: 0.045 rounds half up
    assert chf(rated.owner_payout) == chf(rated.net_revenue) == D("0.00")


def test_0800_with_a_tariff_still_costs_the_caller_nothing():
    rated = rate(call(90, terms(per_minute="1.00"), range_class=FREEPHONE))
    assert chf(rated.caller.incl_vat) == D("0.00")
    assert rated.tariff_version_ids == (1,)
    with pytest.raises(InputError):
        check_terms(terms(per_minute="1.00"), FREEPHONE)


def test_084x_caller_part_capped_and_owner_pays_the_rest():
    rated = rate(call(120, terms(per_minute="0.081075", units=(60, 60)), range_class=SHARED_COST, origin=MOBILE))
    # caller: 2 minutes at 7.5 Rp. excl. VAT = 0.15 + VAT 0.01215 = 0.16215, paid as 0.16;
    # its VAT 0.16 x 8.1/108.1 = 0.01199 is 0.01, leaving 0.15 excl. VAT
    assert exact_chf(rated.caller.incl_vat_exact) == F("0.16215")
    assert (chf(rated.caller.incl_vat), chf(rated.caller.excl_vat), chf(rated.caller.vat)) == (
        D("0.16"),
        D("0.15"),
        D("0.01"),
    )
    # owner: the call's price 2 x 0.25 = 0.50, less the caller's 0.15
    assert chf(rated.owner_cost) == D("0.35")
    assert chf(rated.owner_payout) == D("0.00")


def test_084x_price_above_the_cap_is_refused_and_never_charged():
    too_dear = terms(per_minute="0.12", units=(60, 60), per_call="0.50")
    with pytest.raises(InputError) as refused:
        check_terms(too_dear, SHARED_COST)
    assert refused.value.rule == "084x one nationwide price per minute"
    with pytest.raises(InputError):
        check_terms(terms(per_minute="0.12"), SHARED_COST)
    check_terms(terms(per_minute="0.081075"), SHARED_COST)
    rated = rate(call(120, too_dear, range_class=SHARED_COST))
    assert exact_chf(rated.caller.incl_vat_exact) == F("0.16215")  # capped price, no fee


def test_vat_split_of_the_callers_charge():
    rated = rate(call(60, terms(per_minute="2.50", units=(60, 60))))
    # 2.50 paid; VAT 2.50 x 8.1/108.1 = 0.18733: 0.19; excl. VAT 2.50 - 0.19 = 2.31
    assert (chf(rated.caller.incl_vat), chf(rated.caller.vat), chf(rated.caller.excl_vat)) == (
        D("2.50"), D("0.19"), D("2.31"))
    even = rate(call(120, terms(per_minute="5.405", units=(60, 60)))).caller
    # 10.81 paid: VAT 0.81 exactly, 10.00 excl. VAT
    assert (even.incl_vat, even.vat, even.excl_vat) == (1081, 81, 1000)


@pytest.mark.parametrize(
    ("per_minute", "talk_s", "exact", "paid", "vat", "excl_vat"),
    [
        # Worked by hand. 6 s at 2.44/min = 0.244, paid 0.24; VAT 0.24 x 8.1/108.1 = 0.01798:
        # 0.02; excl. 0.22. (Rounding the excl. VAT part of 0.244 instead, 0.22572 = 0.23, left
        # a VAT of 0.01, which is not the VAT a total of 0.24 contains.)
        ("2.44", 6, "0.244", "0.24", "0.02", "0.22"),
        # 180 s at 2.599/min = 7.797, paid 7.80; VAT 7.80 x 8.1/108.1 = 0.58446: 0.58; excl.
        # 7.22. (7.797 / 1.081 = 7.21277 = 7.21 would have left 0.59.)
        ("2.599", 180, "7.797", "7.80", "0.58", "7.22"),
    ],
)
def test_vat_is_taken_from_the_total_rounded_first(per_minute, talk_s, exact, paid, vat, excl_vat):
    caller = rate(call(talk_s, terms(per_minute=per_minute, units=(1, 1)))).caller
    assert exact_chf(caller.incl_vat_exact) == F(exact)
    assert (chf(caller.incl_vat), chf(caller.vat), chf(caller.excl_vat)) == (D(paid), D(vat), D(excl_vat))


def test_net_revenue_starts_from_what_the_caller_paid_excl_vat():
    rated = rate(call(180, terms(per_minute="2.599", units=(1, 1))), PayoutOption.PAYFAST)
    # paid 7.80 = 7.22 + VAT 0.58; interconnection 3 x 0.60 = 1.80; net 5.42; 70 % = 3.794:
    # 3.79; PayFast 2.5 % of 3.794 = 0.09485: 0.09
    assert exact_chf(rated.net_revenue_exact) == F("5.42")
    assert exact_chf(rated.owner_payout_exact) == F("3.794")
    assert (chf(rated.owner_payout), chf(rated.payfast_fee)) == (D("3.79"), D("0.09"))


def test_090x_revenue_payout_and_payfast_fee():
    usage = call(120, terms(per_minute="5.405", units=(60, 60)))
    standard = rate(usage)
    payfast = rate(usage, PayoutOption.PAYFAST, fee="3")
    # 10.81 incl. VAT = 10.00 excl.; interconnection 2 x 0.60; net 8.80; 70 % = 6.16; 3 % = 0.1848
    for rated in (standard, payfast):
        assert chf(rated.interconnection) == D("1.20")
        assert chf(rated.net_revenue) == D("8.80")
        assert exact_chf(rated.owner_payout_exact) == F("6.16")
        assert chf(rated.owner_cost) == D("0.00")
    assert chf(standard.payfast_fee) == D("0.00")
    assert exact_chf(payfast.payfast_fee_exact) == F("0.1848")
    assert chf(payfast.payfast_fee) == D("0.18")
    mobile = rate(call(120, terms(per_minute="5.405", units=(60, 60)), origin=MOBILE))
    assert chf(mobile.owner_payout) == D("5.32")


def test_090x_net_revenue_below_zero_pays_the_owner_nothing():
    rated = rate(call(60, terms(per_minute="0.50", units=(60, 60)), origin=ABROAD))
    assert chf(rated.net_revenue) == D("-1.54")  # 0.50 paid = 0.46 + VAT 0.04, less 2.00
    assert chf(rated.owner_payout) == D("0.00")


# -- calls without talk time ---------------------------------------------------------------


def test_unanswered_call_costs_nothing_and_names_no_tariff():
    rated = rate(call(0, terms(per_minute="5.00", per_call="1.00"), answered=False))
    assert rated.tariff_version_ids == ()
    for amount in (rated.caller.incl_vat, rated.interconnection, rated.owner_cost, rated.owner_payout, rated.payfast_fee):
        assert amount == 0


def test_answered_call_of_zero_seconds_pays_only_the_price_per_call():
    rated = rate(call(0, terms(per_minute="5.00", units=(60, 60), per_call="1.00")))
    assert rated.segments[0].billed_s == 0
    assert chf(rated.caller.incl_vat) == D("1.00")
    assert charged(call(0, terms(per_minute="5.00", units=(60, 60)))) == D("0.00")
    assert rate(call(0, range_class=FREEPHONE, answered=False)).owner_cost == 0


# -- bad input -----------------------------------------------------------------------------


def test_a_float_price_is_refused():
    with pytest.raises(TypeError):
        TariffTerms(tariff_version_id=1, code=1, price_per_minute=0.05, first_unit_s=1, next_unit_s=1)
    with pytest.raises(TypeError):
        OneOffFee(60, 1.5)
    with pytest.raises(TypeError):
        terms(code=5.0)
    with pytest.raises(TypeError):
        PriceListEntry(range_class=PREMIUM, origin=FIXED, interconnection_per_minute=0.1)
    with pytest.raises(TypeError):
        CallUsage(range_class=PREMIUM, origin=FIXED, answered=True, talk_s=60.0, segments=(TariffSegment(A),))


@pytest.mark.parametrize(
    "build",
    [
        lambda: terms(code=0),
        lambda: terms(code=91),
        lambda: terms(per_minute="10.01"),
        lambda: terms(per_call="100.01"),
        lambda: terms(units=(0, 1)),
        lambda: terms(per_minute="-1"),
        lambda: call(10, TariffSegment(A, start_s=5)),
        lambda: call(10, TariffSegment(A), TariffSegment(B, start_s=20, announcement_s=30)),
        lambda: call(200, TariffSegment(A), TariffSegment(B, start_s=100), TariffSegment(A, start_s=120, announcement_s=30)),
        lambda: call(10, A, answered=False),
        lambda: call(10),
        lambda: call(10, A, number_cap="12.345"),
        lambda: rate(call(10, A), fee="101"),
        lambda: seconds_within_cap((TariffSegment(A),), D("25.005")),
        lambda: seconds_within_cap((), D("25")),
        lambda: rate_call(call(10, A), PriceList(()), payout_option=PayoutOption.STANDARD, payfast_fee=Percent(D(0))),
        lambda: terms(per_minute="0.0000001"),  # finer than the micro-franc the database keeps
        lambda: Percent(D("100.000001")),
        lambda: Percent(D("-1")),
        lambda: PriceList((_entry(PREMIUM, FIXED, "1"), _entry(PREMIUM, FIXED, "2"))),
        lambda: _entry(PREMIUM, FIXED, "1", owner="0.10"),
        lambda: _entry(FREEPHONE, FIXED, "1", share="10"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(build):
    with pytest.raises(InputError):
        build()


# -- no float anywhere ---------------------------------------------------------------------


def floats_in(value, path="call"):
    """Every path in a rated call that holds a float (there must be none)."""
    if isinstance(value, float):
        return [path]
    if isinstance(value, tuple):
        names = getattr(value, "_fields", None) or [f"[{i}]" for i in range(len(value))]
        return [p for name, item in zip(names, value) for p in floats_in(item, f"{path}.{name}")]
    return []


def test_no_float_in_any_output():
    usages = [
        switched(300),
        call(3000, terms(per_minute="10.00", units=(60, 60)), number_cap="50"),
        call(90, range_class=FREEPHONE, origin=ABROAD),
        call(120, terms(per_minute="0.081075"), range_class=SHARED_COST, origin=MOBILE),
        call(0, A, answered=False),
    ]
    for usage in usages:
        rated = rate(usage, PayoutOption.PAYFAST)
        assert floats_in(rated) == []
        assert all(type(rated[i]) is int for i in range(4, len(rated)))  # every run: whole units
        assert all(type(amount) is int for amount in rated.caller)
    assert floats_in(rate(usages[0]).caller._replace(incl_vat=0.1)) == ["call.incl_vat"]


def test_rating_ignores_the_callers_decimal_context():
    usage = switched(300, a=terms(1, per_minute="2.0125", units=(30, 6), per_call="1.2345"))
    expected = rate(usage, PayoutOption.PAYFAST)
    with localcontext() as context:
        context.prec = 3
        assert rate(switched(300, a=terms(1, per_minute="2.0125", units=(30, 6), per_call="1.2345")),
                    PayoutOption.PAYFAST) == expected
