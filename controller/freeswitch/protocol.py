"""The Event Socket wire format: frames, and the events inside them.

Everything FreeSWITCH sends on an Event Socket is a *frame*: a block of ``Name: value`` lines
ended by a blank line, then, if the block has ``Content-Length``, that many bytes of body.
Events ride inside frames as ``text/event-plain``, ``text/event-json`` or ``text/event-xml``.

Speed matters here (the controller reads every event of a busy switch on one core), so frames
are split with ``bytes.find`` and events are decoded lazily: reading ``Unique-ID`` from an
event looks up that one header in the raw bytes and decodes only its value. The full header
list (duplicates kept, in wire order) is built only when someone asks for it.

What a value can hold: FreeSWITCH URL-encodes values in plain and XML events and in the
outbound ``connect`` reply, but leaves a ``%`` followed by two upper-case hex digits as it is.
A value that itself holds such a sequence (``50%41``) is therefore read back decoded (``50A``)
from those three; it is exact in JSON events and in ``getvar``/``uuid_getvar`` answers, which
carry values unencoded. Outer header values (``Reply-Text``) are never decoded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from xml.etree import ElementTree

__all__ = [
    "Frame",
    "FrameReader",
    "ProtocolError",
    "Event",
    "PlainEvent",
    "JsonEvent",
    "XmlEvent",
    "event_from_frame",
    "url_encode",
]

# A header block larger than this without its blank line is not FreeSWITCH talking: the
# biggest seen is the outbound ``connect`` reply (about 5.5 kB).
MAX_HEAD = 1 << 20
# A 1 MiB channel variable makes events of about 1.1 MB (FACTS 4c); the command line limit
# of mod_event_socket is 10 MiB. A frame with a larger body is skipped, not kept (one leg's
# 72 MB ``uuid_dump`` must not cost the link): it arrives as a ``Frame`` with ``oversize`` set
# and no body. Only a length beyond MAX_SKIP is taken for a broken stream.
MAX_BODY = 64 << 20
MAX_SKIP = 1 << 30


class ProtocolError(Exception):
    """The byte stream is not the Event Socket protocol; the connection cannot be trusted.

    ``frames`` holds the frames completed before the bad bytes, so none is lost."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.frames: list[Frame] = []


