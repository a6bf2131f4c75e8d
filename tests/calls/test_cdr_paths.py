"""The backstop paths: mod_json_cdr's post to ``/freeswitch/cdr`` and the sweep of a node's
folder of CDRs it failed to post, with the real CDRs of the hunt 7201 (FACTS 2, 6)."""

from __future__ import annotations

import base64
import os
import shutil
from urllib.parse import urlencode
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from rating.operator_prices import set_price
from smartnumbers import accounts, numbers
from smartnumbers.models import CallRecord, CapturedLeg, LegSource, RatedCall
from smartnumbers.phone import CallerOrigin, RangeClass
from smartnumbers.settings import load_settings
from sync.app import build_app
from controller.freeswitch.cdr_folders import sweep_all
from tests.calls.test_capture import A_LEG, OPERATOR

PASSWORD = "a-long-switch-secret"


def cdr_folder(captures):
    return captures / "facts" / "raw" / "item2-hunt" / "7201" / "json_cdr"


@pytest.fixture
def hunt_number(session):
    account = accounts.add_account(session, "Hunt AG")
    numbers.add_number(session, OPERATOR, "0800 111 222", account)
    for origin in CallerOrigin:
        set_price(session, OPERATOR, RangeClass.FREEPHONE, origin, interconnection_per_minute=Decimal("0.02"),
                  owner_per_minute=Decimal("0.12"))
    session.commit()


def counts(session):
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(t)) for t in (CapturedLeg, CallRecord, RatedCall))


async def test_posted_cdrs_are_stored_once_and_answered_only_when_committed(session, db_url, captures, hunt_number):
    settings = load_settings(database_url=db_url, switch_http_password=PASSWORD)
    auth = {"Authorization": "Basic " + base64.b64encode(f"freeswitch:{PASSWORD}".encode()).decode()}
    async with TestClient(TestServer(build_app(settings))) as client:
        for path in sorted(cdr_folder(captures).glob("*.cdr.json")):
            leg = path.name.removesuffix(".cdr.json")
            for _ in range(2):  # a retried post is the same leg
                response = await client.post(f"/freeswitch/cdr?uuid={leg}", data=path.read_bytes(),
                                             headers={**auth, "Content-Type": "application/json"})
                assert response.status == 200, await response.text()
        refused = await client.post("/freeswitch/cdr", data=b"{}", headers={"Content-Type": "application/json"})
        assert refused.status == 401
        bad = await client.post("/freeswitch/cdr", data=b'{"no": "variables"}',
                                headers={**auth, "Content-Type": "application/json"})
        assert bad.status == 400
        encoded = await client.post(  # ``encode=true``: the same CDR as a form field (FACTS 6)
            f"/freeswitch/cdr?uuid={A_LEG}", data=urlencode({"cdr": (cdr_folder(captures) / f"{A_LEG}.cdr.json").read_text()}),
            headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
        assert encoded.status == 200 and (await encoded.json())["new"] is False
        mismatch = await client.post("/freeswitch/cdr?uuid=not-this-leg",
                                     data=(cdr_folder(captures) / f"{A_LEG}.cdr.json").read_bytes(),
                                     headers={**auth, "Content-Type": "application/json"})
        assert mismatch.status == 400
    assert counts(session) == (4, 1, 1)
    assert session.get(CapturedLeg, A_LEG).sources == LegSource.POST


def test_the_sweeper_stores_failed_posts_and_moves_them_aside(session, db_url, captures, hunt_number, tmp_path):
    err_dir = tmp_path / "json_cdr_err"
    err_dir.mkdir()
    for path in cdr_folder(captures).glob("*.cdr.json"):
        shutil.copy(path, err_dir / path.name)
        os.utime(err_dir / path.name, (1, 1))  # settled long ago
    (err_dir / "broken.cdr.json").write_text("{not json")
    os.utime(err_dir / "broken.cdr.json", (1, 1))
    settings = load_settings(database_url=db_url, cdr_error_folders={"vm": str(err_dir)})

    (sweep,) = sweep_all(settings)
    assert (sweep.stored, sweep.already_known, sweep.rejected) == (4, 0, ["broken.cdr.json"])
    assert sorted(p.name for p in (err_dir / "swept").iterdir()) == sorted(
        p.name for p in cdr_folder(captures).glob("*.cdr.json"))
    assert list(err_dir.glob("*.cdr.json")) == []
    assert counts(session) == (4, 1, 1)
    assert session.get(CapturedLeg, A_LEG).sources == LegSource.FILE

    for path in (err_dir / "swept").iterdir():  # the same files again: nothing new
        shutil.copy(path, err_dir / path.name)
        os.utime(err_dir / path.name, (1, 1))
    (again,) = sweep_all(settings)
    assert (again.stored, again.already_known) == (0, 4)
    assert counts(session) == (4, 1, 1)
