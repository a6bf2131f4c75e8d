"""Rendering a ``NumberDialplan`` into FreeSWITCH XML through the Jinja2 templates of
``dialplan_templates/`` (autoescaped): the same extensions for a deployed file and for a
mod_xml_curl answer.

Every string that enters the XML is built here from checked parts: each value that came from
a person (a number, a SIP URI, a blacklist pattern) is matched against a narrow pattern once
more before it is placed, so a value that slipped past validation stops the render instead of
changing what the switch does. Each is XML-escaped once, where it fills its placeholder in the
frame the template rendered for its kind of number (``extensions_xml``), so the XML structure
stays intact.

How FreeSWITCH evaluates what is written here (FACTS.md section 1, mod_dialplan_xml.c):
``timezone`` is set inline first, so ``wday`` (1 = Sunday), ``minute-of-day`` (1-based,
ranges inclusive) and ``year``/``mon``/``mday`` follow the number's zone; ``date-time`` is
never used (it compares server-local time). Time attributes and ``field`` never share a
condition, because there the field's result overrides the time's. Moments (the end of a
temporary blacklist entry, a port date) are compared as epoch seconds from ``${strepoch()}``,
which no time zone touches.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from controller.announcements import NOTICES, file_name
from controller.dialplan.view import OUTSIDE, Announcement, CostCap, Hunt, NumberDialplan, TimeRule
from controller.live.segments import CAP_CAUSE, CAP_TAG, CAP_TALK_TAG, variable
from smartnumbers.models import AgeCheck, CallerIdPolicy, DestinationKind, Language, OutsideAction
from smartnumbers.phone import E164_SHAPE
from smartnumbers.routing import _SIP_URI, DestinationSpec

TEMPLATES = Path(__file__).resolve().parents[2] / "dialplan_templates"
FREESWITCH_CONF = Path(__file__).resolve().parents[2] / "freeswitch_conf"
CARRIER_CONTEXT = "carrier"
RINGBACK = "%(1000,4000,425)"  # the Swiss ring tone: 425 Hz, 1 s on, 4 s off
LIMIT_REALM = "smartnumbers"
AGE_REFUSED = "age_refused"  # a failed 0906 age check is transferred to this + the number, in its context
BUCKET_DIGITS = 3  # numbers share a context by their last three digits: sn_000 ... sn_999
# The agent's tariff code *NN on the B-leg (FACTS.md section 4b): bind_digit_action swallows the
# digits (the caller never hears them) and raises one CUSTOM event per code; exec[i] runs it at
# once without putting the caller on hold, and ^^; lets the event's headers contain commas.
CODE_BINDING = r"smart,~^\*\d\d$,exec[i]:event,^^;Event-Name=CUSTOM;Event-Subclass=smart::code;smart_kind=tariff_code"
_PIN = re.compile(r"^[0-9]{4,8}$")
_BUCKET = re.compile(rf"^[0-9]{{{BUCKET_DIGITS}}}$")

_PREFIX = re.compile(r"^\+[0-9]{2,14}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SOUNDS = re.compile(r"^/[A-Za-z0-9_./-]{0,200}$")
_DESCRIPTION = re.compile(r"^[a-z,]+ [0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$|^outside every slot$")


class UnsafeValue(ValueError):
    """A value about to enter the dialplan does not have the shape it must have."""


def _checked(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise UnsafeValue(f"{what}: {str(value)[:60]!r} may not enter the dialplan")
    return value


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Where the switch finds things: the announcements folder as the switch sees it, the
    gateway PSTN destinations leave through, the SIP profile VoIP destinations are called on."""

    sounds_dir: str
    gateway: str = "carrier"
    sip_profile: str = "carrier"

    def __post_init__(self) -> None:
        _checked(self.sounds_dir, _SOUNDS, "sounds folder")
        _checked(self.gateway, _NAME, "gateway")
        _checked(self.sip_profile, _NAME, "SIP profile")


# --- expressions -----------------------------------------------------------------------------------


def bucket_of(e164: str) -> str:
    """The last digits of the number, which carriers' numbering spreads evenly (unlike its
    leading ones): the context it shares with about a thousandth of the platform's numbers."""
    return _checked(e164, E164_SHAPE, "number")[-BUCKET_DIGITS:]


