"""``smartnumbers serve``: the real process on a real port, health and the token-scoped API."""

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.foundation.cli import invoke

REPO = Path(__file__).resolve().parents[2]
SWITCH_PASSWORD = "switch-secret-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def tenants(db_url, capsys):
    """Two customers, each with a token and a number; Acme's number has a plan and a tariff."""
    tokens = {}
    for name, number in (("Acme AG", "0900 123 456"), ("Other GmbH", "0800 999 888")):
        assert invoke(capsys, "account", "add", name).code == 0
        assert invoke(capsys, "number", "add", number, "--account", name).code == 0
        issued = invoke(capsys, "token", "add", "--account", name, "--name", "tests")
        tokens[name] = issued.out.strip().rsplit(" ", 1)[1]
    assert invoke(capsys, "route", "set", "0900123456", "--slot", "mon-fri 08:00-18:00 +41446681800/20").code == 0
    assert invoke(capsys, "tariff", "set", "0900123456", "--code", "1", "--per-minute", "2.50").code == 0
    return tokens


@pytest.fixture
def dialplan_port() -> int:
    return free_port()


@contextlib.contextmanager
def running_serve(db_url: str, dialplan_port: int, **settings: str):
    """``smartnumbers serve`` as a process of its own, until the block ends; its output is
    ``process.output`` afterwards."""
    port = free_port()
    env = {**os.environ, "SMARTNUMBERS_DATABASE_URL": db_url, "SMARTNUMBERS_HTTP": f"127.0.0.1:{port}",
           "SMARTNUMBERS_DIALPLAN_HTTP": f"127.0.0.1:{dialplan_port}", **settings}
    process = subprocess.Popen([sys.executable, "-m", "smartnumbers", "serve"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if get(base + "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("serve did not start: " + process.stdout.read().decode())
    try:
        yield base, process
    finally:
        process.terminate()
        process.output = process.communicate(timeout=10)[0].decode()


@pytest.fixture
def server(tenants, db_url, dialplan_port):
    with running_serve(db_url, dialplan_port, SMARTNUMBERS_SWITCH_HTTP_PASSWORD=SWITCH_PASSWORD) as (base, _):
        yield base


def test_health_needs_no_credential(server):
    assert get(server + "/health") == (200, {"status": "ok"})


def test_every_other_route_needs_a_valid_token(server, tenants):
    assert get(server + "/api/v1/numbers")[0] == 401
    assert get(server + "/api/v1/numbers", "sn_not-a-real-token")[0] == 401


def test_an_account_sees_its_numbers_plans_and_tariffs(server, tenants):
    status, body = get(server + "/api/v1/numbers", tenants["Acme AG"])
    assert status == 200
    (number,) = body["numbers"]
    assert number["number"] == "+41900123456" and number["shown"] == "0900 123 456"
    assert number["tariffs"][0]["price_per_minute"] == "2.50"
    assert number["plan"]["slots"][0]["destinations"] == [{"target": "+41446681800", "ring_timeout": 20}]
    status, plan = get(server + "/api/v1/numbers/0900123456/plan", tenants["Acme AG"])
    assert status == 200 and plan["slots"][0]["days"] == "mon,tue,wed,thu,fri"


def test_tenants_are_kept_apart(server, tenants):
    status, body = get(server + "/api/v1/numbers", tenants["Other GmbH"])
    assert [n["number"] for n in body["numbers"]] == ["+41800999888"]
    assert get(server + "/api/v1/numbers/0900123456", tenants["Other GmbH"])[0] == 404
    assert get(server + "/api/v1/numbers/0900123456/plan", tenants["Other GmbH"])[0] == 404
    assert get(server + "/api/v1/numbers/%3Cscript%3E", tenants["Other GmbH"])[0] == 400
    assert get(server + "/api/v1/numbers/0791234567", tenants["Other GmbH"])[0] == 404  # no smart number


def test_a_revoked_token_stops_working_at_once(server, tenants, capsys):
    assert get(server + "/api/v1/numbers", tenants["Other GmbH"])[0] == 200
    assert invoke(capsys, "token", "revoke", "2").code == 0
    assert get(server + "/api/v1/numbers", tenants["Other GmbH"])[0] == 401


def test_dialplan_fetches_are_answered_on_their_own_port(server, dialplan_port):
    form = urllib.parse.urlencode({"section": "dialplan", "Hunt-Destination-Number": "0900123456",
                                   "Hunt-Context": "carrier"}).encode()
    url = f"http://127.0.0.1:{dialplan_port}/freeswitch/dialplan"
    basic = "Basic " + base64.b64encode(f"freeswitch:{SWITCH_PASSWORD}".encode()).decode()
    with urllib.request.urlopen(urllib.request.Request(url, form, {"Authorization": basic}), timeout=5) as response:
        assert response.status == 200 and b'status="not found"' in response.read()  # no switch: no table
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, form), timeout=5)
    assert refused.value.code == 401


def test_a_plan_from_the_api_is_taken_back_by_route_set(server, tenants, capsys, tmp_path):
    status, plan = get(server + "/api/v1/numbers/0900123456/plan", tenants["Acme AG"])
    assert status == 200 and plan["slots"]
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    assert invoke(capsys, "route", "set", "0900123456", "--file", str(plan_file)).code == 0
    assert get(server + "/api/v1/numbers/0900123456/plan", tenants["Acme AG"]) == (200, plan)


def test_serve_warns_at_start_of_what_will_fail(tenants, db_url, dialplan_port, capsys):
    """No switch password: every post of the switches refused; no price list: no call rated. A
    password in the database URL is never printed."""
    from sqlalchemy.engine import make_url

    secret = "database-secret-in-the-url"
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":  # trust authentication: any password connects
        db_url = url.set(password=secret).render_as_string(hide_password=False)
    with running_serve(db_url, dialplan_port) as (base, process):
        pass
    assert "WARNING smartnumbers: SMARTNUMBERS_SWITCH_HTTP_PASSWORD is not set" in process.output
    assert "price list: no entry for freephone/fixed" in process.output
    assert "smartnumbers pricelist set" in process.output
    assert secret not in process.output
    for range_class in ("freephone", "shared_cost", "premium"):
        for origin in ("fixed", "mobile", "withheld", "abroad"):
            assert invoke(capsys, "pricelist", "set", "--range", range_class, "--origin", origin,
                          "--interconnection", "0.02").code == 0
    with running_serve(db_url, dialplan_port, SMARTNUMBERS_SWITCH_HTTP_PASSWORD=SWITCH_PASSWORD) as (_, process):
        pass
    assert "WARNING" not in process.output, process.output
