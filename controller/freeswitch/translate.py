"""FreeSWITCH's vocabulary turned into the neutral calls of ``controller.calls``.

This is the one module that reads FreeSWITCH's names: event headers, json CDR fields,
mod_xml_curl form fields, ``show ... as json`` columns. Everything else in the product works
on the neutral form, so a second switch only needs a second module like this one
(the CGRateS ``fsevent.go`` pattern).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import orjson

from controller.calls import (
    CallEvent,
    DigitPressed,
    HangupSide,
    HuntAttempt,
    JobFinished,
    LegAnswered,
    LegCreated,
    LegDirection,
    LegHungUp,
    LegRecord,
    LegsBridged,
    LegsUnbridged,
    LiveLeg,
    ProductSignal,
    RoutingRequest,
)
from controller.call_records import CODE_TAG, NUMBER_TAG, SEGMENTS_TAG
from controller.freeswitch.protocol import Event, JsonEvent, ProtocolError
from controller.live.segments import CAP_AT_TAG, CAP_TAG, CAP_TALK_TAG
from smartnumbers.phone import Caller, normalise_caller

log = logging.getLogger(__name__)

# The product's own channel variables start with this; they tie a leg to number, account,
# tariff and tariff version, and come back as a neutral leg's ``tags`` without the prefix.
PRODUCT_PREFIX = "smart_"
PRODUCT_SUBCLASS_PREFIX = "smart::"
# The dialplan sets this on each B-leg (a per-leg variable of the bridge): the destination as
# the plan wrote it, E.164 or a sip: URI. The switch's own ``destination_number`` is only a SIP
# destination's user part (``desk`` for both sip:desk@pbx1 and sip:desk@pbx2).
DESTINATION_VARIABLE = PRODUCT_PREFIX + "destination"

# Everything the controller listens to, and nothing more (never ``ALL``): a busy switch sends
# dozens of events a call, and FreeSWITCH drops a listener whose queue fills.
SUBSCRIBED_EVENTS: tuple[str, ...] = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
    "DTMF",
    "BACKGROUND_JOB",
    "HEARTBEAT",
)
SUBSCRIBED_SUBCLASSES: tuple[str, ...] = ("smart::code",)

HEARTBEAT = "HEARTBEAT"
BACKGROUND_JOB = "BACKGROUND_JOB"


def subscription(encoding: str = "plain") -> str:
    """The ``event`` command for the filtered subscription."""
    names = " ".join(SUBSCRIBED_EVENTS)
    subclasses = " ".join(SUBSCRIBED_SUBCLASSES)
    return f"event {encoding} {names} CUSTOM {subclasses}"


# -- the sane ranges of what a switch reports --------------------------------------------------
#
# A finished leg with a value outside them is refused whole (``RefusedLeg``, with the reason),
# so that nothing past this module meets a timestamp of 25 digits, a 500,000-character id, a
# NUL or a lone surrogate, and a bad record cannot stop the good ones of its batch at the
# database. The checks are a dozen regular expressions and comparisons a leg: about 2 µs on
# the 40 µs of ``leg_from_hangup``, about 1 % of what storing a leg in PostgreSQL costs.

# FreeSWITCH's leg ids are 36-character UUIDs; ``origination_uuid`` may set any such token.
LEG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
NODE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # as the settings allow a node's name
EARLIEST_US = 946_684_800_000_000  # 2000-01-01 UTC, in epoch microseconds
LATEST_US = 4_102_444_800_000_000  # 2100-01-01 UTC
MAX_LEG_MS = 7 * 86_400_000  # a leg longer than a week is not a call
_MAX_LEG = timedelta(milliseconds=MAX_LEG_MS)
MAX_Q850 = 127  # ITU-T Q.850 cause values
MAX_TEXT = 256  # a destination
MAX_TAG = 4096  # one product variable (tariff segments grow by about 8 characters a switch)
MAX_TAGS = 64
MAX_HUNT = 64  # attempts of one bridge (a plan has at most three a slot)
_DIGITS = re.compile(r"[0-9]{1,20}")
_UNSAFE = re.compile(r"[\x00\ud800-\udfff]")  # no database keeps a NUL in text, nor UTF-8 a lone surrogate


class RefusedLeg(ValueError):
    """A leg record the product refuses, with the reason: values out of any sane range."""


class NotACdr(RefusedLeg):
    """A body that is not one of mod_json_cdr's documents."""