def context_name(e164: str) -> str:
    """The context the carrier context transfers the number's calls to (freeswitch_conf's
    carrier.xml computes the same from the called number)."""
    return "sn_" + bucket_of(e164)


def number_expression(e164: str) -> str:
    """The forms a carrier sends a called number in: +41..., 0041..., 41..., 0... (national)."""
    digits = _checked(e164, E164_SHAPE, "number")[1:]
    forms = rf"^(?:\+|00)?{digits}$"
    if digits.startswith("41"):
        forms += rf"|^0{digits[2:]}$"
    return forms


def caller_expression(numbers: tuple[str, ...], prefixes: tuple[str, ...]) -> str:
    """Callers as carriers present them (+41..., 0041..., 41..., 0...) against E.164 numbers and prefixes."""
    international = [_checked(n, E164_SHAPE, "blacklist number")[1:] for n in numbers]
    international += [_checked(p, _PREFIX, "blacklist prefix")[1:] + "[0-9]*" for p in prefixes]
    national = [item[2:] for item in international if item.startswith("41")]
    expression = r"^(?:\+|00)?(?:" + "|".join(international) + ")$"
    if national:
        expression += "|^0(?:" + "|".join(national) + ")$"
    return expression


def epoch_before(moment: dt.datetime) -> str:
    """A regular expression matching the ten-digit epoch seconds before ``moment``."""
    limit = int(moment.timestamp())
    text = f"{limit:010d}"
    if len(text) != 10 or limit <= 1_000_000_000:
        raise UnsafeValue(f"moment {moment.isoformat()} is out of the ten-digit epoch range")
    branches = []
    for i, digit in enumerate(text):
        if digit != "0":
            low = "0" if i else "1"
            if int(digit) - 1 >= int(low):
                rest = f"[0-9]{{{9 - i}}}" if i < 9 else ""
                branches.append(f"{text[:i]}[{low}-{int(digit) - 1}]{rest}")
    return "^(?:" + "|".join(branches) + ")$"


def freeswitch_weekdays(iso_days: frozenset[int]) -> str:
    """ISO weekdays (1 = Monday) as FreeSWITCH counts them (1 = Sunday)."""
    return ",".join(str(d % 7 + 1) for d in sorted(iso_days, key=lambda d: d % 7))


def time_attributes(rule: TimeRule) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if rule.days:
        attributes |= {"year": str(rule.days[0].year),
                       "yday": ",".join(str(day.timetuple().tm_yday) for day in rule.days)}
    else:
        attributes["wday"] = freeswitch_weekdays(rule.weekdays)
    if not (rule.first == 0 and rule.last == 1439):
        attributes["minute-of-day"] = f"{rule.first + 1}-{rule.last + 1}"
    return attributes


# --- actions -----------------------------------------------------------------------------------------


def _dial_target(kind: DestinationKind, target: str, options: RenderOptions) -> str:
    if kind is DestinationKind.PSTN:
        return f"sofia/gateway/{options.gateway}/{_checked(target, E164_SHAPE, 'destination')}"
    return f"sofia/{options.sip_profile}/{_checked(target, _SIP_URI, 'SIP destination')}"


# The trunk's identity header, pid, rpid or none (freeswitch_conf/vars.xml), read when the call is
# bridged: named on every leg, since sofia otherwise copies the type of the identity header the
# carrier's INVITE carried onto calls to SIP destinations.
CALLER_ID_TYPE = "sip_cid_type=${smartnumbers_caller_id_type}"
ANONYMOUS = ("sip_from_display=Anonymous", "sip_from_uri=sip:anonymous@anonymous.invalid")
ASSERTED_HOST = "sip_invite_domain=${sip_local_network_addr}"  # not the anonymous From's host
# No name in From and in the identity header: sofia's word for it (an empty value in a dial string
# is dropped, and the caller's name stays).
NO_NAME = "_undef_"


