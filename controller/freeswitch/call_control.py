"""Live call control's commands (``controller.live.control.CallControl``) as FreeSWITCH
``api`` commands on one node's Event Socket, and the pump that feeds the node's events to
live control. Every argument is checked against a narrow pattern before it is sent: nothing
a person typed reaches the switch unchecked.

What the commands do, measured on FreeSWITCH 1.10.12 (FACTS 4):
- ``uuid_broadcast <A> <file> aleg`` plays to the caller alone without breaking the bridge;
  a ``*`` the caller presses cuts it short unless ``playback_terminators`` is ``none``, which
  is set first, since a price announcement must be heard whole. ``uuid_broadcast <B> ... aleg``
  plays to the agent alone.
- ``uuid_setvar <A> smart_... <value>`` reaches the A-leg's HANGUP_COMPLETE event and json CDR.
- ``sched_hangup <epoch> <A> <cause>`` takes whole epoch seconds and ends the call within
  0.1 s after; its task is in the group of the A-leg's uuid, so ``sched_del <A>`` removes it
  (and any other task of that group) and the switch removes it itself when the call ends.
  The reply carries no task id: rescheduling is ``sched_del`` then ``sched_hangup``.
"""

from __future__ import annotations

import logging
import re

from controller.freeswitch import translate
from controller.freeswitch.client import EventSocketClient, EventSocketError, Resync
from controller.freeswitch.hangup_capture import HangupCapture
from controller.live.control import ControlFailed, Tone
from controller.live.segments import variable
from controller.live.service import LiveControl

log = logging.getLogger(__name__)

_LEG = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_SOUND = re.compile(r"^/(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(?:wav|WAV)$")
_VARIABLE = re.compile(r"^smart_[a-z][a-z0-9_]{0,40}$")
_VALUE = re.compile(r"^[A-Za-z0-9@;+.:_-]{0,4000}$")
_CAUSE = re.compile(r"^[A-Z][A-Z_]{1,40}$")

# Short tones for the agent: two rising beeps for "taken", three low ones for "refused".
TONES = {
    Tone.CONFIRM: "tone_stream://%(200,50,1000);%(200,50,1400)",
    Tone.REFUSED: "tone_stream://%(150,100,400);%(150,100,400);%(150,100,400)",
}


def _checked(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value) or ".." in value:
        raise ValueError(f"{what}: {str(value)[:60]!r} may not reach the switch")
    return value


class FreeSwitchCallControl:
    """``CallControl`` for one FreeSWITCH node."""

    def __init__(self, client: EventSocketClient) -> None:
        self.client = client

    async def _api(self, command: str) -> str:
        try:
            reply = await self.client.api(command)
        except EventSocketError as exc:
            raise ControlFailed(f"node {self.client.node}: {command.split(' ', 1)[0]}: {exc}") from exc
        if translate.api_failed(reply):
            raise ControlFailed(f"node {self.client.node}: {command.split(' ', 1)[0]}: {reply.strip()}")
        return reply

    async def announce_to_caller(self, call_id: str, sound: str) -> None:
        leg = _checked(call_id, _LEG, "call")
        path = _checked(sound, _SOUND, "announcement")
        await self._api(f"uuid_setvar {leg} playback_terminators none")
        await self._api(f"uuid_broadcast {leg} {path} aleg")

    async def tone_to_agent(self, agent_leg: str, tone: Tone) -> None:
        await self._api(f"uuid_broadcast {_checked(agent_leg, _LEG, 'agent leg')} {TONES[Tone(tone)]} aleg")

    async def record(self, call_id: str, tags: dict[str, str]) -> None:
        leg = _checked(call_id, _LEG, "call")
        for tag, value in tags.items():
            name = _checked(variable(tag), _VARIABLE, "variable")
            text = _checked(value, _VALUE, name)
            # An empty value unsets the variable (``uuid_setvar <uuid> <name>``).
            await self._api(f"uuid_setvar {leg} {name} {text}".rstrip())

    async def recorded(self, call_id: str, tag: str) -> str | None:
        name = _checked(variable(tag), _VARIABLE, "variable")
        value = (await self._api(f"uuid_getvar {_checked(call_id, _LEG, 'call')} {name}")).strip()
        return None if value in ("", "_undef_") else value

    async def schedule_hangup(self, call_id: str, at_epoch: int, cause: str) -> None:
        leg = _checked(call_id, _LEG, "call")
        if not isinstance(at_epoch, int) or isinstance(at_epoch, bool) or not 1_000_000_000 <= at_epoch < 10**10:
            raise ValueError(f"hangup moment: {at_epoch!r} is not an epoch second")
        await self._api(f"sched_del {leg}")
        await self._api(f"sched_hangup {at_epoch} {leg} {_checked(cause, _CAUSE, 'cause')}")

    async def cancel_hangup(self, call_id: str) -> None:
        await self._api(f"sched_del {_checked(call_id, _LEG, 'call')}")

    async def hang_up(self, leg_id: str, cause: str) -> None:
        await self._api(f"uuid_kill {_checked(leg_id, _LEG, 'leg')} {_checked(cause, _CAUSE, 'cause')}")

    async def exists(self, leg_id: str) -> bool:
        leg = _checked(leg_id, _LEG, "leg")
        try:
            return leg in await self.client.alive([leg])
        except EventSocketError as exc:
            raise ControlFailed(f"node {self.client.node}: uuid_exists: {exc}") from exc


async def follow(client: EventSocketClient, live: LiveControl, capture: HangupCapture | None = None) -> None:
    """Feed one node's events and resyncs to live control, in arrival order, until cancelled;
    each leg's hangup goes to ``capture`` first, to be stored raw."""
    async for item in client.events():
        if isinstance(item, Resync):
            await live.on_resync(item.node, item.legs)
            continue
        if capture is not None:
            capture.offer(item, client.node)
        event = translate.call_event(item, client.node)
        if event is not None:
            live.on_event(event)
