"""The commands live call control gives a switch during a call, in neutral terms.

``controller/freeswitch/call_control.py`` carries them to FreeSWITCH; a second switch needs
only a second implementation. Every command either did what it says or raises
``ControlFailed``: a caller must never be charged a price it did not hear because a command
failed silently.
"""

from __future__ import annotations

import enum
from typing import Protocol


class ControlFailed(Exception):
    """The switch refused or did not answer a command."""


class Tone(enum.StrEnum):
    """What the answering agent hears after a tariff code."""

    CONFIRM = "confirm"  # the new tariff is taken
    REFUSED = "refused"  # the code was refused; the tariff is unchanged


class CallControl(Protocol):
    """One switch node's commands on live calls. Legs are named by their ids."""

    async def announce_to_caller(self, call_id: str, sound: str) -> None:
        """Play an announcement file to the caller alone, inside the bridge, to its end:
        the caller cannot cut it short with a key."""

    async def tone_to_agent(self, agent_leg: str, tone: Tone) -> None:
        """Play a short tone to the answering agent alone."""

    async def record(self, call_id: str, tags: dict[str, str]) -> None:
        """Write product variables (``tag`` -> ``smart_<tag>``) onto the caller's channel,
        where they reach its CDR."""

    async def recorded(self, call_id: str, tag: str) -> str | None:
        """A product variable as the caller's channel holds it now (None when unset)."""

    async def schedule_hangup(self, call_id: str, at_epoch: int, cause: str) -> None:
        """Replace any hangup scheduled for the call by one at a whole epoch second, kept by
        the switch itself (it holds while the controller is away)."""

    async def cancel_hangup(self, call_id: str) -> None:
        """Remove the call's scheduled hangup."""

    async def hang_up(self, leg_id: str, cause: str) -> None:
        """End a leg now."""

    async def exists(self, leg_id: str) -> bool:
        """Whether the switch still has the leg."""