def _caller_id_variables(n: NumberDialplan) -> list[str]:
    """The caller-ID the destination sees, in ``From`` and in the trunk's identity header
    (P-Asserted-Identity by default; FACTS.md section 3, sofia_glue.c).

    A number shown in the caller's place goes without the caller's name (the destination would
    read it as the number's), asserted (``screen``: a P-Asserted, not a P-Preferred identity).
    Withheld: privacy flags alone leave ``From`` showing the caller, so ``From`` is anonymous
    too, while the identity header keeps the real caller with ``Privacy: id`` (RFC 3325), for
    the next network's emergency and legal duties; its host is this switch's address the call
    came in on, not the anonymous ``From``'s."""
    shown = None
    if n.caller_id is CallerIdPolicy.SMART_NUMBER:
        shown = _checked(n.e164, E164_SHAPE, "number")
    elif n.caller_id is CallerIdPolicy.FIXED:
        shown = _checked(n.caller_id_number or "", E164_SHAPE, "caller-ID")
    if shown is not None:
        return [CALLER_ID_TYPE, f"origination_caller_id_number={shown}", f"origination_caller_id_name={NO_NAME}",
                "origination_privacy=screen"]
    if n.caller_id is CallerIdPolicy.WITHHELD:
        return [CALLER_ID_TYPE, "origination_privacy=screen:hide_name:hide_number", *ANONYMOUS, ASSERTED_HOST]
    return [CALLER_ID_TYPE]


def dial_string(n: NumberDialplan, hunt: Hunt, options: RenderOptions) -> str:
    """One bridge through the hunt's destinations in order, each with its own ring timeout;
    ``|`` moves on at busy, no answer (``leg_timeout``) and failure (FACTS.md section 2).
    Each leg carries ``smart_destination``, the destination as the plan wrote it, into its
    events and CDR, so that the call record tells sip:desk@pbx1 from sip:desk@pbx2."""
    common = ["ignore_early_media=true", *_caller_id_variables(n)]
    return "{" + ",".join(common) + "}" + "|".join(_leg(d, options) for d in hunt.destinations)


def _leg(d: DestinationSpec, options: RenderOptions) -> str:
    endpoint = _dial_target(d.kind, d.target, options)  # the target's shape checked: no , ] | or space
    return f"[leg_timeout={int(d.ring_timeout_s)},smart_destination={d.target}]{endpoint}"


@functools.lru_cache(maxsize=8192)
def sound(options: RenderOptions, announcement: Announcement) -> str:
    return f"{options.sounds_dir.rstrip('/')}/{file_name(announcement.text, announcement.language)}"


def notice(reason: str, language: Language) -> Announcement:
    return Announcement(NOTICES[reason][language], language)


@dataclass(frozen=True, slots=True)
class Action:
    application: str
    data: str = ""
    inline: bool = False


def actions_xml(actions: tuple[Action, ...]) -> Markup:
    """Action elements through the template (escaped there)."""
    return Markup(environment().get_template("actions.xml.j2").render(actions=actions))


@functools.cache
def _withheld_caller() -> Markup:
    """A caller who withheld their own number (the carrier's ``Privacy: id`` or Remote-Party-ID
    privacy) stays withheld where the caller's number is what the destination sees: the legs
    inherit the caller's privacy flags, which keep the identity header for the next network
    with ``Privacy: id``, and ``From`` is made anonymous here."""
    return actions_xml(tuple(Action("export", f"nolocal:{v}") for v in (*ANONYMOUS, ASSERTED_HOST)))


# Most action blocks are the same for many numbers (a notice in a language, a tariff's
# announcement, a slot's name): the builders below render each once (lru_cache). Only the
# actions holding the number itself are laid out for each number.


@functools.lru_cache(maxsize=8192)
def _hunt_head(label: str, description: str, price_sound: str | None) -> Markup:
    actions = (Action("set", f"smart_slot={label}"),
               Action("set", f"smart_slot_name={_checked(description, _DESCRIPTION, 'slot')}"))
    if price_sound is not None:
        actions += (Action("pre_answer"), Action("playback", price_sound), Action("set", "smart_price_announced=true"))
    return actions_xml(actions + (Action("set", f"ringback={RINGBACK}"),))


@functools.lru_cache(maxsize=1024)
def _hunt_tail(nobody_sound: str) -> Markup:
    """When every destination failed: a notice, then a cause the caller's network understands."""
    return actions_xml((Action("set", "smart_outcome=nobody_answered"), Action("pre_answer"),
                        Action("playback", nobody_sound), Action("hangup", "NO_ANSWER")))