def shown(value: object, limit: int = 40) -> str:
    """A bounded, printable excerpt of a refused value, for a reason people read."""
    text = value if isinstance(value, str) else repr(value)[:limit + 20]
    more = "…" if len(text) > limit else ""
    return repr(_UNSAFE.sub("\N{REPLACEMENT CHARACTER}", text[:limit]) + more)


def _text(name: str, value: str, limit: int) -> str:
    if len(value) > limit or _UNSAFE.search(value):
        raise RefusedLeg(f"{name}: {shown(value)} ({len(value)} characters) is not text of at most {limit}")
    return value


def _leg_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not LEG_ID.fullmatch(value):
        size = f" ({len(value)} characters)" if isinstance(value, str) else ""
        raise RefusedLeg(f"{name}: {shown(value)}{size} is not a leg id")
    return value


def _switch_name(value: object) -> str:
    if not isinstance(value, str) or not NODE_NAME.fullmatch(value):
        size = f" ({len(value)} characters)" if isinstance(value, str) else ""
        raise RefusedLeg(f"switch name: {shown(value)}{size} is not a node's name")
    return value


def _instant(var: Mapping[str, str], name: str) -> datetime | None:
    """An instant of a finished leg; absent or zero is None, anything outside 2000-2100 refused."""
    value = var.get(name)
    if not value or value == "0":
        return None
    micros = int(value) if _DIGITS.fullmatch(value) else -1
    if not EARLIEST_US <= micros < LATEST_US:
        raise RefusedLeg(f"{name}: {shown(value)} is not epoch microseconds between 2000 and 2100")
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


def _count(var: Mapping[str, str], name: str, upper: int) -> int | None:
    """A whole number of a finished leg from 0 to ``upper``; absent is None, anything else refused."""
    value = var.get(name)
    if not value:
        return None
    count = int(value) if _DIGITS.fullmatch(value) else -1
    if not 0 <= count <= upper:
        raise RefusedLeg(f"{name}: {shown(value)} is not a whole number from 0 to {upper}")
    return count


# -- small readers ---------------------------------------------------------------------------


def _utc_from_micros(value: str | None) -> datetime | None:
    """An instant in epoch microseconds, or None when absent, zero or outside the sane window
    (live events: the moment is then taken as now; finished legs use ``_instant``, which refuses)."""
    if not value or not _DIGITS.fullmatch(value) or not EARLIEST_US <= int(value) < LATEST_US:
        return None
    return datetime.fromtimestamp(int(value) / 1_000_000, UTC)


def _utc_from_seconds(value: str | None) -> datetime | None:
    if not value or not _DIGITS.fullmatch(value) or not EARLIEST_US <= int(value) * 1_000_000 < LATEST_US:
        return None
    return datetime.fromtimestamp(int(value), UTC)


def _int(value: str | None) -> int | None:
    """A count of a live event (a cause code, milliseconds), None when it is not one or is out
    of any leg's range."""
    if value is None:
        return None
    text = value.strip()
    if _DIGITS.fullmatch(text) and int(text) <= MAX_LEG_MS:
        return int(text)
    return None


def _direction(value: str | None) -> LegDirection:
    return LegDirection.OUTBOUND if value == "outbound" else LegDirection.INBOUND


_SIDE = {
    "recv_bye": HangupSide.REMOTE,
    "recv_refuse": HangupSide.REMOTE,
    "recv_cancel": HangupSide.REMOTE,
    "send_bye": HangupSide.SWITCH,
    "send_refuse": HangupSide.SWITCH,
    "send_cancel": HangupSide.SWITCH,
}


def _side(disposition: str | None) -> HangupSide:
    return _SIDE.get(disposition or "", HangupSide.UNKNOWN)


def _caller(number: str | None, hide_number: str | None, privacy_header: str | None = None) -> Caller:
    privacy = (hide_number or "").lower() == "true" or "id" in (privacy_header or "").lower().split(";")
    return normalise_caller(number, privacy=privacy)


