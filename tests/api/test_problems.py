"""Every error of the API is a problem document (RFC 9457) with a one-line reason; malformed
input of any kind is a 4xx, never a 500; another account's resource is the same 404 as none."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from smartnumbers.models import Role
from smartnumbers.settings import load_settings
from sync.app import build_app
from tests.api.conftest import ACME_NUMBER, bearer

PROBLEM = "application/problem+json"


async def problem(reply, status: int) -> dict:
    body = await reply.json(content_type=None)
    assert reply.status == status, body
    assert reply.content_type == PROBLEM
    assert body["status"] == status and body["type"].startswith("https://") and body["title"]
    assert body["detail"] and "\n" not in body["detail"] and len(body["detail"]) <= 300
    return body


async def test_the_routers_own_answers_are_problems(api, world):
    admin = bearer(world.acme[Role.ADMIN])
    await problem(await api.get("/api/v1/no-such-thing", headers=admin), 404)
    not_allowed = await api.delete("/api/v1/numbers", headers=admin)
    await problem(not_allowed, 405)
    assert "GET" in not_allowed.headers["Allow"]
    missing = await problem(await api.get("/api/v1/numbers"), 401)
    assert missing["detail"] == "missing bearer token"
    refused = await api.get("/api/v1/numbers", headers=bearer("sn_" + "x" * 43))
    assert (await problem(refused, 401))["detail"] == "invalid or revoked token"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("month", ["2026-1", "9999-12", "2026-13", "2026-00", "November", "2026-11-01", "０２０２６-11"])
async def test_a_month_out_of_range_is_a_400(api, world, month):
    for path in (f"/api/v1/statements/{month}", f"/api/v1/statements/{month}/pdf"):
        body = await problem(await api.get(path, headers=bearer(world.acme[Role.BILLING])), 400)
        assert "month" in body["detail"]


async def test_malformed_path_parameters_are_400_and_unknown_numbers_404(api, world):
    admin = bearer(world.acme[Role.ADMIN])
    for path in ("/api/v1/numbers/%3Cscript%3E", "/api/v1/numbers/0900%00123", "/api/v1/numbers/" + "9" * 60):
        await problem(await api.get(path, headers=admin), 400)
    for text in ("0791234567", "0900999999"):  # not a smart number; nobody's
        await problem(await api.get(f"/api/v1/numbers/{text}", headers=admin), 404)


async def test_another_accounts_number_is_the_same_404_as_none(api, world):
    foreign = await problem(await api.get(f"/api/v1/numbers/{ACME_NUMBER}", headers=bearer(world.other)), 404)
    absent = await problem(await api.get("/api/v1/numbers/+41900999999", headers=bearer(world.other)), 404)
    assert foreign["detail"].replace(ACME_NUMBER, "N") == absent["detail"].replace("+41900999999", "N")
    assert {k: v for k, v in foreign.items() if k != "detail"} == {k: v for k, v in absent.items() if k != "detail"}
    for path in (f"/api/v1/numbers/{ACME_NUMBER}/plan",):
        body = await (await api.get(path, headers=bearer(world.other))).text()
        assert "Acme" not in body and "446681800" not in body


async def test_the_unexpected_is_logged_and_answered_500_without_detail(world, caplog):
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app = build_app(load_settings())
    app.router.add_get("/api/v1/broken", broken)
    async with TestClient(TestServer(app)) as client:
        reply = await client.get("/api/v1/broken", headers=bearer(world.acme[Role.ADMIN]))
        body = await problem(reply, 500)
    assert "secret" not in str(body)
    assert "secret internals" in caplog.text
