"""Routing plans: the weekly plan of a number as a checked, switch-neutral value (``PlanSpec``),
its document form (plan files, the API, the audit trail), its storage, the evaluator that says
which destinations ring at an instant, and changes of the plan scheduled for a date and time.

The evaluator is the reference the rendered dialplans are proven against, so its rules are
spelled out here once: times are Europe/Zurich wall-clock minutes; a slot belongs to the
weekday it starts on, also for the part after midnight; on a holiday the plan's holiday rule
replaces the day's own slots (the tail of the previous day's slot still runs); where two
slots could apply (only possible through the holiday rule) the previous day's tail wins.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import ipaddress
import json
import logging
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holiday_calendars
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from smartnumbers import audit
from smartnumbers.audit import Actor
from smartnumbers.db import utcnow
from smartnumbers.errors import InputError, NotFound, Stale
from smartnumbers.models import (
    ChangeKind,
    ChangeStatus,
    Destination,
    DestinationKind,
    HolidayDate,
    HolidayRule,
    NumberStatus,
    OutsideAction,
    RoutingPlan,
    ScheduledChange,
    SmartNumber,
    TimeSlot,
)
from smartnumbers.phone import (
    format_swiss,
    is_premium_or_shared_cost,
    parse_number,
    parse_smart_number,
    read_dialled,
    service_range,
)
from smartnumbers.settings import Settings, load_settings
from smartnumbers.validation import plain_text

log = logging.getLogger(__name__)

ZURICH = ZoneInfo("Europe/Zurich")
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
MAX_DESTINATIONS = 3
MAX_SLOTS = 100
RING_TIMEOUT_RANGE = (5, 300)
WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
WEEKDAY_NAMES = {v: k for k, v in WEEKDAYS.items()}
CANTONS = tuple(sorted(holiday_calendars.country_holidays("CH").subdivisions))

# sip:user@host[:port], nothing else: no parameters or headers that could steer the switch.
_SIP_URI = re.compile(
    r"^sips?:(?P<user>[A-Za-z0-9._~+-]{1,64})@"
    r"(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?$"
)
_NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*$")
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("0.0.0.0/8"))
# the loopback names of Debian's /etc/hosts
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_CLOCK = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")


@dataclass(frozen=True, slots=True)
class DestinationSpec:
    kind: DestinationKind
    target: str  # E.164 for PSTN, the SIP URI for VoIP
    ring_timeout_s: int

    def shown(self) -> str:
        return format_swiss(self.target) if self.kind is DestinationKind.PSTN else self.target


@dataclass(frozen=True, slots=True)
class SlotSpec:
    weekdays: frozenset[int]  # ISO: 1 = Monday
    start_minute: int  # included
    end_minute: int  # excluded; at or before the start: the slot crosses midnight
    destinations: tuple[DestinationSpec, ...]

    @property
    def crosses_midnight(self) -> bool:
        return self.end_minute <= self.start_minute

    @property
    def length(self) -> int:
        return self.end_minute - self.start_minute + (MINUTES_PER_DAY if self.crosses_midnight else 0)

    def week_intervals(self) -> list[tuple[int, int]]:
        """Half-open minute-of-week intervals (Monday 00:00 = 0), split where they wrap."""
        spans = []
        for day in sorted(self.weekdays):
            start = (day - 1) * MINUTES_PER_DAY + self.start_minute
            end = start + self.length
            if end <= MINUTES_PER_WEEK:
                spans.append((start, end))
            else:
                spans += [(start, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]
        return spans

    def describe(self) -> str:
        return f"{_days_text(self.weekdays)} {_clock(self.start_minute)}-{_clock(self.end_minute)}"


@dataclass(frozen=True, slots=True)
class PlanSpec:
    slots: tuple[SlotSpec, ...]
    outside_action: OutsideAction = OutsideAction.REJECT
    outside_announcement: str | None = None
    fallback: tuple[DestinationSpec, ...] = ()
    holiday_canton: str | None = None
    holiday_rule: HolidayRule = HolidayRule.CLOSED
    extra_holidays: tuple[dt.date, ...] = field(default=())


def switch_host(host: str, *, what: str = "host") -> str:
    """A SIP host as the switch's resolver reads it: lower case, and an IPv4 address in its four
    decimal numbers. ``127.1``, ``2130706433``, ``0x7f.0.0.1`` and ``0177.0.0.1`` all reach
    127.0.0.1 through the C library, so a numeric host written any other way is refused."""
    name = host.lower().rstrip(".")
    if not _NUMERIC_HOST.match(name):
        return name
    try:
        address = socket.inet_ntoa(socket.inet_aton(name))
    except OSError:
        raise InputError(f"{what}: {host[:60]!r} is not an address", rule="fraud") from None
    if address != name:
        raise InputError(f"{what}: write the address {host[:60]!r} as four decimal numbers ({address})",
                         rule="fraud")
    return address


@dataclass(frozen=True, slots=True)
class OwnSwitches:
    """The platform's own switches as a SIP destination may name them: a call sent there comes
    back in as a new call (a loop that multiplies calls and charges). A switch is a host and a
    port: the nodes' hosts and the loopback names, on the switches' SIP ports (the carrier
    profile's ``SMARTNUMBERS_SIP_PORT``, which ``freeswitch_conf/vars.xml`` reads too, and the
    standard 5060 and 5061 a URI without a port reaches). Another port of such a host is not a
    switch (a PBX or a test phone beside it). ``allowed`` holds the hosts (any port) and
    host:port pairs the operator lets through all the same. A DNS name the operator did not
    configure is not resolved: the check is on the name as written."""

    hosts: frozenset[str]
    allowed: frozenset[tuple[str, int | None]]
    ports: frozenset[int] = frozenset({5060, 5061, 5080})

    @classmethod
    def of(cls, settings: Settings) -> OwnSwitches:
        allowed = set()
        for item in settings.sip_allowed_own_hosts:
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
            allowed.add((switch_host(host, what="SMARTNUMBERS_SIP_ALLOWED_OWN_HOSTS"), int(port) if port else None))
        nodes = {switch_host(node.host, what="SMARTNUMBERS_FREESWITCH_NODES")
                 for node in settings.freeswitch_nodes}
        return cls(frozenset(nodes), frozenset(allowed), frozenset({5060, 5061, settings.sip_port}))

    def is_own(self, host: str, port: int) -> bool:
        """``host`` as ``switch_host`` returns it."""
        if port not in self.ports or (host, None) in self.allowed or (host, port) in self.allowed:
            return False
        if host in self.hosts or host in _LOOPBACK_NAMES or host.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in _LOOPBACK)


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """The fraud rule's inputs: may this account ring abroad, which numbers are the platform's,
    and which SIP hosts are its own switches (None: not checked, as when a stored plan is
    rendered again; the check belongs where a destination is entered)."""

    allow_international: bool
    is_platform_number: Callable[[str], bool]
    own_switches: OwnSwitches | None = None


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """What happens to a call at an instant."""

    destinations: tuple[DestinationSpec, ...]  # in hunt order; empty when nothing rings
    slot: SlotSpec | None
    outside_action: OutsideAction | None  # set when no slot applies
    announcement: str | None
    holiday: str | None  # the holiday's name when one shaped the decision


# --- reading what people typed -------------------------------------------------------------


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _days_text(days: Iterable[int]) -> str:
    return ",".join(WEEKDAY_NAMES[d] for d in sorted(days))


def parse_clock(text: str, *, what: str, allow_24: bool) -> int:
    match = _CLOCK.match(str(text).strip()) if str(text).isascii() else None
    if not match:
        raise InputError(f"{what}: {str(text)[:20]!r} is not a time of day (HH:MM)")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise InputError(f"{what}: {text!r} is not a time of day (00:00 to {'24:00' if allow_24 else '23:59'})")
    return hours * 60 + minutes


def parse_weekdays(value: str | Iterable[str]) -> frozenset[int]:
    """``mon-fri``, ``sat,sun``, or a list of names; a range may wrap (``fri-mon``)."""
    items = [p.strip().lower() for p in (value.split(",") if isinstance(value, str) else value)]
    days: set[int] = set()
    for item in items:
        first, _, last = item.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise InputError(f"weekdays: {item[:20]!r} is not mon, tue, wed, thu, fri, sat, sun or a range of them")
        start, end = WEEKDAYS[first], WEEKDAYS[last or first]
        day = start
        while True:
            days.add(day)
            if day == end:
                break
            day = day % 7 + 1
    if not days:
        raise InputError("weekdays: none given")
    return frozenset(days)


def _check_pstn(e164: str, policy: DestinationPolicy, what: str) -> None:
    if is_premium_or_shared_cost(e164):
        raise InputError(f"{what}: {format_swiss(e164)} is a premium-rate or shared-cost number", rule="fraud")
    if policy.is_platform_number(e164):
        raise InputError(f"{what}: {format_swiss(e164)} is one of the platform's own numbers (a loop)", rule="fraud")
    if not e164.startswith("+41") and not policy.allow_international:
        raise InputError(f"{what}: {format_swiss(e164)} is abroad and the account may not ring abroad", rule="fraud")


def _check_sip_user(user: str, policy: DestinationPolicy, what: str) -> None:
    """A number behind a SIP gateway obeys the same rule, in every form a far end may read it."""
    try:
        dialled = read_dialled(user)
    except InputError as exc:
        raise InputError(f"{what}: the user part {exc}", rule="fraud") from None
    if dialled is None:
        return
    if dialled.premium_short_number:
        raise InputError(f"{what}: {dialled.digits} is a premium-rate short number", rule="fraud")
    for e164 in dialled.readings:
        _check_pstn(e164, policy, what)


def parse_destination(target: str, ring_timeout_s: int, policy: DestinationPolicy, *, what: str) -> DestinationSpec:
    """A PSTN number or a SIP URI, checked against the fraud rule. A SIP URI's user part is read
    as a number first, even in a URI that is refused for its form, so the refusal names the rule."""
    if not isinstance(target, str) or not target.strip():
        raise InputError(f"{what}: empty")
    low, high = RING_TIMEOUT_RANGE
    if isinstance(ring_timeout_s, bool) or not isinstance(ring_timeout_s, int) or not low <= ring_timeout_s <= high:
        raise InputError(f"{what}: ring timeout {ring_timeout_s!r} is not {low} to {high} seconds")
    text = target.strip()
    if text.lower().startswith(("sip:", "sips:")):
        user = text.partition(":")[2].partition("@")[0].partition(";")[0]
        _check_sip_user(user, policy, what)
        match = _SIP_URI.match(text) if text.isascii() else None
        if not match or len(text) > 255:
            raise InputError(f"{what}: {text[:60]!r} is not a SIP URI of the form sip:user@host[:port]")
        if match["port"] and not 0 < int(match["port"]) < 65536:
            raise InputError(f"{what}: port {match['port']} out of range")
        host = switch_host(match["host"], what=what)
        port = int(match["port"]) if match["port"] else 5061 if text[:5].lower() == "sips:" else 5060
        if policy.own_switches is not None and policy.own_switches.is_own(host, port):
            raise InputError(f"{what}: {match['host']} is one of the platform's own switches (a loop); "
                             "SMARTNUMBERS_SIP_ALLOWED_OWN_HOSTS lets an operator allow it", rule="fraud")
        return DestinationSpec(DestinationKind.SIP, text, ring_timeout_s)
    e164 = parse_number(text, what=what)
    _check_pstn(e164, policy, what)
    return DestinationSpec(DestinationKind.PSTN, e164, ring_timeout_s)


def parse_destinations(items: Any, policy: DestinationPolicy, what: str,
                       pointer: str = "/destinations") -> tuple[DestinationSpec, ...]:
    if not isinstance(items, list):
        raise InputError(f"{what}: expected a list of destinations", field=pointer)
    if not 1 <= len(items) <= MAX_DESTINATIONS:
        raise InputError(f"{what}: 1 to {MAX_DESTINATIONS} destinations, got {len(items)}", field=pointer)
    out = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or set(item) - {"target", "ring_timeout"}:
            raise InputError(f"{what} #{i}: expected {{target, ring_timeout}}", field=f"{pointer}/{i - 1}")
        try:
            out.append(parse_destination(item.get("target"), item.get("ring_timeout", 20), policy, what=f"{what} #{i}"))
        except InputError as exc:
            raise exc.at(f"{pointer}/{i - 1}")
    return tuple(out)


def check_overlaps(slots: Iterable[SlotSpec]) -> None:
    """Refuse two slots that share a minute of the week; name both."""
    spans = sorted(((s, e, slot) for slot in slots for s, e in slot.week_intervals()), key=lambda span: span[:2])
    for (s1, e1, a), (s2, e2, b) in zip(spans, spans[1:]):
        if s2 < e1:
            day = WEEKDAY_NAMES[s2 // MINUTES_PER_DAY + 1]
            raise InputError(f"time slots overlap on {day} at {_clock(s2 % MINUTES_PER_DAY)}: "
                             f"{a.describe()} and {b.describe()}")


def parse_plan(doc: Any, policy: DestinationPolicy) -> PlanSpec:
    """A plan document (from a plan file, the API or flags) into a checked ``PlanSpec``."""
    if not isinstance(doc, dict) or set(doc) - {"slots", "outside", "holidays"}:
        raise InputError("plan: expected a document with slots, outside and holidays")
    raw_slots = doc.get("slots", [])
    if not isinstance(raw_slots, list) or len(raw_slots) > MAX_SLOTS:
        raise InputError(f"plan: slots must be a list of at most {MAX_SLOTS}")
    slots = [_parse_slot(raw, i, policy) for i, raw in enumerate(raw_slots, 1)]
    try:
        check_overlaps(slots)
    except InputError as exc:
        raise exc.at("/slots")
    try:
        action, announcement, fallback = _parse_outside(doc.get("outside", {"action": "reject"}), policy)
    except InputError as exc:
        raise exc.at("/outside")
    try:
        canton, rule, extra = _parse_holidays(doc.get("holidays", {}))
    except InputError as exc:
        raise exc.at("/holidays")
    return PlanSpec(tuple(slots), action, announcement, fallback, canton, rule, extra)


def _parse_slot(raw: Any, i: int, policy: DestinationPolicy) -> SlotSpec:
    """Slot number ``i`` (1-based) of a plan document; an error points at it."""
    try:
        if not isinstance(raw, dict) or set(raw) - {"days", "start", "end", "destinations"}:
            raise InputError(f"slot #{i}: expected days, start, end and destinations")
        start = parse_clock(raw.get("start", ""), what=f"slot #{i} start", allow_24=False)
        end = parse_clock(raw.get("end", ""), what=f"slot #{i} end", allow_24=True) or MINUTES_PER_DAY
        if end == start:
            raise InputError(f"slot #{i}: start and end are the same time")
        return SlotSpec(parse_weekdays(raw.get("days", "")), start, end,
                        parse_destinations(raw.get("destinations"), policy, f"slot #{i} destination",
                                           f"/slots/{i - 1}/destinations"))
    except InputError as exc:
        raise exc.at(f"/slots/{i - 1}")


def _parse_outside(outside: Any, policy: DestinationPolicy
                   ) -> tuple[OutsideAction, str | None, tuple[DestinationSpec, ...]]:
    if not isinstance(outside, dict) or set(outside) - {"action", "destinations", "announcement"}:
        raise InputError("outside: expected action, destinations and announcement")
    try:
        action = OutsideAction(outside.get("action", "reject"))
    except ValueError:
        raise InputError("outside action: fallback, announcement or reject") from None
    fallback: tuple[DestinationSpec, ...] = ()
    announcement = plain_text(outside.get("announcement"), what="outside announcement", max_length=500,
                              required=action is OutsideAction.ANNOUNCEMENT)
    if action is OutsideAction.FALLBACK:
        fallback = parse_destinations(outside.get("destinations"), policy, "fallback destination",
                                      "/outside/destinations")
    elif outside.get("destinations"):
        raise InputError("outside: fallback destinations are only used with the action fallback")
    return action, announcement, fallback


def _parse_holidays(hol: Any) -> tuple[str | None, HolidayRule, tuple[dt.date, ...]]:
    if not isinstance(hol, dict) or set(hol) - {"canton", "rule", "dates"}:
        raise InputError("holidays: expected canton, rule and dates")
    canton = hol.get("canton")
    if canton is not None and canton not in CANTONS:
        raise InputError(f"holidays: canton {str(canton)[:10]!r} is not one of {', '.join(CANTONS)}")
    try:
        rule = HolidayRule(hol.get("rule", "closed"))
    except ValueError:
        raise InputError("holidays: rule is closed or as_sunday") from None
    dates = hol.get("dates", [])
    if not isinstance(dates, list) or len(dates) > 366:
        raise InputError("holidays: dates must be a list of at most 366 dates")
    extra = []
    for value in dates:
        try:
            extra.append(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
        except ValueError:
            raise InputError(f"holidays: {str(value)[:20]!r} is not a date (YYYY-MM-DD)") from None
    return canton, rule, tuple(sorted(set(extra)))


def own_plan_document(doc: Any, e164: str) -> Any:
    """A plan document for the number ``e164``: a plan as ``route show --json`` and the API print
    it names its number, and is taken back as it is for that number; another number's plan
    must lose that name first, so a file is not given to the wrong number by mistake."""
    if not isinstance(doc, dict) or "number" not in doc:
        return doc
    named = parse_smart_number(doc["number"]) if isinstance(doc["number"], str) else None
    if named != e164:
        raise InputError(f"plan: it is the plan of {format_swiss(named) if named else 'another number'}, not of "
                         f"{format_swiss(e164)}: remove its number to use it here")
    return {key: value for key, value in doc.items() if key != "number"}


def _destination_doc(d: DestinationSpec) -> dict[str, Any]:
    return {"target": d.target, "ring_timeout": d.ring_timeout_s}


def plan_document(spec: PlanSpec) -> dict[str, Any]:
    """The plan as a JSON-able document; ``parse_plan`` reads it back to the same spec."""
    outside: dict[str, Any] = {"action": spec.outside_action.value}
    if spec.fallback:
        outside["destinations"] = [_destination_doc(d) for d in spec.fallback]
    if spec.outside_announcement:
        outside["announcement"] = spec.outside_announcement
    return {
        "slots": [
            {
                "days": _days_text(s.weekdays),
                "start": _clock(s.start_minute),
                "end": _clock(s.end_minute),
                "destinations": [_destination_doc(d) for d in s.destinations],
            }
            for s in spec.slots
        ],
        "outside": outside,
        "holidays": {
            "canton": spec.holiday_canton,
            "rule": spec.holiday_rule.value,
            "dates": [d.isoformat() for d in spec.extra_holidays],
        },
    }


# --- evaluation ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def canton_holidays(canton: str, year: int) -> dict[dt.date, str]:
    return dict(holiday_calendars.country_holidays("CH", subdiv=canton, years=year))


def holiday_name(spec: PlanSpec, day: dt.date) -> str | None:
    if day in spec.extra_holidays:
        return "holiday of the owner's"
    if spec.holiday_canton:
        return canton_holidays(spec.holiday_canton, day.year).get(day)
    return None


def _effective_weekday(spec: PlanSpec, day: dt.date) -> int | None:
    """The weekday whose slots start on ``day``: None when a holiday closes it."""
    if holiday_name(spec, day) is None:
        return day.isoweekday()
    return 7 if spec.holiday_rule is HolidayRule.AS_SUNDAY else None


def decide(spec: PlanSpec, instant: dt.datetime, zone: ZoneInfo = ZURICH) -> RoutingDecision:
    """Which destinations ring at ``instant`` (aware), in order, or what happens instead."""
    if instant.tzinfo is None:
        raise ValueError("decide() needs an aware instant")
    local = instant.astimezone(zone)
    minute, today = local.hour * 60 + local.minute, local.date()
    yesterday = today - dt.timedelta(days=1)
    y_wday, t_wday = _effective_weekday(spec, yesterday), _effective_weekday(spec, today)
    for slot in spec.slots:  # the previous day's slot running past midnight
        if slot.crosses_midnight and y_wday in slot.weekdays and minute < slot.end_minute:
            return RoutingDecision(slot.destinations, slot, None, None, holiday_name(spec, yesterday))
    for slot in spec.slots:
        if t_wday in slot.weekdays and slot.start_minute <= minute and (
            slot.crosses_midnight or minute < slot.end_minute
        ):
            return RoutingDecision(slot.destinations, slot, None, None, holiday_name(spec, today))
    fallback = spec.fallback if spec.outside_action is OutsideAction.FALLBACK else ()
    return RoutingDecision(fallback, None, spec.outside_action, spec.outside_announcement, holiday_name(spec, today))


# --- storage -------------------------------------------------------------------------------


def _destination_rows(plan: RoutingPlan, items: tuple[DestinationSpec, ...]) -> list[Destination]:
    """Rows for a slot's or the fallback's list: appending them sets the slot (setting it here as
    well would list each row twice in the loaded slot)."""
    return [
        Destination(plan_id=plan.id, position=i, kind=d.kind, target=d.target, ring_timeout_s=d.ring_timeout_s)
        for i, d in enumerate(items, 1)
    ]


def spec_of(plan: RoutingPlan) -> PlanSpec:
    def dests(rows: list[Destination]) -> tuple[DestinationSpec, ...]:
        return tuple(DestinationSpec(r.kind, r.target, r.ring_timeout_s) for r in rows)

    return PlanSpec(
        tuple(SlotSpec(s.weekday_set, s.start_minute, s.end_minute, dests(s.destinations)) for s in plan.slots),
        plan.outside_action,
        plan.outside_announcement,
        dests(plan.fallback),
        plan.holiday_canton,
        plan.holiday_rule,
        tuple(h.day for h in plan.holidays),
    )


def destination_policy(session: Session, number: SmartNumber) -> DestinationPolicy:
    """The fraud rule for a destination entered now: the account's abroad flag, the platform's
    numbers, and its own switches as the settings name them."""
    from smartnumbers.numbers import is_platform_number

    return DestinationPolicy(number.account.allow_international, functools.partial(is_platform_number, session),
                             OwnSwitches.of(load_settings()))


def store_plan(session: Session, actor: Actor, number: SmartNumber, spec: PlanSpec) -> RoutingPlan:
    """Replace the number's plan with ``spec`` (already checked), audited with before and after."""
    plan = number.plan
    before = plan_document(spec_of(plan)) if plan is not None else None
    if plan is None:
        plan = RoutingPlan(number=number)
        session.add(plan)
    plan.slots.clear()
    plan.fallback.clear()
    plan.holidays.clear()
    session.flush()
    plan.outside_action, plan.outside_announcement = spec.outside_action, spec.outside_announcement
    plan.holiday_canton, plan.holiday_rule = spec.holiday_canton, spec.holiday_rule
    plan.updated_at = utcnow()
    for position, slot_spec in enumerate(spec.slots, 1):
        slot = TimeSlot(
            position=position,
            weekdays=",".join(str(d) for d in sorted(slot_spec.weekdays)),
            start_minute=slot_spec.start_minute,
            end_minute=slot_spec.end_minute,
        )
        plan.slots.append(slot)
        session.flush()
        slot.destinations.extend(_destination_rows(plan, slot_spec.destinations))
    plan.fallback.extend(_destination_rows(plan, spec.fallback))
    plan.holidays.extend(HolidayDate(day=d) for d in spec.extra_holidays)
    session.flush()
    session.expire(plan, ["slots", "fallback", "holidays"])
    audit.record(session, actor, account_id=number.account_id, entity="plan", entity_id=number.e164,
                 action="replace" if before else "create", before=before, after=plan_document(spec))
    return plan