def _tags(pairs: Iterable[tuple[str, str]], prefix: str) -> dict[str, str]:
    skip = len(prefix)
    return {key[skip:]: value for key, value in pairs if key.startswith(prefix)}


# -- events ----------------------------------------------------------------------------------


def event_name(event: Event) -> str | None:
    return event.get("Event-Name")


def job_id(event: Event) -> str | None:
    """The ``Job-UUID`` a BACKGROUND_JOB answers."""
    return event.get("Job-UUID")


def call_id_of(event: Event | Mapping[str, object]) -> str:
    """The A-leg's id for any leg's event: a B-leg names its originator in ``Other-Leg-*``
    (``Other-Type: originator``) and in ``Channel-Call-UUID``."""
    if event.get("Other-Type") == "originator":
        other = event.get("Other-Leg-Unique-ID")
        if other:
            return other
    return event.get("Channel-Call-UUID") or event.get("Unique-ID") or ""


def _event_caller(event: Event) -> Caller:
    number = event.get("Caller-Orig-Caller-ID-Number") or event.get("Caller-Caller-ID-Number")
    return _caller(number, event.get("Caller-Privacy-Hide-Number"), event.get("variable_sip_Privacy"))


def call_event(event: Event, node: str) -> CallEvent | None:
    """The neutral call event for a FreeSWITCH event, or None for events the core ignores and
    for one it cannot read (logged: one bad event must not stop a node's stream)."""
    name = None
    try:
        name = event.get("Event-Name")
        handler = _EVENT_HANDLERS.get(name or "")
        if handler is None:
            return None
        leg_id = event.get("Unique-ID")
        if not leg_id:
            return None
        at = _utc_from_micros(event.get("Event-Date-Timestamp")) or datetime.now(UTC)
        return handler(event, node, leg_id, call_id_of(event), at)
    except (ProtocolError, ValueError, RecursionError) as exc:  # RecursionError: json's nesting
        log.error("node %s: %s event not read: %s", node, name, str(exc)[:200])
        return None


def _created(event: Event, node: str, leg: str, call: str, at: datetime) -> CallEvent:
    return LegCreated(
        node,
        leg,
        call,
        at,
        direction=_direction(event.get("Call-Direction")),
        caller=_event_caller(event),
        destination=event.get("variable_" + DESTINATION_VARIABLE) or event.get("Caller-Destination-Number") or "",
        tags=_channel_tags(event),
    )


def _answered(event: Event, node: str, leg: str, call: str, at: datetime) -> CallEvent:
    return LegAnswered(
        node,
        leg,
        call,
        at,
        direction=_direction(event.get("Call-Direction")),
        tags=_channel_tags(event),
    )


def _channel_tags(event: Event) -> dict[str, str]:
    """The product's own channel variables an event carries."""
    return _tags(event.starting_with("variable_" + PRODUCT_PREFIX), "variable_" + PRODUCT_PREFIX)


def _bridge_legs(event: Event, leg: str) -> tuple[str, str]:
    """The A-leg and the B-leg a (un)bridge joins or parts."""
    return (event.get("Bridge-A-Unique-ID") or leg,
            event.get("Bridge-B-Unique-ID") or event.get("Other-Leg-Unique-ID") or "")


def _bridged(event: Event, node: str, leg: str, call: str, at: datetime) -> CallEvent:
    a_leg, b_leg = _bridge_legs(event, leg)
    return LegsBridged(node, a_leg, a_leg, at, other_leg_id=b_leg)


def _unbridged(event: Event, node: str, leg: str, call: str, at: datetime) -> CallEvent:
    a_leg, b_leg = _bridge_legs(event, leg)
    return LegsUnbridged(node, a_leg, a_leg, at, other_leg_id=b_leg)


def _hung_up(event: Event, node: str, leg: str, call: str, at: datetime) -> CallEvent:
    return LegHungUp(
        node,
        leg,
        call,
        at,
        direction=_direction(event.get("Call-Direction")),
        cause=event.get("Hangup-Cause") or event.get("variable_hangup_cause") or "",
        q850=_int(event.get("variable_hangup_cause_q850")),
        side=_side(event.get("variable_sip_hangup_disposition")),
        answered_at=_utc_from_micros(event.get("variable_answer_uepoch")),
        duration_ms=_int(event.get("variable_mduration")) or 0,
        billed_ms=_int(event.get("variable_billmsec")) or 0,
        tags=_channel_tags(event),
    )


