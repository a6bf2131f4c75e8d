"""Two customers on a real database (both backends) and the application serving them on loopback.

Acme AG has a sub-account (Acme Bern) and a token of every role; Other GmbH an admin and an
operator token.
Each has a number with a plan; Acme's 0900 has a tariff."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer

from smartnumbers import accounts, numbers, routing, tariffs
from smartnumbers.audit import Actor
from smartnumbers.models import ActorKind, Role
from smartnumbers.settings import load_settings
from sync.app import build_app

OPERATOR = Actor(ActorKind.CLI, "noc")
ACME_NUMBER, BERN_NUMBER, OTHER_NUMBER = "+41900123456", "+41800111222", "+41800999888"
PLAN = {"slots": [{"days": "mon,tue,wed,thu,fri", "start": "08:00", "end": "18:00",
                   "destinations": [{"target": "+41446681800", "ring_timeout": 20}]}],
        "outside": {"action": "reject"}, "holidays": {"canton": None, "rule": "closed", "dates": []}}


@dataclass(frozen=True)
class World:
    acme: dict[Role, str]  # a token of each role
    other: str  # Other GmbH's admin token
    other_operator: str  # and its operator token


@pytest.fixture
def world(session) -> World:
    acme = accounts.add_account(session, "Acme AG")
    bern = accounts.add_account(session, "Acme Bern", parent="Acme AG")
    other = accounts.add_account(session, "Other GmbH")
    for e164, owner in ((ACME_NUMBER, acme), (BERN_NUMBER, bern), (OTHER_NUMBER, other)):
        number = numbers.add_number(session, OPERATOR, e164, owner)
        routing.store_plan(session, OPERATOR, number, routing.parse_plan(PLAN, routing.destination_policy(session, number)))
    tariffs.set_tariff(session, OPERATOR, numbers.find_number(session, ACME_NUMBER), 1,
                       tariffs.TariffTerms(Decimal("2.50")), valid_from=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    tokens = {role: accounts.add_token(session, acme, f"acme {role.value}", role).secret for role in Role}
    other_token = accounts.add_token(session, other, "other admin").secret
    other_operator = accounts.add_token(session, other, "other operator", Role.OPERATOR).secret
    session.commit()
    return World(tokens, other_token, other_operator)


@pytest.fixture
async def api(world):
    async with TestClient(TestServer(build_app(load_settings()))) as client:
        yield client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every operation the document describes."""
    return [(method.upper(), path, op) for path, item in document["paths"].items() for method, op in item.items()]


def assert_described(document: dict[str, Any], method: str, template: str, status: int, content_type: str,
                     body: bytes) -> None:
    """The answer is one the document describes: its status, media type and (JSON) shape."""
    responses = document["paths"][template][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {template} answered {status}: not in the document ({body[:200]!r})"
    if "content" not in responses[str(status)]:
        assert body == b"", f"{method} {template} {status} answered a body the document does not describe"
        return
    content = responses[str(status)]["content"]
    assert content_type in content, f"{method} {template} {status} answered {content_type}, the document says {list(content)}"
    if content_type.endswith("json"):
        schema = {**content[content_type]["schema"], "components": document["components"]}
        jsonschema.validate(json.loads(body), schema, cls=jsonschema.Draft202012Validator)
