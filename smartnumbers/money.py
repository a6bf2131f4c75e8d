"""Money: ``Decimal`` CHF in the code, whole micro-francs in the database, never a float.

Prices are typed by people with at most four decimals (a hundredth of a Rappen); the database
keeps six so that unrounded rating results survive a round trip unchanged.
"""

from __future__ import annotations

import enum
import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

MICRO = Decimal("0.000001")
RAPPEN = Decimal("0.01")
VAT_RATE = Decimal("0.081")

_ALL_DIGITS = Context(prec=60)  # more than any amount has, whatever the caller's context says
_TYPED_AMOUNT = re.compile(r"^(?:CHF\s*)?([0-9]{1,6})(?:[.,]([0-9]{1,4}))?$")


def parse_chf(text: str | Decimal | int, *, what: str = "amount") -> Decimal:
    """Read an amount in CHF as a person types it (``2.50``, ``CHF 0.075``); never negative."""
    from smartnumbers.errors import InputError

    if isinstance(text, bool) or isinstance(text, float):
        raise InputError(f"{what}: amounts are given as text or Decimal, not {type(text).__name__}")
    if isinstance(text, (Decimal, int)):
        value = Decimal(text)
        if not value.is_finite() or value < 0 or value.as_tuple().exponent < -4 or value >= 1_000_000:
            raise InputError(f"{what}: {text} is not an amount in CHF with at most 4 decimals")
        return value
    raw = str(text).strip().replace("’", "").replace("'", "")
    match = _TYPED_AMOUNT.match(raw) if raw.isascii() else None
    if not match:
        raise InputError(f"{what}: {str(text)[:40]!r} is not an amount in CHF (like 2.50, at most 4 decimals)")
    whole, fraction = match.groups()
    return Decimal(f"{whole}.{fraction or '0'}")


def to_micro(value: Decimal) -> int:
    """Decimal CHF -> whole micro-francs; refuses a value that would lose precision."""
    try:
        micro = value.scaleb(6)
        if micro != micro.to_integral_value():
            raise ValueError(f"{value} CHF has more than 6 decimals")
        return int(micro)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None


def from_micro(micro: int) -> Decimal:
    return (Decimal(micro) * MICRO).normalize() if micro else Decimal("0")


def billed_seconds(talk_s: int, first_unit_s: int, next_unit_s: int) -> int:
    """Round talk time up to whole billing increments: an increment is charged whole as soon
    as talk time enters it; 0 s bills nothing, 1 s bills the first unit."""
    if talk_s <= 0:
        return 0
    if talk_s <= first_unit_s:
        return first_unit_s
    return first_unit_s + -(-(talk_s - first_unit_s) // next_unit_s) * next_unit_s


def round_rappen(value: Decimal) -> Decimal:
    """Money rounding to the Rappen, half up: the one rounding shown to people."""
    return value.quantize(RAPPEN, rounding=ROUND_HALF_UP)


def excluding_vat(including: Decimal) -> Decimal:
    """The VAT-excluded part of a VAT-included price, unrounded."""
    return including / (1 + VAT_RATE)


def decimal_text(value: Decimal) -> str:
    """An amount as plain decimal text, the one way amounts become text (JSON, tables, the
    audit trail): at least two decimals, more only where the value has them, so CHF amounts
    read ``150.00`` and prices keep their exact digits (``0.081075``); never an exponent
    (``1.5E+2``, which a value read back from the database would otherwise print)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"an amount is a finite Decimal, not {value!r}")
    if not value:
        value = Decimal(0)  # no "-0.00"
    places = max(2, -value.normalize(_ALL_DIGITS).as_tuple().exponent)
    return f"{value:.{places}f}"


def json_default(value: object) -> object:
    """``json.dumps(..., default=json_default)``: Decimals as ``decimal_text``; anything else
    JSON cannot write as its ``str`` (dates are written as ISO text before they get here)."""
    return decimal_text(value) if isinstance(value, Decimal) else str(value)


def format_chf(value: Decimal) -> str:
    """``CHF 1’234.50``: ``decimal_text`` with the Swiss apostrophe between thousands."""
    whole, _, fraction = decimal_text(value).partition(".")
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    return f"CHF {sign}{int(digits):,}.{fraction}".replace(",", "’")


class PayfastFeeVat(enum.StrEnum):
    """How the PayFast fee stands to VAT on a VAT-registered owner's credit note: the operator
    decides it with their tax adviser (``SMARTNUMBERS_PAYFAST_FEE_VAT``); each statement keeps
    the treatment it was issued with."""

    REDUCES_SHARE = "reduces_share"  # the fee lowers the owner's share: VAT on (share - fee)
    EXEMPT_FINANCING = "exempt_financing"  # a VAT-exempt financing fee: VAT on the share, fee after
