"""``nudge simulate --live`` drives a running worker with simulated users."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from streams.runtime.settings import Settings
from tests.support import WorkerProcess, settings_env

pytestmark = pytest.mark.integration


def test_live_traffic_gets_every_request_answered_and_reports(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    worker = WorkerProcess(kafka_settings, tmp_path / "worker.log").start()
    out = tmp_path / "live"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "streams.apps.cli", "simulate", "--live", "--users", "200",
             "--requests", "300", "--rate", "60", "--duration", "60", "--out", str(out)],
            env=settings_env(kafka_settings), capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    finally:
        worker.stop()
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert sum(report["decisions"]) == 300
    kinds = Counter(json.loads(line)["type"] for line in (out / "events.jsonl").open())
    assert kinds["decision-request"] == kinds["decision"] == kinds["impression"] == 300
    assert kinds["conversion"] == sum(report["purchases"]) > 0
    assert (out / "conversion_rate.png").stat().st_size > 0
