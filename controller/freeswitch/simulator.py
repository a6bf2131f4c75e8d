"""A FreeSWITCH that speaks the real Event Socket protocol, for tests, benchmarks and demos.

It replays whole calls captured on a real FreeSWITCH 1.10.12 (``call_scripts``) with fresh
leg ids, the current time and the caller it is given, so listeners get the real frame format
and header sets; it answers the api/bgapi commands the controller sends (listings, dumps,
originate, reloadxml, uuid_kill, the mid-call commands of live control: uuid_setvar,
uuid_broadcast, sched_hangup/sched_del; and the real error texts), and raises the CUSTOM
``smart::code`` event of an agent's tariff code. Its listeners behave like mod_event_socket's:
filters and ``nixevent``, ``log``/``nolog`` with ``log/data`` frames, an ``api`` that holds the
listener while it runs (``msleep``) where ``bgapi`` does not, commands cut at 10 MiB, and an
ACL that turns every address away (``deny_access``). It can hold thousands of live calls and
inject faults (dropped connections, half frames, garbage, restarts). Never production.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from controller.freeswitch import call_scripts
from controller.freeswitch.protocol import url_encode

log = logging.getLogger(__name__)

__all__ = ["FreeSwitchSimulator", "SCENARIOS"]

GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
SHUTDOWN_NOTICE = b"The system is being shut down.\n"
ACL_REJECTION = b"Access Denied, go away.\n"
# switch_log_str2level()
LOG_LEVELS = {"console": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}
# read_packet() reads at most this many bytes as one command (its max_len).
COMMAND_LIMIT = 10_485_760
# The event the B-leg's digit binding raises for an agent's tariff code (FACTS 4b, 7409), bound as
# ``bind_digit_action smart,~^\*\d\d$,exec[i]:event,^^;Event-Name=CUSTOM;Event-Subclass=smart::code;smart_kind=tariff_code``
CODE_SUBCLASS = "smart::code"
CODE_KIND = "tariff_code"
# A held B-leg's last event is a CHANNEL_CALLSTATE: a CUSTOM event of that leg lacks its own
# headers, and names itself after the switch's headers rather than first.
_NOT_IN_CUSTOM = frozenset({"Event-Name", "Original-Channel-Call-State", "Channel-Call-State-Number"})
# FreeSWITCH drops a listener whose queue holds this many events (mod_event_socket).
LISTENER_QUEUE_LIMIT = 100_000

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
_GMT = re.compile(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")

# How a header value is rebuilt for a new call.
_LITERAL, _TEMPLATE, _MICROS, _SECONDS, _STAMP_LOCAL, _STAMP_GMT, _SEQUENCE, _CORE = range(8)


def _plain_value(value: object) -> str:
    if isinstance(value, list):
        return url_encode("ARRAY::" + "|:".join(str(v) for v in value))
    return url_encode(str(value))


def _json_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(slots=True)
class _Field:
    name: str
    kind: int
    data: object  # str | list | int offset | template parts


@dataclass(slots=True)
class _ScriptEvent:
    t: float
    name: str
    subclass: str | None
    leg_slot: int
    fields: list[_Field]
    body: str | None


@dataclass(slots=True)
class _Script:
    name: str
    legs: int
    hold_after: int | None
    events: list[_ScriptEvent]


def _compile(name: str, raw: dict[str, object]) -> _Script:
    legs: list[str] = list(raw["legs"])  # type: ignore[arg-type]
    events_raw: list = raw["events"]  # type: ignore[assignment]
    first = dict((k, v) for k, v in events_raw[0][1])
    core = str(first["Core-UUID"])
    base_us = int(str(first["Event-Date-Timestamp"]))
    base_s = base_us // 1_000_000
    caller = next(
        (str(v) for _, pairs in events_raw for k, v in pairs if k == "Caller-Caller-ID-Number" and v), ""
    )
    slots = {leg: i for i, leg in enumerate(legs)}
    events = []
    for t, pairs in events_raw:
        fields = []
        body = None
        headers = {}
        has_body = any(key == "_body" for key, _ in pairs)
        for key, value in pairs:
            headers.setdefault(key, value)
            if key == "_body":
                body = str(value)
                continue
            if key == "Content-Length" and has_body:
                continue  # the encoder writes it, from the body
            fields.append(_classify(key, value, core, base_us, base_s, caller, slots))
        leg = slots.get(str(headers.get("Unique-ID")), 0)
        subclass = headers.get("Event-Subclass")
        events.append(_ScriptEvent(float(t), str(headers["Event-Name"]), subclass, leg, fields, body))
    return _Script(name, len(legs), raw.get("hold_after"), events)  # type: ignore[arg-type]


def _classify(key, value, core, base_us, base_s, caller, slots) -> _Field:
    if key == "Event-Sequence":
        return _Field(key, _SEQUENCE, None)
    if isinstance(value, list):
        return _Field(key, _LITERAL, value)
    text = str(value)
    if text == core:
        return _Field(key, _CORE, None)
    if text.isdigit():
        number = int(text)
        if len(text) == 16 and abs(number - base_us) < 86_400_000_000:
            return _Field(key, _MICROS, number - base_us)
        if len(text) == 10 and abs(number - base_s) < 86_400:
            return _Field(key, _SECONDS, number - base_s)
    if _STAMP.match(text):
        stamp = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return _Field(key, _STAMP_LOCAL, int(stamp.timestamp()) - base_s)
    if _GMT.match(text):
        stamp = datetime.strptime(text, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
        return _Field(key, _STAMP_GMT, int(stamp.timestamp()) - base_s)
    parts: list[object] = []
    pos = 0
    for match in _UUID.finditer(text):
        slot = slots.get(match.group(0))
        if slot is None:
            continue
        parts.append(text[pos : match.start()])
        parts.append(slot)
        pos = match.end()
    if caller and len(caller) >= 3 and caller in text:
        # the caller's number (as a whole word) is filled in per call
        word = re.compile(r"(?<![A-Za-z0-9])" + re.escape(caller) + r"(?![A-Za-z0-9])")
        pieces: list[object] = parts + [text[pos:]] if parts else [text]
        rebuilt: list[object] = []
        for piece in pieces:
            if isinstance(piece, str) and word.search(piece):
                bits = word.split(piece)
                for i, bit in enumerate(bits):
                    if i:
                        rebuilt.append(-1)
                    rebuilt.append(bit)
            else:
                rebuilt.append(piece)
        if -1 in rebuilt:
            return _Field(key, _TEMPLATE, rebuilt)
    if parts:
        parts.append(text[pos:])
        return _Field(key, _TEMPLATE, parts)
    return _Field(key, _LITERAL, text)


SCENARIOS = ("answered", "bridged", "hunted", "busy", "failed", "unanswered", "dtmf", "callee_hangs_up")


class _Call:
    """One call being replayed: its leg ids, where the script has got to, what each leg
    looked like last (for listings and dumps)."""

    __slots__ = ("script", "legs", "caller", "offset_us", "position", "last_event", "gone", "held", "task", "variables", "hangup_side")

    def __init__(self, script: _Script, caller: str, start_us: int, hangup_side: str | None) -> None:
        self.script = script
        self.legs = [str(uuid.uuid4()) for _ in range(script.legs)]
        self.caller = caller
        self.offset_us = start_us
        self.position = 0
        self.last_event: dict[int, int] = {}
        self.gone: set[int] = set()
        self.held = False
        self.task: asyncio.Task | None = None
        self.variables: dict[int, dict[str, str]] = {}
        self.hangup_side = hangup_side

    @property
    def a_leg(self) -> str:
        return self.legs[0]


@dataclass(slots=True)
class _ScheduledHangup:
    """A ``sched_hangup`` task: its group is the channel uuid it names (FACTS 4d)."""

    task_id: int
    at_epoch: int
    cause: str
    timer: asyncio.TimerHandle


def _leading_int(text: str) -> int:
    """What C's ``atol`` reads: the leading digits, 0 without any."""
    digits = re.match(r"\d*", text)[0]  # type: ignore[index]
    return int(digits) if digits else 0


