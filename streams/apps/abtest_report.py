"""The report of ``nudge abtest``: report.md, report.html, result.json, sessions.csv, cr.png.

CR = users who purchased through a recommendation / users x 100, per group, with the
difference, the relative lift, a two-proportion z-test and a 95 % interval.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from model.evaluation import ABResult
from model.report import Report, figure, png
from model.simulator.abtest import AbResult, Experiment

__all__ = ["write_report"]


def write_report(
    experiment: Experiment,
    result: AbResult,
    out_dir: Path,
    echo: Callable[[str], None] = print,
) -> ABResult:
    """report.md, report.html, result.json, sessions.csv and cr.png in ``out_dir``;
    prints the table."""
    config, r = experiment.config, result.test(experiment.in_b)
    lines = [
        f"# A/B test: rule-based (A) vs nudgeflow (B), simulated, {result.through}",
        "",
        f"users {config.users}, sessions per user {config.sessions}, history {config.history}, "
        f"nudgeflow policy {config.policy} {json.dumps(dict(config.policy_params))} over the "
        f"{config.scorer} model, seed {config.seed}",
        "",
        "| group | users | purchasers | CR % |",
        "|---|---:|---:|---:|",
        f"| A rule-based | {r.n_a} | {r.successes_a} | {100 * r.rate_a:.2f} |",
        f"| B nudgeflow | {r.n_b} | {r.successes_b} | {100 * r.rate_b:.2f} |",
        "",
        f"difference {100 * r.diff:+.2f} pp (95 % CI {100 * r.diff_low:+.2f} .. "
        f"{100 * r.diff_high:+.2f} pp), relative lift {100 * r.lift:+.1f} %, "
        f"z = {r.z:.2f}, two-sided p = {r.p_value:.3g}",
        "",
        *(f"- {note}" for note in [*experiment.notes, *result.notes]),
        f"- {config.users * config.sessions} sessions in {result.seconds:.1f} s",
    ]
    doc = {**r.__dict__, "through": result.through, "config": _jsonable(asdict(config))}
    sessions = _sessions(experiment, result)
    Report(
        "\n".join(lines) + "\n",
        lines[0][2:],
        figures={"cr.png": _plot(r, result.through)},
        files={
            "result.json": json.dumps(doc, indent=2),
            "sessions.csv": sessions,
        },
    ).write(out_dir)
    echo("\n".join(lines[4:10]))
    echo(f"report: {out_dir / 'report.md'} (and report.html, with the plot)")
    return r


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _sessions(experiment: Experiment, result: AbResult) -> str:
    out = io.StringIO(newline="")
    rows = csv.writer(out)
    rows.writerow(["user_id", "group", "session", "arm_id", "purchased"])
    for user, arms in enumerate(result.arms):
        for k, arm in enumerate(arms):
            bought = int(result.bought[user, k])
            rows.writerow(
                [experiment.env.user_id(user), experiment.group(user), k, arm or "", bought]
            )
    return out.getvalue()


def _plot(r: ABResult, through: str) -> bytes:
    fig = figure((5, 4))
    ax = fig.add_subplot()
    rates = np.array([r.rate_a, r.rate_b]) * 100
    errors = [
        1.96 * 100 * np.sqrt(p * (1 - p) / n) for p, n in ((r.rate_a, r.n_a), (r.rate_b, r.n_b))
    ]
    ax.bar(["A rule-based", "B nudgeflow"], rates, yerr=errors, capsize=6, color=["#999", "#2a7"])
    ax.set_ylabel("CR % (purchasers / users), 95 % CI")
    ax.set_title(f"{through}: lift {100 * r.lift:+.1f} %, p = {r.p_value:.2g}")
    return png(fig, dpi=100)
