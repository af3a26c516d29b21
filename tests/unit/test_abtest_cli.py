"""The CLI of the simulator tools: simulate -> evaluate, and the offline A/B test."""

from __future__ import annotations

import json
from pathlib import Path

from streams.apps.cli import main


def test_abtest_shows_nudgeflow_significantly_above_the_rule_baseline(tmp_path: Path) -> None:
    out = tmp_path / "ab"
    assert (
        main(
            [
                "abtest",
                "--users",
                "8000",
                "--history",
                "50000",
                "--seed",
                "1",
                "--out-dir",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    result = json.loads((out / "result.json").read_text())
    assert result["n_a"] + result["n_b"] == 8000
    assert result["through"] == "offline"
    assert result["rate_b"] > result["rate_a"]
    assert result["p_value"] < 0.001
    assert result["diff_low"] > 0
    assert (out / "cr.png").stat().st_size > 0 and "CR %" in (out / "report.md").read_text()
    assert "data:image/png;base64," in (out / "report.html").read_text()
    with open(out / "sessions.csv") as rows:
        assert sum(1 for _ in rows) == 8000 + 1  # a row per user and session, and the header


def test_simulate_then_evaluate_writes_a_report_with_the_truth(tmp_path: Path) -> None:
    log = tmp_path / "log.parquet"
    assert (
        main(
            [
                "simulate",
                "--out",
                str(log),
                "--users",
                "2000",
                "--requests",
                "20000",
                "--seed",
                "4",
                "--quiet",
            ]
        )
        == 0
    )
    out = tmp_path / "eval"
    assert (
        main(
            ["evaluate", str(log), "--sim-users", "2000", "--sim-seed", "4", "--out-dir", str(out)]
        )
        == 0
    )
    doc = json.loads((out / "estimates.json").read_text())
    names = [e["name"] for e in doc["estimates"]]
    assert names == ["logging (on-policy mean)", "replay", "ips", "snips", "dr"]
    ips = doc["estimates"][2]
    assert ips["low"] <= doc["truth"] <= ips["high"]
    assert set(doc["lift"]) == {"target", "random", "split-half bound"}
    assert (out / "estimates.png").exists() and (out / "lift.png").exists()
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 2


def test_user_errors_exit_with_status_2(tmp_path: Path) -> None:
    assert main(["replay", str(tmp_path / "missing.jsonl"), "--offline"]) == 2
    assert main(["evaluate", str(tmp_path / "x.jsonl"), "--train-share", "2"]) == 2
    assert main(["abtest", "--through", "kafka", "--scorer", "segment"]) == 2
    assert main(["abtest", "--users", "1"]) == 2
