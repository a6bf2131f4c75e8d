"""The rounding policy: the one place where durations and amounts of money are rounded.

Duration rounding and money rounding are kept apart. Talk time is rounded up to the billing
increments (first unit, then next units; 0 s bills nothing) and priced exactly in Decimal
(price per minute x billed seconds / 60, never a rounded per-second rate). Each run's total
is rounded once, to the Rappen (CHF 0.01, half up), and the exact value is kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

RAPPEN = Decimal("0.01")
VAT_RATE = Decimal("0.081")  # Swiss VAT since 2024
ZERO = Decimal(0)
_SIXTY = Decimal(60)
_HUNDRED = Decimal(100)
_WITH_VAT = 1 + VAT_RATE

# Exact arithmetic: 34 significant digits (decimal128), whatever the caller's context says.
# Only divisions by 60, 100 and 1.081 can fail to terminate; 34 digits keep them far below
# the half Rappen where a rounding decision is taken.
EXACT = Context(prec=34, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Amount:
    """A sum of money in CHF as computed (exact) and as charged (rounded once to the Rappen)."""

    exact: Decimal
    rounded: Decimal


def billed_seconds(talk_s: int, first_unit_s: int, next_unit_s: int) -> int:
    """Round talk time up to whole billing increments: an increment is charged whole as soon
    as talk time enters it; 0 s bills nothing, 1 s bills the first unit."""
    if talk_s <= 0:
        return 0
    if talk_s <= first_unit_s:
        return first_unit_s
    return first_unit_s + -(-(talk_s - first_unit_s) // next_unit_s) * next_unit_s


def time_charge(price_per_minute: Decimal, billed_s: int) -> Decimal:
    """The exact charge for billed seconds at a price per minute (no per-second rate, so no drift)."""
    return EXACT.divide(EXACT.multiply(price_per_minute, billed_s), _SIXTY)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """An exact percentage of an amount (payout shares, the PayFast fee)."""
    return EXACT.divide(EXACT.multiply(amount, percent), _HUNDRED)


def vat_excluded(incl_vat: Decimal) -> Decimal:
    """The exact VAT-excluded part of a VAT-included amount (prices are set as callers pay them)."""
    return EXACT.divide(incl_vat, _WITH_VAT)


def with_vat(excl_vat: Decimal) -> Decimal:
    """The exact VAT-included amount of a VAT-excluded one (the 084x cap is set without VAT)."""
    return EXACT.multiply(excl_vat, _WITH_VAT)


def to_rappen(exact: Decimal) -> Decimal:
    """Round an amount to the Rappen, half up: the only money rounding, applied once per run."""
    return exact.quantize(RAPPEN, rounding=ROUND_HALF_UP, context=EXACT)


def settle(exact: Decimal) -> Amount:
    """A run's total as kept: the exact value beside the value rounded once (``to_rappen``,
    inlined: this runs several times for every call rated)."""
    if exact is ZERO:
        return NOTHING
    return Amount(exact, exact.quantize(RAPPEN, rounding=ROUND_HALF_UP, context=EXACT))


NOTHING = Amount(ZERO, to_rappen(ZERO))  # the run a call does not have (no fee, no owner cost)
