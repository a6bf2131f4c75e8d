"""Destination changes over the API: now or at a date and time, listed, cancelled; refusals
change nothing; another account's changes are the same 404 as none."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from smartnumbers.models import Role
from tests.api.conftest import ACME_NUMBER, PLAN, bearer

ZURICH = ZoneInfo("Europe/Zurich")
CHANGES = f"/api/v1/numbers/{ACME_NUMBER}/changes"
PLAN_PATH = f"/api/v1/numbers/{ACME_NUMBER}/plan"
NEW = [{"target": "+41446681899", "ring_timeout": 25}]


def tomorrow_at_six() -> dt.datetime:
    day = dt.datetime.now(ZURICH).date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(18), ZURICH)


async def test_a_change_made_now_takes_effect_at_once(api, world):
    token = bearer(world.acme[Role.ROUTING])
    reply = await api.post(CHANGES, json={"slot": 1, "destinations": NEW}, headers=token)
    change = await reply.json()
    assert reply.status == 201, change
    assert change["status"] == "applied" and change["slot"] == 1 and change["destinations"] == NEW
    applied = dt.datetime.fromisoformat(change["apply_at"])
    assert change["apply_at"][-6:] in ("+01:00", "+02:00") and abs(applied - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    plan = await (await api.get(PLAN_PATH, headers=token)).json()
    assert plan["slots"][0]["destinations"] == NEW
    fallback = await api.post(CHANGES, json={"destinations": NEW}, headers=token)
    assert fallback.status == 422  # the plan rejects outside its slots: a fallback would never ring
    assert "fallback" in (await fallback.json(content_type=None))["detail"]
    assert (await (await api.get(PLAN_PATH, headers=token)).json())["outside"] == {"action": "reject"}


async def test_a_dated_change_waits_is_listed_and_can_be_cancelled_once(api, world):
    token = bearer(world.acme[Role.ROUTING])
    at = tomorrow_at_six()
    reply = await api.post(CHANGES, json={"slot": 1, "destinations": NEW, "at": at.isoformat()}, headers=token)
    change = await reply.json()
    assert reply.status == 201 and change["status"] == "pending"
    assert dt.datetime.fromisoformat(change["apply_at"]) == at and change["apply_at"].endswith(at.strftime("%z")[:3] + ":00")
    assert await (await api.get(PLAN_PATH, headers=token)).json() == PLAN  # not yet
    listed = await (await api.get(CHANGES, headers=bearer(world.acme[Role.READ_ONLY]))).json()
    assert [c["id"] for c in listed["changes"]] == [change["id"]]
    cancelled = await api.post(f"/api/v1/changes/{change['id']}/cancel", headers=token)
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    again = await api.post(f"/api/v1/changes/{change['id']}/cancel", headers=token)
    assert again.status == 422 and "pending" in (await again.json(content_type=None))["detail"]


async def test_refused_changes_say_why_and_store_nothing(api, world):
    token = bearer(world.acme[Role.ROUTING])
    past = dt.datetime.now(ZURICH) - dt.timedelta(hours=1)
    for body, status, pointer in (
            ({"slot": 1, "destinations": [{"target": "0900 123 457", "ring_timeout": 20}]}, 422, "/destinations/0"),
            ({"slot": 1, "destinations": NEW, "at": past.isoformat()}, 422, None),
            ({"slot": 7, "destinations": NEW}, 422, None),
            ({"slot": 1, "destinations": NEW, "at": "2026-12-24T18:00"}, 400, "/at"),  # no offset
            ({"slot": 1, "destinations": []}, 400, "/destinations"),
            ({"slot": "1", "destinations": NEW}, 400, "/slot")):
        reply = await api.post(CHANGES, json=body, headers=token)
        problem = await reply.json(content_type=None)
        assert reply.status == status, (body, problem)
        if pointer:
            assert problem["errors"][0]["pointer"] == pointer, problem
    assert (await (await api.get(CHANGES, headers=token)).json())["changes"] == []
    assert await (await api.get(PLAN_PATH, headers=token)).json() == PLAN


async def test_another_accounts_changes_are_the_same_404_as_none(api, world):
    made = await api.post(CHANGES, json={"slot": 1, "destinations": NEW, "at": tomorrow_at_six().isoformat()},
                          headers=bearer(world.acme[Role.ADMIN]))
    change_id = (await made.json())["id"]
    other = bearer(world.other)
    for reply in (await api.post(CHANGES, json={"slot": 1, "destinations": NEW}, headers=other),
                  await api.get(CHANGES, headers=other),
                  await api.post(f"/api/v1/changes/{change_id}/cancel", headers=other),
                  await api.post("/api/v1/changes/999999/cancel", headers=other)):
        text = await reply.text()
        assert reply.status == 404 and "446681899" not in text and "Acme" not in text and "acme" not in text
    refused = await api.post(f"/api/v1/changes/{change_id}/cancel", headers=bearer(world.acme[Role.READ_ONLY]))
    assert refused.status == 403
    listed = await (await api.get(CHANGES, headers=bearer(world.acme[Role.ADMIN]))).json()
    assert [c["status"] for c in listed["changes"]] == ["pending"]
