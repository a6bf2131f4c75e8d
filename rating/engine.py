"""The rating engine: from a finished call's usage to what each party pays or receives.

Pure functions over frozen values; no database, no switch. Live cost, re-rating and
statements call the same functions, so they agree to the Rappen.

When charges fall due (talk time counted from answer, in whole seconds as the CDR gives it):
- a billing increment is charged whole once talk time enters it (``billed_seconds``);
- the price per call and fixed fees are charged once talk time reaches their moment; the
  price per call of the first tariff is charged at answer, even for a call of 0 s;
- a tariff segment runs from its start until the next switch announcement begins; the
  announcement is free, and each segment's talk time is billed with its own increments;
- 090x: fixed charges of a call add up to at most CHF 100, the whole call to at most CHF 400
  or the number's lower cap; 084x: the caller pays at most 7.5 Rp./min excl. VAT and no fees;
  0800: the caller pays nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from rating.money import (
    EXACT,
    ZERO,
    Amount,
    billed_seconds,
    percent_of,
    settle,
    time_charge,
    to_rappen,
    vat_excluded,
)
from rating.price_list import PayoutOption, PriceList
from rating.tariff import (
    PREMIUM_MAX_FIXED_PER_CALL,
    PREMIUM_MAX_PER_CALL,
    SHARED_COST_MAX_PER_MINUTE,
    TariffSegment,
    check_segments,
    require_chf,
    require_seconds,
)
from smartnumbers.errors import InputError
from smartnumbers.phone import CallerOrigin, RangeClass

_HORIZON_S = 2**31  # beyond any call: a charge still within the cap there never reaches it


@dataclass(frozen=True, slots=True, kw_only=True)
class CallUsage:
    """What rating needs to know of one call: range, caller origin, talk time, tariff segments.

    ``number_cap`` is the owner's optional lower cap per call (090x), VAT included.
    """

    range_class: RangeClass
    origin: CallerOrigin
    answered: bool
    talk_s: int
    segments: tuple[TariffSegment, ...] = ()
    number_cap: Decimal | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.range_class, RangeClass) or not isinstance(self.origin, CallerOrigin):
            raise TypeError("call usage: range_class and origin are RangeClass and CallerOrigin")
        if not isinstance(self.answered, bool):
            raise TypeError("call usage: answered is a bool")
        require_seconds(self.talk_s, "talk time", least=0)
        if not self.answered and self.talk_s:
            raise InputError("call usage: an unanswered call has no talk time")
        check_segments(self.segments)
        if self.answered and not self.segments and self.range_class is not RangeClass.FREEPHONE:
            raise InputError(f"call usage: an answered {self.range_class} call needs its tariff")
        if self.number_cap is not None:
            require_chf(self.number_cap, "number cap")
            if self.number_cap != to_rappen(self.number_cap):
                raise InputError(f"number cap: CHF {self.number_cap} is not in whole Rappen")


@dataclass(frozen=True, slots=True)
class RatedSegment:
    """One tariff segment as charged, to explain the figures: exact amounts, before call caps."""

    tariff_version_id: int
    code: int
    start_s: int
    talk_s: int
    billed_s: int
    time_charge: Decimal
    fixed_charge: Decimal


@dataclass(frozen=True, slots=True)
class CallerCharge:
    """What the caller pays, VAT included, split into VAT-excluded part and VAT.

    ``vat.rounded`` is ``incl_vat.rounded - excl_vat.rounded``, so the rounded split adds up;
    ``uncapped`` is the exact charge before the per-call cap (090x fixed charges already capped).
    """

    incl_vat: Amount
    excl_vat: Amount
    vat: Amount
    uncapped: Decimal

    @property
    def capped(self) -> bool:
        """Whether the per-call cap cut the charge."""
        return self.incl_vat.exact < self.uncapped


@dataclass(frozen=True, slots=True)
class RatedCall:
    """One call's runs, each rounded once: the caller's charge, the carriers' interconnection
    cost, the net revenue (090x), the owner's cost (0800, 084x) or payout share (090x), and
    the PayFast fee on that payout. Owner and carrier amounts are excl. VAT."""

    range_class: RangeClass
    origin: CallerOrigin
    segments: tuple[RatedSegment, ...]
    caller: CallerCharge
    interconnection: Amount
    net_revenue: Amount
    owner_cost: Amount
    owner_payout: Amount
    payfast_fee: Amount

    @property
    def tariff_version_ids(self) -> tuple[int, ...]:
        """The tariff versions the call was charged by, in order of use, each once."""
        return tuple(dict.fromkeys(s.tariff_version_id for s in self.segments))


def call_cap(number_cap: Decimal | None) -> Decimal:
    """The most a 090x call may cost the caller: CHF 400, or the number's lower cap."""
    if number_cap is None:
        return PREMIUM_MAX_PER_CALL
    return min(number_cap, PREMIUM_MAX_PER_CALL)


