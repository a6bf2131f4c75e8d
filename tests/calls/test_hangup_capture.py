"""The Event Socket path: hangups taken off the real event stream of the hunt 7201, stored
in batches off the loop; a failing store loses nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from controller import capture
from controller.freeswitch.hangup_capture import HangupCapture
from controller.freeswitch.protocol import FrameReader, event_from_frame
from smartnumbers.db import make_engine, session_factory
from smartnumbers.models import CallRecord, CapturedLeg, LegSource
from tests.calls.test_capture import A_LEG


def all_events(captures):
    raw = (captures / "facts" / "raw" / "item2-hunt" / "7201" / "esl-json.raw").read_bytes()
    return [e for e in (event_from_frame(f) for f in FrameReader().feed(raw)) if e is not None]


def committing(db_url):
    engine = make_engine(db_url)
    sessions = session_factory(engine)

    def store(arrivals, refusals=()):
        with sessions() as session, session.begin():
            return capture.store_legs(session, arrivals, refusals=refusals)

    return store


async def test_every_hangup_on_the_stream_is_stored(db_url, captures, session):
    hangups = HangupCapture(committing(db_url), batch=3)
    offered = [hangups.offer(event, "vm") for event in all_events(captures)]
    assert sum(offered) == 4 and len(offered) > 20  # the other events are not captured
    await hangups.drain()
    assert hangups.stored == 4 and hangups.waiting == 0
    assert session.scalar(select(func.count()).select_from(CapturedLeg)) == 4
    assert session.get(CallRecord, A_LEG).attempts[2]["outcome"] == "answered"
    assert session.get(CapturedLeg, A_LEG).sources == LegSource.EVENT


async def test_a_failed_store_keeps_the_legs_for_the_retry(db_url, captures, session):
    store = committing(db_url)
    calls = []

    def flaky(arrivals, refusals):
        calls.append(len(arrivals))
        if len(calls) == 1:
            raise ConnectionError("database restarting")
        return store(arrivals, refusals)

    hangups = HangupCapture(flaky)
    for event in all_events(captures):
        hangups.offer(event, "vm")
    try:
        await hangups.drain()
    except ConnectionError:
        pass
    assert hangups.waiting == 4 and hangups.failures == 1
    await hangups.drain()
    assert calls == [4, 4] and hangups.waiting == 0
    assert session.scalar(select(func.count()).select_from(CapturedLeg)) == 4
