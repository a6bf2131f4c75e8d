"""Tenant isolation, generated from the OpenAPI document: every operation that takes an id is
called by another account with ids of Acme's (a number, a change, a blacklist entry) and a valid
body; each answers 404 (or 503 where live call control is not running), never 403 and never with
anything of Acme's in the body."""

from __future__ import annotations

import datetime as dt
import re

from smartnumbers.models import Role
from sync.openapi import DOCUMENT_PATH
from tests.api.conftest import ACME_NUMBER, BERN_NUMBER, PLAN, assert_described, bearer, operations

ACME_TRACES = ("Acme", "Bern", "900123456", "800111222", "446681800", "446681899", "791234567", "abusive")
VALID_BODIES = {  # by the body's schema name
    "PlanDocument": PLAN,
    "ChangeIn": {"slot": 1, "destinations": [{"target": "+41446681899", "ring_timeout": 20}]},
    "TariffSwitchIn": {"code": 1},
    "NumberChangeIn": {"language": "fr"},
    "TariffVersionIn": {"price_per_minute": "1.00"},
    "AccountIn": {"name": "Taken Over"},
}


async def test_every_operation_with_an_id_refuses_another_accounts_ids(api, world):
    acme = bearer(world.acme[Role.ADMIN])
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    change = await (await api.post(f"/api/v1/numbers/{BERN_NUMBER}/changes",
                                   json={**VALID_BODIES["ChangeIn"], "at": at}, headers=acme)).json()
    entry = await (await api.post("/api/v1/blacklist", json={"pattern": "+41791234567", "reason": "abusive"},
                                  headers=acme)).json()
    tokens = (await (await api.get("/api/v1/tokens", headers=acme)).json())["tokens"]
    token_id = next(t["id"] for t in tokens if t["name"] == "acme routing")
    bern = (await (await api.get("/api/v1/account", headers=acme)).json())["sub_accounts"][0]
    acme_ids = {"account_id": str(bern["id"]), "number": ACME_NUMBER, "change_id": str(change["id"]), "entry_id": str(entry["id"]),
                "token_id": str(token_id), "code": "1", "call_id": "acme-call", "month": None}
    document = await (await api.get(DOCUMENT_PATH)).json()
    checked = []
    for method, template, operation in operations(document):
        names = re.findall(r"{(\w+)}", template)
        if not names or any(acme_ids[n] is None for n in names):
            continue  # no id (a month is everybody's: each account gets its own statement)
        path = re.sub(r"{(\w+)}", lambda m: acme_ids[m[1]], template)
        body = {}
        if "requestBody" in operation:
            name = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            body = {"json": VALID_BODIES[name]}
        for template_path in (path, path.replace(ACME_NUMBER, BERN_NUMBER)):
            other = world.other if "admin" in operation["x-roles"] else world.other_operator
            reply = await api.request(method, template_path, headers=bearer(other), **body)
            answer = await reply.read()
            echoed = answer.replace(ACME_NUMBER.encode(), b"").replace(BERN_NUMBER.encode(), b"")  # the id it sent
            expected = {404, 503} if "call_id" in names or template.startswith("/api/v1/calls") else {404}
            assert reply.status in expected, f"{method} {template_path}: {reply.status} {answer[:200]!r}"
            assert not any(trace.encode() in echoed for trace in ACME_TRACES), f"{method} {template_path}: {answer!r}"
            assert_described(document, method, template, reply.status, reply.content_type, answer)
        checked.append(operation["operationId"])
    assert {"show_number", "change_number", "show_plan", "replace_plan", "change_destinations", "list_changes", "cancel_change",
            "remove_from_blacklist", "revoke_token", "add_tariff_version", "show_sub_account", "rename_account",
            "close_sub_account"} <= set(checked)
    # and Acme's own are all still there, unchanged
    assert await (await api.get(f"/api/v1/numbers/{ACME_NUMBER}/plan", headers=acme)).json() == PLAN
    listed = await (await api.get(f"/api/v1/numbers/{BERN_NUMBER}/changes", headers=acme)).json()
    assert [c["status"] for c in listed["changes"]] == ["pending"]
    assert [e["id"] for e in (await (await api.get("/api/v1/blacklist", headers=acme)).json())["entries"]] == [entry["id"]]
    assert (await api.get("/api/v1/numbers", headers=bearer(world.acme[Role.ROUTING]))).status == 200  # not revoked
    bern_now = await (await api.get(f"/api/v1/accounts/{bern['id']}", headers=acme)).json()
    assert (bern_now["name"], bern_now["closed_at"]) == ("Acme Bern", None)
