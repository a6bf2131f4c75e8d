"""The rounding policy on its own: duration rounding apart from money rounding."""

from decimal import Decimal as D
from decimal import localcontext

import pytest

from rating.money import EXACT, billed_seconds, percent_of, settle, time_charge, to_rappen, vat_excluded, with_vat


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
    assert time_charge(D("0.05"), 60) == D("0.05")
    assert time_charge(D("0.05"), 3600) == D("3.00")


def test_to_rappen_rounds_half_up_and_once():
    assert to_rappen(D("0.045")) == D("0.05")
    assert to_rappen(D("0.0449999")) == D("0.04")
    assert to_rappen(D("2.675")) == D("2.68")  # a float would say 2.67
    amount = settle(D("0.5081666"))
    assert (amount.exact, amount.rounded) == (D("0.5081666"), D("0.51"))


def test_exact_arithmetic_ignores_the_callers_context():
    with localcontext() as ctx:
        ctx.prec = 3
        assert time_charge(D("1.234"), 61) == EXACT.divide(D("75.274"), D(60))
        assert vat_excluded(D("10.81")) == D("10")


def test_vat_both_ways():
    assert vat_excluded(D("10.81")) == D("10")
    assert with_vat(D("0.075")) == D("0.081075")
    assert to_rappen(vat_excluded(D("2.50"))) == D("2.31")
    assert percent_of(D("6.58"), D("3")) == D("0.1974")
