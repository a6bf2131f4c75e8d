"""The blacklist over the API: add (a number or a prefix, for the account or one number, until
an instant), list, remove; audited as the token; refusals store nothing; tenants apart."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from smartnumbers.models import AuditEntry, Role
from tests.api.conftest import ACME_NUMBER, OTHER_NUMBER, bearer

BLACKLIST = "/api/v1/blacklist"
ZURICH = ZoneInfo("Europe/Zurich")


async def test_add_list_and_remove(api, world, session):
    token = bearer(world.acme[Role.ROUTING])
    until = (dt.datetime.now(ZURICH) + dt.timedelta(days=3)).replace(microsecond=0)
    exact = await api.post(BLACKLIST, json={"pattern": "079 123 45 67", "reason": "abusive"}, headers=token)
    prefix = await api.post(BLACKLIST, json={"pattern": "079*", "reason": "campaign", "number": "0900 123 456",
                                             "until": until.isoformat()}, headers=token)
    assert exact.status == 201 and prefix.status == 201
    first, second = await exact.json(), await prefix.json()
    assert (first["pattern"], first["number"], first["until"]) == ("+41791234567", None, None)
    assert (second["pattern"], second["number"]) == ("+4179*", ACME_NUMBER)
    assert dt.datetime.fromisoformat(second["until"]) == until and second["until"][-6:] in ("+01:00", "+02:00")
    listed = await (await api.get(BLACKLIST, headers=bearer(world.acme[Role.READ_ONLY]))).json()
    assert [e["id"] for e in listed["entries"]] == [first["id"], second["id"]]
    removed = await api.delete(f"{BLACKLIST}/{first['id']}", headers=token)
    assert removed.status == 204 and await removed.read() == b""
    assert (await api.delete(f"{BLACKLIST}/{first['id']}", headers=token)).status == 404
    listed = await (await api.get(BLACKLIST, headers=token)).json()
    assert [e["id"] for e in listed["entries"]] == [second["id"]]
    actions = session.execute(select(AuditEntry.action, AuditEntry.actor).where(AuditEntry.entity == "blacklist")
                              .order_by(AuditEntry.id)).all()
    assert [a for a, _ in actions] == ["create", "create", "delete"] and all(b.endswith(":acme routing") for _, b in actions)


async def test_refusals_say_why_and_store_nothing(api, world):
    token = bearer(world.acme[Role.ADMIN])
    past = (dt.datetime.now(ZURICH) - dt.timedelta(hours=1)).isoformat()
    for body, status, pointer in (({"pattern": "not a number", "reason": "x"}, 422, None),
                                  ({"pattern": "+4*", "reason": "x"}, 422, None),
                                  ({"pattern": "0791234567", "reason": "x", "until": past}, 422, None),
                                  ({"pattern": "0791234567", "reason": "x", "until": "2030-01-01T00:00"}, 400, "/until"),
                                  ({"pattern": "0791234567", "reason": "x", "number": OTHER_NUMBER}, 404, None),
                                  ({"pattern": "0791234567"}, 400, "/reason"),
                                  ({"pattern": 791234567, "reason": "x"}, 400, "/pattern")):
        reply = await api.post(BLACKLIST, json=body, headers=token)
        problem = await reply.json(content_type=None)
        assert reply.status == status and reply.content_type == "application/problem+json", (body, problem)
        if pointer:
            assert problem["errors"][0]["pointer"] == pointer
        assert "Other" not in problem["detail"]
    assert (await (await api.get(BLACKLIST, headers=token)).json())["entries"] == []


async def test_another_account_neither_sees_nor_removes_the_entries(api, world):
    made = await api.post(BLACKLIST, json={"pattern": "+41791234567", "reason": "abusive"},
                          headers=bearer(world.acme[Role.ROUTING]))
    entry_id = (await made.json())["id"]
    other = bearer(world.other)
    assert (await (await api.get(BLACKLIST, headers=other)).json()) == {"entries": []}
    for path in (f"{BLACKLIST}/{entry_id}", f"{BLACKLIST}/999999"):
        reply = await api.delete(path, headers=other)
        text = await reply.text()
        assert reply.status == 404 and "791234567" not in text and "Acme" not in text and "abusive" not in text
    assert (await api.delete(f"{BLACKLIST}/{entry_id}", headers=bearer(world.acme[Role.BILLING]))).status == 403
    listed = await (await api.get(BLACKLIST, headers=bearer(world.acme[Role.ADMIN]))).json()
    assert [e["id"] for e in listed["entries"]] == [entry_id]