def _digit(event: Event, node: str, leg: str, call: str, at: datetime) -> CallEvent:
    return DigitPressed(
        node,
        leg,
        call,
        at,
        digit=event.get("DTMF-Digit") or "",
        via="media" if event.get("DTMF-Source") == "RTP" else "signalling",
    )


def _custom(event: Event, node: str, leg: str, call: str, at: datetime) -> CallEvent | None:
    subclass = event.get("Event-Subclass") or ""
    if not subclass.startswith(PRODUCT_SUBCLASS_PREFIX):
        return None
    pairs = event.items()
    tags = _tags(pairs, PRODUCT_PREFIX)
    tags.update(_tags(pairs, "variable_" + PRODUCT_PREFIX))
    digits = event.get("variable_last_matching_digits")
    if digits:
        tags["digits"] = digits
    return ProductSignal(node, leg, call, at, kind=subclass[len(PRODUCT_SUBCLASS_PREFIX) :], tags=tags)


_EVENT_HANDLERS = {
    "CHANNEL_CREATE": _created,
    "CHANNEL_ANSWER": _answered,
    "CHANNEL_BRIDGE": _bridged,
    "CHANNEL_UNBRIDGE": _unbridged,
    "CHANNEL_HANGUP_COMPLETE": _hung_up,
    "DTMF": _digit,
    "CUSTOM": _custom,
}


def job_finished(event: Event, node: str) -> JobFinished | None:
    if event.get("Event-Name") != BACKGROUND_JOB:
        return None
    result = event.body or ""
    return JobFinished(node, event.get("Job-UUID") or "", result.startswith("+OK"), result.strip())


# -- finished legs: the CHANNEL_HANGUP_COMPLETE event and the json CDR (mod_json_cdr) --------
#
# Both are read into the one neutral ``LegRecord`` the capture service stores, so that a leg
# arriving by either path is the same leg. The event spells channel variables
# ``variable_<name>`` (a multi-value one is a JSON array in event-json), the CDR keeps them
# under ``variables`` (``ARRAY::a|:b``); ``_leg_record`` maps the variables for both.

HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
_VARIABLE = "variable_"
# The variables ``_leg_record`` reads, and the product's own (found in the raw bytes, so that
# the few hundred others of a hangup event are never looked at: the hangup path runs once a leg).
_LEG_RECORD_VARIABLES = (
    "uuid", "originator", "call_uuid", "direction", "sip_from_user", "destination_number", "hostname",
    "start_uepoch", "answer_uepoch", "end_uepoch", "mduration", "billmsec", "hangup_cause",
    "hangup_cause_q850", "sip_hangup_disposition", "originate_causes", "privacy_hide_number", "sip_Privacy",
)
_PRODUCT_KEY = b'"' + _VARIABLE.encode() + PRODUCT_PREFIX.encode()


def _product_variables(raw: bytes) -> list[str]:
    """The names of the product's own variables in an event-json's bytes (``bytes.find`` is
    several times faster than a regular expression over a 10 kB event)."""
    names = []
    at = raw.find(_PRODUCT_KEY)
    while at >= 0:
        start = at + 1 + len(_VARIABLE)
        stop = raw.find(b'"', start)
        names.append(raw[start:stop].decode("utf-8", "replace"))
        at = raw.find(_PRODUCT_KEY, stop)
    return names


def is_hangup_complete(event: Event) -> bool:
    try:
        return event.get("Event-Name") == HANGUP_COMPLETE
    except (ProtocolError, ValueError, RecursionError):  # an event no one can read is no hangup
        return False


_NAMED_LEG = re.compile(rb'"(?:uuid|Unique-ID)"\s*:\s*"([A-Za-z0-9][A-Za-z0-9_.-]{0,63})"'  # a CDR, event-json
                        rb"|^Unique-ID: ([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\r?$", re.MULTILINE)  # event-plain


