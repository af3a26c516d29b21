"""``nudge demo`` fits beside other services (its ports can be chosen) and its plot shows
when models were swapped and how many nudges each window's rate rests on."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from streams.apps.cli import build_parser
from streams.apps.commands.demo import config_from
from streams.apps.demo_report import Tally, wilson_interval, write_report


def demo_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["demo", *argv])


def test_demo_ports_are_set_by_flags() -> None:
    config = config_from(
        demo_args("--broker-port", "19092", "--controller-port", "19093",
                  "--metrics-port", "19500", "--workers", "3")
    )  # fmt: skip
    assert (config.broker_port, config.controller_port) == (19092, 19093)
    assert config.worker_metrics_ports() == [19500, 19501, 19502]


def test_demo_ports_default_to_free_ones() -> None:
    config = config_from(demo_args())
    assert (config.broker_port, config.controller_port, config.metrics_port) == (0, 0, 0)
    ports = config.worker_metrics_ports()
    assert len(ports) == config.workers and all(p > 0 for p in ports)


def test_model_swaps_are_recorded_once_per_version() -> None:
    tally = Tally(windows=3, duration_seconds=30)
    for second, version in [(5, None), (10, "v1"), (15, "v1"), (20, "?"), (25, "v2")]:
        tally.note_model(second, version)
    assert tally.swaps == [(10.0, "v1"), (25.0, "v2")]


def test_wilson_interval_holds_the_rate_and_is_nan_without_trials() -> None:
    bounds = wilson_interval(np.array([0.0, 5.0, 50.0]), np.array([0.0, 100.0, 100.0]))
    assert np.isnan(bounds[0]).all()
    assert bounds[1, 0] < 5 < bounds[1, 1] and bounds[2, 0] < 50 < bounds[2, 1]
    assert bounds[1, 0] >= 0 and bounds[2, 1] <= 100


def test_report_has_sample_sizes_intervals_and_swaps(tmp_path: Path) -> None:
    tally = Tally(windows=2, duration_seconds=20)
    tally.decisions[:] = [40, 60]
    tally.purchases[:] = [2, 9]
    tally.requests[:] = [50, 70]
    tally.note_model(12, "20260101-1")
    text = write_report(tally, tmp_path, [])
    assert "nudges shown per window: 40, 60" in text
    assert "model 20260101-1 serving from 12 s" in text
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["model_swaps"] == [{"seconds": 12.0, "version": "20260101-1"}]
    (low, high), rate = doc["observed_interval_95_percent"][1], 100 * 9 / 60
    assert low < rate < high
    assert (tmp_path / "conversion_rate.png").stat().st_size > 10_000
