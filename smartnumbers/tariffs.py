"""Tariffs: up to 90 codes a number, each a chain of immutable versions, checked against the
Swiss caps (OFCOM price indication rules) before anything is stored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartnumbers import audit
from smartnumbers.audit import Actor
from smartnumbers.db import utcnow
from smartnumbers.errors import InputError
from smartnumbers.models import RangeClass, SmartNumber, Tariff, TariffFee, TariffVersion
from smartnumbers.money import RAPPEN, VAT_RATE, billed_seconds, decimal_text, excluding_vat, format_chf

MAX_PRICE_PER_MINUTE = Decimal("10")  # 090x, VAT included
MAX_FIXED_CHARGES = Decimal("100")  # 090x, VAT included
MAX_CALL_COST = Decimal("400")  # 090x, VAT included
SHARED_COST_CAP_EXCL_VAT = Decimal("0.075")  # 084x, per minute, VAT excluded
ANNOUNCEMENT_THRESHOLD = Decimal("2")  # a fee or price per minute above this needs a spoken price


@dataclass(frozen=True, slots=True)
class Fee:
    """A fixed fee during the call: once ``at_s`` seconds after answer, or every ``every_s``."""

    amount: Decimal
    at_s: int | None = None
    every_s: int | None = None

    def __post_init__(self) -> None:
        if (self.at_s is None) == (self.every_s is None):
            raise InputError("fee: give either a moment (at) or an interval (every), not both")
        if self.at_s is not None and not 0 <= self.at_s <= 86400:
            raise InputError("fee: its moment is 0 to 86400 seconds after answer")
        if self.every_s is not None and not 60 <= self.every_s <= 86400:
            raise InputError("fee: its interval is 60 to 86400 seconds")
        if self.amount <= 0:
            raise InputError("fee: the amount must be more than zero")


@dataclass(frozen=True, slots=True)
class TariffTerms:
    """What a caller pays under one tariff code, VAT included."""

    price_per_minute: Decimal
    price_per_call: Decimal = Decimal("0")
    fees: tuple[Fee, ...] = ()
    first_unit_s: int = 60
    next_unit_s: int = 60

    def __post_init__(self) -> None:
        for unit, name in ((self.first_unit_s, "first unit"), (self.next_unit_s, "next unit")):
            if not isinstance(unit, int) or not 1 <= unit <= 3600:
                raise InputError(f"billing increments: the {name} is 1 to 3600 seconds")

    @property
    def needs_announcement(self) -> bool:
        """A spoken price must come first when a fee or the price per minute exceeds CHF 2."""
        amounts = [self.price_per_minute, self.price_per_call, *(f.amount for f in self.fees)]
        return any(a > ANNOUNCEMENT_THRESHOLD for a in amounts)


def check_caps(range_class: RangeClass, terms: TariffTerms) -> None:
    """Refuse terms the range may not charge; the error names the rule it breaks."""
    if range_class is RangeClass.FREEPHONE:
        if terms.price_per_minute or terms.price_per_call or terms.fees:
            raise InputError("tariff: 0800 numbers are free for the caller; every price must be 0",
                             rule="0800 free for the caller")
    elif range_class is RangeClass.SHARED_COST:
        if terms.price_per_call or terms.fees:
            raise InputError("tariff: 084x callers pay one price per minute only, no fees",
                             rule="084x one nationwide price per minute")
        if excluding_vat(terms.price_per_minute) > SHARED_COST_CAP_EXCL_VAT:
            raise InputError(
                f"tariff: {format_chf(terms.price_per_minute)}/min (VAT incl.) is above the 084x cap of "
                f"7.5 Rp./min excl. VAT ({format_chf(SHARED_COST_CAP_EXCL_VAT * (1 + VAT_RATE))} incl.)",
                rule="084x at most 7.5 Rp./min excl. VAT",
            )
    else:
        if terms.price_per_minute > MAX_PRICE_PER_MINUTE:
            raise InputError(f"tariff: {format_chf(terms.price_per_minute)}/min is above the 090x cap of "
                             f"{format_chf(MAX_PRICE_PER_MINUTE)}/min (VAT incl.)", rule="090x at most CHF 10/min")
        one_off = terms.price_per_call + sum((f.amount for f in terms.fees if f.at_s is not None), Decimal("0"))
        largest = max([terms.price_per_call, *(f.amount for f in terms.fees)])
        if one_off > MAX_FIXED_CHARGES or largest > MAX_FIXED_CHARGES:
            raise InputError(f"tariff: fixed charges of {format_chf(max(one_off, largest))} are above the 090x cap "
                             f"of {format_chf(MAX_FIXED_CHARGES)} (VAT incl.)", rule="090x at most CHF 100 fixed charges")


def call_cap(number_cap: Decimal | None) -> Decimal:
    """The most a 090x call may cost the caller: CHF 400, or the number's lower cap."""
    return MAX_CALL_COST if number_cap is None else min(number_cap, MAX_CALL_COST)


