"""The routing plan over the API: the same document as ``route show --json`` and ``route set
--file`` (round trip exact), ETag / If-Match, refusals that point at the field at fault and
change nothing, audited as the token, tenants apart."""

from __future__ import annotations

import json

from sqlalchemy import select

from smartnumbers.models import AuditEntry, Role
from tests.api.conftest import ACME_NUMBER, BERN_NUMBER, PLAN, bearer
from tests.foundation.cli import invoke

PLAN_PATH = f"/api/v1/numbers/{ACME_NUMBER}/plan"
TWO_SLOTS = {"slots": [{"days": "mon,tue,wed,thu,fri", "start": "08:00", "end": "18:00",
                        "destinations": [{"target": "+41446681800", "ring_timeout": 20},
                                         {"target": "sip:desk@pbx.example.ch", "ring_timeout": 15}]},
                       {"days": "sat", "start": "22:00", "end": "02:00",
                        "destinations": [{"target": "+41791234567", "ring_timeout": 30}]}],
             "outside": {"action": "fallback", "destinations": [{"target": "+41446681801", "ring_timeout": 20}]},
             "holidays": {"canton": "ZH", "rule": "as_sunday", "dates": ["2026-12-24"]}}


async def test_the_plan_round_trips_with_the_command_line(api, world, capsys, tmp_path):
    routing_token = bearer(world.acme[Role.ROUTING])
    read = await api.get(PLAN_PATH, headers=routing_token)
    assert read.status == 200 and await read.json() == PLAN
    put = await api.put(PLAN_PATH, json=TWO_SLOTS, headers={**routing_token, "If-Match": read.headers["ETag"]})
    assert put.status == 200, await put.text()
    assert await put.json() == TWO_SLOTS and put.headers["ETag"] != read.headers["ETag"]
    shown = invoke(capsys, "route", "show", ACME_NUMBER, "--json")
    assert shown.code == 0 and shown.json() == TWO_SLOTS
    # what the API prints, route set --file reads back to the same plan (and the same version)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(await (await api.get(PLAN_PATH, headers=routing_token)).text())
    assert invoke(capsys, "route", "set", BERN_NUMBER, "--file", str(plan_file)).code == 0
    bern = await api.get(f"/api/v1/numbers/{BERN_NUMBER}/plan", headers=routing_token)
    assert await bern.json() == TWO_SLOTS and bern.headers["ETag"] == put.headers["ETag"]


async def test_if_match_keeps_two_editors_from_overwriting_each_other(api, world):
    anna, ben = bearer(world.acme[Role.ROUTING]), bearer(world.acme[Role.ADMIN])
    tag = (await api.get(PLAN_PATH, headers=anna)).headers["ETag"]
    first = await api.put(PLAN_PATH, json=TWO_SLOTS, headers={**anna, "If-Match": tag})
    assert first.status == 200
    late = await api.put(PLAN_PATH, json=PLAN, headers={**ben, "If-Match": tag})
    body = await late.json(content_type=None)
    assert late.status == 412 and late.content_type == "application/problem+json" and "changed" in body["detail"]
    assert await (await api.get(PLAN_PATH, headers=anna)).json() == TWO_SLOTS
    assert (await api.put(PLAN_PATH, json=PLAN, headers={**ben, "If-Match": first.headers["ETag"]})).status == 200
    assert (await api.put(PLAN_PATH, json=TWO_SLOTS, headers={**ben, "If-Match": "*"})).status == 200


async def test_a_refusal_points_at_the_slot_and_destination_and_changes_nothing(api, world, session):
    token = bearer(world.acme[Role.ROUTING])
    premium = json.loads(json.dumps(TWO_SLOTS))
    premium["slots"][0]["destinations"][1]["target"] = "0900 123 457"
    looping = json.loads(json.dumps(TWO_SLOTS))
    looping["outside"]["destinations"][0]["target"] = ACME_NUMBER
    overlapping = json.loads(json.dumps(TWO_SLOTS))
    overlapping["slots"][1].update(days="fri", start="17:00")
    for plan, pointer, rule in ((premium, "/slots/0/destinations/1", "fraud"),
                                (looping, "/outside/destinations/0", "fraud"),
                                (overlapping, "/slots", None)):
        reply = await api.put(PLAN_PATH, json=plan, headers=token)
        body = await reply.json(content_type=None)
        assert reply.status == 422 and reply.content_type == "application/problem+json", body
        assert body["errors"][0]["pointer"] == pointer and body.get("rule") == rule, body
    assert await (await api.get(PLAN_PATH, headers=token)).json() == PLAN


async def test_malformed_bodies_are_400_with_the_field_and_change_nothing(api, world):
    token = bearer(world.acme[Role.ROUTING])
    wrong_type = json.loads(json.dumps(PLAN))
    wrong_type["slots"][0]["destinations"][0]["ring_timeout"] = "20"
    unknown = {**PLAN, "owner": "me"}
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    for body, pointer in ((b'{"slots": [', ""), (b'{"slots": "\xff\xfe"}', ""), (deep, ""),
                          (b"[1, 2]", ""), (b"", ""), (json.dumps(wrong_type).encode(), "/slots/0/destinations/0/ring_timeout"),
                          (json.dumps(unknown).encode(), "/owner"), ('{"slots": [], "outside": {"action": "maybe"}}'.encode(), "/outside/action")):
        reply = await api.put(PLAN_PATH, data=body, headers={**token, "Content-Type": "application/json"})
        problem = await reply.json(content_type=None)
        assert reply.status == 400 and reply.content_type == "application/problem+json", (body[:40], problem)
        assert "\n" not in problem["detail"] and problem["errors"][0]["pointer"] == pointer, problem
    too_large = await api.put(PLAN_PATH, data=b" " * (2 * 1024**2), headers={**token, "Content-Type": "application/json"})
    assert too_large.status == 413 and too_large.content_type == "application/problem+json"
    as_text = await api.put(PLAN_PATH, data=json.dumps(PLAN), headers={**token, "Content-Type": "text/plain"})
    assert as_text.status == 415
    utf16 = await api.put(PLAN_PATH, data=json.dumps(PLAN).encode("utf-16"), headers={**token, "Content-Type": "application/json"})
    assert utf16.status == 400
    assert await (await api.get(PLAN_PATH, headers=token)).json() == PLAN


async def test_a_replaced_plan_is_audited_as_the_token(api, world, session):
    token = bearer(world.acme[Role.ROUTING])
    assert (await api.put(PLAN_PATH, json=TWO_SLOTS, headers=token)).status == 200
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "plan", AuditEntry.action == "replace")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry.actor_kind == "token" and entry.actor.endswith(":acme routing")
    assert entry.entity_id == ACME_NUMBER and entry.before == PLAN and entry.after == TWO_SLOTS


async def test_another_account_can_neither_read_nor_replace_the_plan(api, world):
    for reply in (await api.get(PLAN_PATH, headers=bearer(world.other)),
                  await api.put(PLAN_PATH, json=TWO_SLOTS, headers=bearer(world.other))):
        text = await reply.text()
        assert reply.status == 404 and "446681800" not in text and "Acme" not in text
    assert await (await api.get(PLAN_PATH, headers=bearer(world.acme[Role.READ_ONLY]))).json() == PLAN
