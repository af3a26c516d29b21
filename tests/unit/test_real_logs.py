"""A real export evaluated as it comes: an impression-level CSV (the Open Bandit Dataset's
shape) through a column mapping, and every silent failure of the issue made loud."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.logs import EXPORT_MAPPING, write_bandit_export
from model.attribution import AttributionRule
from model.evaluation import (
    ArmSpace,
    UnknownArmsError,
    estimate_dr,
    estimate_ips,
    estimate_snips,
    feedback_from_events,
    logging_action_dist,
)
from model.events import Conversion, Decision, DecisionRequest, Impression
from model.logs import ColumnMapping, read_csv, write_jsonl
from streams.apps.cli import main

ROWS = 1_500


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("exports")
    paths = {"random": where / "random.csv", "bts": where / "bts.csv"}
    for policy, path in paths.items():
        write_bandit_export(path, ROWS, policy, seed=3)
    mapping = where / "mapping.json"
    mapping.write_text(json.dumps(EXPORT_MAPPING | {"defaults": {"policy": "random"}}))
    paths["mapping"] = mapping
    return paths


def _evaluate(tmp_path: Path, log: Path, mapping: Path, *flags: str) -> dict:
    out = tmp_path / "report"
    code = main(["evaluate", str(log), "--columns", str(mapping), "--out-dir", str(out), *flags])
    assert code == 0
    doc = json.loads((out / "estimates.json").read_text())
    doc["markdown"] = (out / "report.md").read_text()
    return doc


def _value(doc: dict, name: str) -> float:
    return next(e["value"] for e in doc["estimates"] if e["name"] == name)


def test_a_row_is_a_request_decision_impression_and_its_click(exports) -> None:
    events = list(read_csv(exports["bts"], ColumnMapping.from_dict(EXPORT_MAPPING)))
    request, decision, shown = events[:3]
    assert isinstance(request, DecisionRequest) and isinstance(decision, Decision)
    assert isinstance(shown, Impression) and shown.decision_id == decision.decision_id == "0"
    assert request.context["position"] == 1 and "user_feature_0" in request.context
    assert decision.arm_id is not None and decision.arm_id.isdigit()
    clicks = [e for e in events if isinstance(e, Conversion)]
    assert clicks and all(c.kind == "click" and c.decision_id for c in clicks)
    assert sum(isinstance(e, Decision) for e in events) == ROWS


@pytest.mark.parametrize("log", ["random", "bts"])
def test_the_export_evaluates_as_it_comes(exports, tmp_path, log) -> None:
    """Uniform target, the logging policy itself (IPS = the logged mean) and a target
    given as a file of action probabilities per context (here: per position)."""
    path, mapping = exports[log], exports["mapping"]
    uniform = _evaluate(tmp_path, path, mapping, "--target", "uniform")
    assert uniform["decisions"] == ROWS and uniform["evaluated"] < ROWS
    assert uniform["target"] == "uniform random" and "epsilon" not in uniform["markdown"]
    assert set(uniform["by_position"]) == {"1", "2", "3"}
    logging = _evaluate(tmp_path, path, mapping, "--target", "logging")
    assert _value(logging, "ips") == pytest.approx(_value(logging, "logging (on-policy mean)"))
    arms = sorted({str(i) for i in range(80)}, key=int)
    probs = tmp_path / "target.csv"
    lines = ["position,arm_id,probability"]
    lines += [f"{slot},{a},{1 / 80}" for slot in (1, 2, 3) for a in arms]
    probs.write_text("\n".join(lines) + "\n")
    ids = ",".join(arms)
    filed = _evaluate(tmp_path, path, mapping, "--target-file", str(probs), "--arm-ids", ids)
    flat = _evaluate(tmp_path, path, mapping, "--target", "uniform", "--arm-ids", ids)
    assert _value(filed, "ips") == pytest.approx(_value(flat, "ips"), rel=1e-12)
    assert uniform["randomized"] is (log == "random")


def test_arms_outside_the_given_ones_are_an_error_with_counts(exports, tmp_path) -> None:
    half = ",".join(str(i) for i in range(40))
    args = ["evaluate", str(exports["random"]), "--columns", str(exports["mapping"])]
    with pytest.raises(UnknownArmsError, match=r"of 1500 logged decisions show \d+ arm"):
        feedback_from_events(
            read_csv(exports["random"], ColumnMapping.from_dict(EXPORT_MAPPING)),
            ArmSpace.plain(half.split(","), "given"),
        )
    assert main([*args, "--arm-ids", half, "--out-dir", str(tmp_path / "x")]) == 2
    doc = _evaluate(
        tmp_path,
        exports["random"],
        exports["mapping"],
        "--arm-ids",
        half,
        "--drop-unknown-arms",
        "--target",
        "uniform",
    )
    assert sum(doc["dropped"].values()) + doc["fitted"] + doc["evaluated"] == ROWS
    assert "left out:" in doc["markdown"]


def test_clicks_count_by_the_serving_weights_and_a_zero_log_says_so(exports, tmp_path) -> None:
    served = _evaluate(tmp_path, exports["random"], exports["mapping"], "--target", "uniform")
    clicks = _evaluate(
        tmp_path, exports["random"], exports["mapping"], "--target", "uniform", "--reward", "click"
    )
    mean = "logging (on-policy mean)"
    assert _value(served, mean) == pytest.approx(0.1 * _value(clicks, mean))  # click weight 0.1
    assert "weights click 0.1" in served["reward_rule"]
    nothing = _evaluate(tmp_path, exports["random"], exports["mapping"], "--reward", "purchase")
    assert nothing["all_rewards_zero"] and nothing["estimates"] == []
    assert "every reward" in nothing["markdown"]


def test_no_matched_round_is_said_not_drawn_as_zero(exports, tmp_path) -> None:
    arms = [str(i) for i in range(81)]  # arm "80" is never logged
    probs = tmp_path / "never.csv"
    probs.write_text("position,arm_id,probability\n" + "".join(f"{s},80,1\n" for s in (1, 2, 3)))
    doc = _evaluate(
        tmp_path,
        exports["random"],
        exports["mapping"],
        "--target-file",
        str(probs),
        "--arm-ids",
        ",".join(arms),
    )
    replay = next(e for e in doc["estimates"] if e["name"] == "replay")
    assert replay["used"] == 0 and replay["value"] is None
    assert "no logged round matched" in doc["markdown"]


def test_estimators_equal_obp_formulas(exports) -> None:
    """OBP (``obp.ope``): IPS ``mean(r w)``, SNIPS ``sum(r w) / sum(w)``, DR ``mean(sum_a
    pi q + w (r - q(a)))`` with ``w = pi(a_i | x_i, pos_i) / pscore_i``."""
    fb = feedback_from_events(
        read_csv(exports["bts"], ColumnMapping.from_dict(EXPORT_MAPPING)),
        rule=AttributionRule.only("click"),
    )
    rng = np.random.default_rng(0)
    n, m = len(fb), fb.n_arms
    pi = rng.dirichlet(np.ones(m), size=n)
    q = rng.random((n, m)) * 0.3
    r, a, p = fb.reward, fb.action, fb.pscore
    w = pi[np.arange(n), a] / p
    reference = {
        "ips": np.mean(r * w),
        "snips": np.sum(r * w) / np.sum(w),
        "dr": np.mean((pi * q).sum(1) + w * (r - q[np.arange(n), a])),
    }
    ours = {
        "ips": estimate_ips(r, a, p, pi, rng, n_bootstrap=10).value,
        "snips": estimate_snips(r, a, p, pi, rng, n_bootstrap=10).value,
        "dr": estimate_dr(r, a, p, pi, q, rng, n_bootstrap=10).value,
    }
    for name, value in reference.items():
        assert ours[name] == pytest.approx(value, rel=1e-9), name
    sanity = logging_action_dist(a, p, m)
    assert estimate_ips(r, a, p, sanity, rng, n_bootstrap=10).value == pytest.approx(r.mean())


@pytest.mark.parametrize("command", ["evaluate", "replay", "train"])
def test_unreadable_logs_give_one_line_naming_the_file(tmp_path, capsys, command) -> None:
    extra = {"evaluate": [], "replay": ["--offline", "--quiet"], "train": []}[command]
    for name, content, reason in (
        ("missing.csv", None, "no such file"),
        ("broken.parquet", b"not parquet", "not a readable Parquet file"),
    ):
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        argv = [command, *(["--input"] if command == "train" else []), str(path), *extra]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"nudge: error: log {path}: {reason}")


def test_a_jsonl_bad_line_names_file_and_line(tmp_path, capsys) -> None:
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, [])
    path.write_text('{"type": "nope"}\n')
    for command in (["evaluate"], ["replay", "--offline", "--quiet"]):
        assert main([command[0], str(path), *command[1:]]) == 2
        assert f"{path}: line 1:" in capsys.readouterr().err


def test_a_target_per_logged_round_reads_from_csv_and_npy(exports, tmp_path) -> None:
    """Per logged round (``decision_id``), as a CSV or as OBP's ``(n, arms, positions)``
    array: the same target gives the same estimates."""
    arms = [str(i) for i in range(80)]
    chosen = [(k * 7) % 80 for k in range(ROWS)]  # round k's arm (the export's ids are 0..)
    probs = tmp_path / "rounds.csv"
    lines = ["decision_id,arm_id,probability", *(f"{k},{a},1" for k, a in enumerate(chosen))]
    probs.write_text("\n".join(lines) + "\n")
    array = np.zeros((ROWS, 80, 3))
    array[np.arange(ROWS), chosen, :] = 1.0
    np.save(tmp_path / "rounds.npy", array)
    flags = ("--arm-ids", ",".join(arms))
    path, mapping = exports["bts"], exports["mapping"]
    by_csv = _evaluate(tmp_path, path, mapping, "--target-file", str(probs), *flags)
    by_npy = _evaluate(
        tmp_path, path, mapping, "--target-file", str(tmp_path / "rounds.npy"), *flags
    )
    for name in ("ips", "snips", "dr"):
        assert _value(by_csv, name) is not None
        assert _value(by_csv, name) == pytest.approx(_value(by_npy, name), rel=1e-12)
    assert by_csv["target"].startswith("the action probabilities of")
