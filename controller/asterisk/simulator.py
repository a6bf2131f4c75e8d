"""An Asterisk that speaks ARI (REST and the events WebSocket), for tests, benchmarks and demos.

It replays the WebSocket traffic captured on a real Asterisk 22.10.1 (``scripts``) frame for
frame, with fresh channel, bridge and playback ids and the current time, and keeps the live
channels and bridges those frames describe, so ``/channels``, ``/bridges`` and
``/applications/{app}`` list what a real switch would. It answers the REST resources the
controller uses, with Asterisk's own status codes and messages (404 ``Channel not found``,
409 ``Channel not in Stasis application``, 401, 405), over HTTP and over the WebSocket
(``RESTRequest``). As Asterisk does, it gives one WebSocket per application: a second one makes
the first receive ``ApplicationReplaced``; events for an application without a socket are
lost (counted in ``missed``), and nothing is replayed on reconnect. It can hold thousands of
live calls, flood a socket, and cut or refuse sockets. Originating and media are not simulated.
Never production.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

import orjson
from aiohttp import WSMsgType, web

from controller.asterisk import scripts

__all__ = ["AsteriskSimulator", "SCENARIOS"]

_SCRIPTS = scripts.load()
SCENARIOS: tuple[str, ...] = tuple(name for name, events in _SCRIPTS["scenarios"].items() if events)

_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}")
_CAUSES = {"normal": (16, "Normal Clearing"), "busy": (17, "User busy"), "congestion": (34, "Circuit/channel congestion"),
           "no_answer": (19, "User alerting, no answer"), "unallocated": (1, "Unallocated (unassigned) number")}
# Channel variables ``ari.conf``'s ``channelvars`` would put in every snapshot: the product's.
_SNAPSHOT_PREFIX = "smart_"


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def _ids(event: dict) -> Iterator[tuple[str, str]]:
    """Every (kind, id) an event names: channels, bridges and their members, playbacks."""
    for key in ("channel", "peer"):
        snapshot = event.get(key)
        if isinstance(snapshot, dict) and snapshot.get("id"):
            yield "channel", snapshot["id"]
    bridge = event.get("bridge")
    if isinstance(bridge, dict):
        yield "bridge", bridge["id"]
        for member in bridge.get("channels", []):
            yield "channel", member
    playback = event.get("playback")
    if isinstance(playback, dict):
        yield "playback", playback["id"]


def _template(scenario: str, kind: str, key: str) -> dict:
    for _, raw in _SCRIPTS["scenarios"][scenario]:
        event = orjson.loads(raw)
        if event["type"] == kind:
            return event[key]
    raise LookupError(f"{scenario}: no {kind}")


class AsteriskSimulator:
    """An ARI server on 127.0.0.1; ``start()``, then point an ``AriClient`` at ``port``."""

    def __init__(self, *, user: str = "asterisk", password: str = "asterisk",
                 asterisk_id: str = "02:fc:00:00:00:01") -> None:
        self.user = user
        self.password = password
        self.asterisk_id = asterisk_id
        self.port = 0
        self.channels: dict[str, dict] = {}  # live channels by id, as snapshots
        self.bridges: dict[str, dict] = {}
        self.in_application: dict[str, set[str]] = {}  # app -> channels in Stasis or subscribed to
        self.variables: dict[str, dict[str, str]] = {}
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.missed = 0  # events for an application without a socket
        self.refuse_sockets = 0  # close this many sockets right after the upgrade
        self.fail_requests = 0  # answer this many REST requests 500, as an overloaded Asterisk may
        self._sequence = itertools.count(1)
        self._sending: set[asyncio.Task] = set()  # frames on their way, referenced until sent
        self._runner: web.AppRunner | None = None
        self._caller = _template("iax2_real_network_calls", "StasisStart", "channel")
        self._callee = _template("iax2_real_network_calls", "Dial", "peer")
        self._bridge = _template("iax2_real_network_calls", "ChannelEnteredBridge", "bridge")

    # -- server --------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/ari/{path:.*}", self._http)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for socket in list(self.sockets.values()):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        expected = f"{self.user}:{self.password}"
        if request.query.get("api_key") == expected:
            return True
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                return base64.b64decode(header[6:]).decode() == expected
            except ValueError:
                return False
        return False

    async def _http(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return self._reply(401, {"message": "Authentication required"})
        path = request.match_info["path"]
        if path == "events" and request.method == "GET":
            return await self._events(request)
        if self.fail_requests > 0:
            self.fail_requests -= 1
            return web.Response(status=500)
        body = await request.read()
        status, answer = self.rest(request.method, path, dict(request.query), orjson.loads(body) if body else None)
        return self._reply(status, answer)

    @staticmethod
    def _reply(status: int, answer: object) -> web.Response:
        if answer is None:
            return web.Response(status=status)
        return web.Response(status=status, body=orjson.dumps(answer), content_type="application/json")

    async def _events(self, request: web.Request) -> web.WebSocketResponse:
        application = request.query.get("app", "")
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        if self.refuse_sockets > 0:
            self.refuse_sockets -= 1
            await socket.close()
            return socket
        old = self.sockets.get(application)
        self.sockets[application] = socket
        if old is not None and not old.closed:
            await old.send_str(self._frame({"type": "ApplicationReplaced"}, application))
        try:
            async for message in socket:
                if message.type is WSMsgType.TEXT:
                    await self._rest_over_socket(socket, application, orjson.loads(message.data))
        finally:
            if self.sockets.get(application) is socket:
                del self.sockets[application]
        return socket

    async def _rest_over_socket(self, socket: web.WebSocketResponse, application: str, message: dict) -> None:
        """Asterisk 22's REST over the WebSocket: a ``RESTRequest`` answered by a ``RESTResponse``."""
        if message.get("type") != "RESTRequest":
            return
        target = urlsplit(message.get("uri", ""))
        query = dict(parse_qsl(target.query))
        query.update({q["name"]: q["value"] for q in message.get("query_strings", [])})
        body = message.get("message_body")
        status, answer = self.rest(message.get("method", "GET"), target.path, query, orjson.loads(body) if body else None)
        response: dict[str, object] = {
            "type": "RESTResponse", "transaction_id": message.get("transaction_id"),
            "request_id": message.get("request_id"), "status_code": status,
            "reason_phrase": HTTPStatus(status).phrase, "uri": target.path,
        }
        if answer is not None:
            response["content_type"] = "application/json"
            response["message_body"] = orjson.dumps(answer).decode()
        await socket.send_str(self._frame(response, application))

    def _frame(self, fields: dict, application: str) -> str:
        """An event's text as Asterisk writes it: its fields in the order the captures show
        for its type, with the time, the switch's id and the application."""
        event = {**fields, "timestamp": _stamp(datetime.now(UTC)), "asterisk_id": self.asterisk_id,
                 "application": application}
        order = _SCRIPTS["orders"].get(event["type"], [])
        ordered = {key: event[key] for key in order if key in event}
        ordered.update((key, value) for key, value in event.items() if key not in ordered)
        return orjson.dumps(ordered).decode()

    # -- REST ----------------------------------------------------------------------------------

    def rest(self, method: str, path: str, query: dict[str, str], body: object) -> tuple[int, object]:
        """One REST request (``path`` below ``/ari``): the status and the JSON answer."""
        if isinstance(body, dict):
            query = {**query, **{k: v for k, v in body.items() if isinstance(v, str)}}
        parts = path.strip("/").split("/")
        route = {
            ("channels",): {"GET": lambda: (200, list(self.channels.values()))},
            ("bridges",): {"GET": lambda: (200, list(self.bridges.values()))},
            ("asterisk", "info"): {"GET": lambda: (200, orjson.loads(_SCRIPTS["answers"]["asterisk/info"]))},
            ("asterisk", "ping"): {"GET": lambda: (200, {"ping": "pong", "timestamp": _stamp(datetime.now(UTC)),
                                                         "asterisk_id": self.asterisk_id})},
        }.get(tuple(parts))
        if route is None and len(parts) >= 2:
            route = self._resource(parts, query)
        if route is None:
            return 404, {"message": "Resource not found"}
        handler = route.get(method)
        if handler is None:
            return 405, {"message": "Invalid method"}
        return handler()

    def _resource(self, parts: list[str], query: dict[str, str]) -> dict | None:
        kind, name, rest = parts[0], parts[1], parts[2:]
        if kind == "channels":
            channel = self.channels.get(name)
            if channel is None:
                missing = (404, {"message": "Channel not found"})
                return {m: (lambda: missing) for m in ("GET", "POST", "DELETE")}
            if not rest:
                return {"GET": lambda: (200, channel), "DELETE": lambda: self._delete(name, query)}
            if rest == ["answer"]:
                return {"POST": lambda: self._answer(name)}
            if rest == ["variable"]:
                return {"GET": lambda: self._get_variable(name, query), "POST": lambda: self._set_variable(name, query)}
            return None
        if kind == "bridges" and not rest:
            bridge = self.bridges.get(name)
            if bridge is None:
                return {m: (lambda: (404, {"message": "Bridge not found"})) for m in ("GET", "DELETE")}
            return {"GET": lambda: (200, bridge)}
        if kind == "playbacks" and not rest:
            return {m: (lambda: (404, {"message": "Playback not found"})) for m in ("GET", "DELETE")}
        if kind == "applications":
            if rest == ["subscription"]:
                return {"POST": lambda: self._subscribe(name, query.get("eventSource", ""))}
            if not rest:
                return {"GET": lambda: (200, self._application(name))}
        return None

    def _application(self, name: str) -> dict:
        channels = sorted(self.in_application.get(name, set()) & set(self.channels))
        bridges = sorted(b for b, bridge in self.bridges.items() if set(bridge.get("channels", [])) & set(channels))
        return {"name": name, "channel_ids": channels, "bridge_ids": bridges, "endpoint_ids": [],
                "device_names": [], "events_allowed": [], "events_disallowed": []}

    def _subscribe(self, application: str, source: str) -> tuple[int, object]:
        kind, _, name = source.partition(":")
        if kind != "channel" or name not in self.channels:
            return 422, {"message": "Event source not found"}
        self.in_application.setdefault(application, set()).add(name)
        return 200, self._application(application)

    def _stasis(self, leg: str) -> str | None:
        return next((app for app, legs in self.in_application.items() if leg in legs), None)

    def _answer(self, leg: str) -> tuple[int, object]:
        application = self._stasis(leg)
        if application is None:
            return 409, {"message": "Channel not in Stasis application"}
        channel = self.channels[leg]
        if channel["state"] != "Up":
            channel["state"] = "Up"
            self._send(application, {"type": "ChannelStateChange", "channel": channel})
        return 204, None

    def _delete(self, leg: str, query: dict[str, str]) -> tuple[int, object]:
        cause = _CAUSES.get(query.get("reason", "normal"), _CAUSES["normal"])
        if query.get("reason_code", "").isdigit():
            cause = (int(query["reason_code"]), "")
        self.hang_up(leg, cause[0], soft=True)
        return 204, None

    def _get_variable(self, leg: str, query: dict[str, str]) -> tuple[int, object]:
        value = self.variables.get(leg, {}).get(query.get("variable", ""))
        if value is None:
            return 404, {"message": "Provided variable was not found"}
        return 200, {"value": value}

    def _set_variable(self, leg: str, query: dict[str, str]) -> tuple[int, object]:
        name = query.get("variable")
        if not name:
            return 400, {"message": "Variable name is required"}
        value = query.get("value", "")
        self.variables.setdefault(leg, {})[name] = value
        if name.startswith(_SNAPSHOT_PREFIX):
            self.channels[leg].setdefault("channelvars", {})[name] = value
        return 204, None

    # -- calls ---------------------------------------------------------------------------------

    def _send(self, application: str, fields: dict) -> None:
        socket = self.sockets.get(application)
        if socket is None or socket.closed:
            self.missed += 1
            return
        self._spawn(socket.send_str(self._frame(fields, application)))

    def _spawn(self, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def hang_up(self, leg: str, cause: int = 16, *, soft: bool = False) -> bool:
        """End a live channel as Asterisk reports it: ChannelHangupRequest (a soft one carries
        flag 32 for a REST DELETE; a hard one the Q.850 cause), StasisEnd, and ChannelDestroyed
        for a channel the application originated or subscribed to."""
        channel = self.channels.pop(leg, None)
        if channel is None:
            return False
        application = self._stasis(leg)
        for bridge in self.bridges.values():
            if leg in bridge["channels"]:
                bridge["channels"].remove(leg)
        if application is not None:
            request = {"cause": 32, "soft": True} if soft else {"cause": cause}
            self._send(application, {"type": "ChannelHangupRequest", **request, "channel": channel})
            self._send(application, {"type": "StasisEnd", "channel": channel})
            self._send(application, {"type": "ChannelDestroyed", "cause": cause,
                                     "cause_txt": next((t for c, t in _CAUSES.values() if c == cause), ""),
                                     "channel": channel})
            self.in_application[application].discard(leg)
        self.variables.pop(leg, None)
        return True

    def _channel_id(self) -> str:
        return f"{int(time.time())}.{next(self._sequence)}"

    def hold_calls(self, count: int, *, application: str = "smartnumbers", caller: str = "+41791234567") -> list[str]:
        """``count`` answered calls, each a caller and a called leg in a bridge, as a Stasis
        application that bridged them would leave them (no events): the callers' ids."""
        created = _stamp(datetime.now(UTC))
        callers = []
        legs = self.in_application.setdefault(application, set())
        for _ in range(count):
            a, b, bridge = self._channel_id(), self._channel_id(), str(uuid.uuid4())
            self.channels[a] = {**self._caller, "id": a, "state": "Up", "creationtime": created,
                                "caller": {"name": "", "number": caller}, "channelvars": {}}
            self.channels[b] = {**self._callee, "id": b, "state": "Up", "creationtime": created,
                                "channelvars": {"smart_call": a}}
            self.bridges[bridge] = {**self._bridge, "id": bridge, "channels": [a, b], "creationtime": created}
            legs.update((a, b))
            callers.append(a)
        return callers

    async def replay(self, scenario: str, *, application: str = "smartnumbers", speed: float = 0.0) -> dict[str, str]:
        """Send a captured scenario's events to the application's socket with fresh ids and the
        current time, keeping the channels and bridges they describe; ``speed`` 1.0 keeps the
        captured pace, 0 sends at once. Returns the captured id → fresh id mapping."""
        frames = _SCRIPTS["scenarios"][scenario]
        fresh: dict[str, str] = {}
        for _, raw in frames:
            for kind, old in _ids(orjson.loads(raw)):
                if old not in fresh:
                    fresh[old] = self._channel_id() if kind == "channel" else str(uuid.uuid4())
        alternatives = "|".join(map(re.escape, sorted(fresh, key=len, reverse=True)))
        names = re.compile(r"(?<![\w.-])(" + alternatives + r")(?![\w.-])") if fresh else None
        base = datetime.fromisoformat(_STAMP.search(frames[0][1]).group())  # type: ignore[union-attr]
        now = datetime.now(UTC)

        def restamp(match: re.Match) -> str:
            return _stamp(now + (datetime.fromisoformat(match.group()) - base))

        started = time.monotonic()
        for t_ms, raw in frames:
            if speed:
                await asyncio.sleep(max(0.0, started + t_ms / 1000 / speed - time.monotonic()))
            text = _STAMP.sub(restamp, names.sub(lambda m: fresh[m.group()], raw) if names else raw)
            event = orjson.loads(text)
            self._track(event, application)
            socket = self.sockets.get(application)
            if socket is None or socket.closed:
                self.missed += 1
            else:
                await socket.send_str(text)
        return fresh

    def _track(self, event: dict, application: str) -> None:
        """Keep the live channels and bridges a replayed event describes."""
        kind = event["type"]
        channel = event.get("channel")
        if isinstance(channel, dict):
            leg = channel["id"]
            if kind in ("ChannelDestroyed", "StasisEnd"):
                self.channels.pop(leg, None)
                self.in_application.get(application, set()).discard(leg)
            elif leg in self.channels or kind in ("StasisStart", "ChannelCreated", "ChannelStateChange"):
                self.channels[leg] = channel
            if kind == "StasisStart":
                self.in_application.setdefault(application, set()).add(leg)
        peer = event.get("peer")
        if kind == "Dial" and isinstance(peer, dict):  # a leg being dialled exists before its StasisStart
            self.channels.setdefault(peer["id"], peer)
        bridge = event.get("bridge")
        if isinstance(bridge, dict):
            if kind == "BridgeDestroyed":
                self.bridges.pop(bridge["id"], None)
            else:
                self.bridges[bridge["id"]] = bridge

    async def flood(self, count: int, *, application: str = "smartnumbers",
                    scenario: str = "inbound_dialplan_stasis") -> None:
        """Send ``count`` events (a scenario's frames over and over, as captured) as fast as
        the socket takes them: for queue overflow tests and ingest benchmarks."""
        socket = self.sockets[application]
        frames = [raw for _, raw in _SCRIPTS["scenarios"][scenario]]
        for raw in itertools.islice(itertools.cycle(frames), count):
            await socket.send_str(raw)

    async def send_text(self, text: str, *, application: str = "smartnumbers") -> None:
        """Send any text frame as it is (a fault: what no Asterisk sends)."""
        await self.sockets[application].send_str(text)

    def drop_connections(self) -> None:
        """Cut every events WebSocket (as a network failure would); calls go on."""
        for socket in list(self.sockets.values()):
            self._spawn(socket.close())

    @property
    def live_calls(self) -> int:
        """Bridges joining two legs."""
        return sum(1 for bridge in self.bridges.values() if len(bridge["channels"]) == 2)

