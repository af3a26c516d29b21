"""The report of ``nudge evaluate``: report.md, estimates.json, plots and report.html.

Every count it prints is the count its figure used: decisions in the log, left out as
unknown arms, used to fit the reward model, and evaluated (the test share).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from model import report

__all__ = ["MIN_TRUSTED_BOOTSTRAP", "Report", "randomization", "write_report"]

# Below this many resamples the 2.5 % and 97.5 % ends of a percentile interval rest on
# the one to five most extreme resamples: the interval may not even hold its estimate.
MIN_TRUSTED_BOOTSTRAP = 200


@dataclass
class Report:
    args: argparse.Namespace
    fb: Any  # model.evaluation.LoggedFeedback
    rule: Any  # model.attribution.AttributionRule
    n_fit: int = 0
    n_test: int = 0
    rows: list[Any] = field(default_factory=list)  # Estimate
    by_position: dict[int, list[Any]] = field(default_factory=dict)
    truth: float | None = None
    lifts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def with_result(self, result: Any) -> Report:
        """This report with what ``model.evaluation.pipeline.evaluate_target`` found."""
        found = ("n_fit", "n_test", "rows", "by_position", "truth", "lifts", "warnings")
        return replace(self, **{name: getattr(result, name) for name in found})

    @property
    def target(self) -> str:
        a = self.args
        if a.target in ("segment-greedy", "oracle"):
            return f"{a.target} (epsilon {a.epsilon:g})"
        if a.target == "file":
            return f"the action probabilities of {a.target_file}"
        if a.target == "policy":
            return f"policy {a.policy} {a.policy_params} over the segment model"
        return {"logging": "the logging policy itself", "uniform": "uniform random"}[a.target]


def randomization(fb: Any) -> str | None:
    """None when the propensities say the log is uniform random, else why not."""
    p = fb.pscore
    if np.allclose(p, 1.0 / fb.n_arms, rtol=1e-6, atol=0):
        return None
    if np.allclose(p, p[0], rtol=1e-6, atol=0):
        return (
            f"every propensity is {p[0]:.6g}, not 1/{fb.n_arms} arms: the logger drew "
            "from a subset or the arms are not all the log's"
        )
    return (
        f"propensities range over [{p.min():.4g}, {p.max():.4g}]: the logging policy is "
        "not uniform random"
    )


def _counts(r: Report) -> list[str]:
    fb, a = r.fb, r.args
    dropped = sum(fb.dropped.values())
    lines = [
        f"log {a.log}: {fb.n_logged} decisions with an arm; arms {fb.arms.source} "
        f"({fb.n_arms}); logging policies {', '.join(repr(p) for p in fb.policies)}",
    ]
    if dropped:
        shown = ", ".join(f"{k!r} x{v}" for k, v in sorted(fb.dropped.items())[:5])
        lines.append(f"left out: {dropped} decisions of {len(fb.dropped)} unknown arms ({shown})")
    if r.n_test:
        lines.append(
            f"evaluated: {r.n_test} decisions (test share); {r.n_fit} fitted the reward model"
        )
    lines.append(f"{r.rule.describe()}")
    return lines


def _estimate_line(e: Any) -> str:
    if e.n_used == 0 or not math.isfinite(e.value):
        return (
            f"| {e.name} | no estimate: no logged round matched the target's arm | | | {e.n_used} |"
        )
    return f"| {e.name} | {e.value:.4f} | {e.low:.4f} | {e.high:.4f} | {e.n_used} |"


def _markdown(r: Report) -> list[str]:
    fb = r.fb
    lines = [f"# Off-policy evaluation of {r.target}", "", *_counts(r), ""]
    if not fb.reward.any():
        return lines + [
            f"every reward of the {len(fb)} decisions is 0 under this reward rule: there "
            "is nothing to estimate (is the reward kind the one the log records? see --reward)"
        ]
    lines += [
        "| estimator | value | 95 % low | 95 % high | rounds used |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [_estimate_line(e) for e in r.rows]
    if r.truth is not None:
        lines += [f"| truth (simulator) | {r.truth:.4f} | | | |"]
    if r.warnings:
        lines += ["", *(f"warning: {w}." for w in r.warnings)]
    lines += _positions(r) + _lift_lines(r) + _bootstrap_lines(r)
    why = randomization(fb)
    if why is not None:
        lines += ["", f"note: replay, lift and bound assume uniform-random logs; {why}."]
    else:
        lines += ["", f"the log is uniform random: every propensity is 1/{fb.n_arms}."]
    return lines


def _bootstrap_lines(r: Report) -> list[str]:
    """Say when the intervals are too rough to trust, and which miss their estimate."""
    n = r.args.bootstrap
    lines = []
    if n < MIN_TRUSTED_BOOTSTRAP:
        lines.append(
            f"note: the 95 % intervals come from {n} bootstrap resamples, fewer than "
            f"{MIN_TRUSTED_BOOTSTRAP}: their ends rest on a few extreme resamples; do not "
            f"trust them (use --bootstrap {MIN_TRUSTED_BOOTSTRAP} or more)."
        )
    missed = [e.name for e in r.rows if _shown(e) and not e.low <= e.value <= e.high]
    if missed:
        lines.append(
            f"note: the percentile interval of {', '.join(missed)} does not contain its "
            "estimate (too few resamples, or a skewed estimate); it is reported and drawn "
            "as it is."
        )
    return ["", *lines] if lines else []


def _shown(e: Any) -> bool:
    return bool(e.n_used > 0 and math.isfinite(e.value))


def _positions(r: Report) -> list[str]:
    if not r.by_position:
        return []
    lines = [
        "",
        "By position (each slot of a logged round is its own round: the target's "
        "probabilities are per slot and rewards of one slot do not depend on the others; "
        "the overall value is the mean reward per shown slot):",
        "",
        "| position | estimator | value | 95 % low | 95 % high | rounds |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for slot, estimates in r.by_position.items():
        lines += [
            f"| {slot} | {e.name} | {e.value:.4f} | {e.low:.4f} | {e.high:.4f} | {e.n_rounds} |"
            for e in estimates
        ]
    return lines


def _lift_lines(r: Report) -> list[str]:
    if not r.lifts:
        return ["", "(per-product CR lift needs product:strategy arms; this log's are plain ids)"]
    lines = [
        "",
        "| relative mean CR lift vs baseline | lift | mean CR | items |",
        "|---|---:|---:|---:|",
    ]
    return lines + [
        f"| {name} | {100 * lf.lift:+.1f} % | {lf.target_mean_cr:.4f} | {lf.items} |"
        for name, lf in r.lifts.items()
    ]


def write_report(r: Report) -> None:
    out: Path = r.args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    lines = _markdown(r)
    images = _plot(r) if r.rows else []
    report.Report(
        "\n".join(lines) + "\n",
        lines[0][2:],
        figures={image.name: image.read_bytes() for image in images},
        files={"estimates.json": json.dumps(_document(r), indent=2, allow_nan=True)},
    ).write(out)
    print("\n".join(lines[2:]))
    print(f"report: {out / 'report.md'} (and report.html, with the plots)")


def _document(r: Report) -> dict[str, Any]:
    fb = r.fb
    return {
        "target": r.target,
        "log": str(r.args.log),
        "decisions": fb.n_logged,
        "dropped": dict(fb.dropped),
        "fitted": r.n_fit,
        "evaluated": r.n_test,
        "reward_rule": r.rule.describe(),
        "all_rewards_zero": not fb.reward.any(),
        "randomized": randomization(fb) is None,
        "bootstrap_resamples": r.args.bootstrap,
        "bootstrap_trusted": r.args.bootstrap >= MIN_TRUSTED_BOOTSTRAP,
        "estimates": [_estimate_doc(e) for e in r.rows],
        "warnings": r.warnings,
        "by_position": {str(k): [_estimate_doc(e) for e in v] for k, v in r.by_position.items()},
        "truth": r.truth,
        "lift": {
            k: {"lift": v.lift, "mean_cr": v.target_mean_cr, "items": v.items}
            for k, v in r.lifts.items()
        },
    }


def _estimate_doc(e: Any) -> dict[str, Any]:
    finite = e.n_used > 0 and math.isfinite(e.value)
    return {
        "name": e.name,
        "value": e.value if finite else None,
        "low": e.low if finite else None,
        "high": e.high if finite else None,
        "rounds": e.n_rounds,
        "used": e.n_used,
    }


def _plot(r: Report) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out, where = r.args.out_dir, f"{r.target}\non {Path(r.args.log).name}, {r.n_test} decisions"
    shown = [e for e in r.rows if _shown(e)]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    # Percentile intervals drawn end to end, as they are: one need not hold its estimate
    # (few resamples), so they are not error bars around the point.
    x = np.arange(len(shown))
    ax.vlines(x, [e.low for e in shown], [e.high for e in shown], color="C0")
    for end in ("low", "high"):
        ax.hlines([getattr(e, end) for e in shown], x - 0.08, x + 0.08, color="C0")
    ax.plot(x, [e.value for e in shown], "o", color="C0")
    if r.truth is not None:
        ax.axhline(r.truth, color="red", linestyle="--", label="truth (simulator)")
        ax.legend()
    ax.set_xticks(range(len(shown)), [e.name for e in shown], rotation=15)
    ax.set_ylabel("reward per decision")
    rough = "" if r.args.bootstrap >= MIN_TRUSTED_BOOTSTRAP else " (too few to trust)"
    ax.set_title(
        f"estimates with 95 % intervals ({r.args.bootstrap} bootstrap resamples{rough})\n{where}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out / "estimates.png", dpi=100)
    plt.close(fig)
    if not r.lifts:
        return [out / "estimates.png"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.bar(list(r.lifts), [100 * v.lift for v in r.lifts.values()], color=["#2a7", "#999", "#36c"])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("relative mean CR lift vs baseline, %")
    ax.set_title(f"target vs random vs split-half bound: {where}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "lift.png", dpi=100)
    plt.close(fig)
    return [out / "estimates.png", out / "lift.png"]
