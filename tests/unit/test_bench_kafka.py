"""The Kafka benchmark's pure parts: window rates, percentiles, targets, report shape.
No broker, no wall time."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench.cli import parse_args
from bench.cli_kafka import no_nan, sizes_from, update_readme
from bench.kafka.load import outcomes_for, requests, write_catalog
from bench.kafka.procs import events_consumed
from bench.kafka.section import KafkaSizes
from bench.kafka.stats import (
    Target,
    crossing_time,
    latency_summary,
    median_entry,
    nearest_rank,
    ratio,
    window_rate,
)
from bench.kafka.targets import check_targets, markdown_table
from bench.kafka.throughput import kind_total
from model.catalog import load_catalog


def test_crossing_time_interpolates_between_samples() -> None:
    samples = [(0.0, 0.0), (1.0, 100.0), (2.0, 300.0)]
    assert crossing_time(samples, 200) == pytest.approx(1.5)
    assert crossing_time(samples, 0) == 0.0
    assert crossing_time(samples, 301) is None


def test_window_rate_ignores_start_up_and_tail() -> None:
    # 10 s of start-up at zero, then 100 events/s, then a slow tail
    samples = [(float(t), 0.0) for t in range(10)]
    samples += [(10.0 + t, 100.0 * t) for t in range(1, 10)]  # up to 900 at t=19
    samples += [(29.0, 1000.0)]
    assert window_rate(samples, 1000) == pytest.approx(100.0)


def test_window_rate_is_nan_when_never_reached() -> None:
    assert math.isnan(window_rate([(0.0, 0.0), (1.0, 50.0)], 100))
    with pytest.raises(ValueError):
        window_rate([], 0)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert nearest_rank(values, 50) == 50
    assert nearest_rank(values, 99) == 99
    assert nearest_rank(values, 100) == 100
    assert nearest_rank([7.0], 1) == 7
    assert math.isnan(nearest_rank([], 50))
    with pytest.raises(ValueError):
        nearest_rank(values, 0)


def test_latency_summary_counts_and_lost_answers() -> None:
    summary = latency_summary([3.0, 1.0, 2.0, 4.0])
    assert summary == {"p50_ms": 2.0, "p95_ms": 4.0, "p99_ms": 4.0, "max_ms": 4.0, "count": 4}
    lost = latency_summary([1.0] * 98 + [math.inf] * 2)
    assert lost["p50_ms"] == 1.0 and math.isnan(lost["p99_ms"]) and math.isnan(lost["max_ms"])


def test_median_entry_drops_failed_runs() -> None:
    entry = median_entry([3.0, math.nan, 1.0, 2.0])
    assert entry["events_per_second"] == 2.0 and len(entry["runs"]) == 4
    assert math.isnan(median_entry([math.nan])["events_per_second"])


def test_ratio_and_targets() -> None:
    assert ratio(3, 2) == 1.5
    assert math.isnan(ratio(1, 0))
    assert Target("t", 10, False, "ms").check(9.5)["met"]
    assert not Target("t", 10, True, "/s").check(math.nan)["met"]
    assert Target("t", 1.5, True, "").check(1.6)["target"] == ">= 1.5"


def test_events_consumed_parses_prometheus_text() -> None:
    text = (
        "# HELP nudge_events_consumed_total Events.\n"
        'nudge_events_consumed_total{outcome="decided",topic="decision-requests"} 12.0\n'
        'nudge_events_consumed_total{topic="impressions",outcome="applied"} 3.0\n'
        'nudge_events_consumed_created{topic="impressions",outcome="applied"} 1.7e9\n'
    )
    counts = events_consumed(text)
    assert counts == {("decision-requests", "decided"): 12.0, ("impressions", "applied"): 3.0}
    assert kind_total(counts, "impressions", "conversions") == 3.0


def test_load_events_follow_the_contract(tmp_path: Path) -> None:
    pairs = requests(6, 3, "x")
    assert [k for k, _ in pairs] == [b"u0", b"u1", b"u2", b"u0", b"u1", b"u2"]
    first = json.loads(pairs[0][1])
    assert first["schema_version"] == 1 and first["context"]["risk_tolerance"] >= 3
    decisions = [
        {"user_id": "u1", "decision_id": "d-1", "arm_id": "a:b"},
        {"user_id": "u2", "decision_id": "d-2", "arm_id": None},  # no nudge: no outcome
    ]
    impressions, conversions = outcomes_for(decisions)
    assert len(impressions) == len(conversions) == 1
    assert json.loads(conversions[0][1])["decision_id"] == "d-1"
    assert len(load_catalog(write_catalog(tmp_path / "c.json", 200))) == 200


def _report() -> dict[str, Any]:
    case = {
        "decisions": {"events_per_second": 400.0, "runs": [400.0]},
        "state_updates": {"events_per_second": 900.0, "runs": [900.0]},
    }
    latency = {
        "500": {
            "worker": {"p50_ms": 5.0, "p95_ms": 8.0, "p99_ms": 9.0, "max_ms": 12.0, "lost": 0},
            "echo": {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0, "lost": 0},
        }
    }
    return {
        "baselines": {
            "consume_decode": {"events_per_second": 100_000.0},
            "consume_decode_produce": {"events_per_second": 80_000.0},
            "quix_stateful": {"events_per_second": 1_000.0},
        },
        "engines": {
            "faust": {
                "cases": {"thompson-81-arms": case},
                "latency": latency,
                "scale": {
                    "one_worker": {"decisions_per_second": 400.0},
                    "two_workers": {"decisions_per_second": 700.0},
                    "speedup": 1.75,
                },
                "memory": {
                    "empty": {"users": 0, "rss_mib": 100.0},
                    "full": {"users": 10**6, "rss_mib": 400.0},
                },
            },
            "quix": {"skipped": "not yet"},
        },
    }


def test_targets_and_table_from_a_report() -> None:
    report = _report()
    rows = {row["figure"]: row for row in check_targets(report)}
    assert rows["state updates / engine's bare stateful job"]["value"] == 0.9
    assert rows["state updates / engine's bare stateful job"]["met"]
    assert not rows["decisions/s (thompson, 81 arms)"]["met"]
    assert rows["p99 at 500 requests/s"]["met"] and rows["RSS at 10^6 users"]["met"]
    assert "p99 at 2000 requests/s" not in rows  # not measured: no row
    table = markdown_table(report)
    assert "| quix | skipped: not yet" in table and "| faust | RSS MiB, 1,000,000 users" in table


def test_no_nan_makes_standard_json() -> None:
    doc = no_nan({"a": [math.nan, 1.0, math.inf], "b": {"c": math.nan}})
    assert json.loads(json.dumps(doc, allow_nan=False)) == {
        "a": [None, 1.0, None],
        "b": {"c": None},
    }


def test_sizes_from_flags() -> None:
    assert sizes_from(parse_args(["--only", "kafka", "--quick"])) == KafkaSizes.quick()
    sizes = sizes_from(parse_args(["--only", "kafka", "--kafka-requests", "10", "--repeats", "2"]))
    assert sizes.requests == 10 and sizes.repeats == 2
    assert parse_args(["--only", "kafka,step"]).only == ("step", "kafka")


def test_update_readme_replaces_only_the_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Bench\n\nintro\n")
    update_readme(readme, "| a |", "t1")
    update_readme(readme, "| b |", "t2")
    text = readme.read_text()
    assert text.startswith("# Bench\n\nintro\n") and "| b |" in text and "| a |" not in text
