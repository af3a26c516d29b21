"""The demo's closing report: conversion rate per time window, as a table and a PNG."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.report import Report, figure, png

__all__ = ["SERIES", "Tally", "wilson_interval", "write_report"]

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
    swaps: list[tuple[float, str]] = field(init=False, default_factory=list)  # (s, version)

    def __post_init__(self) -> None:
        self.decisions = np.zeros(self.windows)
        self.purchases = np.zeros(self.windows)
        self.requests = np.zeros(self.windows)
        self.expected = {name: np.zeros(self.windows) for name in SERIES}

    def note_model(self, elapsed_seconds: float, version: str | None) -> None:
        """Record a model swap when the serving version differs from the last one seen."""
        if version in (None, "?") or (self.swaps and self.swaps[-1][1] == version):
            return
        self.swaps.append((float(elapsed_seconds), str(version)))

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


def wilson_interval(successes: np.ndarray, trials: np.ndarray, z: float = 1.96) -> np.ndarray:
    """95 % Wilson score interval (%) of each window's observed rate: shape (windows, 2);
    NaN where a window has no trials."""
    n = np.maximum(trials, 1)
    p = successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    bounds = np.stack([centre - half, centre + half], axis=1) * 100
    return np.where((trials > 0)[:, None], np.round(bounds, 2), np.nan)


def _pct(numerator: np.ndarray, denominator: np.ndarray) -> list[float]:
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(denominator > 0, 100 * numerator / np.maximum(denominator, 1), np.nan)
    return [round(float(r), 2) for r in rate]


def write_report(tally: Tally, out_dir: Path, notes: list[str]) -> str:
    """Write report.json, report.md and conversion_rate.png; return the text table."""
    rates = tally.rates()
    interval = wilson_interval(tally.purchases, tally.decisions)
    width = tally.duration_seconds / tally.windows
    header = "window (s)   " + "".join(f"{name:>22}" for name in rates)
    lines = [header]
    for w in range(tally.windows):
        label = f"{w * width:5.0f}-{(w + 1) * width:<5.0f}  "
        lines.append(label + "".join(f"{rates[name][w]:>21.2f}%" for name in rates))
    swaps = [f"model {v} serving from {t:.0f} s" for t, v in tally.swaps]
    sizes = "nudges shown per window: " + ", ".join(f"{n:.0f}" for n in tally.decisions)
    title = "Conversion rate (purchases per nudge shown)"
    text = "\n".join([title, *lines, sizes, *swaps, *notes])
    document = {
        "window_seconds": width,
        "conversion_rate_percent": rates,
        "decisions": tally.decisions.tolist(),
        "purchases": tally.purchases.tolist(),
        "observed_interval_95_percent": interval.tolist(),
        "model_swaps": [{"seconds": t, "version": v} for t, v in tally.swaps],
        "notes": notes,
    }
    Report(
        "```\n" + text + "\n```\n",
        title,
        figures={"conversion_rate.png": _plot(rates, width, tally, interval)},
        files={"report.json": json.dumps(document, indent=2)},
        html=False,
    ).write(out_dir)
    return text


def _plot(rates: dict[str, list[float]], width: float, tally: Tally, interval: np.ndarray) -> bytes:
    """The rates per window; the observed one with its 95 % interval and each window's
    sample size, and a dotted vertical line where a new model began serving."""
    fig = figure((8, 4.5))
    ax = fig.add_subplot()
    x = (np.arange(len(next(iter(rates.values())))) + 0.5) * width
    styles = {"oracle": ":", "uniform": "--", "rule-based": "--", "nudgeflow (expected)": "-"}
    for name, values in rates.items():
        ax.plot(x, values, styles.get(name, "-o"), label=name, linewidth=2)
    ax.fill_between(x, interval[:, 0], interval[:, 1], alpha=0.2, label="observed, 95 % interval")
    for xi, n in zip(x, tally.decisions, strict=True):
        ax.annotate(f"n={n:.0f}", (xi, 0), xytext=(0, 4), textcoords="offset points",
                    xycoords=("data", "axes fraction"), ha="center", fontsize=8)  # fmt: skip
    for seconds, version in tally.swaps:
        ax.axvline(seconds, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"model {version}", (seconds, 1), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=7, color="grey")  # fmt: skip
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("conversion rate (%)")
    ax.set_title("nudgeflow vs baselines on simulated users")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return png(fig, dpi=110)
