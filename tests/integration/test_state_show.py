"""``nudge state show`` reads what is current (the changelog) and says where it read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.apps.processes import child_env
from streams.runtime.broker import free_port
from streams.runtime.kafka import read_topic
from streams.runtime.settings import Settings
from tests.support import WorkerProcess, produce_json

pytestmark = pytest.mark.integration


def show(settings: Settings, user: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.apps.cli", "state", "show", user, "--json"],
        env=child_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_state_show_prefers_the_changelog_and_says_when_it_reads_a_local_copy(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    request = {"schema_version": 1, "event_id": "show-1", "ts": 1_760_000_000_000,
               "user_id": "shown", "context": {"risk_tolerance": 3}}  # fmt: skip
    worker = WorkerProcess(kafka_settings, tmp_path / "worker.log").start()
    try:
        produce_json(kafka_settings, "decision-requests", [request])
        decisions = list(read_topic(kafka_settings, kafka_settings.topic("decisions"), expect=1))
    finally:
        worker.stop()
    decision_id = json.loads(decisions[0].value())["decision_id"]

    current = show(kafka_settings, "shown")
    assert current.returncode == 0, current.stderr
    assert "source: the changelog (current)" in current.stderr
    assert json.loads(current.stdout)["decisions"][0]["decision_id"] == decision_id

    offline = kafka_settings.with_(bootstrap_servers=f"127.0.0.1:{free_port()}")
    local = show(offline, "shown")
    assert local.returncode == 0, local.stderr
    assert "no broker answered" in local.stderr and "local store" in local.stderr
    assert json.loads(local.stdout) == json.loads(current.stdout)
