"""Tariff terms and segments as the rating engine reads them: plain frozen values, no database.

``rating.pipeline.tariff_terms`` makes them from stored tariff versions; the engine never sees
anything else. Every price is in CHF as the caller pays it, VAT included, and must be a Decimal
in whole micro-francs (a float is refused). Each value also keeps its prices in the engine's
exact units, worked out once when it is made, so that rating a call is integer arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rating.money import EXACT_PER_MICRO, exact_of, whole_micro, with_vat
from smartnumbers import tariffs
from smartnumbers.errors import InputError
from smartnumbers.phone import RangeClass

# Swiss caps (OFCOM), as the caller pays them, VAT included, except where named otherwise:
# the domain's figures (``smartnumbers.tariffs``), which refuses tariffs above them when saved.
PREMIUM_MAX_PER_MINUTE = tariffs.MAX_PRICE_PER_MINUTE
PREMIUM_MAX_FIXED_PER_CALL = tariffs.MAX_FIXED_CHARGES  # all fixed charges of one call together
PREMIUM_MAX_PER_CALL = tariffs.MAX_CALL_COST
SHARED_COST_MAX_PER_MINUTE_EXCL_VAT = tariffs.SHARED_COST_CAP_EXCL_VAT
SHARED_COST_MAX_PER_MINUTE = with_vat(SHARED_COST_MAX_PER_MINUTE_EXCL_VAT)  # 0.081075
_SHARED_COST_MAX_PER_MINUTE_MICRO = whole_micro(SHARED_COST_MAX_PER_MINUTE, "084x cap")

TARIFF_CODES = range(1, 91)


def per_second_exact(price_per_minute_micro: int) -> int:
    """A price per minute (whole micro-francs) as the exact charge of one billed second: no
    rounded per-second rate, so no drift (the exact unit divides by 60)."""
    return price_per_minute_micro * EXACT_PER_MICRO // 60


def require_seconds(value: object, what: str, *, least: int) -> int:
    """Refuse anything but a whole number of seconds of at least ``least``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what}: seconds must be an int, not {type(value).__name__}")
    if value < least:
        raise InputError(f"{what}: {value} s, at least {least} s")
    return value


@dataclass(frozen=True, slots=True)
class OneOffFee:
    """A fixed fee charged once, when talk time in the tariff reaches ``at_s`` seconds."""

    at_s: int
    amount: Decimal
    amount_exact: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_seconds(self.at_s, "one-off fee moment", least=1)  # at 0 s: the price per call
        object.__setattr__(self, "amount_exact", exact_of(whole_micro(self.amount, "one-off fee")))


