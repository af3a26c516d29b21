"""Aggregate per-seed results (mean ± sd), print the table, draw the regret plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_regret", "summarise", "table"]

MEASURES = ("pct_oracle", "pct_ceiling", "cr_last", "regret", "us_per_decision")


def summarise(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per policy: mean and sd over seeds of each measure, the per-seed values, the
    mean regret curve."""
    out: dict[str, dict[str, Any]] = {}
    for name, runs in results.items():
        entry: dict[str, Any] = {"seeds": len(runs)}
        for key in MEASURES:
            values = np.array([r[key] for r in runs], float)
            sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            entry[key] = {
                "mean": float(values.mean()),
                "sd": sd,
                "per_seed": values.round(4).tolist(),
            }
        entry["regret_curve"] = np.mean([r["regret_curve"] for r in runs], 0).round(2).tolist()
        out[name] = entry
    return out


def table(title: str, summary: dict[str, dict[str, Any]], groups: dict[str, str]) -> str:
    lines = [
        title,
        f"{'policy':44} {'% oracle':>13} {'% ceiling':>13} {'CR last 20%':>11} "
        f"{'regret':>9} {'us/dec':>7}",
    ]
    for group in ("reference", "history", "cold"):
        for name, e in summary.items():
            if groups.get(name) != group:
                continue
            o, c = e["pct_oracle"], e["pct_ceiling"]
            lines.append(
                f"{name:44} {o['mean']:6.1f} ± {o['sd']:4.1f} {c['mean']:6.1f} ± {c['sd']:4.1f} "
                f"{e['cr_last']['mean']:11.4f} {e['regret']['mean']:9.0f} "
                f"{e['us_per_decision']['mean']:7.0f}"
            )
    return "\n".join(lines)


def plot_regret(sections: dict[str, dict[str, Any]], n_rounds: int, path: Path) -> None:
    """Cumulative regret over rounds, one panel per catalog, one line per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sections), figsize=(7 * len(sections), 5), squeeze=False)
    for ax, (title, section) in zip(axes[0], sections.items(), strict=True):
        for name, entry in section["summary"].items():
            if name == "oracle":
                continue
            curve = entry["regret_curve"]
            x = np.linspace(0, n_rounds, len(curve) + 1)[1:]
            style = "--" if section["groups"].get(name) == "cold" else "-"
            ax.plot(x, curve, style, label=name)
        ax.set(title=title, xlabel="round", ylabel="cumulative regret (expected conversions)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