def _hunt_actions(n: NumberDialplan, hunt: Hunt, options: RenderOptions,
                  place: Placeholders) -> tuple[Markup, str | None, Markup]:
    """Slot variables and the price announcement, the bridge (its data), the notice if all fail."""
    price = sound(options, n.price) if n.price is not None else None
    return (_hunt_head(hunt.label, hunt.description, price), place(dial_string(n, hunt, options)),
            _hunt_tail(sound(options, notice("nobody", n.language))))


@functools.lru_cache(maxsize=1024)
def _closed(announcement_sound: str | None) -> Markup:
    actions = (Action("set", "smart_slot=outside"), Action("set", "smart_outcome=outside_hours"))
    if announcement_sound is not None:
        actions += (Action("pre_answer"), Action("playback", announcement_sound))
    return actions_xml(actions + (Action("hangup", "CALL_REJECTED"),))


def _outside_actions(n: NumberDialplan, options: RenderOptions,
                     place: Placeholders) -> tuple[Markup, str | None, Markup]:
    if n.outside is OutsideAction.FALLBACK and n.fallback is not None:
        return _hunt_actions(n, n.fallback, options, place)
    announcement = n.outside_announcement if n.outside is OutsideAction.ANNOUNCEMENT else None
    return _closed(sound(options, announcement) if announcement is not None else None), None, Markup()


@functools.lru_cache(maxsize=1024)
def _refusal_xml(outcome: str, notice_sound: str, cause: str) -> Markup:
    return actions_xml((Action("set", f"smart_outcome={outcome}"), Action("pre_answer"),
                        Action("playback", notice_sound), Action("hangup", cause)))


def _refusal(reason: str, outcome: str, cause: str, n: NumberDialplan, options: RenderOptions) -> Markup:
    """A notice in early media (free for the caller), then the cause."""
    return _refusal_xml(outcome, sound(options, notice(reason, n.language)), cause)


@functools.lru_cache(maxsize=1024)
def _common(tariff_code: int | None, tariff_version: int | None, tariff_codes: bool, cap: CostCap | None) -> Markup:
    actions: tuple[Action, ...] = ()
    if tariff_codes:
        actions += (Action("set", "bridge_pre_execute_bleg_app=bind_digit_action"),
                    Action("set", f"bridge_pre_execute_bleg_data={CODE_BINDING}"))
    if tariff_code is not None:
        actions += (Action("export", f"smart_tariff_code={int(tariff_code)}"),)
    if tariff_version is not None:
        actions += (Action("export", f"smart_tariff_version={int(tariff_version)}"),)
    if cap is not None:
        actions += _cap_actions(cap)
    return actions_xml(actions + (Action("set", "hangup_after_bridge=true"), Action("set", "continue_on_fail=true"),
                                  Action("set", "sip_ignore_remote_cause=true")))


def _cap_actions(cap: CostCap) -> tuple[Action, ...]:
    """090x: when the caller's leg is answered, the switch schedules its own hangup at the
    last whole second within the cap of the first tariff, in the group of the leg's uuid
    (FACTS.md section 4d): the controller's ``sched_del`` + ``sched_hangup`` replace it when a
    tariff switch moves that moment, and the switch drops it when the call ends. ``+N`` counts
    from the whole second the task is added in, right after the answer; the task runs within
    0.1 s after its second, so the talk time the switch bills stays within N seconds (the
    controller's ``hangup_epoch`` gives the same second). The CDR carries the cap and its
    seconds, so a call the switch cut while the controller was away is still recorded as
    ended by the cap."""
    talk_s = int(cap.talk_s)
    return (Action("set", f"{variable(CAP_TAG)}={cap.amount:.2f}"),
            Action("set", f"{variable(CAP_TALK_TAG)}={talk_s}"),
            Action("set", f"api_on_answer=sched_hangup +{talk_s} ${{uuid}} {CAP_CAUSE}"))


