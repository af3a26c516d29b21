"""A hostile corpus (over 10,000 events of 53 kinds, ``tests/hostile.py``) interleaved
with valid traffic through a real worker: every hostile event dead-lettered with its own
reason (none as ``internal_error``), the valid traffic decided and applied exactly, the
worker alive throughout."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.runtime.inspect import read_changelog
from streams.runtime.kafka import make_producer, read_topic
from streams.runtime.lag import wait_until_caught_up
from streams.runtime.partitioning import partition_for
from streams.runtime.settings import Settings
from tests.hostile import T0, corpus, kind_count
from tests.support import WorkerProcess, produce_json

pytestmark = [pytest.mark.integration, pytest.mark.slow]
COPIES = 190  # x 53 kinds = 10,070 hostile events
VALID_USERS = 200


def valid_request(i: int, round_no: int) -> dict[str, Any]:
    user = f"valid-{i}"
    return {
        "schema_version": 1,
        "event_id": f"valid-{round_no}-{i}",
        "ts": T0 + round_no * 1000 + i,
        "user_id": user,
        "context": {"age": 30 + i % 40, "risk_tolerance": 4},
    }


def read_json(settings: Settings, kind: str, expect: int) -> list[dict[str, Any]]:
    messages = read_topic(settings, settings.topic(kind), expect=expect, timeout_seconds=240)
    return [json.loads(m.value()) for m in messages]


def test_hostile_corpus_is_dead_lettered_by_reason_and_valid_traffic_untouched(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = kafka_settings
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        produce_json(
            settings, "decision-requests", [valid_request(i, 0) for i in range(VALID_USERS)]
        )
        first = read_json(settings, "decisions", VALID_USERS)
        hostile = list(corpus(COPIES, lambda key: (partition_for(key, 4) + 1) % 4))
        expected_state = produce_interleaved(settings, hostile, first)
        wait_until_caught_up(settings, timeout_seconds=300)
        letters = read_json(settings, "dead-letter", len(hostile))
        decisions = read_json(settings, "decisions", 3 * VALID_USERS)
        assert worker.alive
        exposition = worker.metrics()
    finally:
        worker.stop()

    assert len(hostile) >= 10_000 and kind_count() >= 40
    want = Counter((h.topic, h.value, h.reason) for h in hostile)
    got = Counter(
        (
            letter["source_topic"].removeprefix(settings.topic_prefix),
            base64.b64decode(letter["original_base64"]),
            letter["reason"],
        )
        for letter in letters
    )
    assert got == want, (
        f"reasons differ: {sorted(Counter(r for *_, r in (got - want).elements()).items())}"
    )
    assert "internal_error" not in {letter["reason"] for letter in letters}
    assert sorted(d["request_id"] for d in decisions) == sorted(
        f"valid-{r}-{i}" for r in range(3) for i in range(VALID_USERS)
    )
    states = read_changelog(settings)
    for user, counts in expected_state.items():
        arms = states[user].arms
        got_counts = Counter(
            {a: int(s.impressions) for a, s in arms.items() if s.impressions}
        ) + Counter({f"{a}/purchase": int(s.conversions) for a, s in arms.items() if s.conversions})
        assert got_counts == counts, user
    dead = sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("nudge_dead_letters_total{")
    )
    print(
        f"\nhostile corpus: {len(hostile)} events of {kind_count()} kinds, "
        f"{len(letters)} dead-lettered, reasons {dict(Counter(h.reason for h in hostile))}"
    )
    assert dead == len(hostile)


def produce_interleaved(
    settings: Settings, hostile: list[Any], first: list[dict[str, Any]]
) -> dict[str, Counter[str]]:
    """Hostile events with valid outcomes for ``first`` and two more valid rounds of
    requests between them; returns each valid user's expected arm counts."""
    producer = make_producer(settings)
    valid: list[tuple[str, dict[str, Any]]] = []
    expected: dict[str, Counter[str]] = {}
    for n, decision in enumerate(first):
        user, arm = decision["user_id"], decision["arm_id"]
        base = {"schema_version": 1, "user_id": user, "decision_id": decision["decision_id"]}
        valid.append(
            ("impressions", {**base, "event_id": f"vi-{n}", "ts": T0 + 5000, "arm_id": arm})
        )
        expected[user] = Counter({arm: 1})
        if n % 3 == 0:
            valid.append(("conversions", {**base, "event_id": f"vc-{n}", "ts": T0 + 6000,
                                          "kind": "purchase"}))  # fmt: skip
            expected[user][f"{arm}/purchase"] += 1
    valid += [
        ("decision-requests", valid_request(i, r)) for r in (1, 2) for i in range(VALID_USERS)
    ]
    every = max(1, len(hostile) // len(valid))
    for n, event in enumerate(hostile):
        topic = settings.topic(event.topic)
        if event.partition is None:
            producer.produce(topic, key=event.key, value=event.value)
        else:
            producer.produce(topic, key=event.key, value=event.value, partition=event.partition)
        if n % every == 0 and valid:
            kind, body = valid.pop(0)
            producer.produce(settings.topic(kind), key=body["user_id"], value=json.dumps(body))
        producer.poll(0)
    for kind, body in valid:
        producer.produce(settings.topic(kind), key=body["user_id"], value=json.dumps(body))
    assert producer.flush(60) == 0
    return expected
