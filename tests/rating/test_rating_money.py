"""The rounding policy on its own: duration rounding apart from money rounding."""

from decimal import Decimal as D
from decimal import localcontext
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rating.money import (
    EXACT_PER_CHF,
    EXACT_PER_MICRO,
    EXACT_PER_RAPPEN,
    Percent,
    billed_seconds,
    chf,
    exact_chf,
    exact_of,
    micro_chf,
    micro_of,
    rappen,
    vat_in_total,
    whole_micro,
    with_vat,
)
from rating.tariff import per_second_exact
from smartnumbers.errors import InputError
from smartnumbers.money import round_rappen


@pytest.mark.parametrize(
    ("talk_s", "first", "next_", "billed"),
    [
        (0, 60, 60, 0),  # no talk time, no time charge
        (1, 60, 60, 60),  # 1 s enters the first unit
        (60, 60, 60, 60),
        (61, 60, 60, 120),
        (1, 30, 6, 30),
        (30, 30, 6, 30),
        (31, 30, 6, 36),
        (36, 30, 6, 36),
        (37, 30, 6, 42),
        (0, 1, 1, 0),
        (1, 1, 1, 1),
        (61, 1, 1, 61),
    ],
)
def test_billed_seconds_rounds_up_to_increments(talk_s, first, next_, billed):
    assert billed_seconds(talk_s, first, next_) == billed


def test_time_charge_does_not_drift_per_second():
    # 0.05 a minute for 60 s is 0.05, not 0.0498 (a per-second rate rounded to 0.00083).
    assert per_second_exact(whole_micro(D("0.05"), "price")) * 60 == exact_of(50_000)
    assert exact_chf(per_second_exact(50_000) * 3600) == F("3.00")
    assert exact_chf(per_second_exact(70_000)) == F("0.07") / 60  # exact, not 0.0011666...7


def test_rappen_rounds_half_up_and_once():
    assert chf(rappen(exact_of(45_000))) == D("0.05")
    assert chf(rappen(exact_of(44_999) + EXACT_PER_MICRO - 1)) == D("0.04")
    assert chf(rappen(exact_of(2_675_000))) == D("2.68")  # a float would say 2.67
    assert chf(rappen(-exact_of(45_000))) == D("-0.05")  # a half Rappen away from zero, like Decimal's
    assert chf(rappen(-exact_of(44_999))) == D("-0.04")
    assert chf(rappen(0)) == D("0.00")


@given(st.integers(-(10**9), 10**9))
def test_rappen_is_round_rappen_on_amounts_decimal_can_hold(micro):
    assert chf(rappen(exact_of(micro))) == round_rappen(D(micro).scaleb(-6))


@given(st.integers(-(10**6) * EXACT_PER_RAPPEN, 10**6 * EXACT_PER_RAPPEN))
def test_rappen_is_the_nearest_rappen_a_half_away_from_zero(exact):
    value = abs(exact_chf(exact)) * 100
    nearest = int(value + F(1, 2))  # floor: a half Rappen goes up
    assert rappen(exact) == (nearest if exact >= 0 else -nearest)


def test_micro_of_is_half_even_to_the_micro_franc():
    assert micro_of(exact_of(1)) == 1
    assert micro_of(EXACT_PER_MICRO // 2) == 0  # half: to the even micro-franc
    assert micro_of(3 * EXACT_PER_MICRO // 2) == 2
    assert micro_of(EXACT_PER_MICRO // 2 + 1) == 1
    assert micro_of(-(3 * EXACT_PER_MICRO // 2)) == -2


@pytest.mark.parametrize(
    ("total", "vat"),
    [
        # worked by hand: total x 8.1 / 108.1, to the Rappen
        (24, 2),  # 0.24 x 0.0749306... = 0.01798: 0.02 (net 0.22)
        (780, 58),  # 7.80 x 0.0749306... = 0.58446: 0.58 (net 7.22)
        (250, 19),  # 2.50: 0.18733: 0.19 (net 2.31)
        (1081, 81),  # 10.81: 0.81 exactly (net 10.00)
        (100, 7),  # 1.00: 0.07493: 0.07
        (1, 0),  # 0.01: 0.00075: 0.00
        (0, 0),
        (40000, 2997),  # 400.00: 29.9722...: 29.97
    ],
)
def test_vat_in_a_total_is_taken_from_the_rounded_total(total, vat):
    assert vat_in_total(total) == vat


@given(st.integers(0, 10**9))
def test_vat_in_total_is_the_nearest_rappen_of_8_1_of_108_1(total):
    exact = F(total * 81, 1081)
    assert abs(vat_in_total(total) - exact) < F(1, 2)  # never exactly half: 1081 is odd and prime to 81


def test_vat_added_to_a_price_excl_vat():
    assert with_vat(D("0.075")) == D("0.081075")


def test_percentages_are_exact_to_a_millionth_of_a_percent():
    assert exact_chf(Percent(D("3")).of(exact_of(6_580_000))) == F("0.1974")
    assert Percent(D("2.5")).millionths == 2_500_000
    share = Percent(D("33.333333"))
    fee = Percent(D("2.123456"))
    # The finest net revenue the engine makes: the caller's whole Rappen excl. VAT less
    # interconnection charged by the second (units of 10**16).
    net = 7 * 10**16
    assert exact_chf(fee.of(share.of(net))) == exact_chf(net) * F("0.33333333") * F("0.02123456")
    assert EXACT_PER_CHF % (10**6 * 60 * 10**16) == 0


@pytest.mark.parametrize(
    ("value", "error"),
    [(0.05, TypeError), (D("0.0000001"), InputError), (D("-0.01"), InputError), (D("NaN"), InputError)],
)
def test_only_whole_micro_francs_enter_rating(value, error):
    with pytest.raises(error):
        whole_micro(value, "price")


def test_amounts_as_decimal_chf_whatever_the_callers_context():
    with localcontext() as context:
        context.prec = 3
        assert str(chf(12_345)) == "123.45"
        assert str(chf(0)) == "0.00"
        assert chf(-154) == D("-1.54")
        assert str(micro_chf(exact_of(5_081_667) + EXACT_PER_MICRO // 3)) == "5.081667"
        assert str(micro_chf(0)) == "0.000000"
        assert whole_micro(D("2.501234"), "price") == 2_501_234