def _age_check(n: NumberDialplan, options: RenderOptions, refused: str, context: str,
               place: Placeholders) -> tuple[Markup, Markup] | None:
    """0906: the caller proves their age in early media before anything rings, so the check costs
    nothing; a failure is transferred to the refusal (answer never sent). The CDR keeps
    ``smart_age_check`` (asked, passed, failed) and never the PIN typed."""
    if n.age_check is None:
        return None
    prompt = sound(options, notice(f"age_{n.age_check.value}", n.language))
    failure = f"{refused} XML {context}"
    if n.age_check is AgeCheck.PIN:
        pins = place("|".join(_checked(pin, _PIN, "age PIN") for pin in n.age_pins) or "(?!)")
        collect = f"4 8 3 8000 # {prompt} silence_stream://250 smart_age_pin ^(?:{pins})$ 3000 {failure}"
    else:
        collect = f"1 1 3 5000 # {prompt} silence_stream://250 smart_age_digits ^1$ 3000 {failure}"
    check = actions_xml((Action("set", "smart_age_check=asked"), Action("pre_answer"),
                         Action("play_and_get_digits", collect), Action("unset", "smart_age_pin"),
                         Action("set", "smart_age_check=passed")))
    refusal = actions_xml((Action("set", "smart_age_check=failed"), Action("unset", "smart_age_pin"),
                           Action("set", "smart_outcome=age_refused"), Action("pre_answer"),
                           Action("playback", sound(options, notice("age_refused", n.language))),
                           Action("hangup", "CALL_REJECTED")))
    return check, refusal


class Placeholders:
    """A number's own strings (its digits, its destinations, its blacklist, its PINs) stand in
    the template's rendering as numbered placeholders. Numbers that differ only in them share
    one rendering of the template, a frame, which is then filled with each number's strings,
    escaped: a deploy of 100,000 numbers runs the template once per kind of number, not
    100,000 times."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def __call__(self, value: str) -> str:
        self.values.append(value)
        return f"\x00{len(self.values) - 1}\x00"


@dataclass(frozen=True, slots=True)
class Extensions:
    """What the template lays out, every string final or a placeholder, action blocks already
    rendered. Equal for every number of the same kind: it is the key of the frame."""

    guard: str  # the expression every extension but the first checks ${smart_number} against
    destination: str
    refused: str  # the expression of the destination a failed age check is transferred to
    own: tuple[Action, ...]  # the actions holding the number: laid out by the template
    common: Markup  # blocks many numbers share: rendered once
    unavailable: tuple[str | None, Markup] | None
    blocks: tuple[tuple[str | None, str, Markup], ...]
    admission: str  # the limit's data
    age: tuple[Markup, Markup] | None  # the 0906 age check and its refusal
    rules: Markup
    hunts: tuple[tuple[str, tuple[Markup, str | None, Markup]], ...]
    outside: tuple[Markup, str | None, Markup]
    withheld_caller: Markup | None  # the caller's number is shown: hidden again if the caller withheld it


def extensions(n: NumberDialplan, options: RenderOptions) -> tuple[Extensions, list[str]]:
    """The number's extensions as a frame key, and the strings its placeholders stand for."""
    place = Placeholders()
    number = _checked(n.e164, E164_SHAPE, "number")
    if n.zone not in zone_names():
        raise UnsafeValue(f"time zone {n.zone[:40]!r} is not in the switch's timezones.conf.xml")
    number_text = place(number)
    own = (Action("set", f"timezone={n.zone}", inline=True), Action("export", f"smart_number={number_text}", inline=True),
           Action("export", f"smart_account={place(str(int(n.account_id)))}"))
    unavailable = None
    if n.unavailable is not None:
        until = place(epoch_before(n.unavailable.until)) if n.unavailable.until is not None else None
        cause = "CALL_REJECTED" if n.unavailable.reason == "suspended" else "UNALLOCATED_NUMBER"
        unavailable = (until, _refusal(n.unavailable.reason, n.unavailable.reason, cause, n, options))
    blocks = tuple(
        (place(epoch_before(b.until)) if b.until is not None else None,
         place(caller_expression(b.numbers, b.prefixes)), _refusal("blocked", "blacklisted", "CALL_REJECTED", n, options))
        for b in n.blocks if b.numbers or b.prefixes
    )
    admission = f"hash {LIMIT_REALM} {number_text} {int(n.max_calls)} !USER_BUSY"
    hunts = tuple((hunt.label, _hunt_actions(n, hunt, options, place)) for hunt in n.hunts if hunt.destinations)
    guard = place("^\\" + number + "$")
    x = Extensions(guard, place(number_expression(number)), place(f"^{AGE_REFUSED}\\{number}$"), own,
                   _common(n.tariff_code, n.tariff_version, n.tariff_codes, n.cost_cap), unavailable, blocks, admission,
                   _age_check(n, options, place(AGE_REFUSED + number), place(context_name(number)), place),
                   rules_xml(n.rules, guard), hunts, _outside_actions(n, options, place),
                   _withheld_caller() if n.caller_id is CallerIdPolicy.CALLER else None)
    return x, place.values


