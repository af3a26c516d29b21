"""The demo's closing report: conversion rate per time window, as a table and a PNG."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["SERIES", "Tally", "write_report"]

SERIES = ("nudgeflow", "rule-based", "uniform", "oracle")


@dataclass
class Tally:
    """Per time window: decisions and purchases observed for nudgeflow, and the expected
    conversions (sum of true purchase probabilities) of every policy on the same requests."""

    windows: int
    duration_seconds: float
    decisions: np.ndarray = field(init=False)
    purchases: np.ndarray = field(init=False)
    requests: np.ndarray = field(init=False)
    expected: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.decisions = np.zeros(self.windows)
        self.purchases = np.zeros(self.windows)
        self.requests = np.zeros(self.windows)
        self.expected = {name: np.zeros(self.windows) for name in SERIES}

    def window(self, elapsed_seconds: float) -> int:
        share = elapsed_seconds / self.duration_seconds
        return min(max(int(share * self.windows), 0), self.windows - 1)

    def rates(self) -> dict[str, list[float]]:
        """Conversion rate (%) per window: observed for nudgeflow, expected for all."""
        out = {"nudgeflow (observed)": _pct(self.purchases, self.decisions)}
        out["nudgeflow (expected)"] = _pct(self.expected["nudgeflow"], self.decisions)
        for name in SERIES[1:]:
            out[name] = _pct(self.expected[name], self.requests)
        return out


def _pct(numerator: np.ndarray, denominator: np.ndarray) -> list[float]:
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(denominator > 0, 100 * numerator / np.maximum(denominator, 1), np.nan)
    return [round(float(r), 2) for r in rate]


def write_report(tally: Tally, out_dir: Path, notes: list[str]) -> str:
    """Write report.json, report.md and conversion_rate.png; return the text table."""
    rates = tally.rates()
    width = tally.duration_seconds / tally.windows
    header = "window (s)   " + "".join(f"{name:>22}" for name in rates)
    lines = [header]
    for w in range(tally.windows):
        label = f"{w * width:5.0f}-{(w + 1) * width:<5.0f}  "
        lines.append(label + "".join(f"{rates[name][w]:>21.2f}%" for name in rates))
    text = "\n".join(["Conversion rate (purchases per nudge shown)", *lines, *notes])
    (out_dir / "report.md").write_text("```\n" + text + "\n```\n")
    (out_dir / "report.json").write_text(
        json.dumps(
            {
                "window_seconds": width,
                "conversion_rate_percent": rates,
                "decisions": tally.decisions.tolist(),
                "purchases": tally.purchases.tolist(),
                "notes": notes,
            },
            indent=2,
        )
    )
    _plot(rates, width, out_dir / "conversion_rate.png")
    return text


def _plot(rates: dict[str, list[float]], width: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = (np.arange(len(next(iter(rates.values())))) + 0.5) * width
    styles = {"oracle": ":", "uniform": "--", "rule-based": "--", "nudgeflow (expected)": "-"}
    for name, values in rates.items():
        ax.plot(x, values, styles.get(name, "-o"), label=name, linewidth=2)
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("conversion rate (%)")
    ax.set_title("nudgeflow vs baselines on simulated users")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
