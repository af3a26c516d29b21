"""The human-readable evaluation next to each artifact: a short Markdown report and
PNG plots (reliability diagram, feature importance), drawn with matplotlib's Agg backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.report import Report, figure, png

__all__ = ["render_report"]


def render_report(
    version: str, metrics: Mapping[str, Any], data: Mapping[str, Any]
) -> dict[str, bytes]:
    """File name -> bytes: ``report.md``, ``calibration.png``, ``importance.png``."""
    title = f"Two-tower model {version}"
    if "confusion" not in metrics:  # nothing was held out: no figures to draw
        markdown = _markdown_without_holdout(version, metrics, data)
        return Report(markdown, title, html=False).render()
    figures = {
        "calibration.png": _reliability_png(metrics),
        "importance.png": _importance_png(metrics),
    }
    return Report(_markdown(version, metrics, data), title, figures, html=False).render()


def _markdown_without_holdout(version: str, m: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    return (
        f"# Two-tower model {version}\n\nTrained on {data.get('examples')} examples "
        f"({data.get('positives')} conversions); objective `{m.get('objective')}`. "
        f"Not evaluated: {m.get('note', 'no held-out examples')} (too little data to hold "
        "any out).\n"
    )


def _markdown(version: str, m: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    c = m["confusion"]
    mat = c["matrix"]
    lines = [
        f"# Two-tower model {version}",
        "",
        f"Trained on {data.get('examples')} examples ({data.get('positives')} conversions, "
        f"{data.get('users')} users, {data.get('randomized')} randomized), event time "
        f"{data.get('first_ts_ms')} .. {data.get('last_ts_ms')} ms; objective "
        f"`{m.get('objective')}`; held out: {m.get('split')}.",
        "",
        _judged_line(m),
        "",
        "| metric | value |",
        "|---|---|",
        f"| examples held out | {m['examples']} |",
        f"| AUC | {m['auc']:.4f} |",
        f"| log loss | {m['log_loss']:.4f} |",
        f"| accuracy @ {c['threshold']:.2f} | {c['accuracy']:.4f} |",
        f"| expected calibration error | {m['calibration']['ece']:.4f} |",
        f"| observed rate | {m['positive_rate']:.4f} |",
        f"| mean predicted rate | {m['mean_prediction']:.4f} |",
        "",
        f"Confusion matrix at {c['threshold']:.2f}: TP {mat['tp']}, FP {mat['fp']}, "
        f"FN {mat['fn']}, TN {mat['tn']}.",
        "",
        "Top features (AUC drop when shuffled):",
        "",
    ]
    lines += [
        f"- {f['feature']} ({f['side']}): {f['auc_drop']:+.4f}" for f in m.get("importance", [])
    ]
    lines += ["", "![calibration](calibration.png) ![importance](importance.png)", ""]
    return "\n".join(lines)


def _judged_line(m: Mapping[str, Any]) -> str:
    if m.get("judged_on") == "randomized":
        return (
            f"Judged on the {m['examples']} randomized exposures of the {m.get('held_out')} "
            "held out: targeted exposures would hide a bias learnt from targeted logs."
        )
    return (
        "Judged on every held-out exposure: none was randomized, so a bias learnt from "
        "targeted logs (the confounding trap) would not show here."
    )


def _reliability_png(m: Mapping[str, Any]) -> bytes:
    fig = figure((4.5, 3.5), dpi=80)
    ax = fig.add_subplot()
    bins = m["calibration"]["bins"]
    top = max([0.01] + [max(b["predicted"], b["observed"]) for b in bins])
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1)
    ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], marker="o")
    ax.set_xlabel("predicted conversion rate")
    ax.set_ylabel("observed conversion rate")
    ax.set_title(f"reliability (ECE {m['calibration']['ece']:.3f})")
    return png(fig)


def _importance_png(m: Mapping[str, Any]) -> bytes:
    fig = figure((4.5, 3.5), dpi=80)
    ax = fig.add_subplot()
    rows = list(reversed(m.get("importance", [])))
    ax.barh([r["feature"] for r in rows], [r["auc_drop"] for r in rows])
    ax.set_xlabel("AUC drop when shuffled")
    ax.set_title("permutation feature importance")
    return png(fig)
