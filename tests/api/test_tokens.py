"""API tokens over the API: an admin issues one (its secret shown once, working at once), lists
them without secrets, revokes one (refused at once); an operator token only an operator issues."""

from __future__ import annotations

from smartnumbers.models import Role
from tests.api.conftest import bearer


async def test_issue_list_and_revoke(api, world):
    admin = bearer(world.acme[Role.ADMIN])
    reply = await api.post("/api/v1/tokens", json={"name": "crm", "role": "billing"}, headers=admin)
    issued = await reply.json()
    assert reply.status == 201 and issued["secret"].startswith("sn_") and issued["role"] == "billing"
    assert issued["prefix"] == issued["secret"][:10]
    crm = bearer(issued["secret"])
    assert (await api.get("/api/v1/statements/2026-11", headers=crm)).status == 200
    assert (await api.get("/api/v1/tokens", headers=crm)).status == 403  # billing does not manage tokens
    listed = await (await api.get("/api/v1/tokens", headers=admin)).text()
    assert issued["secret"] not in listed and '"name":"crm"' in listed
    revoked = await api.post(f"/api/v1/tokens/{issued['id']}/revoke", headers=admin)
    assert revoked.status == 200 and (await revoked.json())["revoked_at"] is not None
    assert (await api.get("/api/v1/statements/2026-11", headers=crm)).status == 401


async def test_only_an_operator_issues_an_operator_token(api, world):
    refused = await api.post("/api/v1/tokens", json={"name": "staff", "role": "operator"},
                             headers=bearer(world.acme[Role.ADMIN]))
    assert refused.status == 403
    made = await api.post("/api/v1/tokens", json={"name": "staff", "role": "operator"},
                          headers=bearer(world.acme[Role.OPERATOR]))
    assert made.status == 201
    for body in ({"name": "", "role": "admin"}, {"name": "x", "role": "root"}, {"name": "x", "secret": "mine"}):
        assert (await api.post("/api/v1/tokens", json=body, headers=bearer(world.acme[Role.ADMIN]))).status == 400
