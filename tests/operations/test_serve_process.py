"""The real ``smartnumbers serve`` process: scraped by Prometheus' parser, its log lines JSON
when asked, and ``smartnumbers --version``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from smartnumbers.version import installed_version
from tests.foundation.test_serve import REPO, free_port, get

TOKEN = "metrics-token-0123456789"


def test_serve_is_scraped_and_logs_json_lines(db_url):
    port = free_port()
    env = {**os.environ, "SMARTNUMBERS_DATABASE_URL": db_url, "SMARTNUMBERS_HTTP": f"127.0.0.1:{port}",
           "SMARTNUMBERS_DIALPLAN_HTTP": f"127.0.0.1:{free_port()}", "SMARTNUMBERS_METRICS_TOKEN": TOKEN,
           "SMARTNUMBERS_LOG_FORMAT": "json"}
    process = subprocess.Popen([sys.executable, "-m", "smartnumbers", "serve"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if get(base + "/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        request = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    [info] = families["smartnumbers_build_info"].samples
    assert info.labels == {"version": installed_version()} and info.value == 1
    assert families["smartnumbers_dialplan_fetch_seconds"].type == "histogram"
    assert families["smartnumbers_cdr_lag_seconds"].type == "histogram"
    assert families["smartnumbers_unrated_calls"].samples[0].value == 0
    lines = [json.loads(line) for line in output.splitlines()]
    assert any(line["message"].startswith("dialplan fetches on http://") for line in lines)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)


def test_version():
    done = subprocess.run([sys.executable, "-m", "smartnumbers", "--version"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout == f"smartnumbers {installed_version()}\n"
    assert installed_version() != "unknown"
