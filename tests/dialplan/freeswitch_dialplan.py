"""FreeSWITCH's XML dialplan, evaluated in Python the way the switch evaluates it.

Written from FreeSWITCH 1.10's source, not from its documentation:
``mod_dialplan_xml.c`` (``dialplan_hunt``: extensions in order, stop after the first that
proceeds unless ``continue="true"``; ``parse_exten``: conditions in order, ``break``
on-false by default, a time attribute's result overridden by a ``field`` in the same
condition, anti-actions, inline actions run at once, ``$1`` substitution only when the
expression has a parenthesis), ``switch_xml.c`` (``switch_xml_std_datetime_check``: every
time attribute is an AND, evaluated in the zone of the ``timezone`` channel variable read
before each condition, ``date-time`` against server-local time), ``switch_utils.c``
(``switch_number_cmp``: comma lists of inclusive ranges, reversed ranges wrap;
``switch_dow_cmp``: 1 = Sunday, names or digits) and ``switch_time.c`` (zones are POSIX TZ
strings from ``timezones.conf.xml``; an unknown name is an error here, garbage there).

It knows nothing of smartnumbers: it reads XML and a clock.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

FREESWITCH_CONF = Path(__file__).resolve().parents[2] / "freeswitch_conf"
_TRUE = {"yes", "on", "true", "t", "enabled", "active", "allow"}
_DAY_ATTRIBUTES = ("year", "yday", "mon", "mday", "week", "mweek", "wday")
_MINUTE_ATTRIBUTES = ("hour", "minute", "minute-of-day", "time-of-day")
_TIME_ATTRIBUTES = ("date-time", *_DAY_ATTRIBUTES, *_MINUTE_ATTRIBUTES, "tz-offset", "dst")


def switch_true(value: str | None) -> bool:
    if not value:
        return False
    return value.lower() in _TRUE or (value.lstrip("-").isdigit() and int(value) != 0)


# --- time: POSIX TZ strings as switch_time.c uses them ---------------------------------------------


def _posix_offset(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")]
    seconds = parts[0] * 3600 + (parts[1] * 60 if len(parts) > 1 else 0) + (parts[2] if len(parts) > 2 else 0)
    return sign * seconds


@dataclass(frozen=True)
class PosixZone:
    """``CET-1CEST,M3.5.0,M10.5.0/3``: standard name and offset (west positive), DST name, rules."""

    std_offset: int  # seconds east of UTC
    dst_offset: int | None
    start: tuple[int, int, int, int] | None  # month, week, weekday (0 = Sunday), seconds after local midnight
    end: tuple[int, int, int, int] | None

    @classmethod
    def parse(cls, text: str) -> PosixZone:
        match = re.fullmatch(r"<?([A-Za-z+\-0-9]+?)>?([+-]?[0-9:]+)(?:<?([A-Za-z+\-0-9]+?)>?([+-]?[0-9:]+)?"
                             r",M(\d+)\.(\d)\.(\d)(?:/([0-9:]+))?,M(\d+)\.(\d)\.(\d)(?:/([0-9:]+))?)?", text)
        if not match:
            raise ValueError(f"unsupported TZ string {text!r}")
        std = -_posix_offset(match[2])
        if not match[3]:
            return cls(std, None, None, None)
        dst = -_posix_offset(match[4]) if match[4] else std + 3600
        start = (int(match[5]), int(match[6]), int(match[7]), _posix_offset(match[8]) if match[8] else 7200)
        end = (int(match[9]), int(match[10]), int(match[11]), _posix_offset(match[12]) if match[12] else 7200)
        return cls(std, dst, start, end)

    @staticmethod
    def _day(year: int, month: int, week: int, weekday: int) -> int:
        """Day of month of the ``week``-th (5 = last) ``weekday`` of the month."""
        first = (calendar.weekday(year, month, 1) + 1) % 7  # 0 = Sunday
        day = 1 + (weekday - first) % 7 + (week - 1) * 7
        days = calendar.monthrange(year, month)[1]
        while day > days:
            day -= 7
        return day

    def offset_at(self, epoch: float) -> tuple[int, bool]:
        if self.dst_offset is None:
            return self.std_offset, False
        year = dt.datetime.fromtimestamp(epoch, dt.timezone.utc).year
        month, week, weekday, at = self.start
        begin = calendar.timegm((year, month, self._day(year, month, week, weekday), 0, 0, 0)) + at - self.std_offset
        month, week, weekday, at = self.end
        finish = calendar.timegm((year, month, self._day(year, month, week, weekday), 0, 0, 0)) + at - self.dst_offset
        in_dst = begin <= epoch < finish if begin < finish else not finish <= epoch < begin
        return (self.dst_offset if in_dst else self.std_offset), in_dst



@functools.cache
def timezones(conf: Path = FREESWITCH_CONF) -> dict[str, PosixZone]:
    """The switch's zone table, from the same timezones.conf.xml the switch loads."""
    root = ET.parse(conf / "autoload_configs" / "timezones.conf.xml").getroot()
    return {z.get("name"): PosixZone.parse(z.get("value")) for z in root.iter("zone")}


