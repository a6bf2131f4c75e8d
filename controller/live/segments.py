"""What live call control writes onto the caller's channel, in the form the call records read.

The tariff segments use the format ``controller.call_records`` parses
(``smart_tariff_segments``: ``<code>@<start_s>[+<announcement_s>]`` joined by ``;``); this
module writes it, that one reads it, so the CDR and live control cannot disagree.
Beside it live control records the cost cap it scheduled (``smart_cost_cap_at``, epoch
seconds, and ``smart_cost_cap``, CHF): a call whose A-leg then ended with ``CAP_CAUSE`` at
or after that moment was ended by the cap. The dialplan of a 090x number sets
``smart_cost_cap`` and ``smart_cost_cap_s`` (the talk seconds within the cap on the first
tariff) and has the switch schedule that hangup by itself at answer: a call live control
never saw that ended with ``CAP_CAUSE`` was ended by the cap too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from controller import call_records

VARIABLE_PREFIX = "smart_"  # the product's channel variables; tags carry them without it
SEGMENTS_TAG = call_records.SEGMENTS_TAG  # "tariff_segments"
CODE_TAG = call_records.CODE_TAG  # "tariff_code": the code in force from answer
CAP_AT_TAG = "cost_cap_at"
CAP_TAG = "cost_cap"
CAP_TALK_TAG = "cost_cap_s"
# The hangup cause of the scheduled cap hangup: "the allotted time is used up". Hunting never
# gives it to the A-leg (a B-leg's ring timeout does), so on the A-leg it means the cap.
CAP_CAUSE = "ALLOTTED_TIMEOUT"
COST_CAP_REASON = "cost_cap"


def variable(tag: str) -> str:
    """The channel variable a tag is stored in."""
    return VARIABLE_PREFIX + tag


@dataclass(frozen=True, slots=True)
class Segment:
    """A tariff code in force from ``start_s`` seconds of talk time, after a free
    announcement of ``announcement_s`` seconds that began when the previous one ended."""

    code: int
    start_s: int
    announcement_s: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.code <= 90 or self.start_s < 0 or not 0 <= self.announcement_s <= self.start_s:
            raise ValueError(f"not a tariff segment: {self}")

    @property
    def announced_at_s(self) -> int:
        return self.start_s - self.announcement_s


def format_segments(segments: Iterable[Segment]) -> str:
    """``1@0;12@95+8``: what ``call_records.parse_segments`` reads back."""
    parts = []
    for s in segments:
        parts.append(f"{s.code}@{s.start_s}" + (f"+{s.announcement_s}" if s.announcement_s else ""))
    return ";".join(parts)


def segments_of(tags: Mapping[str, str]) -> tuple[Segment, ...]:
    """The segments a channel carries; a call with none runs its first code from answer.
    Raises ``InputError`` on a malformed value, as the call records do."""
    found = call_records.parse_segments(tags.get(SEGMENTS_TAG), tags.get(CODE_TAG))
    return tuple(Segment(code, start, announcement) for code, start, announcement in found)


def ended_by_cost_cap(tags: Mapping[str, str], cause: str, ended_at: datetime) -> bool:
    """Whether an A-leg was ended by a cost-cap hangup: the one live control scheduled, or
    where it never scheduled one, the dialplan's own."""
    if cause != CAP_CAUSE:
        return False
    cap_at = tags.get(CAP_AT_TAG, "")
    if cap_at:
        return cap_at.isdigit() and ended_at.timestamp() >= int(cap_at)
    return tags.get(CAP_TALK_TAG, "").isdigit()


def end_reason(tags: Mapping[str, str], cause: str, ended_at: datetime) -> str:
    """Why a call ended, for the call record: ``cost_cap`` or the switch's cause."""
    return COST_CAP_REASON if ended_by_cost_cap(tags, cause, ended_at) else cause
