"""A leg's CHANNEL_HANGUP_COMPLETE event and its json CDR, both read into the one neutral
``LegRecord`` the capture service stores, so that a leg arriving by either path is the same leg.

The event spells channel variables ``variable_<name>`` (a multi-value one is a JSON array in
event-json), the CDR keeps them under ``variables`` (``ARRAY::a|:b``); the mapping from
variables to the neutral record is ``translate.leg_record``, used by both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import parse_qs

from controller.calls import LegRecord
from controller.freeswitch import translate
from controller.freeswitch.protocol import Event, JsonEvent

HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
_VARIABLE = "variable_"
# The variables ``translate.leg_record`` reads, and the product's own (found in the raw bytes,
# so that the few hundred others of a hangup event are never looked at).
_CDR_VARIABLES = (
    "uuid", "originator", "call_uuid", "direction", "sip_from_user", "destination_number", "hostname",
    "start_uepoch", "answer_uepoch", "end_uepoch", "mduration", "billmsec", "hangup_cause",
    "hangup_cause_q850", "sip_hangup_disposition", "originate_causes", "privacy_hide_number", "sip_Privacy",
)
_PRODUCT_KEY = re.compile(rb'"variable_(' + translate.PRODUCT_PREFIX.encode() + rb'[A-Za-z0-9_]+)":')


def is_hangup_complete(event: Event) -> bool:
    return event.get("Event-Name") == HANGUP_COMPLETE


def leg_from_hangup(event: Event, node: str) -> LegRecord:
    """The neutral record of the leg a CHANNEL_HANGUP_COMPLETE closes."""
    variables: dict[str, object] = {}
    if isinstance(event, JsonEvent):  # one JSON decode; multi-value variables stay arrays
        document = json.loads(event.raw)
        names = _CDR_VARIABLES + tuple(m.decode() for m in _PRODUCT_KEY.findall(event.raw))
        variables = {name: document[_VARIABLE + name] for name in names if _VARIABLE + name in document}
    else:
        for key, value in event.items():
            if key.startswith(_VARIABLE):
                variables.setdefault(key[len(_VARIABLE):], value)
    variables["uuid"] = event.get("Unique-ID") or variables.get("uuid") or ""
    profile = {
        "orig_caller_id_number": event.get("Caller-Orig-Caller-ID-Number"),
        "caller_id_number": event.get("Caller-Caller-ID-Number"),
        "destination_number": event.get("Caller-Destination-Number"),
    }
    document = {
        "variables": variables,
        "callflow": [{"profile_index": "1", "caller_profile": {k: v for k, v in profile.items() if v}}],
    }
    record = translate.leg_record(document, node)
    call_id = translate.call_id_of(event)
    return replace(record, call_id=call_id) if call_id and call_id != record.call_id else record


def raw_event(event: Event) -> bytes:
    """The event's bytes as they came off the socket."""
    raw = getattr(event, "raw", None)
    if isinstance(raw, bytes):
        return raw
    return json.dumps(event.as_dict()).encode()


class NotACdr(ValueError):
    """A body that is not one of mod_json_cdr's documents."""


def cdr_document(body: bytes, content_type: str | None) -> tuple[Mapping[str, object], bytes]:
    """The CDR document of a mod_json_cdr post or file, and its JSON bytes as FreeSWITCH wrote
    them: plain JSON, or a form with ``cdr=`` (``encode=true``; FACTS 6)."""
    text = body
    if (content_type or "").startswith("application/x-www-form-urlencoded"):
        fields = parse_qs(body.decode("utf-8", "replace"))
        if "cdr" not in fields:
            raise NotACdr("form without a cdr field")
        text = fields["cdr"][0].encode()
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise NotACdr(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("variables"), dict):
        raise NotACdr("a JSON document without variables")
    return document, text


def leg_from_cdr(document: Mapping[str, object], node: str | None = None) -> LegRecord:
    """The neutral record of one json CDR (the node is the switch's name unless given)."""
    try:
        return translate.leg_record(document, node)
    except ValueError as exc:
        raise NotACdr(str(exc)) from None