@functools.cache
def zone_names() -> frozenset[str]:
    """The zones the switch knows (freeswitch_conf's timezones.conf.xml, which it loads)."""
    root = ET.parse(FREESWITCH_CONF / "autoload_configs" / "timezones.conf.xml").getroot()
    return frozenset(zone.get("name") for zone in root.iter("zone"))


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        auto_reload=False,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=4096)
def rules_xml(rules: tuple[TimeRule, ...], guard: str) -> Markup:
    """The time rules as extensions; shared by every number with the same hours and holidays
    (``guard`` is the number's placeholder)."""
    return Markup(environment().get_template("time_rules.xml.j2").render(
        guard=guard, rules=[(time_attributes(rule), rule.target) for rule in rules]))


@functools.lru_cache(maxsize=4096)
def _frame(x: Extensions) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The template rendered once for a kind of number: its text between the placeholders,
    and which of the number's strings goes into each gap."""
    pieces = environment().get_template("extensions.xml.j2").render(
        x=x, OUTSIDE=OUTSIDE, AGE_REFUSED=AGE_REFUSED).split("\x00")
    assert len(pieces) % 2 == 1, "the frame has a NUL that is not a placeholder"
    return tuple(pieces[0::2]), tuple(int(index) for index in pieces[1::2])


def extensions_xml(n: NumberDialplan, options: RenderOptions) -> str:
    """The number's extensions: one rendering, placed in a file and in mod_xml_curl's answers."""
    x, values = extensions(n, options)
    texts, gaps = _frame(x)
    escaped = [str(escape(value)) for value in values]
    out = [texts[0]]
    for index, text in zip(gaps, texts[1:]):
        out.append(escaped[index])
        out.append(text)
    return "".join(out)


@functools.cache
def _file_frame() -> tuple[str, str]:
    """The file template rendered once around placeholders: a deploy of 100,000 numbers then
    fills in checked numbers instead of running the template 100,000 times."""
    text = environment().get_template("number_file.xml.j2").render(number="\x00number\x00",
                                                                     body=Markup("\x00body\x00"))
    head, tail = text.split("\x00body\x00")
    return head, tail


def number_file(n: NumberDialplan, options: RenderOptions, body: str | None = None) -> str:
    """The number's extensions as a file of its context's folder (an ``<include>``, which the
    context includes with the rest of the folder)."""
    head, tail = _file_frame()
    number = _checked(n.e164, E164_SHAPE, "number")  # digits and a plus: nothing to escape
    return head.replace("\x00number\x00", number) + (body or extensions_xml(n, options)) + tail


def context_file(bucket: str) -> str:
    """The context of the numbers ending in ``bucket``: their files, then a refusal for a number
    the platform does not have."""
    return environment().get_template("bucket_context.xml.j2").render(
        context="sn_" + bucket, folder=_checked(bucket, _BUCKET, "bucket"))


@functools.cache
def _document_frame() -> tuple[str, str, str]:
    text = environment().get_template("xml_curl.xml.j2").render(context="\x00context\x00",
                                                                  body=Markup("\x00body\x00"))
    head, tail = text.split("\x00body\x00")
    before, after = head.split("\x00context\x00")
    return before, after, tail


def xml_curl_document(body: str, context: str) -> str:
    """The same extensions as the file, as mod_xml_curl's answer for the requested context
    (the template rendered once around placeholders, like the file)."""
    before, after, tail = _document_frame()
    return before + _checked(context, _NAME, "context") + after + body + tail


NOT_FOUND = environment().get_template("not_found.xml.j2").render()