@dataclass(frozen=True)
class Tm:
    """``switch_time_exp_t``: the fields the time attributes read."""

    year: int
    mon: int  # 1-12
    mday: int
    wday: int  # 0 = Sunday
    yday: int  # 0-based
    hour: int
    min: int
    sec: int
    isdst: bool

    @classmethod
    def at(cls, epoch: float, offset: int, isdst: bool = False) -> Tm:
        t = dt.datetime.fromtimestamp(int(epoch) + offset, dt.timezone.utc)
        return cls(t.year, t.month, t.day, (t.weekday() + 1) % 7, t.timetuple().tm_yday - 1, t.hour, t.minute,
                   t.second, isdst)


def number_cmp(expression: str, value: int) -> bool:
    """``switch_number_cmp``: ``a``, ``a-b`` (inclusive; reversed wraps), comma separated."""
    for part in expression.split(","):
        if "-" in part[1:]:
            a_text, b_text = part.split("-", 1)
            a, b = int(a_text or 0), int(b_text or 0)
            if (a <= value <= b) if a <= b else (value >= a or value <= b):
                return True
        elif re.match(r"\s*-?\d+", part) and int(re.match(r"\s*(-?\d+)", part)[1]) == value:
            return True
    return False


_DOW = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def dow_cmp(expression: str, value: int) -> bool:
    """``switch_dow_cmp``: 1 = Sunday ... 7 = Saturday, or names; ranges wrap."""
    tokens: list[str | int] = []
    i = 0
    while i < len(expression):
        char = expression[i]
        if char in "-,":
            tokens.append(char)
            i += 1
        elif "1" <= char <= "7":
            tokens.append(int(char))
            i += 1
        elif expression[i:i + 3].lower() in _DOW:
            tokens.append(_DOW.index(expression[i:i + 3].lower()) + 1)
            i += 3
        else:
            raise ValueError(f"FreeSWITCH would log a parse error for wday {expression!r}")
    previous: int | None = None
    range_start: int | None = None
    for token in tokens:
        if token == ",":
            token = None
        elif token == "-":
            range_start = previous
        else:
            if range_start is not None:
                if (range_start <= value <= token) if range_start <= token else (value >= range_start or value <= token):
                    return True
                range_start = None
            elif value == token:
                return True
        previous = token  # type: ignore[assignment]
    return False


def tod_cmp(expression: str, value: int) -> bool:
    """``switch_tod_cmp``: ``hh:mm[:ss]-hh:mm[:ss]``, inclusive, reversed wraps."""
    for part in expression.split(","):
        match = re.fullmatch(r"(\d+):(\d+)(?::(\d+))?-(\d+):(\d+)(?::(\d+))?", part.strip())
        if not match:
            continue
        start = int(match[1]) * 3600 + int(match[2]) * 60 + int(match[3] or 0)
        end = int(match[4]) * 3600 + int(match[5]) * 60 + int(match[6] or 0)
        if (start <= value <= end) if start <= end else (value >= start or value <= end):
            return True
    return False


