"""The account and its sub-accounts over the API: show, create, rename, close; a closed account's
tokens stop working; a parent's view covers what its sub-accounts own; tenants apart."""

from __future__ import annotations

from smartnumbers import accounts
from smartnumbers.models import Account, Role
from tests.api.conftest import BERN_NUMBER, bearer


async def test_create_rename_and_close_a_sub_account(api, world, session):
    admin = bearer(world.acme[Role.ADMIN])
    made = await api.post("/api/v1/accounts", json={"name": "Acme Basel"}, headers=admin)
    basel = await made.json()
    assert made.status == 201 and basel["parent"] == "Acme AG" and basel["sub_accounts"] == []
    mine = await (await api.get("/api/v1/account", headers=bearer(world.acme[Role.READ_ONLY]))).json()
    assert mine["name"] == "Acme AG" and [a["name"] for a in mine["sub_accounts"]] == ["Acme Bern", "Acme Basel"]
    renamed = await api.patch(f"/api/v1/accounts/{basel['id']}", json={"name": "Acme Basel-Stadt"}, headers=admin)
    assert renamed.status == 200 and (await renamed.json())["name"] == "Acme Basel-Stadt"
    taken = await api.patch(f"/api/v1/accounts/{basel['id']}", json={"name": "Other GmbH"}, headers=admin)
    assert taken.status == 422 and "exists" in (await taken.json(content_type=None))["detail"]
    basel_token = accounts.add_token(session, session.get(Account, basel["id"]), "basel").secret
    session.commit()
    assert (await api.get("/api/v1/account", headers=bearer(basel_token))).status == 200
    closed = await api.post(f"/api/v1/accounts/{basel['id']}/close", headers=admin)
    assert closed.status == 200 and (await closed.json())["closed_at"] is not None
    assert (await api.get("/api/v1/account", headers=bearer(basel_token))).status == 401


async def test_what_may_not_be_closed(api, world):
    admin = bearer(world.acme[Role.ADMIN])
    mine = await (await api.get("/api/v1/account", headers=admin)).json()
    bern_id = mine["sub_accounts"][0]["id"]
    owns = await api.post(f"/api/v1/accounts/{bern_id}/close", headers=admin)
    assert owns.status == 422 and "owns numbers" in (await owns.json(content_type=None))["detail"]
    assert (await api.post(f"/api/v1/accounts/{mine['id']}/close", headers=admin)).status == 404  # itself
    assert (await api.post(f"/api/v1/accounts/{bern_id}/close", headers=bearer(world.acme[Role.ROUTING]))).status == 403
    numbers = await (await api.get("/api/v1/numbers", headers=admin)).json()
    assert BERN_NUMBER in [n["number"] for n in numbers["numbers"]]  # a parent sees its sub-accounts' numbers


async def test_another_accounts_tree_is_not_found(api, world):
    other = await (await api.get("/api/v1/account", headers=bearer(world.other))).json()
    assert other["name"] == "Other GmbH" and other["sub_accounts"] == []
    acme = await (await api.get("/api/v1/account", headers=bearer(world.acme[Role.ADMIN]))).json()
    for method, path, body in (("GET", f"/api/v1/accounts/{acme['id']}", None),
                               ("PATCH", f"/api/v1/accounts/{acme['id']}", {"name": "Mine now"}),
                               ("POST", f"/api/v1/accounts/{acme['sub_accounts'][0]['id']}/close", None)):
        reply = await api.request(method, path, json=body, headers=bearer(world.other))
        text = await reply.text()
        assert reply.status == 404 and "Acme" not in text
    still = await (await api.get("/api/v1/account", headers=bearer(world.acme[Role.ADMIN]))).json()
    assert still["name"] == "Acme AG"