@dataclass(slots=True)
class _Built:
    """One event ready to send, encoded lazily once per format."""

    name: str
    subclass: str | None
    pairs: list[tuple[str, object]]
    body: str | None
    cache: dict[str, bytes] = field(default_factory=dict)

    def encoded(self, fmt: str) -> bytes:
        data = self.cache.get(fmt)
        if data is None:
            data = _encode(fmt, self.pairs, self.body)
            self.cache[fmt] = data
        return data


def _encode(fmt: str, pairs: Iterable[tuple[str, object]], body: str | None) -> bytes:
    if fmt == "json":
        items = [f"{json.dumps(k, ensure_ascii=False)}:{_json_value(v)}" for k, v in pairs]
        if body is not None:
            items.append(f'"Content-Length":"{len(body.encode())}"')
            items.append(f'"_body":{json.dumps(body, ensure_ascii=False)}')
        payload = ("{" + ",".join(items) + "}").encode()
        kind = b"text/event-json"
    elif fmt == "xml":
        from xml.sax.saxutils import escape

        lines = ["<event>", "  <headers>"]
        lines += [f"    <{k}>{escape(_plain_value(v))}</{k}>" for k, v in pairs]
        lines.append("  </headers>")
        if body is not None:
            lines.append(f"  <Content-Length>{len(body.encode())}</Content-Length>")
            # switch_xml_toxml() indents a closing tag that follows a line break
            lines.append(f"  <body>{escape(body)}{'  ' if body.endswith(chr(10)) else ''}</body>")
        lines.append("</event>\n")  # every closing tag ends its line
        payload = "\n".join(lines).encode()
        kind = b"text/event-xml"
    else:
        text = "".join(f"{k}: {_plain_value(v)}\n" for k, v in pairs)
        if body is not None:
            raw_body = body.encode()
            payload = text.encode() + b"Content-Length: %d\n\n" % len(raw_body) + raw_body
        else:
            payload = text.encode() + b"\n"
        kind = b"text/event-plain"
    return b"Content-Length: %d\nContent-Type: %s\n\n" % (len(payload), kind) + payload