class Frame:
    """One frame as it came off the wire: its header block and its body, both undecoded.

    Outer header values are kept as sent. Only the outbound ``connect`` reply URL-encodes
    them (its header block *is* a channel's event); ``as_event()`` decodes that one. Header
    names are matched as libesl matches them: without regard to case. ``oversize`` is the
    length of a body beyond ``MAX_BODY`` that was skipped (then ``body`` is empty).
    """

    __slots__ = ("head", "body", "content_type", "_headers", "oversize")

    def __init__(self, head: bytes, body: bytes, content_type: str | None, headers: list[tuple[str, str]] | None = None,
                 oversize: int = 0) -> None:
        self.head = head
        self.body = body
        self.content_type = content_type
        self._headers = headers
        self.oversize = oversize

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The outer headers in wire order, duplicates kept."""
        if self._headers is None:
            self._headers = _parse_head(self.head)[0]
        return self._headers

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default

    def as_event(self) -> PlainEvent:
        """The header block read as a plain event (the outbound ``connect`` reply)."""
        return PlainEvent(self.head + b"\n\n")

    def __repr__(self) -> str:
        return f"Frame({self.content_type!r}, {len(self.body)} body bytes)"


_CONTENT_TYPES = {
    b"text/event-plain": "text/event-plain",
    b"text/event-json": "text/event-json",
    b"text/event-xml": "text/event-xml",
}
# An event frame's header block, as FreeSWITCH writes it (Content-Length first).
_EVENT_FRAME = re.compile(rb"Content-Length: ([0-9]{1,8})\nContent-Type: (text/event-(?:plain|json|xml))\n\n")


def _parse_head(head: bytes) -> tuple[list[tuple[str, str]], int]:
    """Split an outer header block into pairs and read its Content-Length (-1 if none).

    As libesl reads it: the name ends at the first colon, spaces and tabs after it are not
    part of the value, and ``Content-Length`` is found whatever its case."""
    headers: list[tuple[str, str]] = []
    length = -1
    for line in head.split(b"\n"):
        sep = line.find(b":")
        if sep <= 0:
            raise ProtocolError(f"not an Event Socket header line: {line[:80]!r}")
        name, value = line[:sep], line[sep + 1 :].lstrip(b" \t")
        key = name.decode("latin-1")
        text = value.decode("utf-8", "replace")
        if key.lower() == "content-length":
            if not value.isdigit() or len(value) > 12:
                raise ProtocolError(f"bad Content-Length: {value[:40]!r}")
            length = int(value)
            if length > MAX_SKIP:
                raise ProtocolError(f"Content-Length {length} is beyond {MAX_SKIP} bytes")
        headers.append((key, text))
    return headers, length


class FrameReader:
    """Turns the socket's byte stream into frames, whatever the chunking of the reads.

    ``feed()`` returns the frames completed by the new bytes and keeps any partial frame for
    the next call; it never waits, so the socket is always drained at once.
    """

    __slots__ = ("_buffer", "_need", "_skip")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._need = 0  # bytes the partial frame in the buffer needs at least
        self._skip = 0  # bytes of an oversize body still to throw away

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes, events: dict[str, type[Event]] | None = None) -> list:
        """The frames completed by ``data``. With ``events`` (content type -> event class), an
        event frame comes back directly as its event (one object less per event)."""
        frames: list = []
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return frames
            data, self._skip = data[self._skip :], 0
        buffer = self._buffer
        view: bytes = data
        offset = 0
        try:
            if buffer:
                need = self._need
                if need and len(buffer) + len(data) >= need:
                    # Finish the pending frame with the head of ``data``, then read the rest of
                    # ``data`` in place: no copy of the whole chunk.
                    missing = need - len(buffer)
                    buffer += data[:missing]
                    pending = bytes(buffer)
                    self._buffer = bytearray()
                    self._need = 0
                    done = self._scan(pending, 0, events, frames)
                    if done < len(pending):
                        view, offset = pending[done:] + data[missing:], 0
                    else:
                        offset = missing
                else:
                    buffer += data
                    if len(buffer) < need:
                        return []  # a big body still arriving: no copy, no rescan
                    view = bytes(buffer)
                    self._buffer = bytearray()
                    self._need = 0
            pos = self._scan(view, offset, events, frames)
        except ProtocolError as exc:
            self._buffer = bytearray()
            self._need = 0
            self._skip = 0
            exc.frames = frames
            raise
        if pos < len(view):
            self._buffer = bytearray(view[pos:])
        return frames

    def _scan(self, view: bytes, pos: int, events: dict[str, type[Event]] | None, frames: list) -> int:
        """Append the complete frames of ``view`` from ``pos``; where the first incomplete one starts."""
        size = len(view)
        find = view.find
        event_frame = _EVENT_FRAME.match
        types = _CONTENT_TYPES
        append = frames.append
        while pos < size:
            # Fast path, one regex call: "Content-Length: N\nContent-Type: text/event-x\n\n".
            match = event_frame(view, pos)
            if match is not None:
                start = match.end()
                length = int(match.group(1))
                if length > MAX_BODY:
                    append(Frame(view[pos : start - 2], b"", types[match.group(2)], None, length))
                    pos = self._skipped(start, length, size)
                    continue
                if start + length > size:
                    self._need = start + length - pos
                    break
                content_type = types[match.group(2)]
                make = events.get(content_type) if events else None
                if make is not None:
                    append(make(view[start : start + length]))
                else:
                    append(Frame(view[pos : start - 2], view[start : start + length], content_type))
                pos = start + length
                continue
            # Stray newlines between frames are tolerated (some peers send them).
            while pos < size and view[pos] == 10:
                pos += 1
            if pos >= size:
                break
            end = find(b"\n\n", pos)
            if end < 0:
                if size - pos > MAX_HEAD:
                    raise ProtocolError(f"header block longer than {MAX_HEAD} bytes")
                break
            head = view[pos:end]
            headers, length = _parse_head(head)
            content_type = None
            for key, value in headers:
                if key.lower() == "content-type":
                    content_type = value.lower()  # libesl compares the type without case, too
                    break
            start = end + 2
            if length > MAX_BODY:
                append(Frame(head, b"", content_type, headers, length))
                pos = self._skipped(start, length, size)
                continue
            if length <= 0:
                append(Frame(head, b"", content_type, headers))
                pos = start
                continue
            if start + length > size:
                self._need = start + length - pos
                break
            append(Frame(head, view[start : start + length], content_type, headers))
            pos = start + length
        return pos

    def _skipped(self, start: int, length: int, size: int) -> int:
        """Where reading resumes after an oversize body starting at ``start``; the part not
        yet received is thrown away as it arrives."""
        if start + length <= size:
            return start + length
        self._skip = start + length - size
        return size


# -- events ----------------------------------------------------------------------------------

_PLAIN_KEYS: dict[str, tuple[bytes, bytes]] = {}
_JSON_KEYS: dict[str, bytes | None] = {}
_UNKNOWN = b"\0unknown"
_KEY_CACHE_LIMIT = 4096


def _plain_key(name: str) -> tuple[bytes, bytes]:
    keys = _PLAIN_KEYS.get(name)
    if keys is None:
        raw = name.encode("utf-8")
        keys = (raw + b": ", b"\n" + raw + b": ")
        if len(_PLAIN_KEYS) < _KEY_CACHE_LIMIT:
            _PLAIN_KEYS[name] = keys
    return keys


def _json_key(name: str) -> bytes | None:
    """``"name":`` as it appears in FreeSWITCH's compact JSON, or None if the name would need
    escaping (then the lazy path is not exact and the full parse answers)."""
    try:
        return _JSON_KEYS[name]
    except KeyError:
        pass
    key: bytes | None
    if '"' in name or "\\" in name or any(ord(c) < 32 for c in name):
        key = None
    else:
        key = b'"' + name.encode("utf-8") + b'":'
    if len(_JSON_KEYS) < _KEY_CACHE_LIMIT:
        _JSON_KEYS[name] = key
    return key


_HEX = {f"{b:02x}".encode(): bytes([b]) for b in range(256)}
_HEX.update({f"{b:02X}".encode(): bytes([b]) for b in range(256)})
_HEX.update({f"{b:02x}".encode()[:1] + f"{b:02X}".encode()[1:]: bytes([b]) for b in range(256)})
_HEX.update({f"{b:02X}".encode()[:1] + f"{b:02x}".encode()[1:]: bytes([b]) for b in range(256)})


def _percent_decoded(raw: bytes) -> str:
    """``%XX`` escapes to bytes, then UTF-8: what ``urllib.parse.unquote`` does, faster for
    the few escapes a header value has. A ``%`` not followed by two hex digits stays."""
    parts = raw.split(b"%")
    out = [parts[0]]
    hexes = _HEX
    for part in parts[1:]:
        byte = hexes.get(part[:2])
        if byte is None:
            out.append(b"%")
            out.append(part)
        else:
            out.append(byte)
            out.append(part[2:])
    return b"".join(out).decode("utf-8", "replace")


def _decode_value(raw: bytes) -> str:
    if b"%" in raw:
        return _percent_decoded(raw)
    return raw.decode("utf-8", "replace")


class Event:
    """An event from FreeSWITCH, whatever its encoding on the wire.

    ``get`` answers the first value of a header; ``get_all`` every value (FreeSWITCH repeats
    some, e.g. ``Hangup-Cause``); ``items`` the whole list in wire order; ``body`` the text
    behind the headers (a BACKGROUND_JOB's result), or None.
    """

    __slots__ = ()

    def get(self, name: str, default: str | None = None) -> str | None:  # pragma: no cover
        raise NotImplementedError

    def items(self) -> list[tuple[str, str]]:  # pragma: no cover
        raise NotImplementedError

    @property
    def body(self) -> str | None:  # pragma: no cover
        raise NotImplementedError

    @property
    def name(self) -> str | None:
        return self.get("Event-Name")

    def variable(self, name: str, default: str | None = None) -> str | None:
        """A channel variable carried by the event (``variable_<name>``)."""
        return self.get("variable_" + name, default)

    def starting_with(self, prefix: str) -> list[tuple[str, str]]:
        """The headers whose names start with ``prefix`` (e.g. the product's variables)."""
        return [(key, value) for key, value in self.items() if key.startswith(prefix)]

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.items() if key == name]

    def as_dict(self) -> dict[str, str]:
        """One value per header (the first, like ``get``)."""
        result: dict[str, str] = {}
        for key, value in self.items():
            result.setdefault(key, value)
        return result

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.get('Unique-ID')!r})"