def named_leg(raw: bytes) -> str | None:
    """The leg id a refused record names, if it names a readable one (for the record of the refusal)."""
    match = _NAMED_LEG.search(raw)
    return (match[1] or match[2]).decode() if match else None


def raw_event(event: Event) -> bytes:
    """The event's bytes as they came off the socket (what capture stores before deriving)."""
    raw = getattr(event, "raw", None)
    if isinstance(raw, bytes):
        return raw
    return json.dumps(event.as_dict()).encode()


def leg_from_hangup(event: Event, node: str) -> LegRecord:
    """The neutral record of the leg a CHANNEL_HANGUP_COMPLETE closes; ``RefusedLeg`` with the
    reason when it holds values out of range."""
    headers: Event | Mapping[str, object] = event
    variables: dict[str, object] = {}
    if isinstance(event, JsonEvent):  # one JSON decode (orjson, a third of json's time); arrays stay arrays
        try:  # orjson refuses nesting deeper than 1024 and lone surrogates
            headers = orjson.loads(event.raw)
        except orjson.JSONDecodeError as exc:
            raise RefusedLeg(f"event-json: not JSON ({exc})") from None
        if not isinstance(headers, dict):
            raise RefusedLeg("event-json: not a JSON object")
        names = _LEG_RECORD_VARIABLES + tuple(_product_variables(event.raw))
        variables = {name: headers[_VARIABLE + name] for name in names if _VARIABLE + name in headers}
    else:
        try:
            pairs = event.items()
        except (ProtocolError, RecursionError) as exc:  # RecursionError: an XML event nested too deep
            raise RefusedLeg(f"event not readable: {str(exc)[:200]}") from None
        for key, value in pairs:
            if key.startswith(_VARIABLE):
                variables.setdefault(key[len(_VARIABLE) :], value)
    variables["uuid"] = headers.get("Unique-ID") or variables.get("uuid") or ""
    switch = headers.get("FreeSWITCH-Switchname")
    if switch is not None:
        _switch_name(switch)
    profile = {
        "orig_caller_id_number": headers.get("Caller-Orig-Caller-ID-Number"),
        "caller_id_number": headers.get("Caller-Caller-ID-Number"),
        "destination_number": headers.get("Caller-Destination-Number"),
    }
    return _leg_record(variables, {k: v for k, v in profile.items() if isinstance(v, str) and v}, node,
                       call_id_of(headers))


def cdr_document(body: bytes, content_type: str | None) -> tuple[Mapping[str, object], bytes]:
    """The CDR document of a mod_json_cdr post or file, and its JSON bytes as FreeSWITCH wrote
    them: plain JSON, or a form with ``cdr=`` (``encode=true``; FACTS 6)."""
    text = body
    if (content_type or "").startswith("application/x-www-form-urlencoded"):
        fields = parse_qs(body.decode("utf-8", "replace"))
        if "cdr" not in fields:
            raise NotACdr("form without a cdr field")
        text = fields["cdr"][0].encode()
    try:  # orjson refuses nesting deeper than 1024 and lone surrogates
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise NotACdr(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("variables"), dict):
        raise NotACdr("a JSON document without variables")
    return document, text


def leg_from_cdr(cdr: Mapping[str, object], node: str | None = None, nodes: Collection[str] = ()) -> LegRecord:
    """The neutral record of one mod_json_cdr document, as posted or as a file; ``RefusedLeg``
    with the reason when it holds values out of range. The node is the switch's name
    (``switchname``) unless given, and then one of ``nodes`` when there are any."""
    variables = cdr.get("variables")
    if not isinstance(variables, Mapping):
        raise NotACdr("json CDR without variables")
    switch = cdr.get("switchname")
    if switch is not None:
        _switch_name(switch)
    if node is None and nodes and switch not in nodes:
        raise RefusedLeg(f"switch {shown(switch)} is not one of the configured nodes "
                         f"({', '.join(sorted(nodes))})")
    return _leg_record(variables, _first_profile(cdr.get("callflow")), node or str(switch or ""))


def _array(value: str | None) -> list[str]:
    """``ARRAY::a|:b`` (how the CDR spells a multi-value variable) or a single value."""
    if not value:
        return []
    if value.startswith("ARRAY::"):
        return value[len("ARRAY::") :].split("|:")
    return [value]


