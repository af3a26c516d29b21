"""Two-proportion comparison of an A/B test (conversion rates of two groups)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ABResult", "two_proportion_ztest"]


@dataclass(frozen=True)
class ABResult:
    """Group A is the control, B the treatment. Rates are fractions (CR % = 100 x rate).

    ``diff = rate_b - rate_a`` with a Wald interval ``[diff_low, diff_high]``; ``lift =
    diff / rate_a`` (relative); ``z`` and the two-sided ``p_value`` use the pooled rate."""

    successes_a: int
    n_a: int
    successes_b: int
    n_b: int
    rate_a: float
    rate_b: float
    diff: float
    diff_low: float
    diff_high: float
    lift: float
    z: float
    p_value: float


def _normal_quantile(q: float) -> float:
    """Inverse standard normal CDF by bisection on ``erfc`` (exact to 1e-12)."""
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < q:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def two_proportion_ztest(
    successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05
) -> ABResult:
    if n_a < 1 or n_b < 1:
        raise ValueError("each group needs at least one user")
    if not (0 <= successes_a <= n_a and 0 <= successes_b <= n_b):
        raise ValueError("successes must be between 0 and the group size")
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    diff = rate_b - rate_a
    z = diff / se_pooled if se_pooled > 0 else 0.0
    p_value = math.erfc(abs(z) / math.sqrt(2))
    se = math.sqrt(rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b)
    half = _normal_quantile(1 - alpha / 2) * se
    lift = diff / rate_a if rate_a > 0 else float("inf") if diff > 0 else 0.0
    return ABResult(
        successes_a,
        n_a,
        successes_b,
        n_b,
        rate_a,
        rate_b,
        diff,
        diff - half,
        diff + half,
        lift,
        z,
        p_value,
    )
