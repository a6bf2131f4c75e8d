"""The rounding policy: the one place where durations and amounts of money are rounded.

Duration rounding and money rounding are kept apart. Talk time is rounded up to the billing
increments (``billed_seconds``, from ``smartnumbers.money`` where the tariff rules read it too:
first unit, then next units; 0 s bills nothing) and priced exactly (price per
minute x billed seconds / 60, never a rounded per-second rate). Each run's total is rounded
once, to the Rappen (CHF 0.01, half up, i.e. a half Rappen away from zero), and the exact
value is kept beside it.

VAT in what a caller pays is taken the way a Swiss tax auditor reads a receipt: the total is
rounded to the Rappen first, the VAT is that total x 8.1/108.1 rounded to the Rappen, and the
amount excl. VAT is the total less the VAT (``vat_in_total``), so the three shown figures add up
and the VAT is the one the rounded total contains.

The engine computes in integers, exactly: an exact amount is a whole number of
``1 / EXACT_PER_CHF`` CHF. Prices are whole micro-francs and percentages whole millionths of
a percent (as the database stores them), so this unit leaves no remainder in any division
rating makes: by 60 (a per-minute price charged by the second) and by 100 twice (the owner's
share of the revenue, then the PayFast fee on that share). Rounded amounts are whole Rappen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Context, Decimal
from fractions import Fraction

from smartnumbers.errors import InputError
from smartnumbers.money import MICRO, RAPPEN, VAT_RATE, billed_seconds  # noqa: F401  (rating applies it)

MICRO_PER_CHF = 10**6
_PERCENT = 100 * 10**6  # a percentage in whole millionths of a percent, as a fraction of 1
EXACT_PER_CHF = MICRO_PER_CHF * 60 * _PERCENT * _PERCENT
EXACT_PER_MICRO = EXACT_PER_CHF // MICRO_PER_CHF
EXACT_PER_RAPPEN = EXACT_PER_CHF // 100
_HALF_RAPPEN = EXACT_PER_RAPPEN // 2

_DECIMAL = Context(prec=34)  # enough digits for any amount, whatever the caller's context says
_VAT_FACTOR = (1 + VAT_RATE).as_integer_ratio()  # (1081, 1000)
_VAT_PART = (_VAT_FACTOR[0] - _VAT_FACTOR[1], _VAT_FACTOR[0])  # 8.1 / 108.1 = 81 / 1081


def rappen(exact: int) -> int:
    """Round an exact amount to whole Rappen, half up (away from zero, as ``smartnumbers.money.round_rappen``):
    the only money rounding, applied once per run."""
    if exact >= 0:
        return (exact + _HALF_RAPPEN) // EXACT_PER_RAPPEN
    return -((_HALF_RAPPEN - exact) // EXACT_PER_RAPPEN)


def vat_in_total(total_rappen: int) -> int:
    """The VAT contained in a VAT-included total of whole Rappen (not negative): total x
    8.1/108.1, rounded to the Rappen half up. The total is rounded before this, never after;
    the amount excl. VAT is the total less this. A half Rappen never occurs (1081 is odd and
    shares no factor with 81), so half up and half even agree."""
    numerator, denominator = _VAT_PART
    return (2 * numerator * total_rappen + denominator) // (2 * denominator)


def with_vat(excl_vat: Decimal) -> Decimal:
    """The VAT-included amount of a VAT-excluded one (the 084x cap is set without VAT)."""
    return excl_vat * _VAT_FACTOR[0] / _VAT_FACTOR[1]


def exact_of(micro: int) -> int:
    """An amount in whole micro-francs, in exact units."""
    return micro * EXACT_PER_MICRO


def micro_of(exact: int) -> int:
    """An exact amount to the micro-franc, half even: what the database keeps of it."""
    micro, rest = divmod(exact, EXACT_PER_MICRO)
    twice = 2 * rest
    if twice > EXACT_PER_MICRO or (twice == EXACT_PER_MICRO and micro % 2):
        micro += 1
    return micro


def chf(rappen_amount: int) -> Decimal:
    """A rounded amount (whole Rappen) as Decimal CHF with two places."""
    return _DECIMAL.multiply(RAPPEN, rappen_amount)


def micro_chf(exact: int) -> Decimal:
    """An exact amount as Decimal CHF to the micro-franc (``micro_of``), as stored."""
    return _DECIMAL.multiply(MICRO, micro_of(exact))


def exact_chf(exact: int) -> Fraction:
    """An exact amount as a fraction of a franc (to show or compare it; never a float)."""
    return Fraction(exact, EXACT_PER_CHF)


def whole_micro(value: object, what: str) -> int:
    """A non-negative Decimal in whole millionths (micro-francs, or millionths of a percent),
    so no float and nothing finer than the database keeps ever enters rating."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{what}: money must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise InputError(f"{what}: {value} is not a non-negative amount")
    micro = value.scaleb(6, _DECIMAL)
    if micro != micro.to_integral_value():
        raise InputError(f"{what}: {value} has more than 6 decimals")
    return int(micro)


@dataclass(frozen=True, slots=True)
class Percent:
    """A percentage of an amount (a payout share, the PayFast fee): 0 to 100, in whole
    millionths of a percent, read once so that applying it is integer arithmetic."""

    value: Decimal
    millionths: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        millionths = whole_micro(self.value, "percentage")
        if millionths > _PERCENT:
            raise InputError(f"percentage: {self.value} % is above 100 %")
        object.__setattr__(self, "millionths", millionths)

    def of(self, exact: int) -> int:
        """This percentage of an exact amount, exactly (the exact unit divides by it)."""
        return exact * self.millionths // _PERCENT
