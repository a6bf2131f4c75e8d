"""The OpenAPI document is true: every /api/v1 route is in it, every operation declares its
roles, and every answer (with every role) is one the document describes."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from smartnumbers.models import Role
from sync.openapi import ASSETS_PATH, DOCS_PATH, DOCUMENT_PATH
from tests.api.conftest import ACME_NUMBER, assert_described, bearer, operations

# one value of each path parameter, all of Acme's (or of nobody's, for ids nothing has yet)
EXAMPLES = {"number": ACME_NUMBER, "call_id": "no-such-call", "month": "2026-11", "change_id": "1", "entry_id": "1",
            "token_id": "999", "code": "7", "account_id": "999"}
DOCUMENTATION = {DOCUMENT_PATH, DOCS_PATH}


def concrete(template: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: EXAMPLES[m[1]], template)


async def test_every_api_route_is_in_the_document_and_nothing_else(api):
    reply = await api.get(DOCUMENT_PATH)  # public: it describes, it holds no data
    assert reply.status == 200
    document = await reply.json()
    assert document["openapi"] == "3.1.0"
    validate(document)  # a valid OpenAPI 3.1 document, its schemas valid JSON Schema 2020-12
    described = {(method, path) for method, path, _ in operations(document)}
    routed = {(route.method, route.resource.canonical) for route in api.app.router.routes()
              if route.resource.canonical.startswith("/api/v1/") and route.method != "HEAD"
              and route.resource.canonical not in DOCUMENTATION and not route.resource.canonical.startswith(ASSETS_PATH)}
    assert routed == described
    assert len(described) >= 8


async def test_every_operation_with_every_role(api, world):
    """Refused (403) exactly for the roles the operation does not list; otherwise an answer the
    document describes, whatever it is (200, 404, 503 without live call control)."""
    document = await (await api.get(DOCUMENT_PATH)).json()
    calls = 0
    for method, template, operation in operations(document):
        roles = operation["x-roles"]
        assert roles and set(roles) <= {r.value for r in Role}
        assert "Roles: " + ", ".join(roles) in operation["description"]
        for role, token in world.acme.items():
            body = {"json": {}} if "requestBody" in operation else {}
            reply = await api.request(method, concrete(template), headers=bearer(token), **body)
            answer = await reply.read()
            calls += 1
            if role.value in roles:
                assert reply.status != 403, f"{method} {template} refused {role.value}: {answer[:200]!r}"
            else:
                assert reply.status == 403, f"{method} {template} let {role.value} through"
            assert_described(document, method, template, reply.status, reply.content_type, answer)
    assert calls == len(operations(document)) * len(Role)


async def test_the_documents_page_is_served_from_installed_assets(api):
    page = await api.get(DOCS_PATH)
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert DOCUMENT_PATH in html and "http" not in html  # nothing from the internet
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert asset.startswith(ASSETS_PATH + "/")
        fetched = await api.get(asset)
        assert fetched.status == 200 and len(await fetched.read()) > 1000, asset


async def test_money_is_plain_decimal_text_and_times_are_zurich_with_offset(api, world):
    reply = await api.get(f"/api/v1/numbers/{ACME_NUMBER}", headers=bearer(world.acme[Role.READ_ONLY]))
    number = await reply.json()
    [tariff] = number["tariffs"]
    assert tariff["price_per_minute"] == "2.50" and tariff["price_per_call"] == "0.00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+0[12]:00", tariff["valid_from"])
