"""Smoke run of ``python -m bench --only kafka`` at tiny sizes on a broker of its own:
the report's shape and that its counts add up (never its speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli_kafka import no_nan
from bench.kafka.section import KafkaSizes, bench_kafka

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TINY = KafkaSizes(
    requests=300,
    users=100,
    worker_repeats=1,
    baseline_events=500,
    repeats=1,
    latency_seconds=1.0,
    latency_rates=(100,),
    rss_users=2_000,
)


def test_kafka_section_counts_add_up(tmp_path: Path) -> None:
    report = no_nan(bench_kafka(["quix"], TINY, tmp_path / "work"))  # the default engine
    json.dumps(report, allow_nan=False)
    assert set(report["baselines"]) == {"consume_decode", "consume_decode_produce", "quix_stateful"}
    engine = report["engines"]["quix"]
    assert set(engine["cases"]) == {
        "thompson-81-arms",
        "epsilon-greedy-81-arms",
        "thompson-200-arms",
        "thompson-81-arms-exactly-once",
    }
    for case in engine["cases"].values():
        for counts in case["counts"]:
            decided = counts["decide_phase"]["decision-requests"]
            assert sum(decided.values()) == TINY.requests
            assert counts["decisions_read_back"] == TINY.requests
            update = counts["update_phase"]
            applied = update["impressions"].get("applied", 0) + update["conversions"].get(
                "applied", 0
            )
            assert applied == counts["outcomes_produced"] > 0
        assert case["decisions"]["events_per_second"] is not None
    latency = engine["latency"]["100"]
    assert latency["worker"]["count"] == latency["worker"]["sent"] == 100
    assert latency["echo"]["lost"] == 0
    scale = engine["scale"]
    assert sum(scale["two_workers"]["per_worker"]) == TINY.requests
    assert all(share > 0 for share in scale["two_workers"]["per_worker"])
    memory = engine["memory"]
    assert memory["full"]["users"] == TINY.rss_users and memory["full"]["rss_mib"] > 0
    assert {row["engine"] for row in report["targets"]} == {"quix"}
