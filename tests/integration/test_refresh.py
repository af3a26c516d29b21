"""Model hot swap in a running worker, against the real broker.

A worker serves model "1" (found in the model directory at startup); model "2" is
announced on the model-updates topic while requests keep flowing: the worker's metrics
and decisions switch to "2" and every request still gets exactly one decision. Then a
corrupt artifact "3" is announced: "2" keeps serving and the failure is counted.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest

from model.catalog import load_catalog
from model.training import update_message
from model.twotower.dataset import build_examples, split_by_user
from model.twotower.pipeline import FitResult, fit, write
from model.twotower.train import TrainConfig
from streams.apps.training import announce
from streams.runtime.kafka import read_topic
from streams.runtime.settings import Settings
from tests.support import WorkerProcess, produce_json
from tests.unit.test_twotower_synthetic import preference_log

pytestmark = pytest.mark.integration


def _fitted() -> FitResult:
    examples = build_examples(preference_log(80, 5, seed=21))
    train, held = split_by_user(examples, 0.3)
    tiny = TrainConfig(epochs=1, hidden=(8,), embedding_dim=4)
    return fit(train, held, load_catalog(), tiny, version="1")


def _version(result: FitResult, version: str, offset_seconds: float) -> FitResult:
    at = result.artifact.trained_at + offset_seconds
    return replace(result, artifact=replace(result.artifact, version=version, trained_at=at))


def _requests(start: int, count: int) -> list[dict]:
    return [
        {"schema_version": 1, "event_id": f"req-{n}", "ts": 1_760_000_000_000 + n,
         "user_id": f"user-{n % 17}", "context": {"age": 30 + n % 40, "region": "north"}}
        for n in range(start, start + count)
    ]  # fmt: skip


def _decisions(settings: Settings, expect: int) -> list[dict]:
    topic = settings.topic("decisions")
    messages = read_topic(settings, topic, expect=expect, timeout_seconds=90)
    return [json.loads(m.value()) for m in messages]


def _metric(text: str, pattern: str) -> float:
    match = re.search(pattern + r"\s+([0-9.e+-]+)", text)
    return float(match.group(1)) if match else 0.0


def _wait_for(worker: WorkerProcess, pattern: str, timeout_seconds: float = 60) -> str:
    deadline = time.monotonic() + timeout_seconds
    text = ""
    while time.monotonic() < deadline:
        text = worker.metrics()
        if re.search(pattern, text):
            return text
        time.sleep(0.25)
    raise AssertionError(f"{pattern!r} not in metrics within {timeout_seconds}s:\n{text[-2000:]}")


def test_announced_model_is_swapped_in_and_a_corrupt_one_is_refused(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = kafka_settings
    result = _fitted()
    write(result, settings.model_dir)  # version "1", present at startup
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        _wait_for(worker, r'nudge_model_info\{version="1"\}')
        produce_json(settings, "decision-requests", _requests(0, 40))
        served = _decisions(settings, 40)
        assert {d["model_version"] for d in served} == {"1"}

        second = write(_version(result, "2", 60), settings.model_dir)
        announce(settings, update_message(second, result.metrics))
        for batch in range(10):  # traffic keeps flowing while the worker swaps
            produce_json(settings, "decision-requests", _requests(40 + 20 * batch, 20))
            time.sleep(0.2)
        text = _wait_for(worker, r'nudge_model_info\{version="2"\}')
        assert _metric(text, r'nudge_model_refresh_total\{outcome="swapped"\}') == 1
        assert worker.metrics().find("nudge_model_trained_timestamp_seconds") >= 0
        produce_json(settings, "decision-requests", _requests(240, 40))

        decisions = [
            json.loads(m.value())
            for m in read_topic(settings, settings.topic("decisions"),
                                expect=280, timeout_seconds=90)
        ]  # fmt: skip
        requests = {d["request_id"] for d in decisions}
        assert len(decisions) == 280 and len(requests) == 280  # none lost, none doubled
        by_request = {d["request_id"]: d["model_version"] for d in decisions}
        assert {by_request[f"req-{n}"] for n in range(240, 280)} == {"2"}
        assert set(by_request.values()) == {"1", "2"}

        third = write(_version(result, "3", 120), settings.model_dir)
        (third / "weights.safetensors").write_bytes(b"\x00" * 64)  # corrupt after publishing
        announce(settings, update_message(third, result.metrics))
        text = _wait_for(worker, r'nudge_model_refresh_total\{outcome="failed"\} [1-9]')
        assert 'nudge_model_info{version="2"}' in text
        assert worker.alive
    finally:
        worker.stop()