@dataclass(frozen=True, slots=True)
class FixedChargeCap:
    """Where a 090x tariff's fixed charges reach the CHF 100 cap during a call. Talk time counts
    from the tariff's start (answer, or the end of its switch announcement). The fee falling due
    at ``at_s`` seconds takes the fixed charges past the cap, so only ``charged_then`` of its
    ``due_then`` is charged (up to the cap, possibly nothing), and no fee after it: the rating
    engine caps the sum of a call's fixed charges. The tariff is saved all the same; this is
    the warning the command line prints and the API returns."""

    at_s: int
    due_then: Decimal
    charged_then: Decimal

    @property
    def message(self) -> str:
        when = _talk_time(self.at_s)
        cap = f"fixed charges reach the 090x cap of {format_chf(MAX_FIXED_CHARGES)} a call (VAT incl.)"
        if not self.charged_then:
            return f"{cap}: fees from {when} of talk time on are no longer charged"
        return (f"{cap} at {when} of talk time: the fee then is charged {format_chf(self.charged_then)} instead of "
                f"{format_chf(self.due_then)}, and fees after {when} are no longer charged")


def _talk_time(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} minutes" if not rest else f"{minutes} min {rest} s"


def _fixed_charges(terms: TariffTerms, talk_s: int) -> Decimal:
    """The fixed charges a call has paid after ``talk_s`` seconds of this tariff, uncapped."""
    total = terms.price_per_call
    for fee in terms.fees:
        if fee.at_s is not None:
            total += fee.amount if fee.at_s <= talk_s else 0
        else:
            total += fee.amount * (talk_s // fee.every_s)
    return total


def fixed_charge_cap(terms: TariffTerms, number_cap: Decimal | None = None) -> FixedChargeCap | None:
    """Where the tariff's recurring fees take its fixed charges past the CHF 100 cap, if a call
    on it from answer is still running then (its charge within ``call_cap(number_cap)``);
    None when they never do. For terms ``check_caps`` accepted: their fees only once and price
    per call stay within the cap, so only recurring fees reach it."""
    recurring = [fee for fee in terms.fees if fee.every_s is not None]
    if not recurring:
        return None
    # the fee whose recurrence alone passes the cap bounds the search
    good = 0
    bad = min(fee.every_s * int(MAX_FIXED_CHARGES // fee.amount + 1) for fee in recurring)
    while bad - good > 1:
        middle = (good + bad) // 2
        if _fixed_charges(terms, middle) > MAX_FIXED_CHARGES:
            bad = middle
        else:
            good = middle
    before = _fixed_charges(terms, bad - 1)
    # charged at that moment, rounded half up to the Rappen like the engine's total: more than
    # the call's cap means the call was cut off before it
    billed = billed_seconds(bad, terms.first_unit_s, terms.next_unit_s)
    if terms.price_per_minute * billed + 60 * MAX_FIXED_CHARGES >= 60 * (call_cap(number_cap) + RAPPEN / 2):
        return None
    return FixedChargeCap(bad, _fixed_charges(terms, bad) - before, MAX_FIXED_CHARGES - before)


def terms_of(version: TariffVersion) -> TariffTerms:
    fees = tuple(Fee(f.amount, f.at_s, f.every_s) for f in version.fees)
    return TariffTerms(version.price_per_minute, version.price_per_call, fees, version.first_unit_s, version.next_unit_s)


def version_snapshot(version: TariffVersion) -> dict[str, Any]:
    return {
        "code": version.tariff.code,
        "version": version.version,
        "valid_from": version.valid_from.isoformat(),
        "price_per_minute": decimal_text(version.price_per_minute),
        "price_per_call": decimal_text(version.price_per_call),
        "fees": [{"amount": decimal_text(f.amount), "at_s": f.at_s, "every_s": f.every_s} for f in version.fees],
        "first_unit_s": version.first_unit_s,
        "next_unit_s": version.next_unit_s,
    }


def set_tariff(
    session: Session,
    actor: Actor,
    number: SmartNumber,
    code: int,
    terms: TariffTerms,
    *,
    valid_from: dt.datetime | None = None,
) -> TariffVersion:
    """Add a new version of tariff ``code``; earlier versions stay as they are."""
    if not isinstance(code, int) or not 1 <= code <= 90:
        raise InputError(f"tariff code: {code} is not 1 to 90")
    check_caps(number.range_class, terms)
    tariff = session.scalar(select(Tariff).where(Tariff.number_id == number.id, Tariff.code == code))
    before = None
    if tariff is None:
        tariff = Tariff(number=number, code=code)
        session.add(tariff)
        session.flush()
    elif tariff.versions:
        before = version_snapshot(tariff.versions[-1])
    version = TariffVersion(
        tariff=tariff,
        version=len(tariff.versions) + 1,
        valid_from=valid_from or utcnow(),
        price_per_minute=terms.price_per_minute,
        price_per_call=terms.price_per_call,
        first_unit_s=terms.first_unit_s,
        next_unit_s=terms.next_unit_s,
        created_by=str(actor),
        fees=[TariffFee(amount=f.amount, at_s=f.at_s, every_s=f.every_s) for f in terms.fees],
    )
    session.add(version)
    session.flush()
    audit.record(session, actor, account_id=number.account_id, entity="tariff", entity_id=f"{number.e164}#{code}",
                 action="version", before=before, after=version_snapshot(version))
    return version


def version_at(tariff: Tariff, at: dt.datetime) -> TariffVersion | None:
    """The version in force at an instant: the newest one whose validity has begun.
    A correction is a newer version with an earlier start, and so supersedes the old one."""
    started = [v for v in tariff.versions if v.valid_from <= at]
    return max(started, key=lambda v: v.version) if started else None