def hunt_attempts(value: str | None) -> tuple[HuntAttempt, ...]:
    """``originate_causes``: ``<leg uuid>;<cause>`` per destination tried, in order."""
    items = _array(value)
    if len(items) > MAX_HUNT:
        raise RefusedLeg(f"originate_causes: {len(items)} attempts, more than {MAX_HUNT}")
    attempts = []
    for item in items:
        leg, _, cause = item.partition(";")
        if leg:
            attempts.append(HuntAttempt(_leg_id("originate_causes", leg), _text("originate_causes", cause, 64)))
    return tuple(attempts)


def _variable_text(name: str, value: object) -> str:
    """A channel variable as text: an event-json array or a CDR's ``ARRAY::`` string spells a
    multi-value one; anything else (a number, an object) is no variable FreeSWITCH writes."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "ARRAY::" + "|:".join(value)
    raise RefusedLeg(f"variable {shown(name)}: {shown(value)} is not text")


# The product's variables a call record, its rating or live control is read from
# (controller/call_records.py, controller/live/segments.py): one of these out of bounds refuses
# the leg, since the call would be rated wrongly without it. Any other of the product's name
# space out of bounds (a 1 MiB ``smart_big_*`` a test set, FACTS 4c) is left out of the record
# and logged: the call is still recorded, and its raw event keeps the value.
_READ_TAGS = frozenset({NUMBER_TAG, CODE_TAG, SEGMENTS_TAG, CAP_TAG, CAP_AT_TAG, CAP_TALK_TAG,
                        DESTINATION_VARIABLE.removeprefix(PRODUCT_PREFIX), "account", "tariff_version",
                        "age_check", "outcome", "price_announced", "slot", "slot_name"})


def _product_tags(var: Mapping[str, str]) -> dict[str, str]:
    tags = _tags(var.items(), PRODUCT_PREFIX)
    if not tags:  # a leg the product did not route
        return tags
    if len(tags) > MAX_TAGS:
        raise RefusedLeg(f"{len(tags)} {PRODUCT_PREFIX}* variables, more than {MAX_TAGS}")
    # One scan of them all (a third of checking each); the slow loop only names the culprit.
    if (max(map(len, tags)) > 64 or max(map(len, tags.values())) > MAX_TAG
            or _UNSAFE.search("".join(tags) + "".join(tags.values()))):
        for name, value in list(tags.items()):
            _text("variable name", name, 64)
            try:
                _text(PRODUCT_PREFIX + name, value, MAX_TAG)
            except RefusedLeg as refused:
                if name in _READ_TAGS:
                    raise
                log.warning("leg %s: %s left out of its record: %s", var.get("uuid", "?")[:64], shown(name), refused)
                del tags[name]
    return tags


def _leg_record(variables: Mapping[str, object], profile: Mapping[str, str], node: str,
                call_id: str | None = None) -> LegRecord:
    """A leg record from a leg's channel variables (an event-json array or a CDR's
    ``ARRAY::`` string for a multi-value one) and the caller profile it started with; every
    value kept is checked against the sane ranges above."""
    var = {k: v if type(v) is str else _variable_text(k, v) for k, v in variables.items()}
    leg_id = _leg_id("uuid", var.get("uuid", ""))
    # A B-leg names its A-leg in ``originator``; the answering B-leg's ``call_uuid`` is its
    # own uuid in the CDR (FACTS 2, 7201), so ``originator`` is read first.
    call_id = _leg_id("call id", call_id or var.get("originator") or var.get("call_uuid") or leg_id)
    number = profile.get("orig_caller_id_number") or profile.get("caller_id_number") or var.get("sip_from_user")
    started = _instant(var, "start_uepoch") or datetime.fromtimestamp(0, UTC)
    answered = _instant(var, "answer_uepoch")
    ended = _instant(var, "end_uepoch")
    for name, instant in (("answer_uepoch", answered), ("end_uepoch", ended)):
        if instant is not None and not timedelta(0) <= instant - started <= _MAX_LEG:
            raise RefusedLeg(f"{name}: {shown(var.get(name))} is not within a week after start_uepoch")
    # A B-leg whose originate failed before it ran ends at 0 with a negative ``mduration`` (the
    # switch subtracts its start from 0; FACTS 2, 7213): it lasted nothing.
    duration_ms = _count(var, "mduration", MAX_LEG_MS) if ended is not None else 0
    ended = ended or started
    return LegRecord(
        node=_switch_name(node or var.get("hostname", "")),
        leg_id=leg_id,
        call_id=call_id,
        direction=_direction(var.get("direction")),
        caller=_caller(number, var.get("privacy_hide_number"), var.get("sip_Privacy")),
        destination=_text("destination", var.get(DESTINATION_VARIABLE) or profile.get("destination_number")
                          or var.get("destination_number") or "", MAX_TEXT),
        started_at=started,
        answered_at=answered,
        ended_at=ended,
        duration_ms=duration_ms if duration_ms is not None else int((ended - started).total_seconds() * 1000),
        billed_ms=_count(var, "billmsec", MAX_LEG_MS) or 0,
        cause=_text("hangup_cause", var.get("hangup_cause", ""), 64),
        q850=_count(var, "hangup_cause_q850", MAX_Q850),
        side=_side(var.get("sip_hangup_disposition")),
        hunt=hunt_attempts(var.get("originate_causes")),
        tags=_product_tags(var),
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _first_profile(callflow: object) -> dict[str, str]:
    """The caller profile the leg started with (lowest ``profile_index``); its text values only."""
    if not isinstance(callflow, list) or not callflow:
        return {}
    entries = [c for c in callflow if isinstance(c, Mapping)]
    if not entries:
        return {}
    first = min(entries, key=lambda c: _int(_str_or_none(c.get("profile_index"))) or 0)
    profile = first.get("caller_profile")
    return {str(k): v for k, v in profile.items() if isinstance(v, str)} if isinstance(profile, Mapping) else {}


# -- mod_xml_curl ----------------------------------------------------------------------------


def routing_request(form: Mapping[str, str], node: str | None = None) -> RoutingRequest:
    """A routing request from mod_xml_curl's form POST (about 100 fields; the few that route)."""
    leg_id = form.get("Unique-ID") or form.get("Caller-Unique-ID") or ""
    return RoutingRequest(
        node=node or form.get("FreeSWITCH-Switchname") or form.get("hostname") or "",
        section=form.get("section", ""),
        leg_id=leg_id,
        call_id=form.get("Channel-Call-UUID") or leg_id,
        caller=_caller(
            form.get("Caller-Orig-Caller-ID-Number") or form.get("Caller-Caller-ID-Number"),
            form.get("Caller-Privacy-Hide-Number"),
            form.get("variable_sip_Privacy"),
        ),
        destination=form.get("Caller-Destination-Number") or form.get("Hunt-Destination-Number") or "",
        context=form.get("Caller-Context") or form.get("Hunt-Context") or "",
        source_address=form.get("Caller-Network-Addr") or form.get("variable_sip_network_ip") or None,
        tags=_tags(form.items(), "variable_" + PRODUCT_PREFIX),
    )


