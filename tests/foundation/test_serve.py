"""``smartnumbers serve``: the real process on a real port, health and the token-scoped API."""

import base64
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


@pytest.fixture
def server(tenants, db_url, dialplan_port):
    port = free_port()
    env = {**os.environ, "SMARTNUMBERS_DATABASE_URL": db_url, "SMARTNUMBERS_HTTP": f"127.0.0.1:{port}",
           "SMARTNUMBERS_DIALPLAN_HTTP": f"127.0.0.1:{dialplan_port}",
           "SMARTNUMBERS_SWITCH_HTTP_PASSWORD": SWITCH_PASSWORD}
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
    yield base
    process.terminate()
    process.wait(timeout=10)


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