class PlainEvent(Event):
    """``text/event-plain``: ``Name: url-encoded value`` lines, then an optional inner body.

    A value is decoded only after its line has been cut out, so an encoded ``%0A`` can never
    start a header of its own.
    """

    __slots__ = ("raw", "_end", "_clear", "_pairs")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._end = -1  # where the headers end; found only when needed
        self._clear = 0  # up to here the bytes are known to be headers
        self._pairs: list[tuple[str, str]] | None = None

    @property
    def _head_end(self) -> int:
        """Where the header block ends. Only an event with an inner body has a
        ``Content-Length`` header, and it comes before that body: one search for it is much
        cheaper than looking for the blank line among hundreds of line ends."""
        end = self._end
        if end < 0:
            raw = self.raw
            at = raw.find(b"\nContent-Length: ")
            end = -1 if at < 0 else raw.find(b"\n\n", at)
            if end < 0:
                end = len(raw)
                while end and raw[end - 1] == 10:  # the blank line that ends the event
                    end -= 1
            self._end = end
        return end

    def get(self, name: str, default: str | None = None) -> str | None:
        keys = _PLAIN_KEYS.get(name) or _plain_key(name)
        raw = self.raw
        if raw.startswith(keys[0]):
            start = len(keys[0])
        else:
            inner = keys[1]
            at = raw.find(inner)
            if at < 0:
                return default
            if at > self._clear:
                # Is the match inside the header block? Only an inner body's Content-Length
                # header can end the block before it; look for one only as far as needed.
                end = self._end
                if end < 0:
                    cut = raw.find(b"\nContent-Length: ", self._clear, at)
                    if cut < 0:
                        self._clear = at
                    else:
                        end = raw.find(b"\n\n", cut)
                        self._end = end = len(raw) if end < 0 else end
                if end >= 0 and at >= end:
                    return default  # the first match is in the inner body: the headers lack it
            start = at + len(inner)
        stop = raw.find(b"\n", start)
        if stop < 0:
            stop = len(raw)
        value = raw[start:stop]
        if b"%" in value:
            return _percent_decoded(value)
        return value.decode("utf-8", "replace")

    def items(self) -> list[tuple[str, str]]:
        pairs = self._pairs
        if pairs is None:
            pairs = []
            head = self.raw[: self._head_end]
            for line in head.split(b"\n") if head else ():
                name, sep, value = line.partition(b": ")
                if not sep:
                    name, value = line.rstrip(b":"), b""
                pairs.append((name.decode("utf-8", "replace"), _decode_value(value)))
            self._pairs = pairs
        return pairs

    def starting_with(self, prefix: str) -> list[tuple[str, str]]:
        if self._pairs is not None:
            return [(k, v) for k, v in self._pairs if k.startswith(prefix)]
        raw = self.raw
        end = self._head_end
        key = prefix.encode("utf-8")
        found = []
        # every line start is either 0 or just after a "\n"; only matching lines are decoded
        at = 0 if raw.startswith(key) else raw.find(b"\n" + key, 0, end) + 1
        while 0 < at or (at == 0 and raw.startswith(key)):
            stop = raw.find(b"\n", at)
            if stop < 0 or stop > end:
                stop = end
            name, _, value = raw[at:stop].partition(b": ")
            found.append((name.decode("utf-8", "replace"), _decode_value(value)))
            nxt = raw.find(b"\n" + key, stop, end)
            if nxt < 0:
                break
            at = nxt + 1
        return found

    @property
    def body(self) -> str | None:
        length = self.get("Content-Length")
        if length is None or not length.isdigit():
            return None
        start = self._head_end + 2
        return self.raw[start : start + int(length)].decode("utf-8", "replace")


