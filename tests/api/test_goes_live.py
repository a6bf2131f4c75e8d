"""A change through the API goes live as ``route set``'s does: the serve process republishes
every audited change, so the dialplan file deployed for the switches and the xml_curl table
carry the new destination, and a blacklisted caller is refused there."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from smartnumbers.main import serve_app
from smartnumbers.models import Role
from smartnumbers.settings import load_settings
from sync import xml_curl
from tests.api.conftest import ACME_NUMBER, PLAN, bearer

NEW_TARGET = "+41446681877"


async def eventually(check, what: str, timeout_s: float = 10.0) -> None:
    """Waits for ``check()``; the deadline only bounds a failing test (no timing is asserted)."""
    for _ in range(int(timeout_s / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout_s} s")


async def test_a_plan_and_a_blacklist_entry_reach_the_deployed_dialplan(world, db_url, tmp_path):
    settings = load_settings(database_url=db_url, dialplan_folders={"fs1": str(tmp_path / "fs1")},
                             sounds_folder=str(tmp_path / "sounds"))
    app = serve_app(settings)
    deployed = tmp_path / "fs1" / ACME_NUMBER[-3:] / f"{ACME_NUMBER[1:]}.xml"
    async with TestClient(TestServer(app)) as api:
        table = app[xml_curl.DIALPLANS]
        await eventually(lambda: deployed.exists() and "446681800" in deployed.read_text(), "first deployment")
        plan = {**PLAN, "slots": [{**PLAN["slots"][0], "destinations": [{"target": NEW_TARGET, "ring_timeout": 20}]}]}
        reply = await api.put(f"/api/v1/numbers/{ACME_NUMBER}/plan", json=plan, headers=bearer(world.acme[Role.ROUTING]))
        assert reply.status == 200
        await eventually(lambda: NEW_TARGET[1:] in deployed.read_text(), "the new destination in the file")
        body = table.body(ACME_NUMBER)  # the xml_curl table holds the same extensions
        assert NEW_TARGET[1:] in body and body in deployed.read_text()
        entry = await api.post("/api/v1/blacklist", json={"pattern": "+41791234567", "reason": "abusive"},
                               headers=bearer(world.acme[Role.ROUTING]))
        assert entry.status == 201
        await eventually(lambda: "791234567" in deployed.read_text(), "the blacklisted caller in the file")