@dataclass(frozen=True, slots=True)
class RecurringFee:
    """A fixed fee charged each time talk time in the tariff reaches a multiple of ``every_s``."""

    every_s: int
    amount: Decimal
    amount_exact: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_seconds(self.every_s, "recurring fee interval", least=1)
        object.__setattr__(self, "amount_exact", exact_of(whole_micro(self.amount, "recurring fee")))


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffTerms:
    """One tariff version's prices, VAT included, and its billing increments.

    Fee moments count from the moment the tariff starts (answer, or the end of its switch
    announcement); the price per call is charged at that moment. The ``*_exact`` fields are
    the same prices in exact units: a billed second at 090x and at 084x (the price capped at
    7.5 Rp./min excl. VAT), the price per call, and each fee as (moment, amount).
    """

    tariff_version_id: int
    code: int
    price_per_minute: Decimal
    first_unit_s: int
    next_unit_s: int
    price_per_call: Decimal = Decimal(0)
    one_off_fees: tuple[OneOffFee, ...] = ()
    recurring_fees: tuple[RecurringFee, ...] = ()
    per_second_exact: int = field(init=False, repr=False, compare=False)
    shared_cost_per_second_exact: int = field(init=False, repr=False, compare=False)
    per_call_exact: int = field(init=False, repr=False, compare=False)
    one_off_exact: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    recurring_exact: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tariff_version_id, int) or not isinstance(self.code, int):
            raise TypeError("tariff terms: tariff_version_id and code are ints")
        if self.code not in TARIFF_CODES:
            raise InputError(f"tariff code: {self.code} is not between 1 and 90")
        require_seconds(self.first_unit_s, "first billing unit", least=1)
        require_seconds(self.next_unit_s, "next billing unit", least=1)
        per_minute = whole_micro(self.price_per_minute, "price per minute")
        per_call = whole_micro(self.price_per_call, "price per call")
        if not (
            isinstance(self.one_off_fees, tuple)
            and isinstance(self.recurring_fees, tuple)
            and all(isinstance(fee, OneOffFee) for fee in self.one_off_fees)
            and all(isinstance(fee, RecurringFee) for fee in self.recurring_fees)
        ):
            raise TypeError("tariff terms: fees are tuples of OneOffFee and RecurringFee")
        # No range allows more than the premium-rate caps; a tariff above them is refused here.
        if self.price_per_minute > PREMIUM_MAX_PER_MINUTE:
            raise InputError(
                f"price per minute: CHF {self.price_per_minute} is above CHF {PREMIUM_MAX_PER_MINUTE}",
                rule="premium_max_per_minute",
            )
        fees = (self.price_per_call, *(fee.amount for fee in self.one_off_fees + self.recurring_fees))
        if any(fee > PREMIUM_MAX_FIXED_PER_CALL for fee in fees):
            raise InputError(f"fixed fee: above CHF {PREMIUM_MAX_FIXED_PER_CALL}", rule="premium_max_fixed")
        shared_cost = min(per_minute, _SHARED_COST_MAX_PER_MINUTE_MICRO)
        object.__setattr__(self, "per_second_exact", per_second_exact(per_minute))
        object.__setattr__(self, "shared_cost_per_second_exact", per_second_exact(shared_cost))
        object.__setattr__(self, "per_call_exact", exact_of(per_call))
        object.__setattr__(self, "one_off_exact", tuple(
            (fee.at_s, fee.amount_exact) for fee in self.one_off_fees if fee.amount_exact))
        object.__setattr__(self, "recurring_exact", tuple(
            (fee.every_s, fee.amount_exact) for fee in self.recurring_fees if fee.amount_exact))


def check_terms(terms: TariffTerms, range_class: RangeClass) -> None:
    """Refuse a tariff its range does not allow, so that a person learns it when saving it
    (the engine applies the caps to every call anyway). The rules are the domain's
    (``smartnumbers.tariffs.check_caps``): one source, the same refusal and rule name."""
    fees = tuple(tariffs.Fee(fee.amount, at_s=fee.at_s) for fee in terms.one_off_fees if fee.amount)
    fees += tuple(tariffs.Fee(fee.amount, every_s=fee.every_s) for fee in terms.recurring_fees if fee.amount)
    tariffs.check_caps(range_class, tariffs.TariffTerms(
        terms.price_per_minute, terms.price_per_call, fees, terms.first_unit_s, terms.next_unit_s
    ))


@dataclass(frozen=True, slots=True)
class TariffSegment:
    """A tariff in force from ``start_s`` seconds after answer until the next segment.

    ``announcement_s`` is the free announcement that preceded it: the previous segment ends
    when that announcement begins (``start_s - announcement_s``), and its time is not charged.
    The first segment starts at answer (its announcement played in early media).
    """

    terms: TariffTerms
    start_s: int = 0
    announcement_s: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.terms, TariffTerms):
            raise TypeError("tariff segment: terms must be TariffTerms")
        require_seconds(self.start_s, "segment start", least=0)
        require_seconds(self.announcement_s, "announcement", least=0)
        if self.announcement_s > self.start_s:
            raise InputError("tariff segment: its announcement begins before answer")

    @property
    def announced_at_s(self) -> int:
        """When the switch announcement began: the end of the previous segment."""
        return self.start_s - self.announcement_s


def check_segments(segments: tuple[TariffSegment, ...]) -> None:
    """Refuse segments that do not follow one another from answer on."""
    if not isinstance(segments, tuple):
        raise TypeError("tariff segments: a tuple")
    if segments and (segments[0].start_s != 0 or segments[0].announcement_s != 0):
        raise InputError("tariff segments: the first starts at answer, with no announcement")
    for previous, segment in zip(segments, segments[1:]):
        if segment.announced_at_s < previous.start_s:
            raise InputError(
                f"tariff segments: a switch at {segment.announced_at_s} s comes before "
                f"the previous tariff's start at {previous.start_s} s"
            )
