"""Replay into the real broker, killed and resumed, equals one offline replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model.logs import read_log, write_log
from model.replay import replay_offline
from model.simulator import Environment, UniformLogging, rounds_to_events, simulate_rounds
from state import InMemoryStore
from streams.apps.cli import main
from streams.runtime.inspect import iter_store
from streams.runtime.lag import wait_until_caught_up
from streams.runtime.settings import Settings
from streams.runtime.wiring import build_engine
from tests.support import WorkerProcess, settings_env

pytestmark = pytest.mark.integration


def _write_log(path: Path, requests: int) -> int:
    env = Environment.build(4_000, seed=5)
    rounds = simulate_rounds(env, UniformLogging(), requests, seed=5, days=3)
    return write_log(path, rounds_to_events(env, rounds))


def _worker_arms(settings: Settings) -> dict[str, dict]:
    return {user: state.arms for user, state in iter_store(settings)}


def _kill_midway(settings: Settings, log: Path, checkpoint: Path, at: int) -> None:
    """Run ``nudge replay --into kafka`` in a subprocess and SIGKILL it once the
    checkpoint has passed ``at`` log positions: deliveries after the last checkpoint
    are then in the topics but not in the file."""
    cmd = [
        sys.executable,
        "-m",
        "streams.apps.cli",
        "replay",
        str(log),
        "--into",
        "kafka",
        "--checkpoint",
        str(checkpoint),
        "--quiet",
    ]
    process = subprocess.Popen(cmd, env=settings_env(settings), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if checkpoint.exists() and json.loads(checkpoint.read_text())["watermark"] > at:
                break
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()
    assert not json.loads(checkpoint.read_text())["finished"], "killed too late"


@pytest.mark.parametrize(
    "requests",
    [
        pytest.param(4_000, id="12k-events"),
        pytest.param(33_000, id="100k-events", marks=pytest.mark.slow),
    ],
)
def test_interrupted_kafka_replay_equals_one_offline_replay(
    kafka_settings: Settings, tmp_path: Path, requests: int
) -> None:
    # a policy that ignores state, so the worker's decisions cannot depend on how it
    # interleaves the three topics; causal gating orders each decision before its outcomes
    settings = kafka_settings.with_(policy="uniform", policy_params={})
    log, checkpoint = tmp_path / "log.jsonl", tmp_path / "replay.json"
    total = _write_log(log, requests)
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        _kill_midway(settings, log, checkpoint, at=total // 3)
        env = {k: v for k, v in settings_env(settings).items() if k.startswith("NUDGE_")}
        os.environ.update(env)  # the in-process resume reads the same settings
        try:
            replay = ["replay", str(log), "--into", "kafka", "--checkpoint", str(checkpoint)]
            assert main([*replay, "--quiet"]) == 0  # resumed
            assert main([*replay, "--quiet"]) == 0  # repeated: publishes nothing
        finally:
            for key in env:
                os.environ.pop(key, None)
        wait_until_caught_up(settings, timeout_seconds=300)
    finally:
        worker.stop()
    offline = InMemoryStore()
    replay_offline(read_log(log), build_engine(settings), offline)
    expected = {user: offline.get(user).arms for user in offline.users()}
    assert _worker_arms(settings) == expected
    assert sum(s.impressions for arms in expected.values() for s in arms.values()) > 0
