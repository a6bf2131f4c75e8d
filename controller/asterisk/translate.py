"""Asterisk's REST Interface (ARI) vocabulary turned into the neutral calls of ``controller.calls``.

This is the one module that reads ARI's names: event types and fields, channel and bridge
snapshots, resource paths. It mirrors ``controller/freeswitch/translate.py``: a dispatch table
of the events the core uses, frozen neutral values out, nothing of ARI past it.

What Asterisk 22 says, and how it is read (``shared/asterisk``, samples README):

- A caller's channel enters the application through the dialplan's ``Stasis()``: StasisStart
  in state ``Ring`` (before any answer) is that leg's creation. A channel the application
  originates is announced by its first ``Dial`` (``dialstatus`` empty) and reaches StasisStart
  only once answered, in state ``Up``: that StasisStart creates nothing.
- A leg ends with ChannelDestroyed, whose ``cause`` is the Q.850 code; ChannelHangupRequest's is
  a soft-hangup flag when ``soft`` is set and is not read. Asterisk sends ChannelDestroyed for
  a dialplan-entered channel only when the application subscribed to it, which the Stasis
  application does at StasisStart; StasisEnd alone (``continue``, or a channel not subscribed
  to) ends nothing.
- A Local channel dialled out is destroyed with cause 0 whether the far end was busy, congested
  or silent: ``Dial``'s final ``dialstatus`` is the truth, and becomes ``DialEnded``.
- Which leg belongs to which call, and the product's own values, ride in channel variables the
  application sets and ``ari.conf``'s ``channelvars`` puts in every snapshot: ``smart_call`` (the
  caller's leg id, on every leg the application dials for it), ``smart_destination``, the
  number, account and tariff (``smart_*``, as on FreeSWITCH).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import orjson

from controller.calls import (
    CallEvent,
    DialEnded,
    DigitPressed,
    HangupSide,
    LegAnswered,
    LegCreated,
    LegDirection,
    LegHungUp,
    LegsBridged,
    LegsUnbridged,
    LiveLeg,
)
from smartnumbers.phone import Caller, normalise_caller

log = logging.getLogger(__name__)

# -- the names ARI uses, in one block --------------------------------------------------------

STASIS_START = "StasisStart"
DIAL = "Dial"
CHANNEL_STATE_CHANGE = "ChannelStateChange"
CHANNEL_ENTERED_BRIDGE = "ChannelEnteredBridge"
CHANNEL_LEFT_BRIDGE = "ChannelLeftBridge"
CHANNEL_DESTROYED = "ChannelDestroyed"
CHANNEL_DTMF_RECEIVED = "ChannelDtmfReceived"
APPLICATION_REPLACED = "ApplicationReplaced"

STATE_UP = "Up"
# An ``Announcer/ARI-…`` pseudo-channel joins a bridge while the bridge plays a sound.
ANNOUNCER_PREFIX = "Announcer/"

# The product's own channel variables (``channelvars`` in ari.conf) start with this and come
# back as a neutral leg's ``tags`` without the prefix, as on FreeSWITCH.
PRODUCT_PREFIX = "smart_"
CALL_VARIABLE = PRODUCT_PREFIX + "call"
DESTINATION_VARIABLE = PRODUCT_PREFIX + "destination"

# The REST resources the client reads (below ``/ari``).
EVENTS_PATH = "/events"
CHANNELS_PATH = "/channels"
BRIDGES_PATH = "/bridges"
PING_PATH = "/asterisk/ping"

# How a dial ended (``Dial.dialstatus``) as the neutral cause a hunt reads (the Q.850 names
# below); ``ANSWER`` and the progress states end nothing.
_DIAL_ENDS = {
    "BUSY": "USER_BUSY",
    "NOANSWER": "NO_ANSWER",
    "CONGESTION": "NORMAL_CIRCUIT_CONGESTION",
    "CHANUNAVAIL": "DESTINATION_OUT_OF_ORDER",
    "CANCEL": "ORIGINATOR_CANCEL",
}

# ITU-T Q.850 causes by their standard names (the names ``LegHungUp.cause`` carries for every
# switch); a code not listed keeps its number as its name.
Q850_NAMES = {
    1: "UNALLOCATED_NUMBER",
    2: "NO_ROUTE_TRANSIT_NET",
    3: "NO_ROUTE_DESTINATION",
    16: "NORMAL_CLEARING",
    17: "USER_BUSY",
    18: "NO_USER_RESPONSE",
    19: "NO_ANSWER",
    20: "SUBSCRIBER_ABSENT",
    21: "CALL_REJECTED",
    22: "NUMBER_CHANGED",
    27: "DESTINATION_OUT_OF_ORDER",
    28: "INVALID_NUMBER_FORMAT",
    29: "FACILITY_REJECTED",
    31: "NORMAL_UNSPECIFIED",
    34: "NORMAL_CIRCUIT_CONGESTION",
    38: "NETWORK_OUT_OF_ORDER",
    41: "NORMAL_TEMPORARY_FAILURE",
    42: "SWITCH_CONGESTION",
    58: "BEARERCAPABILITY_NOTAVAIL",
    88: "INCOMPATIBLE_DESTINATION",
    102: "RECOVERY_ON_TIMER_EXPIRE",
    127: "INTERWORKING",
}
MAX_Q850 = 127


def q850_name(code: object) -> tuple[str, int | None]:
    """The cause's name and code; Asterisk's 0 ("Unknown", a Local channel's end) is no cause."""
    if type(code) is not int or not 0 < code <= MAX_Q850:
        return "", None
    return Q850_NAMES.get(code, str(code)), code


# -- small readers ---------------------------------------------------------------------------


def parse(text: str | bytes) -> dict:
    """One WebSocket frame as the event object; ``ValueError`` when it is none."""
    event = orjson.loads(text)
    if type(event) is not dict or type(event.get("type")) is not str:
        raise ValueError("not an ARI event object")
    return event


def instant(value: object) -> datetime | None:
    """An ARI timestamp (``2026-11-27T10:42:15.681+0000``) in UTC, or None when unreadable."""
    if type(value) is not str:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo is not None else None


def _text(value: object) -> str:
    return value if type(value) is str else ""


def _variables(channel: Mapping) -> Mapping[str, object]:
    found = channel.get("channelvars")
    return found if isinstance(found, Mapping) else {}


def _tags(channel: Mapping) -> dict[str, str]:
    skip = len(PRODUCT_PREFIX)
    return {key[skip:]: value for key, value in _variables(channel).items()
            if key.startswith(PRODUCT_PREFIX) and type(value) is str and value and key != CALL_VARIABLE}


def _call_id(channel: Mapping, leg: str) -> str:
    return _text(_variables(channel).get(CALL_VARIABLE)) or leg


def _caller(channel: Mapping) -> Caller:
    caller = channel.get("caller")
    return normalise_caller(_text(caller.get("number")) if isinstance(caller, Mapping) else None)


def _destination(channel: Mapping, fallback: str = "") -> str:
    dialplan = channel.get("dialplan")
    exten = _text(dialplan.get("exten")) if isinstance(dialplan, Mapping) else ""
    return _text(_variables(channel).get(DESTINATION_VARIABLE)) or fallback or exten


def _members(bridge: Mapping, channels: Mapping[str, Mapping] | None = None) -> list[str]:
    """A bridge's channels but the announcer a bridge playback adds."""
    found = bridge.get("channels")
    members = [c for c in found if type(c) is str] if isinstance(found, list) else []
    if channels is not None:
        members = [c for c in members if not _text(channels.get(c, {}).get("name")).startswith(ANNOUNCER_PREFIX)]
    return members


# -- events ----------------------------------------------------------------------------------

_Handler = Callable[[Mapping, str, datetime], "CallEvent | None"]


def call_event(event: Mapping, node: str) -> CallEvent | None:
    """The neutral call event for an ARI event, or None for events the core ignores and for one
    it cannot read (logged: one bad event must not stop a node's stream)."""
    kind = event.get("type")
    handler = _EVENT_HANDLERS.get(kind) if type(kind) is str else None
    if handler is None:
        return None
    try:
        at = instant(event.get("timestamp")) or datetime.now(UTC)
        return handler(event, node, at)
    except (AttributeError, TypeError, ValueError) as exc:
        log.error("node %s: %s event not read: %s", node, kind, str(exc)[:200])
        return None


def _channel(event: Mapping, key: str = "channel") -> tuple[Mapping, str]:
    channel = event.get(key)
    if not isinstance(channel, Mapping) or not _text(channel.get("id")):
        raise ValueError(f"no {key} snapshot")
    return channel, channel["id"]


def _stasis_start(event: Mapping, node: str, at: datetime) -> CallEvent | None:
    channel, leg = _channel(event)
    if channel.get("state") == STATE_UP:
        return None  # a leg the application dialled, created at its Dial and answered already
    return LegCreated(node, leg, _call_id(channel, leg), at, direction=LegDirection.INBOUND,
                      caller=_caller(channel), destination=_destination(channel), tags=_tags(channel))


def _dial(event: Mapping, node: str, at: datetime) -> CallEvent | None:
    channel, leg = _channel(event, "peer")
    status = event.get("dialstatus")
    if status == "":
        return LegCreated(node, leg, _call_id(channel, leg), at, direction=LegDirection.OUTBOUND,
                          caller=_caller(channel), destination=_destination(channel, _text(event.get("dialstring"))),
                          tags=_tags(channel))
    cause = _DIAL_ENDS.get(status) if type(status) is str else None
    if cause is None:
        return None
    return DialEnded(node, leg, _call_id(channel, leg), at, cause=cause)


def _state_change(event: Mapping, node: str, at: datetime) -> CallEvent | None:
    channel, leg = _channel(event)
    if channel.get("state") != STATE_UP:
        return None
    call = _call_id(channel, leg)
    direction = LegDirection.INBOUND if call == leg else LegDirection.OUTBOUND
    return LegAnswered(node, leg, call, at, direction=direction, tags=_tags(channel))


def _bridge_pair(event: Mapping) -> tuple[str, str] | None:
    """The caller's leg and the other leg a bridge event joins or parts, or None while the
    bridge holds one leg: the leg whose ``smart_call`` names the other is the called one."""
    channel, leg = _channel(event)
    bridge = event.get("bridge")
    if not isinstance(bridge, Mapping) or _text(channel.get("name")).startswith(ANNOUNCER_PREFIX):
        return None
    others = [c for c in _members(bridge) if c != leg]
    if not others:
        return None
    call = _call_id(channel, leg)
    if call != leg and call in others:
        return call, leg
    return leg, others[0]


def _entered_bridge(event: Mapping, node: str, at: datetime) -> CallEvent | None:
    pair = _bridge_pair(event)
    return LegsBridged(node, pair[0], pair[0], at, other_leg_id=pair[1]) if pair else None


def _left_bridge(event: Mapping, node: str, at: datetime) -> CallEvent | None:
    pair = _bridge_pair(event)
    return LegsUnbridged(node, pair[0], pair[0], at, other_leg_id=pair[1]) if pair else None


def _destroyed(event: Mapping, node: str, at: datetime) -> CallEvent:
    channel, leg = _channel(event)
    call = _call_id(channel, leg)
    cause, q850 = q850_name(event.get("cause"))
    created = instant(channel.get("creationtime"))
    duration_ms = max(0, int((at - created).total_seconds() * 1000)) if created else 0
    # ARI says neither who hung up nor when the leg was answered: the core has the answer
    # from LegAnswered, and the call record its times from the captured events.
    return LegHungUp(node, leg, call, at, direction=LegDirection.INBOUND if call == leg else LegDirection.OUTBOUND,
                     cause=cause, q850=q850, side=HangupSide.UNKNOWN, answered_at=None,
                     duration_ms=duration_ms, billed_ms=0, tags=_tags(channel))


def _digit(event: Mapping, node: str, at: datetime) -> CallEvent | None:
    channel, leg = _channel(event)
    digit = _text(event.get("digit"))
    if len(digit) != 1:
        return None
    # ARI does not say whether the digit came in the media (RFC 4733) or in SIP INFO.
    return DigitPressed(node, leg, _call_id(channel, leg), at, digit=digit, via="unknown")


_EVENT_HANDLERS: dict[str, _Handler] = {
    STASIS_START: _stasis_start,
    DIAL: _dial,
    CHANNEL_STATE_CHANGE: _state_change,
    CHANNEL_ENTERED_BRIDGE: _entered_bridge,
    CHANNEL_LEFT_BRIDGE: _left_bridge,
    CHANNEL_DESTROYED: _destroyed,
    CHANNEL_DTMF_RECEIVED: _digit,
}


def is_application_replaced(event: Mapping) -> bool:
    """Another client opened the events WebSocket of this application: this one hears no more."""
    return event.get("type") == APPLICATION_REPLACED


# -- the link --------------------------------------------------------------------------------


def events_query(application: str) -> dict[str, str]:
    """The events WebSocket's query: this application's events only (never ``subscribeAll``,
    which adds every channel and device of the switch)."""
    return {"app": application, "subscribeAll": "false"}


def parse_body(data: bytes) -> object:
    """A REST answer's body: its JSON, None when empty, the text when it is no JSON."""
    if not data:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")


def error_text(status: int, body: object) -> str:
    """ARI's error body: ``{"message": ...}``, or ``{"error": ...}`` for a failed originate."""
    if isinstance(body, Mapping):
        for key in ("message", "error"):
            if type(body.get(key)) is str:
                return body[key]
    return f"HTTP {status}"


# -- resynchronisation after a reconnect -----------------------------------------------------


def live_legs(channels: object, bridges: object, node: str) -> list[LiveLeg]:
    """The legs alive on a node from ``GET /channels`` and ``GET /bridges`` (who talks to whom).

    Asterisk replays nothing after a reconnect (pjsip E): what happened meanwhile is read here.
    A leg is answered when its state is ``Up``; ARI keeps no answer time, so ``answered_at`` is
    unknown and the core counts from what it saw."""
    rows = [c for c in channels if isinstance(c, Mapping) and _text(c.get("id"))] if isinstance(channels, list) else []
    by_id = {c["id"]: c for c in rows}
    partner: dict[str, str] = {}
    for bridge in bridges if isinstance(bridges, list) else []:
        if not isinstance(bridge, Mapping):
            continue
        members = _members(bridge, by_id)
        if len(members) == 2:
            partner[members[0]], partner[members[1]] = members[1], members[0]
    legs = []
    for channel in rows:
        if _text(channel.get("name")).startswith(ANNOUNCER_PREFIX):
            continue
        leg = channel["id"]
        call = _call_id(channel, leg)
        legs.append(LiveLeg(
            node=node,
            leg_id=leg,
            call_id=call,
            direction=LegDirection.INBOUND if call == leg else LegDirection.OUTBOUND,
            caller=_caller(channel),
            destination=_destination(channel),
            created_at=instant(channel.get("creationtime")) or datetime.fromtimestamp(0, UTC),
            answered=channel.get("state") == STATE_UP,
            other_leg_id=partner.get(leg),
            tags=_tags(channel),
        ))
    return legs
