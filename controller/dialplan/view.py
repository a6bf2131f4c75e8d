"""What a number's dialplan says, decided in Python before any template sees it.

``NumberDialplan`` is built from the domain model (``dialplan_of``) and holds only checked
values: E.164 numbers, validated SIP URIs, integers, and announcements as texts that become
audio files. The weekly plan is flattened here into an ordered list of ``TimeRule``s, first
match wins, so the switch only compares its clock: weekly rules for ordinary days and dated
rules covering the whole of every day a holiday changes (the holiday itself, and the next
day when a slot of the holiday runs past midnight). The rules follow the reference
evaluator ``smartnumbers.routing.decide``; tests/dialplan proves they agree minute by minute.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
import re
from collections.abc import Container, Iterable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from controller.announcements import price_text
from rating.engine import call_cap, seconds_within_cap
from rating.pipeline import tariff_terms
from rating.tariff import TariffSegment, TariffTerms
from smartnumbers.errors import InputError
from smartnumbers.models import (
    AgeCheck,
    BlacklistEntry,
    CallerIdPolicy,
    DestinationKind,
    HolidayRule,
    Language,
    NumberStatus,
    OutsideAction,
    RangeClass,
    RoutingPlan,
    SmartNumber,
    Tariff,
    TariffVersion,
    TimeSlot,
)
from smartnumbers.phone import E164_SHAPE
from smartnumbers.routing import (
    MINUTES_PER_DAY,
    DestinationPolicy,
    DestinationSpec,
    PlanSpec,
    SlotSpec,
    canton_holidays,
    parse_destination,
    spec_of,
)
from smartnumbers.tariffs import terms_of, version_at

OUTSIDE = "outside"
FALLBACK = "fallback"
HOLIDAY_YEARS = 2  # holidays are rendered for the year of rendering and the next one



@dataclass(frozen=True, slots=True)
class Announcement:
    """A text spoken to the caller in early media; it reaches the switch as an audio file."""

    text: str
    language: Language


@dataclass(frozen=True, slots=True)
class CostCap:
    """The legal cap of a 090x call on the tariff it starts with: the most it may cost (CHF
    400 or the number's lower cap), and the whole seconds of talk whose charge stays within it,
    as the rating engine computes them (per-call and fixed fees included). The switch hangs up
    there by itself, so the cap holds while the controller is down."""

    amount: Decimal
    talk_s: int


@dataclass(frozen=True, slots=True)
class TimeRule:
    """From ``first`` to ``last`` (minutes of the local day, both included) on the given
    weekdays (ISO) or on the given dates (all of one year), calls go to ``target``: a slot
    label or ``OUTSIDE``."""

    first: int
    last: int
    target: str
    weekdays: frozenset[int] = frozenset()
    days: tuple[dt.date, ...] = ()


@dataclass(frozen=True, slots=True)
class Hunt:
    """The destinations rung one after the other for a slot (or the fallback)."""

    label: str
    description: str
    destinations: tuple[DestinationSpec, ...]


@dataclass(frozen=True, slots=True)
class CallerBlock:
    """Callers refused: full numbers and prefixes (E.164), in force until ``until`` (or for good)."""

    numbers: tuple[str, ...]
    prefixes: tuple[str, ...]
    until: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The number answers only with a notice: suspended, or not ported in yet (until ``until``)."""

    reason: str  # "suspended" or "not_ported"
    until: dt.datetime | None


@dataclass(frozen=True, slots=True)
class NumberDialplan:
    e164: str
    account_id: int
    zone: str
    language: Language
    unavailable: Unavailable | None
    blocks: tuple[CallerBlock, ...]
    max_calls: int
    tariff_code: int | None
    tariff_version: int | None
    price: Announcement | None
    caller_id: CallerIdPolicy
    caller_id_number: str | None
    rules: tuple[TimeRule, ...]
    hunts: tuple[Hunt, ...]
    outside: OutsideAction
    outside_announcement: Announcement | None
    fallback: Hunt | None
    age_check: AgeCheck | None = None  # 0906: checked in early media before any slot is hunted
    age_pins: tuple[str, ...] = ()
    tariff_codes: bool = False  # the agent may switch tariffs with *NN (a premium number with several codes)
    cost_cap: CostCap | None = None  # 090x: where the switch ends the call by itself


# --- the weekly plan as time rules ---------------------------------------------------------------


def _starting_weekday(day: dt.date, holidays: set[dt.date], rule: HolidayRule) -> int | None:
    """Whose slots start on ``day``: its own weekday, Sunday's, or none (closed)."""
    if day not in holidays:
        return day.isoweekday()
    return 7 if rule is HolidayRule.AS_SUNDAY else None


def _target_at(slots: tuple[SlotSpec, ...], yesterday: int | None, today: int | None, minute: int) -> str:
    for index, slot in enumerate(slots, 1):  # the previous day's slot running past midnight wins
        if slot.crosses_midnight and yesterday in slot.weekdays and minute < slot.end_minute:
            return str(index)
    for index, slot in enumerate(slots, 1):
        if today in slot.weekdays and slot.start_minute <= minute and (slot.crosses_midnight or minute < slot.end_minute):
            return str(index)
    return OUTSIDE


def day_schedule(slots: tuple[SlotSpec, ...], yesterday: int | None, today: int | None) -> list[tuple[int, int, str]]:
    """The day as (first, last, target) runs of minutes; the target only changes where a slot
    starts or ends, so it is read at those minutes only."""
    edges = sorted({0, *(s.start_minute for s in slots), *(s.end_minute % MINUTES_PER_DAY for s in slots)})
    runs: list[tuple[int, int, str]] = []
    for start, end in zip(edges, [*edges[1:], MINUTES_PER_DAY]):
        target = _target_at(slots, yesterday, today, start)
        if runs and runs[-1][2] == target:
            runs[-1] = (runs[-1][0], end - 1, target)
        else:
            runs.append((start, end - 1, target))
    return runs


def weekly_rules(slots: tuple[SlotSpec, ...]) -> list[TimeRule]:
    """Each slot on its own weekdays, a slot past midnight split at it (the tail on the next day)."""
    rules = []
    for index, slot in enumerate(slots, 1):
        label = str(index)
        if slot.crosses_midnight:
            rules.append(TimeRule(slot.start_minute, MINUTES_PER_DAY - 1, label, slot.weekdays))
            if slot.end_minute > 0:
                rules.append(TimeRule(0, slot.end_minute - 1, label, frozenset(d % 7 + 1 for d in slot.weekdays)))
        else:
            rules.append(TimeRule(slot.start_minute, slot.end_minute - 1, label, slot.weekdays))
    return rules


def time_rules(spec: PlanSpec, today: dt.date) -> tuple[TimeRule, ...]:
    """Dated rules for every day from ``today`` on that the holidays change (whole days, outside
    included), then the weekly rules; the first that holds decides. They depend on the slots'
    days and hours and the holidays only, which many numbers share, so they are computed once
    per such shape."""
    shape = tuple(SlotSpec(s.weekdays, s.start_minute, s.end_minute, ()) for s in spec.slots)
    return _time_rules(shape, spec.holiday_canton, spec.holiday_rule, spec.extra_holidays, today)


@functools.lru_cache(maxsize=4096)
def _time_rules(slots: tuple[SlotSpec, ...], canton: str | None, rule: HolidayRule,
                extra: tuple[dt.date, ...], today: dt.date) -> tuple[TimeRule, ...]:
    holidays = set(extra)
    if canton:
        for y in range(today.year, today.year + HOLIDAY_YEARS):
            holidays.update(canton_holidays(canton, y))
    special = sorted({d for h in holidays for d in (h, h + dt.timedelta(days=1)) if d >= today})
    dated: dict[tuple[int, int, int, str], list[dt.date]] = {}
    for day in special:
        own = day_schedule(slots, (day - dt.timedelta(days=1)).isoweekday(), day.isoweekday())
        actual = day_schedule(
            slots,
            _starting_weekday(day - dt.timedelta(days=1), holidays, rule),
            _starting_weekday(day, holidays, rule),
        )
        if actual != own:
            for first, last, target in actual:
                dated.setdefault((day.year, first, last, target), []).append(day)
    # Dates never overlap, so the same run on several dates of a year is one rule (a yday list).
    rules = [TimeRule(first, last, target, days=tuple(days)) for (_, first, last, target), days in dated.items()]
    return tuple(rules + weekly_rules(slots))


# --- from the domain model -----------------------------------------------------------------------


def _checked_destinations(items: tuple[DestinationSpec, ...], policy: DestinationPolicy, number: SmartNumber,
                          what: str) -> tuple[DestinationSpec, ...]:
    """The fraud rule once more at render time: a plan stored before a rule changed, or a
    number that became one of the platform's own since, must not be rung."""
    checked = []
    for d in items:
        parsed = parse_destination(d.target, d.ring_timeout_s, policy, what=f"{number.e164} {what}")
        if parsed.kind is DestinationKind.PSTN and not E164_SHAPE.match(parsed.target):
            raise InputError(f"{number.e164} {what}: {parsed.target!r} is not E.164")
        checked.append(parsed)
    return tuple(checked)


def _unavailable(number: SmartNumber, now: dt.datetime, zone: ZoneInfo) -> Unavailable | None:
    if number.status is NumberStatus.SUSPENDED:
        return Unavailable("suspended", None)
    if number.status is NumberStatus.PORTING_IN and number.port_date is not None:
        live_from = dt.datetime.combine(number.port_date, dt.time(), zone).astimezone(dt.timezone.utc)
        if live_from > now:
            return Unavailable("not_ported", live_from)
    return None


def _blocks(entries: list[BlacklistEntry], number: SmartNumber, now: dt.datetime) -> tuple[CallerBlock, ...]:
    by_end: dict[dt.datetime | None, tuple[list[str], list[str]]] = {}
    for entry in entries:
        if entry.number_id not in (None, number.id) or (entry.until is not None and entry.until <= now):
            continue
        if not E164_SHAPE.match(entry.pattern) and not (entry.is_prefix and re.fullmatch(r"\+[0-9]{2,14}", entry.pattern)):
            raise InputError(f"{number.e164}: blacklist entry {entry.id} holds {entry.pattern!r}, not a number")
        full, prefixes = by_end.setdefault(entry.until, ([], []))
        (prefixes if entry.is_prefix else full).append(entry.pattern)
    ordered = sorted(by_end.items(), key=lambda item: (item[0] is not None, item[0] or now))
    return tuple(CallerBlock(tuple(sorted(set(f))), tuple(sorted(set(p))), until) for until, (f, p) in ordered)


def _default_tariff(number: SmartNumber) -> Tariff | None:
    """The tariff a call starts on: the lowest code (the others are switched to during a call)."""
    return min(number.tariffs, key=lambda t: t.code) if number.tariffs else None


def cost_cap(number: SmartNumber, version: TariffVersion | None) -> CostCap | None:
    """The cap of a 090x call on its first tariff; None for other numbers and for a tariff
    whose charge never reaches it."""
    if number.range_class is not RangeClass.PREMIUM or version is None:
        return None
    amount = call_cap(number.call_cost_cap)
    # Which version and code it is changes no price: numbers with the same prices share one search.
    talk_s = _talk_within(replace(tariff_terms(version), tariff_version_id=0, code=1), amount)
    return CostCap(amount, talk_s) if talk_s is not None else None


@functools.lru_cache(maxsize=4096)
def _talk_within(terms: TariffTerms, amount: Decimal) -> int | None:
    """The engine's search (0.16 ms a tariff, measured) once per price, not once per number: a
    full publish of 100,000 premium numbers would otherwise spend 16 s on it."""
    return seconds_within_cap((TariffSegment(terms),), amount)


def dialplan_of(number: SmartNumber, now: dt.datetime, zone: ZoneInfo, *, entries: list[BlacklistEntry],
                platform_numbers: Container[str]) -> NumberDialplan:
    """The number's dialplan as it stands at ``now``, given its account's blacklist entries and
    the platform's numbers; ``InputError`` if something stored breaks a rule."""
    policy = DestinationPolicy(number.account.allow_international, platform_numbers.__contains__)
    plan: RoutingPlan | None = number.plan
    spec = spec_of(plan) if plan is not None else PlanSpec(())
    tariff = _default_tariff(number)
    version = version_at(tariff, now) if tariff is not None else None
    price = None
    if version is not None and number.range_class is RangeClass.PREMIUM:
        terms = terms_of(version)
        if terms.needs_announcement:
            price = Announcement(price_text(terms, number.language), number.language)
    hunts = tuple(
        Hunt(str(i), slot.describe(), _checked_destinations(slot.destinations, policy, number, f"slot {i}"))
        for i, slot in enumerate(spec.slots, 1)
    )
    fallback = None
    if spec.outside_action is OutsideAction.FALLBACK:
        fallback = Hunt(FALLBACK, "outside every slot", _checked_destinations(spec.fallback, policy, number, "fallback"))
    outside_announcement = None
    if spec.outside_action is OutsideAction.ANNOUNCEMENT and spec.outside_announcement:
        outside_announcement = Announcement(spec.outside_announcement, number.language)
    if number.caller_id_policy is CallerIdPolicy.FIXED and not E164_SHAPE.match(number.caller_id_number or ""):
        raise InputError(f"{number.e164}: fixed caller-ID {number.caller_id_number!r} is not E.164")
    return NumberDialplan(
        e164=number.e164,
        account_id=number.account_id,
        zone=zone.key,
        language=number.language,
        unavailable=_unavailable(number, now, zone),
        blocks=_blocks(entries, number, now),
        max_calls=number.max_concurrent_calls,
        tariff_code=tariff.code if tariff is not None else None,
        tariff_version=version.version if version is not None else None,
        price=price,
        caller_id=number.caller_id_policy,
        caller_id_number=number.caller_id_number,
        rules=time_rules(spec, now.astimezone(zone).date()),
        hunts=hunts,
        outside=spec.outside_action,
        outside_announcement=outside_announcement,
        fallback=fallback,
        age_check=number.age_check,
        age_pins=tuple(p.pin for p in number.age_pins) if number.age_check is AgeCheck.PIN else (),
        tariff_codes=number.range_class is RangeClass.PREMIUM and len(number.tariffs) > 1,
        cost_cap=cost_cap(number, version),
    )


def load_dialplans(session: Session, now: dt.datetime, zone: ZoneInfo,
                   e164s: Iterable[str] | None = None) -> dict[str, NumberDialplan | InputError]:
    """The dialplans of every number (or of the given ones) in a handful of queries, not one
    per number: blacklists and the platform's numbers are read once. A number whose stored
    data breaks a rule maps to its error, so one bad number never stops the others."""
    query = _numbers_query()
    if e164s is not None:
        query = query.where(SmartNumber.e164.in_(list(e164s)))
    numbers = list(session.scalars(query))
    platform = set(session.scalars(select(SmartNumber.e164)))
    entries: dict[int, list[BlacklistEntry]] = {}
    accounts = {n.account_id for n in numbers}
    if accounts:
        rows = session.scalars(select(BlacklistEntry).where(
            BlacklistEntry.account_id.in_(accounts),
            or_(BlacklistEntry.until.is_(None), BlacklistEntry.until > now)).order_by(BlacklistEntry.id))
        for entry in rows:
            entries.setdefault(entry.account_id, []).append(entry)
    out: dict[str, NumberDialplan | InputError] = {}
    for number in numbers:
        try:
            out[number.e164] = dialplan_of(number, now, zone, entries=entries.get(number.account_id, []),
                                           platform_numbers=platform)
        except InputError as exc:
            out[number.e164] = exc
    return out


def _numbers_query():
    return select(SmartNumber).options(
        selectinload(SmartNumber.account),
        selectinload(SmartNumber.age_pins),
        selectinload(SmartNumber.tariffs).selectinload(Tariff.versions).selectinload(TariffVersion.fees),
        selectinload(SmartNumber.plan).selectinload(RoutingPlan.slots).selectinload(TimeSlot.destinations),
        selectinload(SmartNumber.plan).selectinload(RoutingPlan.fallback),
        selectinload(SmartNumber.plan).selectinload(RoutingPlan.holidays),
    ).order_by(SmartNumber.e164)