def day_check(attributes: dict[str, str], tm: Tm) -> bool:
    """The date part of ``switch_xml_std_datetime_check`` (constant over a local day)."""
    checks = {
        "year": lambda e: number_cmp(e, tm.year),
        "yday": lambda e: number_cmp(e, tm.yday + 1),
        "mon": lambda e: number_cmp(e, tm.mon),
        "mday": lambda e: number_cmp(e, tm.mday),
        "week": lambda e: number_cmp(e, tm.yday // 7 + 1),
        "wday": lambda e: dow_cmp(e, tm.wday + 1),
    }
    if "mweek" in attributes:
        raise NotImplementedError("mweek")
    return all(checks[k](attributes[k]) for k in _DAY_ATTRIBUTES if k in attributes and k in checks)


def minute_check(attributes: dict[str, str], tm: Tm) -> bool:
    checks = {
        "hour": lambda e: number_cmp(e, tm.hour),
        "minute": lambda e: number_cmp(e, tm.min),
        "minute-of-day": lambda e: number_cmp(e, tm.hour * 60 + tm.min + 1),
        "time-of-day": lambda e: tod_cmp(e, tm.hour * 3600 + tm.min * 60 + tm.sec),
    }
    return all(checks[k](attributes[k]) for k in _MINUTE_ATTRIBUTES if k in attributes)


# --- the dialplan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    application: str
    data: str
    inline: bool


@dataclass(frozen=True)
class Condition:
    field: str | None
    expression: str
    time: dict[str, str]
    do_break: str
    actions: tuple[Action, ...]
    anti_actions: tuple[Action, ...]


@dataclass(frozen=True)
class Extension:
    name: str
    cont: bool
    conditions: tuple[Condition, ...]


def _actions(element: ET.Element, tag: str) -> tuple[Action, ...]:
    return tuple(Action(a.get("application", ""), a.text.strip() if (a.text or "").strip() else a.get("data", ""),
                        switch_true(a.get("inline"))) for a in element.findall(tag))


def parse_context(element: ET.Element) -> tuple[Extension, ...]:
    extensions = []
    for x in element.findall("extension"):
        conditions = []
        for c in x.findall("condition"):
            if c.get("regex") is not None or c.find("condition") is not None or c.find("regex") is not None:
                raise NotImplementedError("regex lists and nested conditions are not rendered by smartnumbers")
            expression = c.get("expression", "")
            if "${" in expression:
                raise NotImplementedError("variables in expressions")
            conditions.append(Condition(
                c.get("field"), expression,
                {k: v for k, v in c.attrib.items() if k in _TIME_ATTRIBUTES},
                (c.get("break") or "on-false").lower(), _actions(c, "action"), _actions(c, "anti-action")))
        extensions.append(Extension(x.get("name", "UNKNOWN"), switch_true(x.get("continue")), tuple(conditions)))
    return tuple(extensions)


def contexts(document: str) -> dict[str, tuple[Extension, ...]]:
    """Every context of a dialplan file (``<include>``) or of an xml_curl answer (``<document>``)."""
    root = ET.fromstring(document.encode())
    return {c.get("name"): parse_context(c) for c in root.iter("context")}


@dataclass
class Channel:
    """What routing sees: the caller profile, the channel variables, the switch's clock."""

    destination_number: str
    caller_id_number: str
    epoch: float
    server_zone: str = "Etc/UTC"
    variables: dict[str, str] = field(default_factory=dict)

    def profile_field(self, name: str) -> str:
        return {"destination_number": self.destination_number, "caller_id_number": self.caller_id_number,
                "ani": self.caller_id_number}.get(name, "")

    def expand(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, args = match[1], match[2]
            if args is not None:
                if name == "strepoch" and args == "":
                    return str(int(self.epoch))
                raise NotImplementedError(f"API expansion {name}({args})")
            return self.variables.get(name, "")
        return re.sub(r"\$\{([A-Za-z0-9_]+)(?:\((.*?)\))?\}", one, text)

    def tm(self) -> Tm:
        """``check_tz`` then the zone choice of ``switch_xml_std_datetime_check``."""
        offset = self.variables.get("tod_tz_offset")
        if offset and re.fullmatch(r"-?\d+", offset):
            return Tm.at(self.epoch, int(offset) * 3600)
        name = self.variables.get("timezone") or self.server_zone
        zone = timezones().get(name)
        if zone is None:
            raise ValueError(f"timezone {name!r} is not in timezones.conf.xml: FreeSWITCH would compare garbage")
        seconds, isdst = zone.offset_at(self.epoch)
        return Tm.at(self.epoch, seconds, isdst)


def time_match(condition: Condition, channel: Channel) -> int:
    """``switch_xml_std_datetime_check``: -1 without time attributes, else 1 or 0."""
    if not condition.time:
        return -1
    if "date-time" in condition.time or "tz-offset" in condition.time or "dst" in condition.time:
        raise NotImplementedError("date-time, tz-offset and dst are not rendered by smartnumbers")
    tm = channel.tm()
    return int(day_check(condition.time, tm) and minute_check(condition.time, tm))


def _substitute(data: str, match: re.Match[str] | None) -> str:
    if match is None:
        return data
    return re.sub(r"\$(\d)", lambda m: match.group(int(m[1])) or "" if int(m[1]) <= (match.re.groups or 0) else "",
                  data)


def _execute_inline(action: Action, data: str, channel: Channel) -> None:
    if action.application in ("set", "export"):
        name, _, value = data.partition("=")
        channel.variables[name] = channel.expand(value)
    else:
        raise NotImplementedError(f"inline {action.application}")


def parse_exten(extension: Extension, channel: Channel, out: list[Action]) -> bool:
    proceed = False
    for condition in extension.conditions:
        matched = time_match(condition, channel)
        anti_action = True
        if matched == 1:
            anti_action, proceed = False, True
        elif matched == 0:
            proceed = False
        match = None
        if condition.field:
            field_data = channel.expand(condition.field) if "$" in condition.field else channel.profile_field(
                condition.field)
            match = re.search(condition.expression, field_data)
            proceed = match is not None
            if proceed:
                anti_action = False
        elif matched == -1:
            anti_action, proceed = False, True
        if anti_action:
            for action in condition.anti_actions:
                if action.inline:
                    _execute_inline(action, action.data, channel)
                else:
                    out.append(action)
                proceed = True
        else:
            substitute = condition.field and "(" in condition.expression
            for action in condition.actions:
                data = _substitute(action.data, match) if substitute else action.data
                if action.inline:
                    _execute_inline(action, data, channel)
                else:
                    out.append(Action(action.application, data, False))
        if (not anti_action and condition.do_break == "on-true") or (
                anti_action and condition.do_break == "on-false") or condition.do_break == "always":
            break
    return proceed


def hunt(context: tuple[Extension, ...], channel: Channel) -> list[Action]:
    """``dialplan_hunt``: the actions the call will run, in order (inline ones already ran)."""
    out: list[Action] = []
    for extension in context:
        if parse_exten(extension, channel, out) and not extension.cont:
            break
    return out


# --- running the actions ------------------------------------------------------------------------------


@dataclass
class Leg:
    timeout: int
    endpoint: str
    variables: dict[str, str]


def parse_bridge(data: str) -> list[Leg]:
    """``{a=b,...}[leg_timeout=N]endpoint|[...]endpoint`` into its legs."""
    common: dict[str, str] = {}
    match = re.match(r"^\{([^}]*)\}", data)
    if match:
        common = dict(item.split("=", 1) for item in match[1].split(","))
        data = data[match.end():]
    legs = []
    for part in data.split("|"):
        local = re.match(r"^\[([^\]]*)\]", part)
        variables = dict(common)
        if local:
            variables |= dict(item.split("=", 1) for item in local[1].split(","))
            part = part[local.end():]
        legs.append(Leg(int(variables.get("leg_timeout", "60")), part, variables))
    return legs


@dataclass
class CallOutcome:
    """What the caller experienced: early media, who was tried, who answered, the end cause."""

    played: list[str] = field(default_factory=list)
    pre_answered: bool = False
    tried: list[Leg] = field(default_factory=list)
    answered: Leg | None = None
    hangup_cause: str | None = None
    applications: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)


def run(actions: list[Action], channel: Channel, leg_result=lambda leg: "answer") -> CallOutcome:
    """The call's applications in order; ``leg_result(leg)`` says what each destination does
    (``answer``, ``busy``, ``no_answer``, ``fail``)."""
    outcome = CallOutcome()
    for action in actions:
        data = channel.expand(action.data)
        outcome.applications.append(action.application)
        if action.application in ("set", "export"):
            name, _, value = data.partition("=")
            channel.variables[name] = value
        elif action.application == "pre_answer":
            outcome.pre_answered = True
        elif action.application == "playback":
            outcome.played.append(data)
        elif action.application == "limit":
            outcome.limits.append(data)
        elif action.application == "bridge":
            for leg in parse_bridge(data):
                outcome.tried.append(leg)
                if leg_result(leg) == "answer":
                    outcome.answered = leg
                    break
            if outcome.answered is not None:
                if switch_true(channel.variables.get("hangup_after_bridge")):
                    outcome.hangup_cause = "NORMAL_CLEARING"
                    return outcome
            elif not switch_true(channel.variables.get("continue_on_fail")):
                outcome.hangup_cause = "ORIGINATOR_CANCEL"
                return outcome
        elif action.application == "hangup":
            outcome.hangup_cause = data or "NORMAL_CLEARING"
            return outcome
        else:
            raise NotImplementedError(f"application {action.application}")
    outcome.hangup_cause = outcome.hangup_cause or "NORMAL_CLEARING"
    return outcome
