"""Capture that loses nothing and counts once, on the real switch's hunt through busy, no
answer and answer (FACTS 2, call 7201): four legs, by event, by post and by swept file."""

from __future__ import annotations

import datetime as dt
import json
import zlib
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from controller import capture
from controller.calls import LegDirection
from controller.freeswitch import translate
from controller.freeswitch.protocol import FrameReader, event_from_frame
from rating.pipeline import RatingSetup, rate_calls
from rating.operator_prices import set_price
from smartnumbers import accounts, numbers
from smartnumbers.audit import Actor
from smartnumbers.db import make_engine
from smartnumbers.migrate import downgrade, upgrade
from smartnumbers.models import ActorKind, CallRecord, CapturedLeg, LegSource, RatedCall
from smartnumbers.phone import CallerOrigin, RangeClass
from tests.calls.conftest import PAYFAST_PERCENT, ZONE
from tests.conftest import BACKENDS

OPERATOR = Actor(ActorKind.CLI, "noc")
A_LEG = "21129854-1166-4057-b671-4f04d2d478bc"
BUSY, NO_ANSWER, ANSWERED = (
    "5f312c6b-1122-4dab-a55f-64ed20a78d22",
    "e9241dbb-5c9f-484a-9a53-a6d31f7c88e5",
    "f10a5419-9a99-4899-9806-d385bcad20ce",
)


def hangups(captures):
    raw = (captures / "facts" / "raw" / "item2-hunt" / "7201" / "esl-json.raw").read_bytes()
    events = [event_from_frame(f) for f in FrameReader().feed(raw)]
    return [e for e in events if e is not None and translate.is_hangup_complete(e)]


def cdr_files(captures):
    folder = captures / "facts" / "raw" / "item2-hunt" / "7201" / "json_cdr"
    return {path.name.removesuffix(".cdr.json"): path.read_bytes() for path in sorted(folder.glob("*.cdr.json"))}


def by_event(event):
    return capture.ArrivedLeg(translate.leg_from_hangup(event, "vm"), LegSource.EVENT, translate.raw_event(event))


def by_cdr(body: bytes, source=LegSource.POST):
    document, text = translate.cdr_document(body, "application/json")
    return capture.ArrivedLeg(translate.leg_from_cdr(document, "vm"), source, text)


@pytest.fixture
def freephone(session):
    account = accounts.add_account(session, "Hunt AG")
    number = numbers.add_number(session, OPERATOR, "0800 111 222", account)
    for origin in CallerOrigin:
        set_price(session, OPERATOR, RangeClass.FREEPHONE, origin, interconnection_per_minute=Decimal("0.02"),
                           owner_per_minute=Decimal("0.12"))
    session.flush()
    return number


def rater(session):
    setup = RatingSetup.load(session, PAYFAST_PERCENT, ZONE)
    return lambda s, ids: rate_calls(s, ids, setup)


def test_the_hangup_event_and_the_cdr_are_the_same_neutral_leg(captures):
    events = {e.get("Unique-ID"): translate.leg_from_hangup(e, "vm") for e in hangups(captures)}
    cdrs = {leg: by_cdr(body).record for leg, body in cdr_files(captures).items()}
    assert set(events) == set(cdrs) == {A_LEG, BUSY, NO_ANSWER, ANSWERED}
    for leg_id, from_event in events.items():
        from_cdr = cdrs[leg_id]
        assert from_event.call_id == from_cdr.call_id == A_LEG
        for name in ("direction", "caller", "destination", "started_at", "answered_at", "cause", "hunt", "billed_ms"):
            assert getattr(from_event, name) == getattr(from_cdr, name), (leg_id, name)
    assert [h.cause for h in events[A_LEG].hunt] == ["USER_BUSY", "ALLOTTED_TIMEOUT", "NONE"]


