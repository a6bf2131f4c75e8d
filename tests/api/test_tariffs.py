"""Tariffs over the API: everyone reads every code with its versions; only an operator adds a
version, checked against the Swiss caps; money as plain decimal text both ways."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from smartnumbers.models import Role
from tests.api.conftest import ACME_NUMBER, BERN_NUMBER, bearer

TARIFFS = f"/api/v1/numbers/{ACME_NUMBER}/tariffs"


async def test_an_operator_adds_a_version_everyone_reads_them(api, world):
    since = dt.datetime(2027, 1, 1, tzinfo=ZoneInfo("Europe/Zurich"))
    reply = await api.post(f"{TARIFFS}/1", headers=bearer(world.acme[Role.OPERATOR]),
                           json={"price_per_minute": "3.0", "price_per_call": "0.5", "valid_from": since.isoformat(),
                                 "fees": [{"amount": "10.00", "every_s": 60}], "first_unit_s": 30, "next_unit_s": 6})
    saved = await reply.json()
    assert reply.status == 201, saved
    version = saved["version"]
    assert (version["code"], version["version"], version["price_per_minute"], version["price_per_call"]) == (1, 2, "3.00", "0.50")
    assert version["fees"] == [{"amount": "10.00", "at_s": None, "every_s": 60}]
    assert "fixed charges" in saved["warning"] or "CHF 100" in saved["warning"]
    assert dt.datetime.fromisoformat(version["valid_from"]) == since and version["valid_from"].endswith("+01:00")
    listed = await (await api.get(TARIFFS, headers=bearer(world.acme[Role.READ_ONLY]))).json()
    assert [(t["code"], [v["version"] for v in t["versions"]]) for t in listed["tariffs"]] == [(1, [1, 2])]
    assert listed["tariffs"][0]["versions"][0]["price_per_minute"] == "2.50"


async def test_only_an_operator_and_only_within_the_caps(api, world):
    operator, admin = bearer(world.acme[Role.OPERATOR]), bearer(world.acme[Role.ADMIN])
    assert (await api.post(f"{TARIFFS}/2", json={"price_per_minute": "1.00"}, headers=admin)).status == 403
    for path, body, status in ((f"{TARIFFS}/2", {"price_per_minute": "10.01"}, 422),
                               (f"/api/v1/numbers/{BERN_NUMBER}/tariffs/1", {"price_per_minute": "0.10"}, 422),
                               (f"{TARIFFS}/91", {"price_per_minute": "1.00"}, 400),
                               (f"{TARIFFS}/2", {"price_per_minute": 1.5}, 400),
                               (f"{TARIFFS}/2", {"price_per_minute": "1E+1"}, 400)):
        reply = await api.post(path, json=body, headers=operator)
        assert reply.status == status, (path, body, await reply.text())
    listed = await (await api.get(TARIFFS, headers=admin)).json()
    assert [t["code"] for t in listed["tariffs"]] == [1]