# -- resynchronisation after a reconnect (FACTS 7) --------------------------------------------


# The columns of ``show channels``/``show detailed_calls`` the resync reads; a listing of
# 20,000 legs has about 40 columns a row, and keeping them all would cost ~100 MB.
RESYNC_COLUMNS = frozenset(
    {"uuid", "direction", "created_epoch", "cid_num", "initial_cid_num", "dest", "initial_dest", "callstate", "call_uuid", "b_uuid"}
)


def _slim_row(row: dict) -> dict:
    if "uuid" not in row and "row_count" in row:
        return row  # the outer object
    return {k: str(v) for k, v in row.items() if k in RESYNC_COLUMNS}


def rows(show_json: str | bytes, columns: frozenset[str] | None = RESYNC_COLUMNS) -> list[dict[str, str]]:
    """The rows of a ``show ... as json`` reply (``{"row_count": 0}`` when empty), keeping
    only ``columns`` (all of them with None)."""
    text = show_json.strip()
    if not text.startswith(b"{" if isinstance(text, bytes) else "{"):
        raise ValueError(f"not a show ... as json reply: {text[:80]!r}")
    data = json.loads(text, object_hook=_slim_row if columns is RESYNC_COLUMNS else None)
    if columns is not None and columns is not RESYNC_COLUMNS:
        data["rows"] = [{k: v for k, v in row.items() if k in columns} for row in data.get("rows") or []]
    found = data.get("rows") or []
    return [{str(k): str(v) for k, v in row.items()} for row in found if isinstance(row, dict)]


