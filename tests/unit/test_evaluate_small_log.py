"""``nudge evaluate`` on a small log with few bootstrap resamples: a percentile interval
that misses its estimate is reported and drawn as it is (matplotlib refused it as error
bars: "'yerr' must not contain negative values"), and the report says not to trust it."""

from __future__ import annotations

import json

from streams.apps.cli import main


def test_a_small_log_with_five_resamples_reports_rough_intervals(tmp_path) -> None:
    log, out = tmp_path / "log.jsonl", tmp_path / "report"
    simulate = ["simulate", "--users", "100", "--requests", "300", "--seed", "0"]
    assert main([*simulate, "--out", str(log), "--quiet"]) == 0
    assert main(["evaluate", str(log), "--bootstrap", "5", "--out-dir", str(out)]) == 0
    doc = json.loads((out / "estimates.json").read_text())
    assert doc["bootstrap_resamples"] == 5 and doc["bootstrap_trusted"] is False
    shown = [e for e in doc["estimates"] if e["value"] is not None]
    missed = [e["name"] for e in shown if not e["low"] <= e["value"] <= e["high"]]
    assert missed  # the case that crashed: seed 0 gives one (IPS)
    report = (out / "report.md").read_text()
    assert "5 bootstrap resamples, fewer than 200" in report
    assert f"the percentile interval of {', '.join(missed)} does not contain" in report
    assert (out / "estimates.png").stat().st_size > 0


def test_enough_resamples_raise_no_bootstrap_note(tmp_path) -> None:
    log, out = tmp_path / "log.jsonl", tmp_path / "report"
    assert (
        main(["simulate", "--users", "100", "--requests", "300", "--out", str(log), "--quiet"]) == 0
    )
    assert main(["evaluate", str(log), "--bootstrap", "200", "--out-dir", str(out)]) == 0
    doc = json.loads((out / "estimates.json").read_text())
    assert doc["bootstrap_trusted"] is True
    assert "bootstrap resamples, fewer than" not in (out / "report.md").read_text()