def _rate_segments(
    range_class: RangeClass, segments: Sequence[TariffSegment], talk_s: int
) -> tuple[RatedSegment, ...]:
    """Charge each segment the call reached for its own talk time, at the range's rules."""
    rated = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if segment.start_s > talk_s:
            break  # the call ended during this switch's announcement: the tariff never started
        end = talk_s if i == last else min(segments[i + 1].announced_at_s, talk_s)
        length = end - segment.start_s
        terms = segment.terms
        billed = billed_seconds(length, terms.first_unit_s, terms.next_unit_s)
        if range_class is RangeClass.FREEPHONE:
            price, fixed = ZERO, ZERO
        elif range_class is RangeClass.SHARED_COST:
            price, fixed = min(terms.price_per_minute, SHARED_COST_MAX_PER_MINUTE), ZERO
        else:
            price = terms.price_per_minute
            fixed = terms.price_per_call
            if terms.one_off_fees:
                fixed += sum((fee.amount for fee in terms.one_off_fees if fee.at_s <= length), ZERO)
            if terms.recurring_fees:
                fixed += sum((fee.amount * (length // fee.every_s) for fee in terms.recurring_fees), ZERO)
        rated.append(
            RatedSegment(
                terms.tariff_version_id, terms.code, segment.start_s, length, billed, time_charge(price, billed), fixed
            )
        )
    return tuple(rated)


def _uncapped(range_class: RangeClass, rated: Sequence[RatedSegment]) -> Decimal:
    """The caller's exact charge before the per-call cap (090x fixed charges already capped)."""
    if len(rated) == 1:  # the common case, without the generators
        time, fixed = rated[0].time_charge + ZERO, rated[0].fixed_charge + ZERO
    else:
        time = sum((s.time_charge for s in rated), ZERO)
        fixed = sum((s.fixed_charge for s in rated), ZERO)
    if range_class is RangeClass.PREMIUM:
        fixed = min(fixed, PREMIUM_MAX_FIXED_PER_CALL)
    return time + fixed


def _caller_charge(call: CallUsage, rated: Sequence[RatedSegment]) -> CallerCharge:
    uncapped = _uncapped(call.range_class, rated)
    incl = min(uncapped, call_cap(call.number_cap)) if call.range_class is RangeClass.PREMIUM else uncapped
    incl_vat = settle(incl)
    excl_vat = settle(vat_excluded(incl))
    vat = Amount(incl - excl_vat.exact, incl_vat.rounded - excl_vat.rounded)
    return CallerCharge(incl_vat, excl_vat, vat, uncapped)


def caller_charge(call: CallUsage) -> CallerCharge:
    """What the caller pays for the call so far (live cost) or in all (rating)."""
    with localcontext(EXACT):
        rated = _rate_segments(call.range_class, call.segments, call.talk_s) if call.answered else ()
        return _caller_charge(call, rated)


def rate_call(
    call: CallUsage, price_list: PriceList, *, payout_option: PayoutOption, payfast_fee_percent: Decimal
) -> RatedCall:
    """Derive every run of one call from its usage, the operator's price list and the owner's
    payout option (the PayFast fee percentage comes from the settings)."""
    require_chf(payfast_fee_percent, "PayFast fee")
    if payfast_fee_percent > 100:
        raise InputError("PayFast fee: above 100 %")
    with localcontext(EXACT):
        rated = _rate_segments(call.range_class, call.segments, call.talk_s) if call.answered else ()
        caller = _caller_charge(call, rated)
        entry = price_list.entry(call.range_class, call.origin)
        interconnection = time_charge(entry.interconnection_per_minute, call.talk_s)
        owner_cost = net_revenue = payout = ZERO
        if call.range_class is RangeClass.FREEPHONE:
            owner_cost = time_charge(entry.owner_per_minute, call.talk_s)
        elif call.range_class is RangeClass.SHARED_COST:
            owner_cost = max(ZERO, time_charge(entry.owner_per_minute, call.talk_s) - caller.excl_vat.exact)
        else:
            net_revenue = caller.excl_vat.exact - interconnection
            payout = percent_of(max(ZERO, net_revenue), entry.payout_share_percent)
        fee = percent_of(payout, payfast_fee_percent) if payout_option is PayoutOption.PAYFAST else ZERO
        return RatedCall(
            call.range_class,
            call.origin,
            rated,
            caller,
            settle(interconnection),
            settle(net_revenue),
            settle(owner_cost),
            settle(payout),
            settle(fee),
        )


def seconds_within_cap(segments: Sequence[TariffSegment], cap: Decimal) -> int | None:
    """The longest talk time (whole seconds) whose 090x charge stays within ``cap``, for live
    call control to hang up at; None when the charge never reaches it.

    An increment is charged whole when it begins, so the call must end before the increment
    that would pass the cap begins; a fee, before its moment. 0 when answering alone passes it.
    Pass ``call_cap(number_cap)`` as the cap.
    """
    segments = tuple(segments)
    check_segments(segments)
    require_chf(cap, "cap")
    if cap != to_rappen(cap):
        raise InputError(f"cap: CHF {cap} is not in whole Rappen")
    if not segments:
        raise InputError("seconds within cap: no tariff")

    def within(talk_s: int) -> bool:
        rated = _rate_segments(RangeClass.PREMIUM, segments, talk_s)
        return to_rappen(_uncapped(RangeClass.PREMIUM, rated)) <= cap

    with localcontext(EXACT):
        if not within(0):
            return 0
        good, bad = 0, 1
        while within(bad):
            good, bad = bad, bad * 2
            if good >= _HORIZON_S:
                return None
        while bad - good > 1:
            middle = (good + bad) // 2
            if within(middle):
                good = middle
            else:
                bad = middle
        return good
