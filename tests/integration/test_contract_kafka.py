"""The contract against a real worker: the README's kcat walkthrough run as written (its
outputs compared), and a sample of real worker output (decisions, dead letters) valid
against the published schemas."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from streams.runtime.contract import packaged_schema
from streams.runtime.inspect import read_changelog
from streams.runtime.kafka import make_producer, read_topic
from streams.runtime.partitioning import partition_for
from streams.runtime.settings import Settings
from tests import hostile
from tests.readme_contract import Step, comparable, shell_command, walkthrough
from tests.support import WorkerProcess, produce_json

pytestmark = pytest.mark.integration


def _validate(kind: str, value: Any) -> None:
    errors = [
        e.message
        for e in Draft202012Validator(json.loads(packaged_schema(kind))).iter_errors(value)
    ]
    assert errors == [], (kind, value)


def _consume(
    step: Step, settings: Settings, timeout: float = 60
) -> list[tuple[str, int, dict[str, Any]]]:
    """Run a consuming step until it shows as many lines as the README does."""
    command = shell_command(step, settings.bootstrap_servers, settings.topic_prefix)
    deadline, lines = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
        lines = [line.split(" ", 2) for line in out.stdout.strip().splitlines()]
        if len(lines) >= len(step.expected):
            break
        time.sleep(0.5)
    return [(key, int(p), json.loads(v)) for key, p, v in lines]


@pytest.mark.skipif(
    shutil.which("kcat") is None,
    reason="kcat not installed (apt-get install kcat): "
    "the README's JSON is still checked by tests/unit/test_contract.py",
)
def test_readme_kcat_walkthrough_as_written(kafka_settings: Settings, tmp_path: Path) -> None:
    settings = kafka_settings
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        for step in walkthrough():
            if step.produces:
                command = shell_command(step, settings.bootstrap_servers, settings.topic_prefix)
                subprocess.run(["bash", "-c", command], check=True, timeout=60)
                continue
            expected = sorted(
                (k, p, comparable(step.kind, v, "nudge.")) for k, p, v in step.expected
            )
            raw = _consume(step, settings)
            for _, _, value in raw:
                _validate(step.kind, value)
            prefix = settings.topic_prefix
            actual = sorted((k, p, comparable(step.kind, v, prefix)) for k, p, v in raw)
            shown = "\n".join(
                f"{k} {p} {json.dumps(v, separators=(',', ':'))}" for k, p, v in actual
            )
            assert actual == expected, (
                f"README output of {step.command!r} is not what runs:\n{shown}"
            )
        states = read_changelog(settings, timeout_seconds=20)
        arm = next(s for s in walkthrough() if s.kind == "impressions").value
        arm_id = json.loads(arm or "")["arm_id"]
        assert states["u1"].arms[arm_id].impressions == 1
        assert states["u1"].arms[arm_id].conversions == 1
    finally:
        assert worker.stop() == 0


def test_worker_output_is_valid_against_the_schemas(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = kafka_settings
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        requests = [
            {"schema_version": 1, "event_id": f"s-{i}", "ts": hostile.T0 + i, "user_id": f"s{i}",
             "context": {"age": 20 + i, "risk_tolerance": i % 6, "region": "seoul", "vip": i > 5,
                         "income": 52000.5 * i, "note": None},
             **({"candidates": [hostile.ARM]} if i % 3 == 0 else {}),
             **({"touchpoint": "app-home"} if i % 2 else {})}
            for i in range(12)
        ]  # fmt: skip
        produce_json(settings, "decision-requests", requests)
        bad = list(hostile.corpus(1, lambda key: (partition_for(key, settings.partitions) + 1) % 4))
        producer = make_producer(settings)
        for event in bad:
            topic = settings.topic(event.topic)
            if event.partition is None:
                producer.produce(topic, key=event.key, value=event.value)
            else:
                producer.produce(topic, key=event.key, value=event.value, partition=event.partition)
        assert producer.flush(30) == 0
        decisions = [
            json.loads(m.value())
            for m in read_topic(settings, settings.topic("decisions"), expect=len(requests))
        ]
        assert len(decisions) == len(requests)
        for decision in decisions:
            _validate("decisions", decision)
        letters = [
            json.loads(m.value())
            for m in read_topic(settings, settings.topic("dead-letter"), expect=len(bad))
        ]
        assert len(letters) == len(bad)
        for letter in letters:
            _validate("dead-letter", letter)
        assert {letter["reason"] for letter in letters} >= {
            "wrong_partition",
            "duplicate_key",
            "invalid_value",
        }
    finally:
        assert worker.stop() == 0
