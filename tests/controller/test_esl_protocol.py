"""The frame parser against every byte FreeSWITCH 1.10.12 really sent (shared/freeswitch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.freeswitch.protocol import (
    MAX_BODY,
    FrameReader,
    JsonEvent,
    PlainEvent,
    ProtocolError,
    XmlEvent,
    event_from_frame,
    url_encode,
)


def raw_captures(root: Path) -> list[tuple[Path, Path]]:
    """Every ``*.raw`` capture that has a split ``*-frames.jsonl`` beside it."""
    pairs = []
    for raw in sorted(root.rglob("*.raw")):
        stem = raw.name.removesuffix(".raw").removesuffix(".from-fs")
        frames = raw.with_name(stem + "-frames.jsonl")
        if frames.exists():
            pairs.append((raw, frames))
    return pairs


def all_raw(root: Path) -> list[Path]:
    return sorted(root.rglob("*.raw"))


def parse_all(data: bytes, chunk: int | None = None, whole: bool = True) -> list:
    reader = FrameReader()
    frames = []
    if chunk is None:
        frames.extend(reader.feed(data))
    else:
        for i in range(0, len(data), chunk):
            frames.extend(reader.feed(data[i : i + chunk]))
    assert reader.pending == 0 or not whole
    return frames


def test_every_frame_of_every_capture_matches_the_split_files(captures):
    pairs = raw_captures(captures)
    assert len(pairs) >= 16
    checked = 0
    for raw, split in pairs:
        expected = [json.loads(line) for line in split.read_text().splitlines() if line.strip()]
        frames = parse_all(raw.read_bytes())
        assert len(frames) == len(expected), raw
        for frame, want in zip(frames, expected):
            assert dict(frame.headers) == want["headers"], raw
            assert [k for k, _ in frame.headers] == list(want["headers"]), raw
            assert frame.body.decode("utf-8") == want["body"], raw
            checked += 1
    assert checked > 700


def test_the_one_frame_a_file_splits_are_the_exact_wire_bytes(captures):
    for folder in sorted((captures / "samples").glob("*/plain")) + sorted((captures / "samples").glob("*/json")):
        kind = folder.name
        frames = parse_all((folder.parent / f"esl-{kind}.raw").read_bytes())
        files = sorted(p for p in folder.glob("*.txt") if p.name != "INDEX.txt")
        assert len(files) == len(frames), folder
        for frame, path in zip(frames, files):
            wire = path.read_bytes()
            rebuilt = frame.head + b"\n\n" + frame.body
            assert wire == rebuilt, path


@pytest.mark.parametrize("chunk", [1, 7, 1000, 65536])
def test_any_chunking_gives_the_same_frames(captures, chunk):
    data = (captures / "samples" / "bridge-call-9998" / "esl-plain.raw").read_bytes()
    if chunk == 1:
        data = data[:30000]  # byte by byte is slow; the first frames cover every case
    whole = parse_all(data, whole=False)
    pieces = parse_all(data, chunk, whole=False)
    assert [(f.headers, f.body) for f in pieces] == [(f.headers, f.body) for f in whole]


def test_every_raw_capture_parses_to_the_end(captures):
    kinds = set()
    for raw in all_raw(captures):
        for frame in parse_all(raw.read_bytes()):
            kinds.add(frame.content_type)
            event = event_from_frame(frame)
            if event is not None:
                assert event.name, raw
                event.items()
    assert kinds >= {
        "auth/request",
        "command/reply",
        "api/response",
        "text/event-plain",
        "text/event-json",
        "text/event-xml",
        "text/disconnect-notice",
    }


def _events(path: Path):
    return [e for e in (event_from_frame(f) for f in parse_all(path.read_bytes())) if e is not None]


def test_plain_values_decode_to_exactly_what_the_json_listener_got(captures):
    """Both listeners received the same events in the same order: decoding the plain one
    (split first, then URL-decode) must give the JSON one's strings, duplicates included."""
    compared = 0
    for folder in sorted((captures / "samples").iterdir()):
        if not (folder / "esl-json.raw").exists() or not (folder / "esl-plain.raw").exists():
            continue
        plain = _events(folder / "esl-plain.raw")
        jsons = _events(folder / "esl-json.raw")
        assert len(plain) == len(jsons)
        for p, j in zip(plain, jsons):
            assert isinstance(p, PlainEvent) and isinstance(j, JsonEvent)
            if p.items() != j.items():
                # tone-call-9999's plain capture spells the caller's display name "LAB Test"
                # where SIPp sent, and the JSON listener got, "Lab Test": a capture artefact.
                assert folder.name == "tone-call-9999"
                differing = {(a, b) for a, b in zip(p.items(), j.items()) if a != b}
                assert all(a[1].replace("LAB Test", "Lab Test") == b[1] for a, b in differing)
            assert p.body == j.body
            compared += 1
    assert compared > 250


def test_lazy_lookup_agrees_with_the_full_parse_for_every_header(captures):
    paths = [captures / "samples" / "bridge-call-9998" / "esl-plain.raw"]
    paths += [captures / "samples" / "bridge-call-9998" / "esl-json.raw"]
    paths += sorted((captures / "facts" / "raw" / "item2-hunt").glob("*/esl-json.raw"))[:3]
    paths += [captures / "samples" / "xml-format" / "esl-xml.raw"]
    for path in paths:
        for event in _events(path):
            pairs = event.items()
            for key, value in pairs:
                assert event.get(key) == next(v for k, v in pairs if k == key), (path, key)
            assert event.get("No-Such-Header") is None


