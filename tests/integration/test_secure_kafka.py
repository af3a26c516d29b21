"""A secured cluster (SASL_SSL, SCRAM-SHA-512, a private CA) from ``nudge broker start
--secure``: the worker on both engines and the Kafka commands work with only the settings
the broker printed; a wrong password or an untrusted CA stops a command at once with one
line saying which; the password shows up in no log, /metrics, ``--help`` or output."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from model.events import DecisionRequest
from model.logs import read_log, write_log
from model.simulator import Environment, UniformLogging, rounds_to_events, simulate_rounds
from streams.runtime.broker import LocalBroker, free_port
from streams.runtime.kafka import read_topic
from streams.runtime.lag import wait_until_caught_up
from streams.runtime.secure_broker import secure_files
from streams.runtime.settings import Settings
from tests.support import WorkerProcess, produce_json, scrape, settings_env

pytestmark = pytest.mark.integration


def nudge(
    settings: Settings, *args: str, timeout: float = 180, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = settings_env(settings) | (extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "streams.apps.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``nudge broker start --secure`` on free ports; the ``export`` lines it printed."""
    data_dir = tmp_path_factory.mktemp("secure-kafka")
    cmd = [sys.executable, "-m", "streams.apps.cli", "broker", "start", "--secure",
           "--port", str(free_port()), "--data-dir", str(data_dir), "--timeout", "120"]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr
        lines = [shlex.split(line) for line in done.stdout.splitlines()]
        assert all(words[0] == "export" for words in lines), done.stdout
        printed = dict(words[1].split("=", 1) for words in lines)
        password = Path(printed["NUDGE_SASL_PASSWORD_FILE"]).read_text().strip()
        assert password and password not in done.stdout + done.stderr
        yield printed
    finally:
        LocalBroker(data_dir).stop()


@pytest.fixture
def settings(exports: dict[str, str], tmp_path: Path) -> Settings:
    """Only what the broker printed, plus this test's own topics, group and dirs."""
    tag = uuid.uuid4().hex[:8]
    return Settings.from_env(
        exports,
        topic_prefix=f"s{tag}.",
        app_id=f"nudge-secure-{tag}",
        partitions=2,
        state_dir=tmp_path / "state",
        model_dir=tmp_path / "models",
        metrics_port=free_port(),
    )


def password_of(settings: Settings) -> str:
    assert settings.sasl_password is not None
    return settings.sasl_password.reveal()


def write_small_log(path: Path) -> int:
    """A few hundred requests with their logged outcomes; returns the request count."""
    env = Environment.build(300, seed=7)
    write_log(path, rounds_to_events(env, simulate_rounds(env, UniformLogging(), 600, seed=7)))
    return sum(isinstance(e, DecisionRequest) for e in read_log(path))


def impression_of(decision: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"imp-{decision['decision_id']}",
        "ts": int(time.time() * 1000),
        "user_id": decision["user_id"],
        "decision_id": decision["decision_id"],
        "arm_id": decision["arm_id"],
    }


def metric(exposition: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not exposed")


@pytest.mark.parametrize("engine", ["quix", "faust"])
def test_worker_and_commands_over_sasl_ssl(engine: str, settings: Settings, tmp_path: Path) -> None:
    settings = settings.with_(engine=engine)
    created = nudge(settings, "topics", "create")
    assert created.returncode == 0 and "created" in created.stdout, created.stderr
    log = tmp_path / "log.jsonl"
    requests = write_small_log(log)
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        replayed = nudge(settings, "replay", str(log), "--into", "kafka", "--quiet")
        assert replayed.returncode == 0, replayed.stderr
        wait_until_caught_up(settings, timeout_seconds=120)
        decisions = list(read_topic(settings, settings.topic("decisions"), expect=requests))
        assert len(decisions) == requests
        shown_one = json.loads(decisions[0].value())  # its impression, produced here
        produce_json(settings, "impressions", [impression_of(shown_one)])
        wait_until_caught_up(settings, timeout_seconds=60)
        trained = nudge(settings, "train", "--from-kafka", "--announce", "--epochs", "1",
                        "--min-examples", "5", "--no-progress")  # fmt: skip
        assert trained.returncode == 0, trained.stderr[-2000:]
        round_ = json.loads(trained.stdout.strip().splitlines()[-1])
        assert round_["outcome"] == "published", round_
        exposition = _wait_for_swap(worker)  # the announcement reached the worker
        user = shown_one["user_id"]
        shown = nudge(settings, "state", "show", user, "--source", "changelog", "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["arms"][shown_one["arm_id"]]["impressions"] >= 1
    finally:
        assert worker.stop() == 0
    topic, outcome = "impressions", "applied"
    applied = metric(exposition, "nudge_events_consumed_total", topic=topic, outcome=outcome)
    assert applied >= 1
    password = password_of(settings)
    assert password not in exposition
    assert password not in (tmp_path / "worker.log").read_text(errors="replace")
    for done in (created, replayed, trained, shown):
        assert password not in done.stdout + done.stderr


def _wait_for_swap(worker: WorkerProcess, timeout_seconds: float = 90) -> str:
    deadline = time.monotonic() + timeout_seconds
    while True:
        exposition = scrape(worker.settings.metrics_port)
        if metric(exposition, "nudge_model_refresh_total", outcome="swapped") >= 1:
            return exposition
        assert time.monotonic() < deadline, "the announced model was not swapped in"
        time.sleep(1)


@pytest.mark.parametrize("wrong", ["password", "ca"])
def test_a_wrong_password_or_an_untrusted_ca_fails_at_start_with_one_line(
    wrong: str, settings: Settings, tmp_path: Path
) -> None:
    if wrong == "password":
        bad = tmp_path / "wrong.password"
        bad.write_text("not-the-password\n")
        broken = settings.with_(sasl_password=None, sasl_password_file=bad)
        expected = "refused the SASL credentials of user 'nudge'"
    else:
        other_ca = secure_files(tmp_path / "other").ca  # a CA that signed nothing there
        broken = settings.with_(ssl_ca_file=other_ca)
        expected = f"certificate could not be verified with {other_ca}"
    started = time.monotonic()
    done = nudge(broken, "worker", timeout=15)
    assert time.monotonic() - started < 15
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("nudge: error:"), done.stderr
    assert expected in lines[0]
    assert password_of(settings) not in done.stdout + done.stderr


def test_help_never_shows_the_password(settings: Settings) -> None:
    password = password_of(settings)
    done = nudge(settings, "worker", "--help", extra_env={"NUDGE_SASL_PASSWORD": password})
    assert done.returncode == 0 and "--sasl-password-file" in done.stdout
    assert password not in done.stdout + done.stderr