def current_plan(number: SmartNumber) -> PlanSpec:
    """The number's plan; ``NotFound`` while it has none."""
    if number.plan is None:
        raise NotFound(f"plan: {format_swiss(number.e164)} has no plan yet")
    return spec_of(number.plan)


def plan_version(spec: PlanSpec) -> str:
    """A short fingerprint of the plan's document: two readers of the same plan get the same one,
    and any change of it gives another (the API's ETag)."""
    text = json.dumps(plan_document(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def replace_plan(session: Session, actor: Actor, number: SmartNumber, document: Any, *,
                 expected_version: str | None = None) -> PlanSpec:
    """Replace the number's plan with the plan ``document``, checked against the rules as they
    stand, audited. With ``expected_version`` (the version the writer read, ``*`` for any plan)
    the plan must still be that one: ``Stale`` otherwise, so that two people editing the same
    plan cannot silently overwrite each other."""
    if expected_version is not None:
        current = plan_version(spec_of(number.plan)) if number.plan is not None else None
        if current is None or expected_version not in ("*", current):
            raise Stale(f"plan: {format_swiss(number.e164)} was changed since; read it again")
    spec = parse_plan(document, destination_policy(session, number))
    store_plan(session, actor, number, spec)
    return spec


# --- scheduled changes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanChange:
    """A change of a number's plan, now or at a moment: what the CLI and the API show."""

    id: int
    number: str  # E.164
    kind: ChangeKind
    change: dict[str, Any]  # {"plan": document} or {"slot": position or None, "destinations": [...]}
    apply_at: dt.datetime  # UTC
    status: ChangeStatus
    asked_by: str  # the actor, "cli:anna"
    asked_at: dt.datetime
    applied_at: dt.datetime | None
    error: str | None

    def summary(self) -> str:
        """One line for people: what the number gets."""
        if self.kind is ChangeKind.PLAN:
            plan = self.change["plan"]
            return f"plan of {len(plan['slots'])} slot(s), outside {plan['outside']['action']}"
        where = "fallback" if self.change["slot"] is None else f"slot {self.change['slot']}"
        return f"{where}: " + ", ".join(d["target"] for d in self.change["destinations"])


def _plan_change(change: ScheduledChange, e164: str) -> PlanChange:
    return PlanChange(change.id, e164, change.kind, copy.deepcopy(change.payload), change.apply_at, change.status,
                      change.created_by, change.created_at, change.applied_at, change.error)


def _checked_payload(policy: DestinationPolicy, kind: ChangeKind, payload: dict[str, Any]) -> dict[str, Any]:
    """The change as it is stored: checked now, so a bad one is refused at once."""
    if kind is ChangeKind.PLAN:
        return {"plan": plan_document(parse_plan(payload.get("plan"), policy))}
    slot = payload.get("slot")  # a 1-based slot position, or None for the fallback
    if slot is not None and (isinstance(slot, bool) or not isinstance(slot, int) or slot < 1):
        raise InputError("change: slot is a slot position (1, 2, ...) or absent for the fallback")
    destinations = parse_destinations(payload.get("destinations"), policy, "destination")
    return {"slot": slot, "destinations": [_destination_doc(d) for d in destinations]}


def _changed_spec(number: SmartNumber, kind: ChangeKind, payload: dict[str, Any],
                  policy: DestinationPolicy) -> PlanSpec:
    """The number's plan once the change is made, checked against the rules as they stand."""
    if kind is ChangeKind.PLAN:
        return parse_plan(payload.get("plan"), policy)
    if number.plan is None:
        raise InputError("change: the number has no plan whose destinations could change")
    current = spec_of(number.plan)
    destinations = parse_destinations(payload.get("destinations"), policy, "destination")
    slot = payload.get("slot")
    if slot is None:
        if current.outside_action is not OutsideAction.FALLBACK:
            raise InputError(f"change: outside every slot the plan does {current.outside_action.value}; "
                             "fallback destinations are used only with the action fallback")
        return PlanSpec(current.slots, current.outside_action, current.outside_announcement, destinations,
                        current.holiday_canton, current.holiday_rule, current.extra_holidays)
    if not 1 <= slot <= len(current.slots):
        raise InputError(f"change: the plan has no slot {slot}")
    slots = list(current.slots)
    old = slots[slot - 1]
    slots[slot - 1] = SlotSpec(old.weekdays, old.start_minute, old.end_minute, destinations)
    return PlanSpec(tuple(slots), current.outside_action, current.outside_announcement, current.fallback,
                    current.holiday_canton, current.holiday_rule, current.extra_holidays)


def schedule_change(session: Session, actor: Actor, number: SmartNumber, kind: ChangeKind, payload: dict[str, Any],
                    *, at: dt.datetime | None, now: dt.datetime | None = None) -> PlanChange:
    """Keep a change for its moment ``at`` (aware), or with ``at`` None make it now, in this
    transaction, as ``actor`` (so the serve process publishes it as it publishes ``route set``).
    Refused, writing nothing: a number that is suspended (its routing is under review, not to be
    changed behind it), a moment before ``now``, a change that breaks a rule today. The dated
    change is checked again when it is made: a rule may have changed in between."""
    now = now or utcnow()
    if number.status is NumberStatus.SUSPENDED:
        raise InputError(f"change: {format_swiss(number.e164)} is suspended; activate it before changing its routing")
    if at is not None and at.tzinfo is None:
        raise InputError("change: the moment needs a time zone")
    if at is not None and at < now:
        raise InputError(f"change: {at.astimezone(ZURICH):%Y-%m-%d %H:%M %Z} is in the past")
    policy = destination_policy(session, number)
    stored = _checked_payload(policy, kind, payload)
    spec = _changed_spec(number, kind, stored, policy) if at is None else None
    change = ScheduledChange(number_id=number.id, kind=kind, payload=stored, apply_at=at or now,
                             created_by=str(actor), created_at=now)
    session.add(change)
    session.flush()
    audit.record(session, actor, account_id=number.account_id, entity="scheduled_change", entity_id=change.id,
                 action="create", before=None,
                 after={"number": number.e164, "kind": kind.value, "apply_at": change.apply_at.isoformat(), **stored})
    if spec is not None:
        store_plan(session, actor, number, spec)
        change.status, change.applied_at = ChangeStatus.APPLIED, now
        session.flush()
    return _plan_change(change, number.e164)


def apply_change(session: Session, actor: Actor, change_id: int, now: dt.datetime) -> str | None:
    """Make a pending change whose moment has come (and commit); the number it changed, or None
    if it was not pending any more (made, or cancelled). The change is claimed first by a
    conditional update, which only one transaction can make (on SQLite as on PostgreSQL). A
    change that no longer passes the checks is marked failed and changes nothing."""
    claimed = session.execute(update(ScheduledChange).where(
        ScheduledChange.id == change_id, ScheduledChange.status == ChangeStatus.PENDING).values(
        status=ChangeStatus.APPLIED, applied_at=now)).rowcount
    if claimed != 1:
        session.rollback()
        return None
    change = session.get(ScheduledChange, change_id, populate_existing=True)
    number = session.get(SmartNumber, change.number_id)
    try:
        store_plan(session, actor, number, _changed_spec(number, change.kind, change.payload,
                                                         destination_policy(session, number)))
    except InputError as exc:
        change.status, change.applied_at, change.error = ChangeStatus.FAILED, None, str(exc)
        log.warning("scheduled change %s of %s failed: %s", change.id, number.e164, exc)
    session.commit()
    return number.e164


def scheduled_changes(session: Session, numbers: Iterable[SmartNumber] | None = None) -> tuple[PlanChange, ...]:
    """The changes of ``numbers`` (every number's when None), pending and past, by their moment."""
    query = select(ScheduledChange, SmartNumber.e164).join(SmartNumber, SmartNumber.id == ScheduledChange.number_id)
    if numbers is not None:
        query = query.where(ScheduledChange.number_id.in_([n.id for n in numbers]))
    rows = session.execute(query.order_by(ScheduledChange.apply_at, ScheduledChange.id)).all()
    return tuple(_plan_change(change, e164) for change, e164 in rows)


def cancel_change(session: Session, actor: Actor, change_id: int,
                  numbers: Iterable[SmartNumber] | None = None) -> PlanChange:
    """Cancel a pending change, audited. A change of a number not among ``numbers`` (when given)
    is ``NotFound``, like one that does not exist. Its persisted job, if the serve process gave it one,
    still runs at the moment and finds the change no longer pending."""
    change = session.get(ScheduledChange, change_id) if isinstance(change_id, int) else None
    if change is None or (numbers is not None and change.number_id not in {n.id for n in numbers}):
        raise NotFound(f"change {change_id}: no such change")
    number = session.get(SmartNumber, change.number_id)
    if change.status is not ChangeStatus.PENDING:
        raise InputError(f"change {change_id}: it is {change.status.value}, only a pending change can be cancelled")
    cancelled = session.execute(update(ScheduledChange).where(
        ScheduledChange.id == change_id, ScheduledChange.status == ChangeStatus.PENDING).values(
        status=ChangeStatus.CANCELLED)).rowcount
    if cancelled != 1:  # made by the scheduler a moment ago
        raise InputError(f"change {change_id}: it was made just now, only a pending change can be cancelled")
    session.refresh(change)
    audit.record(session, actor, account_id=number.account_id, entity="scheduled_change", entity_id=change.id,
                 action="cancel", before={"number": number.e164, "status": ChangeStatus.PENDING.value,
                                          "apply_at": change.apply_at.isoformat()},
                 after={"number": number.e164, "status": ChangeStatus.CANCELLED.value})
    return _plan_change(change, number.e164)
