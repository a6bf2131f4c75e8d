"""The operator's price list: what a call costs the platform and its owner, by range and origin.

One entry per (range, caller origin), amounts in CHF excl. VAT per minute of talk time,
settled per second (carriers settle interconnection by the second), each also kept in the
engine's exact units a second of talk time:

- ``interconnection_per_minute``: what the carriers charge for the call (every range).
- ``owner_per_minute``: 0800, what the owner pays for the call; 084x, the full price of the
  call, of which the owner pays the rest the caller's part does not cover; 090x, unused (0).
- ``payout_share_percent``: 090x, the owner's share of the net revenue (the caller's charge
  excl. VAT less interconnection); other ranges 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rating.money import Percent, whole_micro
from rating.tariff import per_second_exact
from smartnumbers.errors import InputError
from smartnumbers.models import PayoutOption  # noqa: F401  (rating names it with the price list)
from smartnumbers.phone import CallerOrigin, RangeClass


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceListEntry:
    """The operator's per-minute amounts for calls of one range from one caller origin."""

    range_class: RangeClass
    origin: CallerOrigin
    interconnection_per_minute: Decimal
    owner_per_minute: Decimal = Decimal(0)
    payout_share_percent: Decimal = Decimal(0)
    interconnection_per_second_exact: int = field(init=False, repr=False, compare=False)
    owner_per_second_exact: int = field(init=False, repr=False, compare=False)
    payout_share: Percent = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = f"price list {self.range_class}/{self.origin}"
        interconnection = whole_micro(self.interconnection_per_minute, f"{what}: interconnection per minute")
        owner = whole_micro(self.owner_per_minute, f"{what}: owner per minute")
        whole_micro(self.payout_share_percent, f"{what}: payout share")
        if self.payout_share_percent > 100:
            raise InputError(f"{what}: a payout share above 100 %")
        if self.range_class is RangeClass.PREMIUM and self.owner_per_minute:
            raise InputError(f"{what}: 090x owners are paid a share, they pay no price per minute")
        if self.range_class is not RangeClass.PREMIUM and self.payout_share_percent:
            raise InputError(f"{what}: only 090x owners are paid a share")
        object.__setattr__(self, "interconnection_per_second_exact", per_second_exact(interconnection))
        object.__setattr__(self, "owner_per_second_exact", per_second_exact(owner))
        object.__setattr__(self, "payout_share", Percent(self.payout_share_percent))


@dataclass(frozen=True)
class PriceList:
    """The operator's price list: exactly one entry a (range, origin) that calls come from."""

    entries: tuple[PriceListEntry, ...]
    _by_key: dict[tuple[RangeClass, CallerOrigin], PriceListEntry] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_key: dict[tuple[RangeClass, CallerOrigin], PriceListEntry] = {}
        for entry in self.entries:
            key = (entry.range_class, entry.origin)
            if key in by_key:
                raise InputError(f"price list: two entries for {key[0]}/{key[1]}")
            by_key[key] = entry
        object.__setattr__(self, "_by_key", by_key)

    def entry(self, range_class: RangeClass, origin: CallerOrigin) -> PriceListEntry:
        """The entry a call is priced by; a missing one is the operator's error, named."""
        try:
            return self._by_key[(range_class, origin)]
        except KeyError:
            raise InputError(f"price list: no entry for {range_class} calls from {origin}") from None
