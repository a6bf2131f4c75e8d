"""An independent reference for the rating engine: the rules of ``rating.engine`` written
again, as plainly as possible, over exact fractions of a franc (no exact units, no integer
shortcuts, nothing shared with the engine but the input values)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil, floor

from smartnumbers.models import PayoutOption
from smartnumbers.phone import RangeClass

VAT = Fraction("1.081")
SHARED_COST_MAX_PER_MINUTE = Fraction("0.075") * VAT
PREMIUM_MAX_FIXED = Fraction(100)
PREMIUM_MAX_PER_CALL = Fraction(400)


def half_up(amount: Fraction) -> Fraction:
    """To the Rappen, a half Rappen away from zero."""
    rappen = floor(abs(amount) * 100 + Fraction(1, 2))
    return Fraction(rappen if amount >= 0 else -rappen, 100)


@dataclass(frozen=True)
class Reference:
    segments: list[tuple[int, int, int, Fraction, Fraction]]  # version, start, talk, time, fixed
    uncapped: Fraction
    incl_vat: Fraction  # exact, before rounding
    total: Fraction  # what the caller pays: incl_vat to the Rappen
    vat: Fraction  # the VAT the total contains, to the Rappen
    excl_vat: Fraction  # total less VAT
    interconnection: Fraction
    net_revenue: Fraction
    owner_cost: Fraction
    payout: Fraction
    payfast_fee: Fraction


def billed(talk_s: int, first: int, following: int) -> int:
    if talk_s == 0:
        return 0
    if talk_s <= first:
        return first
    return first + ceil(Fraction(talk_s - first, following)) * following


def rate(usage, entry, payout_option, payfast_percent) -> Reference:
    """``usage`` a CallUsage, ``entry`` its PriceListEntry, ``payfast_percent`` a Decimal."""
    premium = usage.range_class is RangeClass.PREMIUM
    segments, time, fixed = [], Fraction(0), Fraction(0)
    if usage.answered:
        for i, segment in enumerate(usage.segments):
            if segment.start_s > usage.talk_s:
                break
            if i + 1 < len(usage.segments):
                following = usage.segments[i + 1]
                end = min(following.start_s - following.announcement_s, usage.talk_s)
            else:
                end = usage.talk_s
            talk = end - segment.start_s
            terms = segment.terms
            price = Fraction(terms.price_per_minute)
            if usage.range_class is RangeClass.FREEPHONE:
                price = Fraction(0)
            elif usage.range_class is RangeClass.SHARED_COST:
                price = min(price, SHARED_COST_MAX_PER_MINUTE)
            charge = price * billed(talk, terms.first_unit_s, terms.next_unit_s) / 60
            extra = Fraction(0)
            if premium:
                extra = Fraction(terms.price_per_call)
                extra += sum(Fraction(fee.amount) for fee in terms.one_off_fees if fee.at_s <= talk)
                extra += sum(Fraction(fee.amount) * (talk // fee.every_s) for fee in terms.recurring_fees)
            segments.append((terms.tariff_version_id, segment.start_s, talk, charge, extra))
            time += charge
            fixed += extra
    uncapped = time + (min(fixed, PREMIUM_MAX_FIXED) if premium else fixed)
    incl = uncapped
    if premium:
        cap = PREMIUM_MAX_PER_CALL if usage.number_cap is None else min(Fraction(usage.number_cap), PREMIUM_MAX_PER_CALL)
        incl = min(uncapped, cap)
    total = half_up(incl)
    vat = half_up(total * (VAT - 1) / VAT)
    excl = total - vat
    interconnection = Fraction(entry.interconnection_per_minute) * usage.talk_s / 60
    owner_cost = net_revenue = payout = Fraction(0)
    if usage.range_class is RangeClass.FREEPHONE:
        owner_cost = Fraction(entry.owner_per_minute) * usage.talk_s / 60
    elif usage.range_class is RangeClass.SHARED_COST:
        owner_cost = max(Fraction(0), Fraction(entry.owner_per_minute) * usage.talk_s / 60 - excl)
    else:
        net_revenue = excl - interconnection
        payout = max(Fraction(0), net_revenue) * Fraction(entry.payout_share_percent) / 100
    fee = payout * Fraction(payfast_percent) / 100 if payout_option is PayoutOption.PAYFAST else Fraction(0)
    return Reference(segments, uncapped, incl, total, vat, excl, interconnection, net_revenue, owner_cost, payout, fee)
