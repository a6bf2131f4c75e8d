"""Money: ``Decimal`` CHF in the code, whole micro-francs in the database, never a float.

Prices are typed by people with at most four decimals (a hundredth of a Rappen); the database
keeps six so that unrounded rating results survive a round trip unchanged.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICRO = Decimal("0.000001")
RAPPEN = Decimal("0.01")
VAT_RATE = Decimal("0.081")

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


def round_rappen(value: Decimal) -> Decimal:
    """Money rounding to the Rappen, half up: the one rounding shown to people."""
    return value.quantize(RAPPEN, rounding=ROUND_HALF_UP)


def excluding_vat(including: Decimal) -> Decimal:
    """The VAT-excluded part of a VAT-included price, unrounded."""
    return including / (1 + VAT_RATE)


def format_chf(value: Decimal) -> str:
    """``CHF 1’234.50``: two decimals (more only where a price has them), Swiss apostrophe."""
    places = max(2, -value.normalize().as_tuple().exponent) if value != value.to_integral_value() else 2
    text = f"{value:,.{places}f}".replace(",", "’")
    return f"CHF {text}"
