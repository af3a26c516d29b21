"""docker-compose.yml, Dockerfile and the Prometheus scrape config, checked without Docker.

No Docker engine runs here: the compose file is validated against the compose-spec schema
(check-jsonschema's vendored copy, offline) and its wiring is checked field by field.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.unit.test_dashboards import REPO, load_yaml, rules

COMPOSE = REPO / "docker-compose.yml"
NUDGE_SERVICES = ("topics", "worker-1", "worker-2", "trainer", "simulator")
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "API_KEY", "CREDENTIAL")


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def services() -> dict[str, Any]:
    return compose()["services"]


def test_compose_file_matches_the_compose_spec() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_kafka_is_the_official_image_in_kraft_with_two_listeners_and_a_healthcheck() -> None:
    kafka = services()["kafka"]
    env = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["CONTAINER"] == "kafka:19092"
    assert advertised["HOST"].startswith("localhost:")
    assert kafka["healthcheck"]["test"]


def test_nudge_services_share_the_image_and_wait_for_broker_and_topics() -> None:
    found = services()
    for name in NUDGE_SERVICES:
        service = found[name]
        assert service["build"]["context"] == ".", name
        assert service["environment"]["NUDGE_BOOTSTRAP_SERVERS"] == "kafka:19092", name
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy", name
        if name != "topics":
            wait = service["depends_on"]["topics"]["condition"]
            assert wait == "service_completed_successfully", name
    assert found["topics"]["command"] == ["topics", "create"]
    assert found["worker-1"]["command"] == found["worker-2"]["command"] == ["worker"]
    assert found["trainer"]["command"][:2] == ["train", "--from-kafka"]
    assert found["simulator"]["profiles"] == ["simulate"]
    assert found["simulator"]["command"][:2] == ["simulate", "--live"]  # closed loop
    assert all("profiles" not in found[n] for n in found if n != "simulator")


def test_workers_keep_their_own_state_volume() -> None:
    found = services()
    states = [v for n in ("worker-1", "worker-2") for v in found[n]["volumes"] if "state" in v]
    assert len(states) == 2 and len({s.split(":")[0] for s in states}) == 2


def test_mounted_provisioning_exists_and_prometheus_scrapes_the_compose_services() -> None:
    found = services()
    for name in ("prometheus", "grafana"):
        for volume in found[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).is_dir(), f"{name} mounts missing {source}"
    port = services()["worker-1"]["environment"]["NUDGE_METRICS_PORT"]
    scraped = {
        job["job_name"]: job["static_configs"][0]["targets"]
        for job in load_yaml(REPO / "deploy/prometheus/prometheus.yml")["scrape_configs"]
    }
    assert scraped["nudge-worker"] == [f"worker-1:{port}", f"worker-2:{port}"]
    assert scraped["nudge-trainer"] == [f"trainer:{port}"]


def test_no_secret_is_written_in_the_compose_file() -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if any(word in str(key).upper() for word in SECRET_WORDS):
                    assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", str(value)), f"{path}.{key}"
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(compose(), "compose")
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    example = (REPO / ".env.example").read_text()
    assert required and all(re.search(rf"^{v}=", example, re.M) for v in required)


def test_model_stale_alert_is_three_trainer_intervals() -> None:
    command = services()["trainer"]["command"]
    every = re.fullmatch(r"(\d+)([smh])", command[command.index("--every") + 1])
    assert every, command
    every_seconds = int(every[1]) * {"s": 1, "m": 60, "h": 3600}[every[2]]
    stale = next(r for r in rules() if r.get("alert") == "NudgeModelStale")
    threshold = float(re.search(r"nudge:model_age_seconds > (\d+)", stale["expr"])[1])
    assert threshold == 3 * every_seconds


def test_dockerfile_installs_the_project_with_nudge_as_entrypoint() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["nudge"\]$', text, re.M)
    assert re.search(r"pip install --no-deps \. ", text)
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*", "the build context is an allow-list"
    assert {"!pyproject.toml", "!README.md", "!state/", "!model/", "!streams/"} <= set(patterns)
