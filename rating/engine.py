"""The rating engine: from a finished call's usage to what each party pays or receives.

Pure functions over frozen values; no database, no switch. Live cost, re-rating and
statements call the same functions, so they agree to the Rappen.

When charges fall due (talk time counted from answer, in whole seconds as the CDR gives it):
- a billing increment is charged whole once talk time enters it (``billed_seconds``);
- the price per call and fixed fees are charged once talk time reaches their moment; the
  price per call of the first tariff is charged at answer, even for a call of 0 s;
- a tariff segment runs from its start until the next switch announcement begins; the
  announcement is free, and each segment's talk time is billed with its own increments;
- 090x: fixed charges of a call add up to at most CHF 100 (the fee that passes it is charged
  up to the cap, later ones not at all: ``smartnumbers.tariffs.fixed_charge_cap`` says when,
  as a tariff is saved), the whole call to at most CHF 400 or the number's lower cap;
  084x: the caller pays at most 7.5 Rp./min excl. VAT and no fees; 0800: the caller pays nothing.

Amounts are integers (``rating.money``): each run exact, in the exact unit (``*_exact``), and
rounded once, in whole Rappen. The caller's total is rounded first and its VAT taken from the
rounded total (``rating.money.vat_in_total``). Everything a call's rating needs from its
tariffs and the price list was turned into exact units when those values were made, and a
call's usage was checked when it was made, so rating one is a few integer operations and a
few small tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from rating.money import EXACT_PER_RAPPEN, Percent, billed_seconds, exact_of, rappen, vat_in_total, whole_micro
from rating.price_list import PayoutOption, PriceList
from rating.tariff import (
    PREMIUM_MAX_FIXED_PER_CALL,
    PREMIUM_MAX_PER_CALL,
    TariffSegment,
    check_segments,
    require_seconds,
)
from smartnumbers.errors import InputError
from smartnumbers.phone import CallerOrigin, RangeClass
from smartnumbers.tariffs import call_cap  # noqa: F401  (the domain's rule; live control reads it here)

_HORIZON_S = 2**31  # beyond any call: a charge still within the cap there never reaches it
_MAX_FIXED_EXACT = exact_of(whole_micro(PREMIUM_MAX_FIXED_PER_CALL, "090x fixed charges cap"))
_MAX_PER_CALL_EXACT = exact_of(whole_micro(PREMIUM_MAX_PER_CALL, "090x call cap"))
_PREMIUM, _SHARED_COST = RangeClass.PREMIUM, RangeClass.SHARED_COST
_PAYFAST = PayoutOption.PAYFAST
# The results are NamedTuples built with tuple.__new__: the generated keyword-taking __new__
# costs as much again, and this runs for every call rated.
_new = tuple.__new__


def _cap_exact(cap: object, what: str) -> int:
    """A cap (Decimal CHF, in whole Rappen: a finer one is refused) in exact units."""
    exact = exact_of(whole_micro(cap, what))
    if exact % EXACT_PER_RAPPEN:
        raise InputError(f"{what}: CHF {cap} is not in whole Rappen")
    return exact


@dataclass(frozen=True, slots=True, kw_only=True)
class CallUsage:
    """What rating needs to know of one call: range, caller origin, talk time, tariff segments.

    ``number_cap`` is the owner's optional lower cap per call (090x), VAT included;
    ``cap_exact`` is the call's cap (``call_cap``) in exact units.
    """

    range_class: RangeClass
    origin: CallerOrigin
    answered: bool
    talk_s: int
    segments: tuple[TariffSegment, ...] = ()
    number_cap: Decimal | None = None
    cap_exact: int = field(init=False, repr=False, compare=False)

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
        cap = _MAX_PER_CALL_EXACT
        if self.number_cap is not None:
            cap = min(cap, _cap_exact(self.number_cap, "number cap"))
        object.__setattr__(self, "cap_exact", cap)


class RatedSegment(NamedTuple):
    """One tariff segment as charged, to explain the figures: exact amounts, before call caps."""

    tariff_version_id: int
    code: int
    start_s: int
    talk_s: int
    billed_s: int
    time_charge_exact: int
    fixed_charge_exact: int


class CallerCharge(NamedTuple):
    """What the caller pays: the exact charge, and the total rounded once to the Rappen, split
    into the amount excl. VAT and the VAT the rounded total contains (``vat_in_total``: the
    total first, then the VAT, the rest excl. VAT, so the split adds up to what is paid).
    ``uncapped_exact`` is the charge before the per-call cap (090x fixed charges already capped).
    """

    incl_vat_exact: int
    incl_vat: int
    excl_vat: int
    vat: int
    uncapped_exact: int

    @property
    def capped(self) -> bool:
        """Whether the per-call cap cut the charge."""
        return self.incl_vat_exact < self.uncapped_exact


class RatedCall(NamedTuple):
    """One call's runs, each exact and rounded once: the caller's charge, the carriers'
    interconnection cost, the net revenue (090x), the owner's cost (0800, 084x) or payout
    share (090x), and the PayFast fee on that payout. Owner and carrier amounts are excl. VAT.
    What the caller paid enters the net revenue and the 084x owner's cost as invoiced: the
    rounded total less its VAT (``CallerCharge.excl_vat``)."""

    range_class: RangeClass
    origin: CallerOrigin
    segments: tuple[RatedSegment, ...]
    caller: CallerCharge
    interconnection_exact: int
    interconnection: int
    net_revenue_exact: int
    net_revenue: int
    owner_cost_exact: int
    owner_cost: int
    owner_payout_exact: int
    owner_payout: int
    payfast_fee_exact: int
    payfast_fee: int

    @property
    def tariff_version_ids(self) -> tuple[int, ...]:
        """The tariff versions the call was charged by, in order of use, each once."""
        return tuple(dict.fromkeys(s.tariff_version_id for s in self.segments))


def _rate_segments(
    range_class: RangeClass, segments: Sequence[TariffSegment], talk_s: int
) -> tuple[tuple[RatedSegment, ...], int, int]:
    """Charge each segment the call reached for its own talk time, at the range's rules:
    the rated segments, and the exact time and fixed charges of them all."""
    rated = []
    time = fixed = 0
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        start = segment.start_s
        if start > talk_s:
            break  # the call ended during this switch's announcement: the tariff never started
        if i == last:
            length = talk_s - start
        else:
            following = segments[i + 1]
            length = min(following.start_s - following.announcement_s, talk_s) - start
        terms = segment.terms
        billed = billed_seconds(length, terms.first_unit_s, terms.next_unit_s)
        if range_class is _PREMIUM:
            charge = terms.per_second_exact * billed
            extra = terms.per_call_exact
            for at_s, amount in terms.one_off_exact:
                if at_s <= length:
                    extra += amount
            for every_s, amount in terms.recurring_exact:
                extra += amount * (length // every_s)
        elif range_class is _SHARED_COST:
            charge, extra = terms.shared_cost_per_second_exact * billed, 0
        else:
            charge = extra = 0
        time += charge
        fixed += extra
        rated.append(_new(RatedSegment, (terms.tariff_version_id, terms.code, start, length, billed, charge, extra)))
    return tuple(rated), time, fixed


def _caller_charge(range_class: RangeClass, cap_exact: int, time: int, fixed: int) -> CallerCharge:
    """The caller's charge from the segments' exact time and fixed charges, within the caps."""
    if range_class is _PREMIUM:
        uncapped = time + min(fixed, _MAX_FIXED_EXACT)
        incl = min(uncapped, cap_exact)
    else:
        uncapped = incl = time + fixed
    total = rappen(incl)
    vat = vat_in_total(total)
    return _new(CallerCharge, (incl, total, total - vat, vat, uncapped))


def caller_charge(call: CallUsage) -> CallerCharge:
    """What the caller pays for the call so far (live cost) or in all (rating)."""
    time = fixed = 0
    if call.answered:
        _, time, fixed = _rate_segments(call.range_class, call.segments, call.talk_s)
    return _caller_charge(call.range_class, call.cap_exact, time, fixed)


def rate_call(
    call: CallUsage, price_list: PriceList, *, payout_option: PayoutOption, payfast_fee: Percent
) -> RatedCall:
    """Derive every run of one call from its usage, the operator's price list and the owner's
    payout option (the PayFast fee percentage comes from the settings)."""
    range_class, talk_s = call.range_class, call.talk_s
    if call.answered:
        segments, time, fixed = _rate_segments(range_class, call.segments, talk_s)
    else:
        segments, time, fixed = (), 0, 0
    caller = _caller_charge(range_class, call.cap_exact, time, fixed)
    entry = price_list.entry(range_class, call.origin)
    interconnection = entry.interconnection_per_second_exact * talk_s
    net_revenue = owner_cost = payout = 0
    if range_class is _PREMIUM:
        net_revenue = caller.excl_vat * EXACT_PER_RAPPEN - interconnection
        if net_revenue > 0:
            payout = entry.payout_share.of(net_revenue)
    elif range_class is _SHARED_COST:
        owner_cost = max(0, entry.owner_per_second_exact * talk_s - caller.excl_vat * EXACT_PER_RAPPEN)
    else:
        owner_cost = entry.owner_per_second_exact * talk_s
    fee = payfast_fee.of(payout) if payout_option is _PAYFAST else 0
    return _new(RatedCall, (
        range_class, call.origin, segments, caller,
        interconnection, rappen(interconnection),
        net_revenue, rappen(net_revenue),
        owner_cost, rappen(owner_cost),
        payout, rappen(payout),
        fee, rappen(fee),
    ))


def seconds_within_cap(segments: Sequence[TariffSegment], cap: Decimal) -> int | None:
    """The longest talk time (whole seconds) whose 090x charge stays within ``cap``, for live
    call control to hang up at; None when the charge never reaches it.

    An increment is charged whole when it begins, so the call must end before the increment
    that would pass the cap begins; a fee, before its moment. 0 when answering alone passes it.
    Pass ``call_cap(number_cap)`` as the cap.
    """
    segments = tuple(segments)
    check_segments(segments)
    cap_rappen = _cap_exact(cap, "cap") // EXACT_PER_RAPPEN
    if not segments:
        raise InputError("seconds within cap: no tariff")

    def within(talk_s: int) -> bool:
        _, time, fixed = _rate_segments(_PREMIUM, segments, talk_s)
        return rappen(time + min(fixed, _MAX_FIXED_EXACT)) <= cap_rappen

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
