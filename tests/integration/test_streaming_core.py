"""Issue 2 acceptance against the real broker: decisions, state, dead letters, metrics."""

from __future__ import annotations

import base64
import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from model.catalog import load_catalog
from streams.runtime.inspect import read_from_store
from streams.runtime.kafka import read_topic
from streams.runtime.lag import committed_lag
from streams.runtime.settings import Settings
from streams.runtime.stall import STALL_EXIT
from tests.support import WorkerProcess, produce_json

SOURCES = ("decision-requests", "impressions", "conversions")

pytestmark = pytest.mark.integration
T0 = 1_760_000_000_000


@pytest.fixture(params=["quix", "faust"])
def kafka_settings(kafka_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Every test here runs on both engines: the same contract, the same exact state."""
    return kafka_settings.with_(engine=request.param)


def request(i: int, user: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"req-{i}",
        "ts": T0 + i,
        "user_id": user,
        "context": {"age": 20 + i % 50, "region": "north", "risk_tolerance": 3},
    }


def read_json(settings: Settings, kind: str, expect: int, idle: float = 8.0) -> list[dict]:
    messages = read_topic(
        settings,
        settings.topic(kind),
        expect=expect,
        idle_seconds=idle,
        timeout_seconds=180,
    )
    return [json.loads(m.value()) for m in messages]


def metric_value(exposition: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in exposition.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{want}}} not exposed")


def test_one_decision_per_request_then_exact_state_across_restart(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    users = [f"user-{u}" for u in range(200)]
    requests = [request(i, users[i % 200]) for i in range(2000)]
    worker = WorkerProcess(kafka_settings, tmp_path / "worker.log").start()
    try:
        produce_json(kafka_settings, "decision-requests", requests)
        decisions = read_json(kafka_settings, "decisions", expect=2000)
        exposition = worker.metrics()
    finally:
        worker.stop()

    assert len(decisions) == 2000
    assert sorted(d["request_id"] for d in decisions) == sorted(r["event_id"] for r in requests)
    catalog = load_catalog()
    assert all(d["arm_id"] in catalog for d in decisions)
    assert all(0 < d["propensity"] <= 1 for d in decisions)
    assert len({d["decision_id"] for d in decisions}) == 2000
    assert (
        metric_value(
            exposition, "nudge_events_consumed_total", topic="decision-requests", outcome="decided"
        )
        == 2000
    )
    policy = kafka_settings.policy
    explored = metric_value(exposition, "nudge_decisions_total", policy=policy, explored="true")
    unexplored = metric_value(exposition, "nudge_decisions_total", policy=policy, explored="false")
    assert explored + unexplored == 2000

    # Outcomes for every decision: an impression each, conversions for a seeded subset.
    rng = random.Random(7)
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    impressions, conversions = [], []
    for d in decisions:
        user, arm = d["user_id"], d["arm_id"]
        impressions.append(
            {
                "schema_version": 1,
                "event_id": f"imp-{d['decision_id']}",
                "ts": d["ts"] + 1000,
                "user_id": user,
                "decision_id": d["decision_id"],
                "arm_id": arm,
            }
        )
        expected[user][f"{arm}/impressions"] += 1
        if rng.random() < 0.3:
            conversions.append(
                {
                    "schema_version": 1,
                    "event_id": f"conv-{d['decision_id']}",
                    "ts": d["ts"] + 2000,
                    "user_id": user,
                    "kind": "purchase",
                    "decision_id": d["decision_id"],
                }
            )
            expected[user][f"{arm}/conversions"] += 1

    # Half of the outcomes, a graceful restart, then a crash (SIGKILL) and the rest.
    half = len(impressions) // 2
    worker = WorkerProcess(kafka_settings, tmp_path / "worker2.log").start()
    produce_json(kafka_settings, "impressions", impressions[:half])
    produce_json(kafka_settings, "conversions", conversions[: len(conversions) // 2])
    worker = caught_up_under_supervision(worker)  # Faust recovers slowly
    worker.stop()
    worker = WorkerProcess(kafka_settings, tmp_path / "worker3.log").start()
    produce_json(kafka_settings, "impressions", impressions[half:])
    produce_json(kafka_settings, "conversions", conversions[len(conversions) // 2 :])
    _wait_for_applied(worker, 200)
    worker.kill()  # a crash mid-stream: uncommitted offsets are redelivered after the restart
    worker = WorkerProcess(kafka_settings, tmp_path / "worker4.log").start()
    try:
        worker = caught_up_under_supervision(worker)  # Faust recovers slowly
    finally:
        worker.stop()

    for user in users:
        state = read_from_store(kafka_settings, user)
        assert state is not None, user
        got = Counter()
        for arm_id, stats in state.arms.items():
            got[f"{arm_id}/impressions"] += int(stats.impressions)
            if stats.conversions:
                got[f"{arm_id}/conversions"] += int(stats.conversions)
        assert got == expected[user], user


def caught_up_under_supervision(
    worker: WorkerProcess, timeout_seconds: float = 300
) -> WorkerProcess:
    """Wait until the group committed everything, restarting the worker as a supervisor
    would when it ended itself as stalled (``streams.runtime.stall``: Faust can come out
    of a rebalance consuming nothing); any other exit fails. The worker running at the end."""
    deadline = time.monotonic() + timeout_seconds
    restarts = 0
    while (lag := committed_lag(worker.settings, SOURCES)) > 0:
        if not worker.alive:
            assert worker.process is not None
            code = worker.process.returncode
            assert code == STALL_EXIT and restarts < 2, f"worker exited with {code}"
            restarts += 1
            log = worker.log_path.with_name(f"{worker.log_path.stem}-restart{restarts}.log")
            worker = WorkerProcess(worker.settings, log).start()
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers still {lag} messages behind after {timeout_seconds:g} s")
        time.sleep(0.5)
    return worker


def _wait_for_applied(worker: WorkerProcess, count: int) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = worker.metrics()
        if (
            metric_value(
                text, "nudge_events_consumed_total", topic="impressions", outcome="applied"
            )
            >= count
        ):
            return
        time.sleep(0.05)
    raise TimeoutError("worker applied too few impressions")


MALFORMED_KINDS = (
    ("empty", b""),
    ("oversized", b'{"schema_version":1,"pad":"' + b"x" * 70_000 + b'"}'),
    ("not_utf8", b"\xff\xfe\x00garbage"),
    ("malformed_json", b'{"schema_version": 1, "event_id": '),
    ("not_an_object", b"[1, 2, 3]"),
    ("unknown_schema_version", None),
    ("missing_field", None),
    ("wrong_type", None),
    ("invalid_value", None),
    ("key_mismatch", None),
    ("unknown_arm", None),
)


def malformed(reason: str, raw: bytes | None, i: int, user: str) -> tuple[bytes, bytes]:
    valid = request(100_000 + i, user)
    if raw is not None:
        return user.encode(), raw
    broken = dict(valid)
    if reason == "unknown_schema_version":
        broken["schema_version"] = 99
    elif reason == "missing_field":
        del broken["event_id"]
    elif reason == "wrong_type":
        broken["ts"] = "yesterday"
    elif reason == "invalid_value":
        broken["ts"] = -5
    elif reason == "key_mismatch":
        return b"someone-else", json.dumps(broken).encode()
    elif reason == "unknown_arm":
        broken["candidates"] = ["no_such_product:no_such_strategy"]
    return user.encode(), json.dumps(broken).encode()


def test_malformed_events_are_dead_lettered_and_valid_ones_processed(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    rng = random.Random(11)
    events: list[tuple[bytes, bytes]] = []
    bad: list[tuple[str, bytes]] = []
    valid_ids = []
    for i in range(1000):
        user = f"user-{i % 50}"
        if i % 2:
            reason, raw = MALFORMED_KINDS[rng.randrange(len(MALFORMED_KINDS))]
            key, value = malformed(reason, raw, i, user)
            bad.append((reason, value))
        else:
            ok = request(i, user)
            key, value = user.encode(), json.dumps(ok).encode()
            valid_ids.append(ok["event_id"])
        events.append((key, value))
    assert len(bad) == 500 and len({r for r, _ in bad}) >= 8

    worker = WorkerProcess(kafka_settings, tmp_path / "worker.log").start()
    try:
        produce_json(kafka_settings, "decision-requests", events)
        decisions = read_json(kafka_settings, "decisions", expect=len(valid_ids))
        letters = read_json(kafka_settings, "dead-letter", expect=len(bad))
        assert worker.alive
        exposition = worker.metrics()
    finally:
        worker.stop()

    assert sorted(d["request_id"] for d in decisions) == sorted(valid_ids)
    assert len(letters) == 500
    assert sorted(
        (letter["reason"], base64.b64decode(letter["original_base64"])) for letter in letters
    ) == sorted(bad)
    assert all(
        letter["source_topic"] == kafka_settings.topic("decision-requests") for letter in letters
    )
    assert all(letter["offset"] >= 0 and 0 <= letter["partition"] < 4 for letter in letters)
    for reason, count in Counter(r for r, _ in bad).items():
        assert metric_value(exposition, "nudge_dead_letters_total", reason=reason) == count


def test_frequency_cap_and_repeated_requests_through_the_worker(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """A capped user gets "no nudge" with its reason (counted); a request sent again under
    a new offset gets the very same decision."""
    settings = kafka_settings.with_(guardrails={"max_nudges": 2, "window_seconds": 86400})
    requests = [request(i, f"capped-{i % 5}") for i in range(20)]  # 4 requests per user
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        produce_json(settings, "decision-requests", requests)
        first = read_json(settings, "decisions", expect=20)
        produce_json(settings, "decision-requests", requests[:10])  # a producer's retry
        everything = read_json(settings, "decisions", expect=30)
        exposition = worker.metrics()
    finally:
        worker.stop()

    by_user: dict[str, list[dict]] = defaultdict(list)
    for decision in sorted(first, key=lambda d: d["ts"]):
        by_user[decision["user_id"]].append(decision)
    for decisions in by_user.values():
        assert [d["arm_id"] is not None for d in decisions] == [True, True, False, False]
        assert {d["reason"] for d in decisions[2:]} == {"frequency_cap"}
    assert metric_value(exposition, "nudge_no_nudge_total", reason="frequency_cap") == 10

    original = {d["request_id"]: d for d in first}
    assert len(everything) == 30
    seen = Counter(d["request_id"] for d in everything)
    assert seen == Counter({r["event_id"]: 2 if i < 10 else 1 for i, r in enumerate(requests)})
    assert all(d == original[d["request_id"]] for d in everything)
    made = sum(
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == "nudge_decisions_total"
    )
    assert made == 20  # the 10 re-emitted decisions are not counted as new ones
    duplicates = metric_value(
        exposition, "nudge_events_consumed_total", topic="decision-requests", outcome="duplicate"
    )
    assert duplicates == 10