def partners(detailed_calls_json: str | bytes) -> dict[str, str]:
    """Each bridged leg's partner, from ``show detailed_calls as json`` (``uuid``/``b_uuid``)."""
    partner: dict[str, str] = {}
    for row in rows(detailed_calls_json):
        a, b = row.get("uuid", ""), row.get("b_uuid", "")
        if a and b:
            partner[a] = b
            partner[b] = a
    return partner


def live_leg(row: Mapping[str, str], partner: Mapping[str, str], dump_text: str | bytes | None, node: str) -> LiveLeg | None:
    """One leg from its ``show channels`` row and its ``uuid_dump <uuid> json`` (the only
    source of the product's channel variables); None if the row names no leg."""
    leg_id = row.get("uuid", "")
    if not leg_id:
        return None
    raw = dump_text.encode() if isinstance(dump_text, str) else dump_text
    dump = JsonEvent(raw) if raw and raw.lstrip().startswith(b"{") else None
    hide = dump.get("Caller-Privacy-Hide-Number") if dump else None
    number = (dump.get("Caller-Orig-Caller-ID-Number") if dump else None) or row.get("initial_cid_num") or row.get("cid_num")
    # No channel variable holds the answer time while the call lasts (``answer_uepoch`` is
    # set at hangup); the dump's caller profile does, in microseconds.
    answered_at = _utc_from_micros(dump.get("Caller-Channel-Answered-Time")) if dump else None
    return LiveLeg(
        node=node,
        leg_id=leg_id,
        call_id=row.get("call_uuid") or leg_id,
        direction=_direction(row.get("direction")),
        caller=_caller(number, hide),
        destination=(dump.get("variable_" + DESTINATION_VARIABLE) if dump else None) or row.get("initial_dest")
        or row.get("dest") or "",
        created_at=_utc_from_seconds(row.get("created_epoch")) or datetime.fromtimestamp(0, UTC),
        answered=answered_at is not None or row.get("callstate") in ("ACTIVE", "HELD"),
        other_leg_id=partner.get(leg_id),
        answered_at=answered_at,
        tags=_tags(dump.items(), "variable_" + PRODUCT_PREFIX) if dump else {},
    )


def live_legs(
    channels_json: str | bytes,
    detailed_calls_json: str | bytes,
    dumps: Mapping[str, str],
    node: str,
) -> list[LiveLeg]:
    """The legs alive on a node, from ``show channels as json`` (one row a leg, ``call_uuid``
    groups them), ``show detailed_calls as json`` (one row a bridged pair, ``b_uuid``) and
    ``uuid_dump <uuid> json`` per leg (FACTS 7)."""
    partner = partners(detailed_calls_json)
    found = (live_leg(row, partner, dumps.get(row.get("uuid", "")), node) for row in rows(channels_json))
    return [leg for leg in found if leg is not None]


def show_channels_command() -> str:
    return "show channels as json"


def show_calls_command() -> str:
    return "show detailed_calls as json"


def dump_command(leg_id: str) -> str:
    return f"uuid_dump {leg_id} json"


_SESSIONS = re.compile(r"^(\d+) session\(s\) - peak", re.MULTILINE)


def sessions_in_status(status: str) -> int | None:
    """The current session count in ``api status`` (``2 session(s) - peak 2, ...``)."""
    match = _SESSIONS.search(status)
    return int(match.group(1)) if match else None


def api_failed(reply: str | bytes) -> bool:
    """FreeSWITCH answers a failed api command with ``-ERR ...`` (or ``-USAGE``)."""
    if isinstance(reply, bytes):
        return reply.startswith((b"-ERR", b"-USAGE"))
    return reply.startswith(("-ERR", "-USAGE"))
