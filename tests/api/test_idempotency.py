"""A creating POST with an Idempotency-Key: the same key twice (or at once) creates one thing and
answers the same; the same key with another body is refused; a key is the account's own."""

from __future__ import annotations

import asyncio

from smartnumbers.models import Role
from tests.api.conftest import ACME_NUMBER, bearer

BLACKLIST = "/api/v1/blacklist"
ENTRY = {"pattern": "+41791234567", "reason": "abusive"}


async def test_the_same_key_twice_creates_one_entry(api, world):
    headers = {**bearer(world.acme[Role.ROUTING]), "Idempotency-Key": "crm-4711"}
    first = await api.post(BLACKLIST, json=ENTRY, headers=headers)
    second = await api.post(BLACKLIST, json=ENTRY, headers=headers)
    assert first.status == second.status == 201
    assert await first.json() == await second.json()
    assert "Idempotent-Replayed" not in first.headers and second.headers["Idempotent-Replayed"] == "true"
    listed = await (await api.get(BLACKLIST, headers=headers)).json()
    assert len(listed["entries"]) == 1
    other_body = await api.post(BLACKLIST, json={**ENTRY, "reason": "other"}, headers=headers)
    assert other_body.status == 422 and "another request" in (await other_body.json(content_type=None))["detail"]
    without_key = await api.post(BLACKLIST, json=ENTRY, headers=bearer(world.acme[Role.ROUTING]))
    assert without_key.status == 201
    assert len((await (await api.get(BLACKLIST, headers=headers)).json())["entries"]) == 2


async def test_racing_requests_with_one_key_create_one_change(api, world):
    headers = {**bearer(world.acme[Role.ADMIN]), "Idempotency-Key": "race"}
    body = {"slot": 1, "destinations": [{"target": "+41446681899", "ring_timeout": 20}],
            "at": "2030-06-01T12:00:00+02:00"}
    replies = await asyncio.gather(*(api.post(f"/api/v1/numbers/{ACME_NUMBER}/changes", json=body, headers=headers)
                                     for _ in range(4)))
    answers = [await r.json(content_type=None) for r in replies]
    assert [r.status for r in replies] == [201] * 4, answers
    assert len({a["id"] for a in answers}) == 1
    listed = await (await api.get(f"/api/v1/numbers/{ACME_NUMBER}/changes", headers=headers)).json()
    assert len(listed["changes"]) == 1


async def test_a_key_is_the_accounts_own(api, world):
    mine = {**bearer(world.acme[Role.ROUTING]), "Idempotency-Key": "shared"}
    theirs = {**bearer(world.other), "Idempotency-Key": "shared"}
    assert (await api.post(BLACKLIST, json=ENTRY, headers=mine)).status == 201
    reply = await api.post(BLACKLIST, json={**ENTRY, "reason": "theirs"}, headers=theirs)
    body = await reply.json()
    assert reply.status == 201 and body["reason"] == "theirs" and "Idempotent-Replayed" not in reply.headers
    bad = await api.post(BLACKLIST, json=ENTRY, headers={**mine, "Idempotency-Key": "x" * 201})
    assert bad.status == 422
