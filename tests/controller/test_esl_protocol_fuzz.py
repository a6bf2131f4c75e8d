"""The frame parser under random input: it never crashes, never hangs, and a value can never
smuggle in a header of its own."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.freeswitch.protocol import (
    FrameReader,
    JsonEvent,
    PlainEvent,
    ProtocolError,
    event_from_frame,
    url_encode,
)

FUZZ = settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

PIECES = [
    b"Content-Type: text/event-plain\n",
    b"Content-Type: text/event-json\n",
    b"Content-Type: text/event-xml\n",
    b"Content-Type: command/reply\nReply-Text: +OK\n\n",
    b"Content-Type: api/response\nContent-Length: 3\n\n+OK",
    b"Content-Length: 12\n",
    b"Content-Length: 99999999999999\n",
    b"Content-Length: x\n",
    b"\n\n",
    b"\n",
    b": ",
    b"Event-Name: CHANNEL_ANSWER\nUnique-ID: u%0A1\n",
    b'{"Event-Name":"DTMF","_body":"x\\"y"}',
    b"<event><headers><Event-Name>X</Event-Name></headers></event>",
    b"%",
    b"%0A",
    b"\xff\xfe",
]

streams = st.lists(
    st.one_of(st.sampled_from(PIECES), st.binary(max_size=40)),
    max_size=12,
).map(b"".join)


header_names = st.text(
    alphabet=st.characters(min_codepoint=45, max_codepoint=122, blacklist_characters=":[\\]^`"),
    min_size=1,
    max_size=12,
)


@FUZZ
@given(
    data=streams,
    cut=st.integers(min_value=1, max_value=64),
    values=st.lists(st.tuples(header_names, st.text(max_size=30)), min_size=1, max_size=6),
)
def test_random_streams_never_crash_and_values_never_inject(data: bytes, cut: int, values) -> None:
    """10,000 cases of both: a random byte stream in random pieces must parse or fail cleanly,
    and an event built from random (hostile) values must read back exactly those headers."""
    check_no_injection(values)
    reader = FrameReader()
    try:
        for i in range(0, len(data), cut):
            for frame in reader.feed(data[i : i + cut]):
                event = event_from_frame(frame)
                if event is not None:
                    event.get("Event-Name")
                    event.get("Unique-ID")
                    event.items()
                    _ = event.body
    except ProtocolError:
        pass
    assert reader.pending <= len(data)


def check_no_injection(values: list[tuple[str, str]]) -> None:
    """Whatever a caller or a variable puts in a value (``%0A``, raw newlines, ``: ``), the
    encoded event has exactly the headers it was built with."""
    pairs = [("Event-Name", "CUSTOM"), ("Unique-ID", "real")] + [("variable_" + k, v) for k, v in values]
    wire = "".join(f"{k}: {url_encode(v)}\n" for k, v in pairs).encode() + b"\n"
    frame_bytes = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(wire) + wire
    frames = FrameReader().feed(frame_bytes)
    assert len(frames) == 1
    event = event_from_frame(frames[0])
    assert isinstance(event, PlainEvent)
    assert event.items() == pairs
    assert event.get("Unique-ID") == "real"
    assert event.get_all("Unique-ID") == ["real"]
    for key, value in pairs:
        assert event.get(key) == next(v for k, v in pairs if k == key)


@settings(FUZZ, max_examples=1000)
@given(values=st.lists(st.tuples(header_names, st.text(max_size=30)), min_size=1, max_size=6))
def test_json_lookup_agrees_with_the_json_decoder(values: list[tuple[str, str]]) -> None:
    import json

    pairs = [("Event-Name", "CUSTOM"), ("Unique-ID", "real")] + [("variable_" + k, v) for k, v in values]
    body = "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + json.dumps(v, ensure_ascii=False) for k, v in pairs) + "}"
    event = JsonEvent(body.encode())
    for key, _ in pairs:
        first = next(v for k, v in pairs if k == key)
        assert event.get(key) == first
    assert event.get("Unique-ID") == "real"


@settings(FUZZ, max_examples=1000)
@given(raw=st.text(alphabet="%0AaFz9gG2Ce", max_size=16).map(lambda t: t.encode()))
def test_percent_decoding_is_urllibs(raw: bytes) -> None:
    from urllib.parse import unquote

    from controller.freeswitch.protocol import _percent_decoded

    assert _percent_decoded(raw) == unquote(raw.decode(), errors="replace")
