"""``python -m bench`` with tiny sizes: the report's shape, its rates and its estimates.

No wall-time assertions: rates only have to be positive finite numbers.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import pytest

from bench.cli import SECTIONS, main, parse_args, run
from bench.evaluation import bench_evaluation, evaluation_inputs
from bench.replay import simulator_log
from bench.timing import one_core
from model.evaluation import (
    bootstrap_ratio,
    estimate_dr,
    estimate_ips,
    estimate_replay,
    estimate_snips,
)
from model.logs import decode_log_line

TINY = ["--events", "30", "--rounds", "400", "--bootstrap", "20", "--repeats", "1"]


def _rates(doc: Any, path: str = "") -> dict[str, float]:
    """Every ``*_per_second`` number in ``doc``, by its path."""
    if not isinstance(doc, dict):
        return {}
    found: dict[str, float] = {}
    for key, value in doc.items():
        if key.endswith("per_second"):
            found[f"{path}/{key}"] = value
        else:
            found |= _rates(value, f"{path}/{key}")
    return found


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return run(parse_args(TINY))


def test_every_section_reports_positive_finite_rates(report) -> None:
    assert [s for s in SECTIONS if s in report] == list(SECTIONS)
    assert set(report["step"]) == {
        "epsilon-greedy",
        "thompson",
        "ucb1",
        "thompson-with-evidence",
        "epsilon-greedy-with-evidence",
    }
    assert set(report["replay"]["policies"]) == {"thompson", "epsilon-greedy"}
    assert set(report["evaluation"]["estimators"]) == {"logging", "replay", "ips", "snips", "dr"}
    rates = _rates(report)
    assert len(rates) >= 20
    bad = {path: v for path, v in rates.items() if not (math.isfinite(v) and v > 0)}
    assert not bad
    json.dumps(report, allow_nan=False)  # a plain JSON document


def test_replay_counts_every_event_of_the_log(report) -> None:
    log = report["replay"]["log"]
    lines = simulator_log(log["requests"], log["users"])
    kinds = {type(decode_log_line(line)).__name__ for line in lines}
    assert log["events"] == len(lines) > 3 * log["requests"] - 1
    assert kinds == {"DecisionRequest", "Decision", "Impression", "Conversion"}


def test_evaluation_estimates_are_the_estimators_own() -> None:
    doc = bench_evaluation(400, repeats=1, n_bootstrap=20, seed=5)
    x, _ = evaluation_inputs(400, seed=5)
    r, a, p, dist, q = x.reward, x.action, x.pscore, x.action_dist, x.estimated_rewards

    def rng() -> np.random.Generator:
        return np.random.default_rng(5)

    own = {
        "replay": estimate_replay(r, a, dist, rng(), n_bootstrap=20),
        "ips": estimate_ips(r, a, p, dist, rng(), n_bootstrap=20),
        "snips": estimate_snips(r, a, p, dist, rng(), n_bootstrap=20),
        "dr": estimate_dr(r, a, p, dist, q, rng(), n_bootstrap=20),
    }
    assert doc["rounds"] == len(x) and doc["n_bootstrap"] == 20
    for name, estimate in own.items():
        reported = doc["estimators"][name]["estimate"]
        assert reported == {
            "value": estimate.value,
            "low": estimate.low,
            "high": estimate.high,
            "n_used": estimate.n_used,
        }, name
    logging = doc["estimators"]["logging"]["estimate"]
    assert (logging["low"], logging["high"]) == bootstrap_ratio(r, None, rng(), 20)
    assert logging["value"] == r.mean()


def test_main_prints_one_json_object_and_saves_it(tmp_path, capsys) -> None:
    path = tmp_path / "out" / "bench.json"
    assert main(["--only", "outcomes", *TINY, "--json", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(path.read_text())
    assert set(printed) == {"machine", "events", "rounds", "repeats", "outcomes"}


def test_the_cli_explains_itself_and_refuses_unknown_sections(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        parse_args(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert all(section in text for section in SECTIONS)
    assert parse_args(["--only", "evaluation,step"]).only == ("step", "evaluation")
    for argv in (["--only", "step,nope"], ["--events", "0"]):
        with pytest.raises(SystemExit):
            parse_args(argv)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux CPU affinity only")
def test_one_core_pins_and_restores() -> None:
    before = os.sched_getaffinity(0)
    with one_core() as pinning:
        assert os.sched_getaffinity(0) == set(pinning["cpu_affinity"])
        assert len(pinning["cpu_affinity"]) == 1
    assert os.sched_getaffinity(0) == before


def test_estimates_do_not_depend_on_the_memory_layout_of_the_inputs() -> None:
    x, _ = evaluation_inputs(400, seed=2)
    r, a, p = x.reward, x.action, x.pscore
    dist, q = np.asfortranarray(x.action_dist), np.asfortranarray(x.estimated_rewards)
    assert not dist.flags.c_contiguous

    def rng() -> np.random.Generator:
        return np.random.default_rng(0)

    ips = estimate_ips(r, a, p, dist, rng())
    assert ips == estimate_ips(r, a, p, x.action_dist, rng())
    dr = estimate_dr(r, a, p, dist, q, rng())
    same = estimate_dr(r, a, p, x.action_dist, x.estimated_rewards, rng())
    assert dr.value == pytest.approx(same.value, rel=1e-12)


@pytest.mark.parametrize("workload", ["decisions", "impressions"])
def test_step_instructions_runs_a_workload(
    workload: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.step_instructions import main as count_main

    assert count_main([workload, "2", "--events", "40"]) == 0
    assert f"{workload}: 80 events in 2 runs" in capsys.readouterr().err
