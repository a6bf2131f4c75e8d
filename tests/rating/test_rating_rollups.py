"""The dashboard's running sums (``traffic_hour``, ``caller_month``) are always the sums over the
rated calls, key by key, after live rating and after a re-rating that changes amounts; the top
callers read from them are the ones a plain sum over the rated calls ranks first."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select

from rating import aggregates
from rating.pipeline import RatingSetup, rate_period
from smartnumbers import tariffs
from smartnumbers.models import CallerMonth, CallRecord, RatedCall, SmartNumber, TrafficHour
from tests.calls.calls import a_leg, store
from tests.calls.conftest import OPERATOR, PAYFAST_PERCENT, ZONE, local, shop  # noqa: F401 (fixture)

D = Decimal


def sums_over_rated_calls(session) -> tuple[dict, dict]:
    """What the two rollups must hold, computed from the rated calls and their call records."""
    hours: dict[tuple, list] = defaultdict(lambda: [0, 0, D(0)])
    callers: dict[tuple, list] = defaultdict(lambda: [0, D(0)])
    for rated, call in session.execute(select(RatedCall, CallRecord).join(CallRecord, CallRecord.call_id == RatedCall.call_id)):
        hour = hours[(rated.number_id, call.started_at.replace(minute=0, second=0, microsecond=0), rated.account_id)]
        hour[0] += 1
        hour[1] += 1 if rated.answered else 0
        hour[2] += rated.payout
        if call.caller_e164 and not call.caller_withheld:
            caller = callers[(rated.number_id, call.caller_e164, rated.period, rated.account_id)]
            caller[0] += 1
            caller[1] += rated.payout
    return ({key: tuple(value) for key, value in hours.items()},
            {key: tuple(value) for key, value in callers.items()})


def rollups(session) -> tuple[dict, dict]:
    session.expire_all()
    hours = {(h.number_id, h.hour, h.account_id): (h.calls, h.answered, h.payout)
             for h in session.scalars(select(TrafficHour))}
    callers = {(c.number_id, c.caller_e164, c.period, c.account_id): (c.calls, c.payout)
               for c in session.scalars(select(CallerMonth))}
    return hours, callers


def many_calls(session, seed: int, count: int):
    """Calls over three months on both numbers, some unanswered, some withheld, a few callers often."""
    rng = random.Random(seed)
    callers = [f"079{n:07d}" for n in range(12)] + [None]
    legs = []
    for _ in range(count):
        start = local("2026-10-01 00:00") + dt.timedelta(minutes=rng.randrange(92 * 24 * 60))
        number = rng.choice(("0900123456", "0900123456", "0844123456"))
        answered = rng.random() > 0.2
        legs.append(a_leg(number, start, rng.randrange(1, 900) if answered else 0, caller=rng.choice(callers),
                          answered=answered, segments="1@0;7@95+8" if number.startswith("0900") and rng.random() < 0.2 else None))
    return store(session, *legs)


def test_the_rollups_are_the_sums_over_the_rated_calls_after_rating_and_rerating(session, shop):
    _, premium, _ = shop
    many_calls(session, seed=5, count=120)
    assert rollups(session) == sums_over_rated_calls(session)
    assert sum(calls for calls, _, _ in rollups(session)[0].values()) == 120

    # a correction from mid-November: the calls it covers change revenue, every hour and month follows
    tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(D("3.10"), D("0.50")),
                       valid_from=local("2026-11-15 00:00"))
    setup = RatingSetup.load(session, PAYFAST_PERCENT, ZONE)
    changed = sum(len(rate_period(session, period, setup, rerate=True).changes)
                  for period in ("2026-10", "2026-11", "2026-12"))
    assert changed > 10
    assert rollups(session) == sums_over_rated_calls(session)

    # re-rating again changes nothing; neither does a call arriving twice
    for period in ("2026-10", "2026-11", "2026-12"):
        assert rate_period(session, period, setup, rerate=True).changes == []
    again = a_leg("0900123456", local("2026-11-20 10:00"), 300, caller="0791112233")
    store(session, again)
    store(session, again)
    assert rollups(session) == sums_over_rated_calls(session)


def test_top_callers_are_the_plain_ranking_of_the_rated_calls(session, shop):
    account, _, _ = shop
    many_calls(session, seed=9, count=150)
    for first, last in (("2026-12", "2026-12"), ("2026-11", "2026-12"), ("2026-07", "2026-12")):
        expected: dict[tuple, list] = defaultdict(lambda: [0, D(0)])
        earlier = set()
        for rated, call in session.execute(select(RatedCall, CallRecord).join(CallRecord)):
            if not call.caller_e164:
                continue
            if first <= rated.period <= last:
                expected[(call.caller_e164, rated.number_id)][0] += 1
                expected[(call.caller_e164, rated.number_id)][1] += rated.payout
            elif rated.period < first:
                earlier.add((call.caller_e164, rated.number_id))
        numbers = dict(session.execute(select(SmartNumber.id, SmartNumber.e164)).tuples().all())
        ranked = sorted(expected.items(), key=lambda item: (-item[1][1], -item[1][0], item[0][0], item[0][1]))
        for limit in (3, 200):
            top = aggregates.top_callers(session, account.id, first, last, ZONE, limit=limit)
            assert [(t.caller, t.number, t.calls, t.revenue, t.new) for t in top] == [
                (caller, numbers[number_id], calls, revenue, (caller, number_id) not in earlier)
                for (caller, number_id), (calls, revenue) in ranked[:limit]]
