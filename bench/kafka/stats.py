"""Pure arithmetic of the Kafka benchmark: window rates, latency percentiles, targets.

Nothing here touches a clock, a broker or a process, so all of it is unit-tested.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Target",
    "crossing_time",
    "latency_summary",
    "median_entry",
    "nearest_rank",
    "pick",
    "ratio",
    "window_rate",
]

Sample = tuple[float, float]  # (seconds, events counted so far)


def crossing_time(samples: Sequence[Sample], level: float) -> float | None:
    """When the count first reached ``level``, interpolated linearly between the two
    samples around it; None when it never did. Samples are in time order."""
    previous: Sample | None = None
    for t, count in samples:
        if count >= level:
            if previous is None or count == previous[1]:
                return t
            t0, c0 = previous
            return t0 + (t - t0) * (level - c0) / (count - c0)
        previous = (t, count)
    return None


def window_rate(
    samples: Sequence[Sample], expected: int, low: float = 0.1, high: float = 0.9
) -> float:
    """Events per second between ``low`` and ``high`` of ``expected`` events: start-up,
    the first rebalance and the tail are left out. NaN when the count never got there."""
    if expected <= 0 or not 0 <= low < high <= 1:
        raise ValueError(f"need expected > 0 and 0 <= low < high <= 1 (got {low}, {high})")
    start = crossing_time(samples, low * expected)
    end = crossing_time(samples, high * expected)
    if start is None or end is None or end <= start:
        return math.nan
    return (high - low) * expected / (end - start)


def nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 < q <= 100) by nearest rank: a value that was measured,
    the smallest one with at least q % of the values at or below it."""
    if not sorted_values:
        return math.nan
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    rank = math.ceil(q / 100 * len(sorted_values))
    return float(sorted_values[max(rank, 1) - 1])


def latency_summary(latencies_ms: Iterable[float]) -> dict[str, float]:
    """p50, p95, p99 and max in milliseconds (3 decimals), and how many were measured.
    An infinite latency (never answered) makes every percentile that reaches it NaN
    (null in the JSON): not measured, and certainly over any target."""
    values = sorted(latencies_ms)
    summary = {f"p{q}_ms": _finite(nearest_rank(values, q)) for q in (50, 95, 99)}
    summary["max_ms"] = _finite(values[-1]) if values else math.nan
    summary["count"] = len(values)
    return summary


def _finite(value: float) -> float:
    return round(value, 3) if math.isfinite(value) else math.nan


def median_entry(rates: Sequence[float]) -> dict[str, Any]:
    """The median of per-run rates (NaN runs dropped) and the runs themselves."""
    good = [r for r in rates if not math.isnan(r)]
    median = statistics.median(good) if good else math.nan
    return {
        "events_per_second": _round(median),
        "runs": [_round(r) for r in rates],
    }


def _round(value: float) -> float:
    return value if math.isnan(value) else float(round(value, 1))


@dataclass(frozen=True)
class Target:
    """A goal for one figure: ``value >= bound`` (at_least) or ``value <= bound``."""

    name: str
    bound: float
    at_least: bool
    unit: str

    def check(self, value: float) -> dict[str, Any]:
        met = (value >= self.bound) if self.at_least else (value <= self.bound)
        sign = ">=" if self.at_least else "<="
        return {
            "target": f"{sign} {self.bound:g} {self.unit}".strip(),
            "value": _round(value),
            "met": bool(met) and not math.isnan(value),
        }


def ratio(value: float, baseline: float) -> float:
    """``value / baseline`` to 3 significant digits; NaN when there is no baseline."""
    if not baseline or math.isnan(baseline) or math.isnan(value):
        return math.nan
    return float(f"{value / baseline:.3g}")


def pick(mapping: Mapping[str, Any], *path: str) -> Any:
    """``mapping[a][b]...`` or None where a key is missing (figures that were skipped)."""
    node: Any = mapping
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node