def test_b_legs_wait_for_the_a_leg_and_three_paths_count_once(session, captures, freephone):
    events = hangups(captures)
    b_events = [e for e in events if e.get("Unique-ID") != A_LEG]
    a_event = next(e for e in events if e.get("Unique-ID") == A_LEG)
    rate = rater(session)

    first = capture.store_legs(session, [by_event(e) for e in b_events], rate)
    assert sorted(first.new_legs) == sorted([BUSY, NO_ANSWER, ANSWERED]) and first.built_calls == []
    assert session.scalar(select(func.count()).select_from(CallRecord)) == 0  # incomplete: no A-leg yet

    second = capture.store_legs(session, [by_event(a_event)], rate)
    assert second.new_calls == [A_LEG]

    files = cdr_files(captures)
    posted = capture.store_legs(session, [by_cdr(body) for body in files.values()], rate)
    assert posted.new_legs == [] and len(posted.known_legs) == 4
    swept = capture.store_legs(session, [by_cdr(files[A_LEG], LegSource.FILE)], rate)
    assert swept.new_legs == [] and swept.new_calls == []

    assert session.scalar(select(func.count()).select_from(CapturedLeg)) == 4
    assert session.scalar(select(func.count()).select_from(CallRecord)) == 1
    assert session.scalar(select(func.count()).select_from(RatedCall)) == 1
    a_leg = session.get(CapturedLeg, A_LEG)
    assert a_leg.sources == LegSource.EVENT | LegSource.POST | LegSource.FILE
    assert a_leg.raw_event == translate.raw_event(a_event)  # the switch's own words, as it sent them
    assert json.loads(a_leg.raw_cdr)["variables"]["uuid"] == A_LEG
    if session.get_bind().dialect.name == "postgresql":  # compressed where they are kept
        assert session.execute(text("SELECT pg_column_compression(raw_event), pg_column_compression(raw_cdr) "
                                    "FROM captured_leg WHERE leg_id = :leg"), {"leg": A_LEG}).one() == ("lz4", "lz4")

    call = session.get(CallRecord, A_LEG)
    assert call.number_id == freephone.id and call.account_id == freephone.account_id
    assert call.answered and call.talk_s == 3 and call.ring_s == 5
    assert call.caller_e164 == "+41791234567" and call.caller_origin is CallerOrigin.MOBILE
    assert [(a["leg_id"], a["outcome"], a["cause"]) for a in call.attempts] == [
        (BUSY, "busy", "USER_BUSY"),
        (NO_ANSWER, "no_answer", "ALLOTTED_TIMEOUT"),
        (ANSWERED, "answered", "NORMAL_CLEARING"),
    ]
    assert [a["destination"] for a in call.attempts] == ["a", "b", "c"]
    rated = session.get(RatedCall, A_LEG)
    # 0800: the owner pays 0.12/min for 3 s, the caller nothing
    assert rated.caller == Decimal("0") and rated.owner_cost == Decimal("0.01")
    assert rated.owner_cost_exact == Decimal("0.006")


def test_a_late_b_leg_completes_the_attempt_without_rating_twice(session, captures, freephone):
    events = {e.get("Unique-ID"): e for e in hangups(captures)}
    rate = rater(session)
    capture.store_legs(session, [by_event(events[A_LEG]), by_event(events[BUSY])], rate)
    call = session.get(CallRecord, A_LEG)
    assert [a["destination"] for a in call.attempts] == ["a", None, None]
    late = capture.store_legs(session, [by_event(events[NO_ANSWER]), by_event(events[ANSWERED])], rate)
    assert late.built_calls == [A_LEG] and late.new_calls == []
    session.expire_all()
    assert [a["destination"] for a in session.get(CallRecord, A_LEG).attempts] == ["a", "b", "c"]
    assert session.scalar(select(func.count()).select_from(RatedCall)) == 1


def test_a_b_leg_names_its_a_leg(captures):
    leg = translate.leg_from_hangup(next(e for e in hangups(captures) if e.get("Unique-ID") == BUSY), "vm")
    assert leg.direction is LegDirection.OUTBOUND and leg.call_id == A_LEG and leg.cause == "USER_BUSY"


@pytest.mark.parametrize("backend", BACKENDS)
def test_legs_stored_compressed_before_0006_read_as_the_switch_sent_them(databases, backend, captures):
    """Capture used to zlib-compress the raw bytes itself; migration 0006 turns them back into
    the switch's bytes (the database compresses them now), and 0005 compresses them again."""
    event = next(e for e in hangups(captures) if e.get("Unique-ID") == A_LEG)
    raw = translate.raw_event(event)
    engine = make_engine(databases.create(backend))
    try:
        upgrade(engine, "0005")
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as conn:
            conn.execute(CapturedLeg.__table__.insert(), [
                {"leg_id": leg, "call_id": A_LEG, "node": "vm", "is_a_leg": leg == A_LEG, "started_at": now,
                 "sources": int(LegSource.EVENT), "record": {}, "raw_event": event, "raw_cdr": cdr, "received_at": now}
                for leg, event, cdr in ((A_LEG, zlib.compress(raw, 1), None),
                                        (BUSY, zlib.compress(raw, 1), zlib.compress(b"{}", 1)))])
        upgrade(engine)
        read = select(CapturedLeg.leg_id, CapturedLeg.raw_event, CapturedLeg.raw_cdr)
        with engine.connect() as conn:
            assert set(conn.execute(read).all()) == {(A_LEG, raw, None), (BUSY, raw, b"{}")}
        downgrade(engine, "0005")
        with engine.connect() as conn:
            assert {leg: zlib.decompress(event) for leg, event, _ in conn.execute(read)} == {A_LEG: raw, BUSY: raw}
    finally:
        engine.dispose()