def test_duplicate_headers_are_kept(captures):
    events = _events(captures / "samples" / "bridge-call-9998" / "esl-plain.raw")
    complete = [e for e in events if e.name == "CHANNEL_HANGUP_COMPLETE"]
    assert complete
    for event in complete:
        assert len(event.get_all("Hangup-Cause")) == 2
    jsons = _events(captures / "samples" / "bridge-call-9998" / "esl-json.raw")
    for event in (e for e in jsons if e.name == "CHANNEL_HANGUP_COMPLETE"):
        assert len(event.get_all("Hangup-Cause")) == 2


def test_inner_bodies_of_background_jobs(captures):
    actor = _events(captures / "samples" / "error-cases" / "actor-plain.raw")
    job = next(e for e in actor if e.name == "BACKGROUND_JOB")
    assert job.body == "-ERR NORMAL_TEMPORARY_FAILURE\n"
    assert job.get("Job-Command-Arg") == "{originate_timeout=4}sofia/external/nobody@127.0.0.1:5099 &park()"
    xml = _events(captures / "samples" / "xml-format" / "esl-xml.raw")
    job = next(e for e in xml if e.name == "BACKGROUND_JOB")
    assert isinstance(job, XmlEvent)
    assert job.body.startswith("+OK 5bdcba8e-6af3-442d-91d8-7b26b35b2766")
    assert job.get("Job-Command-Arg") == "loopback/9999/public &park()"


def test_the_outbound_connect_reply_is_one_header_block(captures):
    for raw in sorted((captures / "facts" / "raw" / "item8-outbound").glob("*/outbound-*.from-fs.raw")):
        first = parse_all(raw.read_bytes())[0]
        assert first.content_type == "command/reply"
        assert first.header("Content-Length") is None
        assert len(first.headers) == 144
        channel = first.as_event()
        assert channel.name == "CHANNEL_DATA"
        assert channel.get("Reply-Text") == "+OK\n"
        assert channel.variable("smart_call_id", "").startswith("78")
        assert channel.get("Channel-Unique-ID") == channel.get("Unique-ID")


def test_url_encoding_is_freeswitchs(captures):
    """Encoding the JSON listener's values reproduces the plain listener's bytes."""
    folder = captures / "samples" / "bridge-call-9998"
    plain = _events(folder / "esl-plain.raw")
    jsons = _events(folder / "esl-json.raw")
    for p, j in zip(plain, jsons):
        head = p.raw[: p.raw.find(b"\n\n")].decode()
        rebuilt = "\n".join(f"{k}: {url_encode(v)}" for k, v in j.items())
        assert head == rebuilt


def test_encoded_newlines_cannot_inject_a_header():
    raw = b"Event-Name: CUSTOM\nUnique-ID: abc\nvariable_x: evil%0AUnique-ID: forged%0A%0AHi\n\n"
    event = PlainEvent(raw)
    assert event.get("Unique-ID") == "abc"
    assert event.variable("x") == "evil\nUnique-ID: forged\n\nHi"
    assert event.get_all("Unique-ID") == ["abc"]
    assert len(event.items()) == 3


def test_garbage_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        FrameReader().feed(b"HTTP/1.1 200 OK\r\nfoo\n\n")
    with pytest.raises(ProtocolError):
        FrameReader().feed(b"Content-Length: -5\nContent-Type: text/event-plain\n\n")
    with pytest.raises(ProtocolError):
        FrameReader().feed(b"x" * (2 << 20))
    with pytest.raises(ProtocolError):  # an announced length no switch sends
        FrameReader().feed(b"Content-Length: 9999999999\nContent-Type: text/event-plain\n\nEvent-Name: X")


@pytest.mark.parametrize("kind", ["text/event-plain", "api/response"])
def test_a_body_beyond_the_limit_is_skipped_and_the_stream_goes_on(kind):
    """Memory stays bounded whatever a peer announces: the oversize body is thrown away as it
    arrives, the frame is reported with its length, and the next frame reads normally."""
    reader = FrameReader()
    size = MAX_BODY + 10
    head = (f"Content-Type: {kind}\nContent-Length: {size}\n\n" if kind == "api/response"
            else f"Content-Length: {size}\nContent-Type: {kind}\n\n").encode()
    (frame,) = reader.feed(head + b"x" * 1000)
    assert frame.oversize == size and frame.body == b"" and frame.content_type == kind
    chunk = b"y" * (1 << 20)
    sent = 1000
    while sent + len(chunk) < size:
        assert reader.feed(chunk) == [] and reader.pending == 0
        sent += len(chunk)
    after = reader.feed(b"z" * (size - sent) + b"Content-Type: api/response\nContent-Length: 3\n\n+OK")
    assert [(f.content_type, f.body, f.oversize) for f in after] == [("api/response", b"+OK", 0)]


def test_headers_by_prefix_agree_with_the_full_list(captures):
    for path in (captures / "samples" / "bridge-call-9998" / "esl-plain.raw", captures / "samples" / "bridge-call-9998" / "esl-json.raw"):
        for event in _events(path):
            for prefix in ("variable_sip_", "Caller-", "Event-Name", "Nope"):
                assert event.starting_with(prefix) == [(k, v) for k, v in event.items() if k.startswith(prefix)]


def test_an_inner_body_is_never_read_as_headers():
    body = b"Unique-ID: fake\nvariable_x: fake\n\n"
    raw = b"Event-Name: BACKGROUND_JOB\nJob-UUID: job-1\nContent-Length: %d\n\n" % len(body) + body
    for first in ("Job-UUID", "Unique-ID", "variable_x"):  # whatever is asked first
        event = PlainEvent(raw)
        event.get(first)
        assert event.get("Unique-ID") is None and event.variable("x") is None
        assert event.get("Job-UUID") == "job-1"
        assert event.body == body.decode()
        assert [k for k, _ in event.items()] == ["Event-Name", "Job-UUID", "Content-Length"]
