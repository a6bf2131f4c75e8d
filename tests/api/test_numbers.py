"""A number's options over the API: only those given change, each role its part, the rules of
the command line apply (a cost cap only on 090x, at most CHF 400), audited, tenants apart."""

from __future__ import annotations

from sqlalchemy import select

from smartnumbers.models import AuditEntry, Role
from tests.api.conftest import ACME_NUMBER, BERN_NUMBER, bearer

NUMBER = f"/api/v1/numbers/{ACME_NUMBER}"


async def change(api, token: str, body: dict, path: str = NUMBER):
    reply = await api.patch(path, json=body, headers=bearer(token))
    return reply.status, await reply.json(content_type=None)


async def test_each_role_changes_its_part(api, world, session):
    status, number = await change(api, world.acme[Role.ROUTING], {"caller_id_policy": "fixed",
                                                                   "caller_id_number": "044 668 18 00"})
    assert status == 200 and (number["caller_id_policy"], number["caller_id_number"]) == ("fixed", "+41446681800")
    status, problem = await change(api, world.acme[Role.ROUTING], {"payout_option": "payfast"})
    assert status == 403 and "payout_option" in problem["detail"]
    status, number = await change(api, world.acme[Role.BILLING], {"payout_option": "payfast"})
    assert status == 200 and number["payout_option"] == "payfast" and number["caller_id_policy"] == "fixed"
    status, number = await change(api, world.acme[Role.ADMIN], {"call_cost_cap": "25.5", "language": "fr",
                                                                 "max_concurrent_calls": 5, "caller_id_policy": "smart_number"})
    assert status == 200
    assert (number["call_cost_cap"], number["language"], number["max_concurrent_calls"]) == ("25.50", "fr", 5)
    assert (number["caller_id_policy"], number["caller_id_number"]) == ("smart_number", None)
    status, number = await change(api, world.acme[Role.ADMIN], {"call_cost_cap": None})
    assert status == 200 and number["call_cost_cap"] is None and number["language"] == "fr"
    assert (await api.patch(NUMBER, json={"language": "it"}, headers=bearer(world.acme[Role.READ_ONLY]))).status == 403
    entries = session.scalars(select(AuditEntry).where(AuditEntry.entity == "number", AuditEntry.action == "options")
                              .order_by(AuditEntry.id)).all()
    assert len(entries) == 4 and entries[0].before["caller_id_policy"] == "caller"
    assert entries[0].after["caller_id_number"] == "+41446681800" and entries[0].actor.endswith(":acme routing")


async def test_the_rules_hold_and_a_refusal_changes_nothing(api, world):
    admin = world.acme[Role.ADMIN]
    for body, status in (({"call_cost_cap": "400.01"}, 422), ({"call_cost_cap": "0"}, 422),
                         ({"caller_id_number": "0446681800"}, 422),  # only with the policy fixed
                         ({"caller_id_policy": "fixed", "caller_id_number": "0900 123 457"}, 422),
                         ({"max_concurrent_calls": 0}, 400), ({"language": "rm"}, 400), ({"call_cost_cap": 25}, 400),
                         ({"status": "active"}, 400)):
        got, problem = await change(api, admin, body)
        assert got == status and "\n" not in problem["detail"], (body, problem)
    bern_cap, problem = await change(api, admin, {"call_cost_cap": "10.00"}, f"/api/v1/numbers/{BERN_NUMBER}")
    assert bern_cap == 422 and "premium-rate" in problem["detail"]
    number = await (await api.get(NUMBER, headers=bearer(admin))).json()
    assert (number["call_cost_cap"], number["caller_id_policy"], number["language"]) == (None, "caller", "de")


async def test_another_account_cannot_change_the_number(api, world):
    status, problem = await change(api, world.other, {"language": "fr"})
    assert status == 404 and "Acme" not in str(problem)
    number = await (await api.get(NUMBER, headers=bearer(world.acme[Role.ADMIN]))).json()
    assert number["language"] == "de"
