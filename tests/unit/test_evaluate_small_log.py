"""``nudge evaluate`` on a small log with few bootstrap resamples: a percentile interval
that misses its estimate is reported and drawn as it is (matplotlib refused it as error
bars: "'yerr' must not contain negative values"), and the report says not to trust it;
a reward model fit on too few rounds is a warning, in the report and on stderr."""

from __future__ import annotations

import json

import numpy as np

from model.evaluation import Estimate
from model.evaluation.checks import reward_model_warnings
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


def test_a_reward_model_fit_on_too_few_rounds_is_a_warning(tmp_path, capsys) -> None:
    """The case reported: DR 0.75 against a logged mean of 0.06 from a 135-round fit of
    81 arms, without a word. Now the report, estimates.json and stderr say why."""
    log, out = tmp_path / "log.jsonl", tmp_path / "report"
    simulate = ["simulate", "--users", "100", "--requests", "300", "--seed", "0"]
    assert main([*simulate, "--out", str(log), "--quiet"]) == 0
    assert main(["evaluate", str(log), "--out-dir", str(out)]) == 0
    doc = json.loads((out / "estimates.json").read_text())
    dr = next(e["value"] for e in doc["estimates"] if e["name"] == "dr")
    assert doc["fitted"] == 135 and dr > 0.5  # the figure the warning is about
    [warning] = doc["warnings"]
    assert warning.startswith("the reward model was fit on 135 rounds for ")
    assert "do not trust DR" in warning and f"DR ({dr:.4f} against a logged mean" in warning
    assert f"warning: {warning}." in (out / "report.md").read_text()
    assert f"nudge: warning: {warning}" in capsys.readouterr().err


def test_enough_rounds_per_cell_raise_no_warning(tmp_path, capsys) -> None:
    """1,526 fitted rounds for 80 arms in one segment (the README's export): no warning."""
    from bench.logs import EXPORT_MAPPING, write_bandit_export

    export, mapping, out = tmp_path / "export.csv", tmp_path / "m.json", tmp_path / "report"
    write_bandit_export(export, 3000, "random")
    mapping.write_text(json.dumps(EXPORT_MAPPING))
    argv = ["evaluate", str(export), "--columns", str(mapping), "--reward", "click"]
    assert main([*argv, "--target", "uniform", "--out-dir", str(out)]) == 0
    doc = json.loads((out / "estimates.json").read_text())
    assert doc["fitted"] == 1526 and doc["warnings"] == []
    assert "warning" not in capsys.readouterr().err


def test_dr_outside_the_logged_rewards_is_a_warning() -> None:
    rows = [
        Estimate("logging (on-policy mean)", 0.1, 0.05, 0.15, 100, 100),
        Estimate("dr", 1.3, 1.2, 1.4, 100, 100),
    ]
    reward = np.array([0.0, 1.0, 0.1])
    found = reward_model_warnings(10_000, 2, 10, reward, rows)
    assert found == [
        "DR (1.3000 against a logged mean of 0.1000) lies outside the range of the logged "
        "rewards [0, 1], where no policy's value can lie: the reward model is off; do not "
        "trust DR"
    ]
    assert reward_model_warnings(199, 2, 10, reward, rows[:1]) == []  # no DR: nothing to say
    assert len(reward_model_warnings(199, 2, 10, reward, rows)) == 2
    rows[1] = Estimate("dr", 0.2, 0.1, 0.3, 100, 100)
    assert reward_model_warnings(200, 2, 10, reward, rows) == []
