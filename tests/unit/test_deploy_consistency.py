"""docker-compose.yml, the Dockerfile and .env.example agree with the CLI and the local
broker: the same Kafka version, the same setting defaults, extras that exist, layers that
cache the dependencies, and a healthcheck on every long-running nudgeflow service."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from streams.runtime.broker import BROKER_FILES
from streams.runtime.settings import Settings
from tests.unit.test_compose import COMPOSE, services

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
LONG_RUNNING = ("worker-1", "worker-2", "trainer")
_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _pom_kafka_version() -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    found = ET.parse(BROKER_FILES / "pom.xml").find("m:properties/m:kafka.version", ns)
    assert found is not None and found.text
    return found.text


def _compose_defaults() -> dict[str, str]:
    """``${VAR:-default}`` of the compose file, each variable's one default."""
    found: dict[str, set[str]] = {}
    for var, default in _DEFAULT.findall(COMPOSE.read_text()):
        found.setdefault(var, set()).add(default)
    assert all(len(values) == 1 for values in found.values()), found
    return {var: values.pop() for var, values in found.items()}


def _extras() -> dict[str, list[str]]:
    text = (REPO / "pyproject.toml").read_text()
    return tomllib.loads(text)["project"]["optional-dependencies"]


def test_compose_runs_the_kafka_version_of_the_local_broker() -> None:
    version = _pom_kafka_version()
    assert services()["kafka"]["image"] == f"apache/kafka:${{KAFKA_IMAGE_TAG:-{version}}}"
    example = (REPO / ".env.example").read_text()
    assert f"# KAFKA_IMAGE_TAG={version}\n" in example


def test_compose_and_env_example_defaults_are_the_cli_defaults() -> None:
    cli = Settings().to_env()
    defaults = {v: d for v, d in _compose_defaults().items() if v.startswith("NUDGE_")}
    assert "NUDGE_POLICY" in defaults
    for var, default in defaults.items():
        if var in cli:
            assert default.lower() == cli[var].lower(), f"{var}: compose {default}, CLI {cli[var]}"
    example = (REPO / ".env.example").read_text()
    for var, value in re.findall(r"^# (NUDGE_\w+)=(\S*)", example, re.M):
        assert value.lower() == cli[var].lower(), f".env.example {var}={value}, CLI {cli[var]}"


def test_only_the_trainer_image_has_the_train_extra() -> None:
    extras = _extras()
    assert extras["train"] == [r for r in extras["train"] if r.startswith("torch")]
    for name, service in services().items():
        if "build" not in service:
            continue
        args = service["build"].get("args", {})
        want = "train" if name == "trainer" else None
        assert args.get("NUDGE_EXTRAS") == want, name
        assert service["image"].startswith("nudgeflow-trainer:" if want else "nudgeflow:"), name
    named = set(re.findall(r"NUDGE_EXTRAS=(\w+)", DOCKERFILE))
    assert named and named <= extras.keys(), f"the Dockerfile names extras {named}"


def test_dockerfile_installs_dependencies_before_the_source() -> None:
    steps = [line.split()[0:2] for line in DOCKERFILE.splitlines() if re.match(r"[A-Z]+ ", line)]
    copied = [step[1] for step in steps if step[0] == "COPY"]
    assert copied[0] == "pyproject.toml", "pyproject.toml is copied first"
    lines = DOCKERFILE.splitlines()
    first_source = min(
        i for i, line in enumerate(lines) if re.match(r"COPY (state|model|streams)", line)
    )
    install_deps = [i for i, line in enumerate(lines) if "pip install -r /tmp/serving.txt" in line]
    assert install_deps and install_deps[0] < first_source
    assert '--index-url "$TORCH_INDEX_URL"' in DOCKERFILE
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE
    assert re.search(r"^RUN pip install --no-deps \.", DOCKERFILE, re.M)


@pytest.mark.parametrize("extras", ["", "train"])
def test_the_image_requirements_are_the_pyprojects(extras: str) -> None:
    script = REPO / "deploy" / "docker" / "requirements.py"
    args = [
        sys.executable,
        str(script),
        str(REPO / "pyproject.toml"),
        *([extras] if extras else []),
    ]
    listed = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert listed == (
        project["optional-dependencies"][extras] if extras else project["dependencies"]
    )
    assert any(r.startswith("torch") for r in listed) == (extras == "train")


def test_workers_and_trainer_have_a_healthcheck_on_their_metrics_port() -> None:
    found = services()
    for name in LONG_RUNNING:
        service = found[name]
        port = service["environment"]["NUDGE_METRICS_PORT"]
        command = service["command"]
        if "--metrics-port" in command:
            port = command[command.index("--metrics-port") + 1]
        check = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/metrics" in check, name
    assert f"EXPOSE {found['worker-1']['environment']['NUDGE_METRICS_PORT']}" in DOCKERFILE
    assert services()["kafka"]["healthcheck"]["test"]


def test_every_file_the_dockerfile_copies_is_in_the_build_context() -> None:
    allowed = (REPO / ".dockerignore").read_text().splitlines()
    sources = [
        s for line in re.findall(r"^COPY (.+)$", DOCKERFILE, re.M) for s in line.split()[:-1]
    ]
    assert "deploy/docker/requirements.py" in sources
    for source in sources:
        assert f"!{source}" in allowed or f"!{source}/" in allowed, source