class _Listener(asyncio.Protocol):
    """One Event Socket client connected to the simulator.

    Like mod_event_socket's listener thread it does one thing at a time: while an ``api``
    command runs (``msleep``), the commands behind it wait and its events are held back."""

    def __init__(self, sim: FreeSwitchSimulator) -> None:
        self.sim = sim
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.authed = False
        self.format: str | None = None
        self.names: set[str] = set()
        self.subclasses: set[str] = set()
        self.all = False
        self.filters: list[tuple[str, str]] = []
        self.log_level: int | None = None
        self.busy = False  # running an inline api command
        self.backlog: list[tuple[str, dict[str, str]]] = []
        self.held: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.sim.deny_access:
            # listener_run(): the ACL check comes before anything else, then the socket closes.
            self.transport.write(b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n" % len(ACL_REJECTION) + ACL_REJECTION)
            self.transport.close()
            return
        self.sim._listeners.add(self)
        self.write(b"Content-Type: auth/request\n\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self.sim._listeners.discard(self)

    def write(self, data: bytes) -> None:
        if self.busy:
            self.held.append(data)
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def reply(self, text: str, extra: str = "") -> None:
        self.write(f"Content-Type: command/reply\nReply-Text: {text}\n{extra}\n".encode())

    def api_reply(self, body: str) -> None:
        raw = body.encode()
        self.write(b"Content-Type: api/response\nContent-Length: %d\n\n" % len(raw) + raw)

    def data_received(self, data: bytes) -> None:
        self.buffer += data.replace(b"\r\n", b"\n")
        while True:
            self.buffer = self.buffer.lstrip(b"\n")  # read_packet skips line breaks between commands
            end = self.buffer.find(b"\n\n")
            if end < 0 or end + 2 > COMMAND_LIMIT:
                if len(self.buffer) < COMMAND_LIMIT:
                    return
                # read_packet takes its first 10 MiB as one command; the rest is the next one
                end = COMMAND_LIMIT
                block, self.buffer = self.buffer[:end], self.buffer[end:]
            else:
                block, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            lines = block.decode("utf-8", "replace").split("\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            if self.busy:
                self.backlog.append((lines[0].strip(), headers))
            else:
                self.sim._command(self, lines[0].strip(), headers)

    def run_inline(self, seconds: float, answer: str) -> None:
        """An api command that keeps the listener's thread for ``seconds``."""
        self.busy = True

        def done() -> None:
            self.busy = False
            self.api_reply(answer)
            held, self.held = self.held, []
            for data in held:
                self.write(data)
            while self.backlog and not self.busy:
                line, headers = self.backlog.pop(0)
                self.sim._command(self, line, headers)

        asyncio.get_running_loop().call_later(seconds, done)

    def wants(self, name: str, subclass: str | None) -> bool:
        if self.format is None:
            return False
        if self.all:
            return True
        if name == "CUSTOM":
            return subclass in self.subclasses
        return name in self.names

    def passes(self, pairs: list[tuple[str, object]]) -> bool:
        """The listener's filters, as event_handler() applies them: with any filter set an
        event goes out only if a positive filter matches it and no negative one does."""
        if not self.filters:
            return True
        first: dict[str, object] = {}
        for key, value in pairs:
            first.setdefault(key.lower(), value)
        send = False
        for name, wanted in self.filters:
            value = first.get(name.lower())
            if value is None:
                continue
            text = value if isinstance(value, str) else "ARRAY::" + "|:".join(map(str, value))
            positive = True
            compared = wanted.lstrip(" +-")
            for char in wanted[: len(wanted) - len(compared)]:
                positive = {"+": True, "-": False}.get(char, positive)
            if send and positive:
                continue
            if wanted.startswith("/"):
                matched = re.search(compared.strip("/"), text) is not None
            else:
                matched = text.lower() == compared.lower()
            if matched:
                if not positive:
                    return False
                send = True
        return send

    def goodbye(self, notice: bytes = GOODBYE) -> None:
        self.busy = False
        self.write(b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(notice) + notice)
        if self.transport is not None:
            self.transport.close()


class FreeSwitchSimulator:
    """A FreeSWITCH on a TCP port: ``await sim.start()``, then point a client at ``sim.port``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str = "ClueCon",
        *,
        hostname: str = "vm",
        heartbeat_interval: float = 20.0,
        speed: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.password = password
        self.hostname = hostname
        self.heartbeat_interval = heartbeat_interval
        self.speed = speed  # 0: as fast as possible; 1.0: real time; 10: ten times faster
        self.core_uuid = str(uuid.uuid4())
        self.random = random.Random(seed)
        raw = call_scripts.load()
        self._scripts = {name: _compile(name, raw[name]) for name in raw if name != "switch"}
        self._scripts["callee_hangs_up"] = _callee_hangs_up(self._scripts["bridged"])
        self._switch_events = raw["switch"]["events"]
        self._server: asyncio.base_events.Server | None = None
        self._listeners: set[_Listener] = set()
        self._calls: dict[str, _Call] = {}  # by A-leg id
        self._legs: dict[str, tuple[_Call, int]] = {}
        self._sequence = itertools.count(1000)
        self._tasks: set[asyncio.Task] = set()
        self._heartbeat: asyncio.Task | None = None
        self.events_sent = 0
        self.commands: list[str] = []
        self.deny_access = False  # the ACL refuses every address (text/rude-rejection)
        self.reload_seconds = 0.0  # how long reloadxml takes (13 s for 100,000 numbers on a real switch)
        self.broadcasts: list[tuple[str, str, str]] = []  # (leg, what is played, aleg/bleg/both of that leg)
        self._hangups: dict[str, list[_ScheduledHangup]] = {}  # by group (a channel uuid)
        self._task_ids = itertools.count(1)
        # the switch's global variables (vars.xml's ``set``), as ``global_getvar`` reads them
        self.global_variables: dict[str, str] = {}

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Listener(self), self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.heartbeat_interval > 0:
            self._heartbeat = asyncio.create_task(self._beat())

    async def stop(self, *, graceful: bool = True) -> None:
        """Shut down. Graceful: SHUTDOWN event and a disconnect notice, as ``freeswitch -stop``;
        otherwise the sockets just close, as a crash."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        for task in list(self._tasks):
            task.cancel()
        if graceful:
            self._emit(self._switch_event("SHUTDOWN"))
            for listener in list(self._listeners):
                listener.goodbye(SHUTDOWN_NOTICE)
        else:
            for listener in list(self._listeners):
                if listener.transport is not None:
                    listener.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for group in list(self._hangups):
            self._delete_group(group)
        self._calls.clear()
        self._legs.clear()

    async def restart(self, *, graceful: bool = True) -> None:
        """A switch restart: every call is gone, a new Core-UUID, the same port."""
        await self.stop(graceful=graceful)
        self.core_uuid = str(uuid.uuid4())
        await self.start()

    # -- faults ----------------------------------------------------------------------------------

    def drop_connections(self) -> None:
        for listener in list(self._listeners):
            if listener.transport is not None:
                listener.transport.abort()

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are to every listener (half frames, garbage)."""
        for listener in list(self._listeners):
            listener.write(data)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    # -- calls -----------------------------------------------------------------------------------

    @property
    def live_calls(self) -> int:
        return len(self._calls)

    @property
    def live_legs(self) -> int:
        return len(self._legs)

    def place_call(
        self,
        scenario: str = "bridged",
        *,
        caller: str = "41791234567",
        hold: bool = False,
        hangup_side: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> str:
        """Start a call; returns its A-leg id. ``hold`` stops it once talking until hung up;
        ``variables`` are set on the caller's leg from its first event on, as the dialplan
        sets the product's (``smart_number``, ``smart_account``, ...)."""
        script = self._scripts[scenario]
        call = _Call(script, caller, int(time.time() * 1_000_000), hangup_side)
        if variables:
            call.variables[0] = dict(variables)
        self._register(call)
        call.held = hold
        call.task = asyncio.create_task(self._play(call))
        self._tasks.add(call.task)
        call.task.add_done_callback(self._tasks.discard)
        return call.a_leg

    def hold_calls(self, count: int, scenario: str = "bridged", *, caller: str = "41791234567") -> list[str]:
        """``count`` calls already talking, as found by a controller that just connected:
        created silently, no events sent."""
        script = self._scripts[scenario]
        if script.hold_after is None:
            raise ValueError(f"{scenario} calls never reach a talking state")
        ids = []
        now = int(time.time() * 1_000_000)
        for _ in range(count):
            call = _Call(script, caller, now, None)
            self._register(call)
            for index in range(script.hold_after):
                self._advance(call, index)
            call.position = script.hold_after
            call.held = True
            ids.append(call.a_leg)
        return ids

    def hang_up(self, leg_id: str) -> bool:
        """Let a held call finish its script (the hangup part)."""
        found = self._legs.get(leg_id)
        if found is None:
            return False
        call = found[0]
        if call.held:
            call.held = False
            call.task = asyncio.create_task(self._play(call))
            self._tasks.add(call.task)
            call.task.add_done_callback(self._tasks.discard)
        return True

    def agent_leg(self, a_leg: str) -> str | None:
        """The leg bridged to the caller (the answering agent's), None before the bridge."""
        call = self._calls.get(a_leg)
        slot = None if call is None else self._bridged_pair(call)
        return None if slot is None else call.legs[slot]  # type: ignore[union-attr]

    def variable(self, leg: str, name: str) -> str | None:
        """A channel variable as ``uuid_getvar`` reads it (None where it answers ``_undef_``)."""
        found = self._legs.get(leg)
        if found is None:
            return None
        value = found[0].variables.get(found[1], {}).get(name)
        if value is None:
            key = "variable_" + name
            value = next((str(v) for k, v in self._leg_pairs(*found, "CHANNEL_DATA") if k == key), None)
        return value

    def press_code(self, a_leg: str, digits: str) -> None:
        """The answering agent keys a tariff code (``*NN``) that the B-leg's ``bind_digit_action``
        matches (FACTS 4b, 7409): the binding keeps the digits (no DTMF event, nothing relayed),
        sets ``last_matching_digits`` on the B-leg and raises a CUSTOM event with the B-leg's
        headers and variables, whose Other-Leg-Unique-ID and Channel-Call-UUID name the caller."""
        call = self._calls[a_leg]
        slot = self._bridged_pair(call)
        if slot is None:
            raise ValueError(f"call {a_leg} is not bridged: no agent to key a code")
        call.variables.setdefault(slot, {})["last_matching_digits"] = digits
        # A CUSTOM event names its subclass first and itself after the switch's own headers,
        # followed by the headers the ``event`` application was given.
        channel = [(k, v) for k, v in self._leg_pairs(call, slot, "CUSTOM") if k not in _NOT_IN_CUSTOM]
        named = next(i for i, (k, _) in enumerate(channel) if k == "Event-Sequence") + 1
        pairs = [("Event-Subclass", CODE_SUBCLASS), *channel[:named], ("Event-Name", "CUSTOM"), ("smart_kind", CODE_KIND),
                 *channel[named:]]
        self._emit(_Built("CUSTOM", CODE_SUBCLASS, pairs, None))

    @property
    def scheduled(self) -> dict[str, tuple[int, str]]:
        """The hangups the switch holds, by group (the channel uuid): moment and cause."""
        return {group: (tasks[-1].at_epoch, tasks[-1].cause) for group, tasks in self._hangups.items() if tasks}

    def fire_scheduled(self, group: str) -> tuple[int, str]:
        """The switch's clock reached the group's scheduled hangup: the call ends now (a test
        cannot wait for the moment). Returns the moment and cause it was scheduled with."""
        task = self._hangups[group][-1]
        task.timer.cancel()
        self._run_hangup(group, task.task_id)
        return task.at_epoch, task.cause

    async def traffic(self, rate: float, count: int, scenarios: Iterable[str] = ("bridged",), *, caller: str | None = None) -> None:
        """Place ``count`` calls at ``rate`` calls a second, scenarios in turn."""
        cycle = itertools.cycle(list(scenarios))
        for i in range(count):
            number = caller or f"417{self.random.randrange(10**7, 10**8)}"
            self.place_call(next(cycle), caller=number)
            if rate > 0:
                await asyncio.sleep(1.0 / rate)

    async def settle(self) -> None:
        """Wait until every running call script has finished or is held."""
        while True:
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    def _register(self, call: _Call) -> None:
        self._calls[call.a_leg] = call
        for slot, leg in enumerate(call.legs):
            self._legs[leg] = (call, slot)

    async def _play(self, call: _Call) -> None:
        events = call.script.events
        hold = call.script.hold_after
        previous = events[call.position].t if call.position < len(events) else 0.0
        sent = 0
        while call.position < len(events):
            index = call.position
            if call.held and hold is not None and index == hold:
                return
            event = events[index]
            if self.speed > 0 and event.t > previous:
                await asyncio.sleep((event.t - previous) / self.speed)
            elif sent % 64 == 63:
                await asyncio.sleep(0)
            previous = event.t
            built = self._advance(call, index)
            call.position = index + 1
            if built is not None:
                self._emit(built)
            sent += 1
        self._forget(call)

    def _forget(self, call: _Call) -> None:
        """A call is over: its legs are gone, and with them their scheduled tasks."""
        self._calls.pop(call.a_leg, None)
        for leg in call.legs:
            self._legs.pop(leg, None)
            self._delete_group(leg)

    def _advance(self, call: _Call, index: int) -> _Built | None:
        """Move a call past one script event; the event to send if anyone listens for it."""
        event = call.script.events[index]
        call.last_event[event.leg_slot] = index
        if event.name in ("CHANNEL_DESTROY",):
            call.gone.add(event.leg_slot)
            leg = call.legs[event.leg_slot]
            self._legs.pop(leg, None)
            self._delete_group(leg)  # the switch deletes a channel's group with it (FACTS 4d)
        if not any(listener.wants(event.name, event.subclass) for listener in self._listeners):
            return None
        return _Built(event.name, event.subclass, self._pairs(call, index), event.body)

    def _pairs(self, call: _Call, index: int, name: str | None = None) -> list[tuple[str, object]]:
        event = call.script.events[index]
        pairs: list[tuple[str, object]] = []
        offset = call.offset_us
        for f in event.fields:
            kind = f.kind
            if kind == _LITERAL:
                value: object = f.data
            elif kind == _TEMPLATE:
                value = "".join(call.legs[p] if isinstance(p, int) and p >= 0 else call.caller if p == -1 else p for p in f.data)  # type: ignore[union-attr]
            elif kind == _MICROS:
                value = str(offset + f.data)  # type: ignore[operator]
            elif kind == _SECONDS:
                value = str(offset // 1_000_000 + f.data)  # type: ignore[operator]
            elif kind == _STAMP_LOCAL:
                value = datetime.fromtimestamp(offset // 1_000_000 + f.data, UTC).strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[operator]
            elif kind == _STAMP_GMT:
                value = datetime.fromtimestamp(offset // 1_000_000 + f.data, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")  # type: ignore[operator]
            elif kind == _SEQUENCE:
                value = str(next(self._sequence))
            else:
                value = self.core_uuid
            if f.name == "Event-Name" and name is not None:
                value = name
            pairs.append((f.name, value))
        extra = call.variables.get(event.leg_slot)
        if extra:
            pairs.extend(("variable_" + k, v) for k, v in extra.items())
        return pairs

    def _emit(self, built: _Built) -> None:
        for listener in list(self._listeners):
            if listener.wants(built.name, built.subclass) and listener.passes(built.pairs):
                transport = listener.transport
                if transport is None:
                    continue
                listener.write(built.encoded(listener.format or "plain"))
                self.events_sent += 1
                if transport.get_write_buffer_size() > 512 << 20:
                    # What mod_event_socket does when a listener's queue fills: drop it.
                    log.error("simulator: listener too slow, dropping it (as FreeSWITCH does)")
                    transport.abort()

    def _switch_event(self, name: str, overrides: dict[str, str] | None = None, body: str | None = None) -> _Built:
        template = self._switch_events[name]
        now = time.time()
        stamps = {
            "Core-UUID": self.core_uuid,
            "FreeSWITCH-Hostname": self.hostname,
            "FreeSWITCH-Switchname": self.hostname,
            "Event-Date-Local": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "Event-Date-GMT": datetime.fromtimestamp(now, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "Event-Date-Timestamp": str(int(now * 1_000_000)),
            "Event-Sequence": str(next(self._sequence)),
            "Session-Count": str(len(self._legs)),
            "Session-Since-Startup": str(len(self._legs)),
        }
        stamps.update(overrides or {})
        pairs: list[tuple[str, object]] = []
        template_body = None
        for key, value in template:
            if key == "_body":
                template_body = value
                continue
            if key == "Content-Length":
                continue
            pairs.append((key, stamps.get(key, value)))
        return _Built(name, None, pairs, body if body is not None else (template_body if name != "BACKGROUND_JOB" else ""))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            self._emit(self._switch_event("HEARTBEAT"))

    # -- commands --------------------------------------------------------------------------------

    def _command(self, listener: _Listener, line: str, headers: dict[str, str]) -> None:
        self.commands.append(line)
        word, _, rest = line.partition(" ")
        if not listener.authed:
            if word == "auth":
                if rest == self.password:
                    listener.authed = True
                    listener.reply("+OK accepted")
                else:
                    listener.reply("-ERR invalid")
                    listener.goodbye()
            else:
                listener.reply("-ERR command not found")
            return
        if word == "event":
            fmt, _, names = rest.partition(" ")
            if fmt not in ("plain", "json", "xml"):
                names, fmt = rest, "plain"
            listener.format = fmt
            custom = False
            for name in names.split():
                if name == "ALL":
                    listener.all = True
                elif name == "CUSTOM":
                    custom = True
                elif custom and "::" in name:
                    listener.subclasses.add(name)
                else:
                    listener.names.add(name)
            listener.reply(f"+OK event listener enabled {fmt}")
        elif word == "noevents":
            listener.format, listener.all = None, False
            listener.names.clear()
            listener.subclasses.clear()
            listener.reply("+OK no longer listening for events")
        elif word == "nixevent":
            names = rest.split()
            if not names:
                listener.reply("-ERR no keywords supplied")
                return
            for name in names:
                if name == "ALL":
                    listener.all = False
                    listener.names.clear()
                else:
                    listener.names.discard(name)
            listener.reply("+OK events nixed")
        elif word == "filter":
            self._filter(listener, rest)
        elif word == "log":
            level = rest.strip()
            number = LOG_LEVELS.get(level.lower() or "debug", int(level) if level.isdigit() else None)
            if number is None:
                listener.reply("-ERR invalid log level")
                return
            listener.log_level = number
            listener.reply(f"+OK log level {level} [{number}]")
        elif word == "nolog":
            if listener.log_level is None:
                listener.reply("-ERR not loging")  # sic
            else:
                listener.log_level = None
                listener.reply("+OK no longer logging")
        elif word == "api":
            command, _, args = rest.partition(" ")
            if command == "msleep":  # runs inline: the listener does nothing else meanwhile
                listener.run_inline(_leading_int(args) / 1000, "+OK")
            elif command == "reloadxml" and self.reload_seconds:
                listener.run_inline(self.reload_seconds, self._api(rest))
            else:
                listener.api_reply(self._api(rest))
        elif word == "bgapi":
            job = headers.get("Job-UUID") or str(uuid.uuid4())
            listener.reply(f"+OK Job-UUID: {job}", f"Job-UUID: {job}\n")
            command, _, args = rest.partition(" ")
            result = self._api(rest)
            overrides = {"Job-UUID": job, "Job-Command": command}
            built = self._switch_event("BACKGROUND_JOB", overrides, result)
            if not args:
                built.pairs = [(k, v) for k, v in built.pairs if k != "Job-Command-Arg"]
            else:
                built.pairs = [(k, args if k == "Job-Command-Arg" else v) for k, v in built.pairs]
            # in a thread of its own: the listener goes on meanwhile
            delay = _leading_int(args) / 1000 if command == "msleep" else self.reload_seconds if command == "reloadxml" else 0
            asyncio.get_running_loop().call_later(delay, self._emit, built)
        elif word == "exit":
            listener.reply("+OK bye")
            listener.goodbye()
        else:
            listener.reply("-ERR command not found")

    def _filter(self, listener: _Listener, rest: str) -> None:
        """``filter [add] <header> <value>``, ``filter delete <header> [<value>]``,
        ``filter delete all``, with mod_event_socket's replies."""
        name, _, value = rest.lstrip(" ").partition(" ")
        if name.lower() == "delete" and value:
            name, _, value = value.partition(" ")
            if name.lower() == "all":
                listener.filters.clear()
            else:
                listener.filters = [(n, v) for n, v in listener.filters
                                    if not (n.lower() == name.lower() and (not value or v == value))]
            listener.reply(f"+OK filter deleted. [{name}][{value}]")
        elif value:
            if name.lower() == "add":
                name, _, value = value.partition(" ")
            listener.filters.append((name, value))
            listener.reply(f"+OK filter added. [{name}]=[{value}]")
        else:
            listener.reply("-ERR invalid syntax")

    def log(self, level: int, text: str, *, file: str = "switch_core.c", function: str = "switch_core_session_run",
            line: int = 1, channel: str = "") -> None:
        """A line of the switch's log, sent to each listener that asked for its level."""
        body = text.encode()
        frame = (f"Content-Type: log/data\nContent-Length: {len(body)}\nLog-Level: {level}\nText-Channel: 3\n"
                 f"Log-File: {file}\nLog-Func: {function}\nLog-Line: {line}\nUser-Data: {channel}\n\n").encode() + body
        for listener in list(self._listeners):
            if listener.log_level is not None and level <= listener.log_level:
                listener.write(frame)

    def _api(self, text: str) -> str:
        command, _, args = text.strip().partition(" ")
        if command == "show":
            return self._show(args.strip())
        if command == "uuid_dump":
            leg, _, fmt = args.partition(" ")
            found = self._legs.get(leg.strip())
            if found is None:
                return "-ERR No such channel!\n"
            call, slot = found
            pairs = self._leg_pairs(call, slot, "CHANNEL_DATA")
            if fmt.strip() == "json":
                return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_json_value(v)}" for k, v in pairs) + "}"
            return "".join(f"{k}: {_plain_value(v)}\n" for k, v in pairs)
        if command == "uuid_exists":
            return "true" if args.strip() in self._legs else "false"
        if command == "uuid_kill":
            leg = args.split(" ")[0].strip()
            if not self.hang_up(leg):
                return "-ERR No such channel!\n"
            return "+OK\n"
        if command == "uuid_setvar":
            leg, _, assignment = args.strip().partition(" ")
            name, _, value = assignment.partition(" ")
            if not name:
                return "-USAGE: <uuid> <var> [value]\n"
            found = self._legs.get(leg)
            if found is None:
                return "-ERR No such channel!\n"
            variables = found[0].variables.setdefault(found[1], {})
            if value:
                variables[name] = value  # it may hold spaces (FACTS 4c)
            else:
                variables.pop(name, None)  # no value unsets it
            return "+OK\n"
        if command == "uuid_getvar":
            leg, _, name = args.partition(" ")
            if leg not in self._legs:
                return "-ERR No such channel!\n"
            value = self.variable(leg, name.strip())
            return value if value is not None else "_undef_"
        if command == "uuid_broadcast":
            parts = args.split()
            if len(parts) < 2:
                return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
            if parts[0] not in self._legs:
                return "-ERR invalid uuid\n"
            self.broadcasts.append((parts[0], parts[1], parts[2] if len(parts) > 2 else "aleg"))
            return "+OK Message sent\n"
        if command == "sched_hangup":
            return self._schedule_hangup(args.split())
        if command == "sched_del":
            return f"+OK Deleted: {self._delete_scheduled(args.strip())}\n"
        if command == "originate":
            target = args.split(" ")[0]
            if "busy" in target:
                return "-ERR USER_BUSY\n"
            if "nobody" in target or "unreachable" in target:
                return "-ERR NORMAL_TEMPORARY_FAILURE\n"
            return f"+OK {self.place_call('answered', hold=True)}\n"
        if command == "reloadxml":
            asyncio.get_running_loop().call_soon(self._emit, self._switch_event("RELOADXML"))
            return "+OK [Success]\n"
        if command == "hupall":
            for call in list(self._calls.values()):
                self.hang_up(call.a_leg)
            return "+OK hangup all channels with cause " + (args.strip() or "NORMAL_CLEARING") + "\n"
        if command == "msleep":  # its wait is the caller's (inline for api, delayed for bgapi)
            return "+OK"
        if command == "global_getvar":  # an unset variable reads as nothing, like FreeSWITCH's
            return self.global_variables.get(args.strip(), "")
        if command == "status":
            return f"UP 0 years, 0 days\n{len(self._legs)} session(s) - peak {len(self._legs)}\n"
        return f"-ERR {command} Command not found!\n"

    def _schedule_hangup(self, args: list[str]) -> str:
        """``sched_hangup [+]<time> <uuid> [<cause>]``: absolute epoch seconds or ``+`` seconds
        from now, ``ALLOTTED_TIMEOUT`` unless given; the reply names no task (FACTS 4d)."""
        if not 2 <= len(args) <= 3:
            return "-USAGE: [+]<time> <uuid> [<cause>]\n"
        when, leg = args[0], args[1]
        if leg not in self._legs:
            return "-ERR No such channel!\n"
        now = time.time()
        at = int(now) + _leading_int(when[1:]) if when.startswith("+") else _leading_int(when)
        task_id = next(self._task_ids)
        timer = asyncio.get_running_loop().call_later(max(0.0, at - now), self._run_hangup, leg, task_id)
        cause = args[2] if len(args) == 3 else "ALLOTTED_TIMEOUT"
        self._hangups.setdefault(leg, []).append(_ScheduledHangup(task_id, at, cause, timer))
        return "+OK\n"

    def _run_hangup(self, group: str, task_id: int) -> None:
        """A scheduled hangup's moment: the task is done and the call ends."""
        self._delete_scheduled(str(task_id))
        self.hang_up(group)

    def _delete_group(self, group: str) -> int:
        tasks = self._hangups.pop(group, [])
        for task in tasks:
            task.timer.cancel()
        return len(tasks)

    def _delete_scheduled(self, target: str) -> int:
        """``sched_del <group>`` deletes every task of the group, ``sched_del <task id>`` one."""
        if target in self._hangups:
            return self._delete_group(target)
        for group, tasks in self._hangups.items():
            for task in tasks:
                if str(task.task_id) == target:
                    task.timer.cancel()
                    tasks.remove(task)
                    if not tasks:
                        del self._hangups[group]
                    return 1
        return 0

    async def socket_call(self, host: str, port: int, scenario: str = "bridged", *, caller: str = "41791234567") -> None:
        """A call whose dialplan runs ``socket host:port async full``: the simulator dials the
        outbound server for the A-leg and obeys it until the call is over."""
        script = self._scripts[scenario]
        call = _Call(script, caller, int(time.time() * 1_000_000), None)
        self._register(call)
        first_execute = self._a_leg_execute(call)
        stop = first_execute[0] if first_execute else 0
        for index in range(stop):
            self._advance(call, index)
        call.position = stop
        call.held = True
        loop = asyncio.get_running_loop()
        _, app = await loop.create_connection(lambda: _SocketApp(self, call), host, port)
        await app.finished
        self._forget(call)

    def _a_leg_execute(self, call: _Call) -> tuple[int, int] | None:
        """The script's first CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE of the A-leg."""
        execute = complete = None
        for index, event in enumerate(call.script.events):
            if event.leg_slot != 0:
                continue
            if event.name == "CHANNEL_EXECUTE" and execute is None:
                execute = index
            elif event.name == "CHANNEL_EXECUTE_COMPLETE" and execute is not None and complete is None:
                complete = index
        return None if execute is None or complete is None else (execute, complete)

    def _channel_name(self, call: _Call) -> str:
        for key, value in self._leg_pairs(call, 0, "CHANNEL_DATA"):
            if key == "Channel-Name":
                return str(value)
        return ""

    def _leg_pairs(self, call: _Call, slot: int, name: str) -> list[tuple[str, object]]:
        index = call.last_event.get(slot, 0)
        return self._pairs(call, index, name)

    def _row(self, call: _Call, slot: int) -> dict[str, str]:
        h: dict[str, str] = {}
        for key, value in self._leg_pairs(call, slot, "CHANNEL_DATA"):
            h.setdefault(key, value if isinstance(value, str) else "ARRAY::" + "|:".join(map(str, value)))
        created_us = int(h.get("Caller-Channel-Created-Time") or h.get("Event-Date-Timestamp") or "0")
        created = datetime.fromtimestamp(created_us / 1_000_000, UTC)
        callee = h.get("Caller-Callee-ID-Number", "")
        return {
            "uuid": h.get("Unique-ID", ""),
            "direction": h.get("Call-Direction", ""),
            "created": created.strftime("%Y-%m-%d %H:%M:%S"),
            "created_epoch": str(created_us // 1_000_000),
            "name": h.get("Channel-Name", ""),
            "state": h.get("Channel-State", ""),
            "cid_name": h.get("Caller-Caller-ID-Name", ""),
            "cid_num": h.get("Caller-Caller-ID-Number", ""),
            "ip_addr": h.get("Caller-Network-Addr", ""),
            "dest": h.get("Caller-Destination-Number", ""),
            "application": h.get("variable_current_application", ""),
            "application_data": h.get("variable_current_application_data", ""),
            "dialplan": h.get("Caller-Dialplan", ""),
            "context": h.get("Caller-Context", ""),
            "read_codec": h.get("Channel-Read-Codec-Name", ""),
            "read_rate": h.get("Channel-Read-Codec-Rate", ""),
            "read_bit_rate": h.get("Channel-Read-Codec-Bit-Rate", ""),
            "write_codec": h.get("Channel-Write-Codec-Name", ""),
            "write_rate": h.get("Channel-Write-Codec-Rate", ""),
            "write_bit_rate": h.get("Channel-Write-Codec-Bit-Rate", ""),
            "secure": "",
            "hostname": h.get("FreeSWITCH-Hostname", self.hostname),
            "presence_id": h.get("variable_presence_id", ""),
            "presence_data": "",
            "accountcode": h.get("variable_accountcode", ""),
            "callstate": h.get("Channel-Call-State", ""),
            "callee_name": h.get("Caller-Callee-ID-Name", ""),
            "callee_num": callee,
            "callee_direction": "SEND" if callee else "",
            "call_uuid": h.get("Channel-Call-UUID", h.get("Unique-ID", "")),
            "sent_callee_name": h.get("variable_last_sent_callee_id_name", ""),
            "sent_callee_num": h.get("variable_last_sent_callee_id_number", ""),
            "initial_cid_name": h.get("Caller-Orig-Caller-ID-Name", h.get("Caller-Caller-ID-Name", "")),
            "initial_cid_num": h.get("Caller-Orig-Caller-ID-Number", h.get("Caller-Caller-ID-Number", "")),
            "initial_ip_addr": h.get("Caller-Network-Addr", ""),
            "initial_dest": h.get("Caller-Destination-Number", ""),
            "initial_dialplan": h.get("Caller-Dialplan", ""),
            "initial_context": h.get("Caller-Context", ""),
        }

    def _live(self) -> list[tuple[_Call, int]]:
        return [found for found in self._legs.values() if found[0].last_event.get(found[1]) is not None]

    def _show(self, what: str) -> str:
        if what == "channels count":
            return f"\n{len(self._live())} total.\n"
        if what == "channels as json":
            rows = [self._row(call, slot) for call, slot in self._live()]
            return _listing(rows)
        if what in ("calls as json", "detailed_calls as json", "bridged_calls as json", "detailed_bridged_calls as json"):
            rows = []
            for call in self._calls.values():
                pair = self._bridged_pair(call)
                if pair is None:
                    continue
                a, b = self._row(call, 0), self._row(call, pair)
                row = {k: v for k, v in a.items() if not k.startswith("initial_")}
                row.update({"b_" + k: v for k, v in b.items() if not k.startswith("initial_")})
                row["call_created_epoch"] = a["created_epoch"]
                rows.append(row)
            return _listing(rows)
        return "-ERR show Command not found!\n" if not what else _listing([])

    def _bridged_pair(self, call: _Call) -> int | None:
        """The B-leg slot a call is bridged to, if it has reached its bridge."""
        for index in range(min(call.position, len(call.script.events)) - 1, -1, -1):
            event = call.script.events[index]
            if event.name == "CHANNEL_UNBRIDGE":
                return None
            if event.name == "CHANNEL_BRIDGE":
                for f in event.fields:
                    if f.name == "Bridge-B-Unique-ID" and f.kind == _TEMPLATE:
                        slot = next((p for p in f.data if isinstance(p, int) and p >= 0), None)  # type: ignore[union-attr]
                        if slot is not None and slot in call.last_event and slot not in call.gone:
                            return slot
                return None
        return None


class _SocketApp(asyncio.Protocol):
    """The ``socket`` application of one channel, dialling an outbound Event Socket server
    and obeying it as FreeSWITCH does (FACTS 8): only that channel's events (myevents),
    ``+OK`` to sendmsg before the application runs, linger notices and timeouts."""

    def __init__(self, sim: FreeSwitchSimulator, call: _Call) -> None:
        self.sim = sim
        self.call = call
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.format: str | None = None
        self.linger: int | None = None
        self.finished = asyncio.get_running_loop().create_future()
        self.hung_up = False
        self.pending_complete: tuple[int, dict[str, str]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def reply(self, text: str) -> None:
        self.write(f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n\n" in self.buffer:
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            lines = block.decode("utf-8", "replace").split("\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            self.command(lines[0].strip(), headers)

    def send_event(self, index: int, overrides: dict[str, str] | None = None) -> None:
        if self.format is None:
            return
        pairs = self.sim._pairs(self.call, index)
        if overrides:
            present = {k for k, _ in pairs}
            pairs = [(k, overrides.get(k, v)) for k, v in pairs]
            pairs += [(k, v) for k, v in overrides.items() if k not in present]
        event = self.call.script.events[index]
        self.write(_encode(self.format, pairs, event.body))

    def command(self, line: str, headers: dict[str, str]) -> None:
        sim, call = self.sim, self.call
        word, _, rest = line.partition(" ")
        if word == "connect":
            pairs = sim._leg_pairs(call, 0, "CHANNEL_DATA")
            block = "".join(f"{k}: {_plain_value(v)}\n" for k, v in pairs)
            block += "Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n"
            self.write(block.encode())
        elif word == "myevents":
            self.format = "json" if rest.strip() == "json" else "plain"
            self.reply("+OK Events Enabled")
        elif word == "linger":
            self.linger = int(rest) if rest.strip().isdigit() else -1
            self.reply(f"+OK will linger {rest.strip()} seconds" if rest.strip() else "+OK will linger")
        elif word == "getvar":
            value = sim._api(f"uuid_getvar {call.a_leg} {rest.strip()}")
            self.reply(value)
        elif word == "api":
            body = sim._api(rest).encode()
            self.write(b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body)
        elif word == "sendmsg":
            self.reply("+OK")  # async: queued, the application runs afterwards
            asyncio.get_running_loop().call_soon(self.message, headers)
        elif word == "exit":
            self.reply("+OK bye")
            self.goodbye()
        else:
            self.reply("-ERR command not found")

    def message(self, headers: dict[str, str]) -> None:
        kind = headers.get("call-command", "")
        if kind == "execute":
            template = self.sim._a_leg_execute(self.call)
            if template is None:
                return
            app = headers.get("execute-app-name", "")
            arg = headers.get("execute-app-arg", "")
            overrides = {"Application": app, "Application-Data": arg, "Application-UUID": headers.get("Event-UUID", "")}
            self.send_event(template[0], overrides)
            if app == "set" and "=" in arg:
                name, _, value = arg.partition("=")
                self.call.variables.setdefault(0, {})[name] = value
            overrides["Application-Response"] = "_none_"
            if app == "bridge":
                # a bridge completes when the call ends
                self.play(self.call.script.hold_after or 0)
                self.pending_complete = (template[1], overrides)
                return
            self.send_event(template[1], overrides)
        elif kind == "hangup":
            self.play(len(self.call.script.events))
            if self.pending_complete is not None:
                self.send_event(*self.pending_complete)
                self.pending_complete = None
            self.hang_up_done()

    def play(self, until: int) -> None:
        """Advance the call's script, sending the controlled (A) leg's events only."""
        call = self.call
        while call.position < min(until, len(call.script.events)):
            index = call.position
            call.position += 1
            self.sim._advance(call, index)
            if call.script.events[index].leg_slot == 0:
                self.send_event(index)

    def hang_up_done(self) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        self.sim._forget(self.call)
        if self.linger is None:
            self.goodbye()
            return
        notice = (
            f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {self.call.a_leg}\n"
            f"Content-Disposition: linger\nChannel-Name: {self.sim._channel_name(self.call)}\n"
            f"Linger-Time: {self.linger}\nContent-Length: 0\n\n"
        )
        self.write(notice.encode())
        if self.linger > 0:
            asyncio.get_running_loop().call_later(self.linger + 0.5, self.goodbye)

    def goodbye(self) -> None:
        notice = (
            f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {self.call.a_leg}\n"
            f"Content-Disposition: disconnect\nContent-Length: {len(GOODBYE)}\n\n"
        ).encode() + GOODBYE
        self.write(notice)
        if self.transport is not None:
            self.transport.close()


def _listing(rows: list[dict[str, str]]) -> str:
    if not rows:
        return '{"row_count": 0}\n'
    body = json.dumps({"row_count": len(rows), "rows": rows}, ensure_ascii=False, separators=(",", ":"))
    return body + "\n"


def _callee_hangs_up(bridged: _Script) -> _Script:
    """The bridged call, ended by the called side: the dispositions of the two legs swapped
    (no capture has a callee hanging up; everything else is the bridged capture)."""
    events = []
    for event in bridged.events:
        fields = []
        for f in event.fields:
            if f.name == "variable_sip_hangup_disposition" and f.kind == _LITERAL:
                swapped = {"recv_bye": "send_bye", "send_bye": "recv_bye"}.get(str(f.data), f.data)
                fields.append(_Field(f.name, f.kind, swapped))
            else:
                fields.append(f)
        events.append(_ScriptEvent(event.t, event.name, event.subclass, event.leg_slot, fields, event.body))
    return _Script("callee_hangs_up", bridged.legs, bridged.hold_after, events)


def main() -> None:  # pragma: no cover - a demo entry point
    import argparse

    parser = argparse.ArgumentParser(description="FreeSWITCH Event Socket simulator (tests, benchmarks, demos)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--password", default="ClueCon")
    parser.add_argument("--rate", type=float, default=1.0, help="calls a second")
    parser.add_argument("--calls", type=int, default=0, help="calls to place (0: none)")
    parser.add_argument("--hold", type=int, default=0, help="calls already talking at start")
    parser.add_argument("--speed", type=float, default=1.0, help="1.0 = the captured timing")
    args = parser.parse_args()

    async def serve() -> None:
        sim = FreeSwitchSimulator(args.host, args.port, args.password, speed=args.speed)
        await sim.start()
        if args.hold:
            sim.hold_calls(args.hold)
        print(f"simulator listening on {args.host}:{sim.port}", flush=True)
        if args.calls:
            await sim.traffic(args.rate, args.calls, SCENARIOS)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":  # pragma: no cover
    main()