class JsonEvent(Event):
    """``text/event-json``: one flat JSON object of strings (a multi-value variable is an
    array), the body under ``_body``. Keys are found in the raw bytes; values containing an
    escape, and arrays, are handed to the JSON decoder."""

    __slots__ = ("raw", "_pairs")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._pairs: list[tuple[str, object]] | None = None

    def _all_pairs(self) -> list[tuple[str, object]]:
        pairs = self._pairs
        if pairs is None:
            try:
                decoded = json.loads(self.raw, object_pairs_hook=lambda p: p)
            except ValueError as exc:
                raise ProtocolError(f"event-json body is not JSON: {exc}") from None
            if not isinstance(decoded, list):
                raise ProtocolError("event-json body is not a JSON object")
            pairs = decoded
            self._pairs = pairs
        return pairs

    def _first(self, name: str) -> object:
        for key, value in self._all_pairs():
            if key == name:
                return value
        return None

    def get(self, name: str, default: str | None = None) -> str | None:
        key = _JSON_KEYS.get(name, _UNKNOWN)
        if key is _UNKNOWN:
            key = _json_key(name)
        raw = self.raw
        if key is not None and self._pairs is None:
            at = raw.find(key)
            if at < 0:
                # A key needing no escape is written as is: absent from the bytes, absent.
                return default
            if at == 0 or raw[at - 1] != 92:  # not preceded by a backslash
                start = at + len(key)
                if start < len(raw) and raw[start] == 34:  # a string value
                    stop = raw.find(b'"', start + 1)
                    if stop > 0:
                        value = raw[start + 1 : stop]
                        if b"\\" not in value:
                            return value.decode("utf-8", "replace")
                        if raw[stop - 1] != 92:
                            return json.loads(raw[start : stop + 1])
        value = self._first(name)
        if value is None:
            return default
        return _json_text(value)

    def items(self) -> list[tuple[str, str]]:
        return [(key, _json_text(value)) for key, value in self._all_pairs() if key != "_body"]

    def values(self, name: str) -> list[str]:
        """A multi-value variable as its list of values (an array in event-json)."""
        value = self._first(name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [_json_text(value)]

    @property
    def body(self) -> str | None:
        return self.get("_body")


def _json_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        # The json CDR and ``uuid_getvar`` spell a multi-value variable this way (FACTS 2).
        return "ARRAY::" + "|:".join(str(v) for v in value)
    return json.dumps(value)


class XmlEvent(Event):
    """``text/event-xml``: ``<event><headers><Name>value</Name>…</headers><body>…</body></event>``.
    Rare (nothing in the product subscribes to it), so it is simply parsed whole."""

    __slots__ = ("raw", "_pairs", "_body")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._pairs: list[tuple[str, str]] | None = None
        self._body: str | None = None

    def _parse(self) -> list[tuple[str, str]]:
        if self._pairs is None:
            try:
                root = ElementTree.fromstring(self.raw)
            except ElementTree.ParseError as exc:
                raise ProtocolError(f"event-xml body is not XML: {exc}") from None
            headers = root.find("headers")
            self._pairs = [(child.tag, child.text or "") for child in (headers if headers is not None else ())]
            body = root.find("body")
            if body is None:
                self._body = None
            else:
                # FreeSWITCH's XML printer indents the closing tag after a body that ends in a
                # line break: the body is the declared Content-Length, the rest is layout.
                text = body.text or ""
                length = root.findtext("Content-Length", "")
                if length.isdigit():
                    text = text.encode("utf-8")[: int(length)].decode("utf-8", "replace")
                self._body = text
        return self._pairs

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self._parse():
            if key == name:
                return _decode_value(value.encode("utf-8"))
        return default

    def items(self) -> list[tuple[str, str]]:
        return [(key, _decode_value(value.encode("utf-8"))) for key, value in self._parse()]

    @property
    def body(self) -> str | None:
        self._parse()
        return self._body


EVENT_TYPES = {
    "text/event-plain": PlainEvent,
    "text/event-json": JsonEvent,
    "text/event-xml": XmlEvent,
}


def event_from_frame(frame: Frame) -> Event | None:
    """The event a frame carries, or None if it is a reply or a notice."""
    kind = EVENT_TYPES.get(frame.content_type or "")
    return None if kind is None else kind(frame.body)


# -- encoding (the simulator and outbound commands) ------------------------------------------

# switch_url_encode(): every byte below space or above '~', and these.
_URL_UNSAFE = frozenset(b'\r\n "#%&+:;<=>?@[\\]^`{|}')
_URL_TABLE = [
    ("%%%02X" % b) if (b < 32 or b > 126 or b in _URL_UNSAFE) else chr(b) for b in range(256)
]
# switch_url_encode() leaves a '%' that is followed by two upper-case hex digits as it is,
# taking it for an escape already made.
_ALREADY_ENCODED = re.compile(rb"%[0-9A-F]{2}")


def url_encode(text: str) -> str:
    """Encode a header value the way FreeSWITCH does in ``text/event-plain`` and
    ``text/event-xml``.

    Not every value survives: FreeSWITCH does not encode a ``%`` followed by two upper-case
    hex digits, so a value holding ``%41`` is read back as ``A`` from a plain or XML event and
    from the outbound ``connect`` reply. Such a value is exact only where nothing is
    encoded: JSON events and ``getvar``/``uuid_getvar`` answers."""
    raw = text.encode("utf-8")
    if all(32 <= b <= 126 and b not in _URL_UNSAFE for b in raw):
        return text
    table = _URL_TABLE
    keep = {m.start() for m in _ALREADY_ENCODED.finditer(raw)} if b"%" in raw else ()
    return "".join(["%" if i in keep else table[b] for i, b in enumerate(raw)])
