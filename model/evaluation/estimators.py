"""Off-policy estimators of a target policy's value from logged bandit feedback.

Shared arguments (the OBP convention, 2-d action distributions):

- ``reward``: observed reward per logged round, shape ``(n,)`` (e.g. 1.0 purchase, 0.0 not).
- ``action``: index of the logged arm, int ``(n,)``.
- ``pscore``: the logging policy's probability of the logged arm, ``(n,)``, in (0, 1].
- ``action_dist``: the target policy's probability of every arm per round, ``(n, n_arms)``,
  rows summing to 1.
- ``estimated_rewards``: a reward model's prediction for every arm per round,
  ``(n, n_arms)`` (DR only; any model: the two-tower scorer, a fitted table, the truth).

Every ``estimate_*`` returns an :class:`Estimate` with a percentile bootstrap interval
(rounds resampled with replacement ``n_bootstrap`` times).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Estimate",
    "bootstrap_ratio",
    "estimate_dr",
    "estimate_ips",
    "estimate_replay",
    "estimate_snips",
]


@dataclass(frozen=True)
class Estimate:
    """``value`` with its ``(1 - alpha)`` interval ``[low, high]`` from ``n_rounds`` rounds;
    ``n_used`` counts rounds that carry weight (replay: matched rounds)."""

    name: str
    value: float
    low: float
    high: float
    n_rounds: int
    n_used: int

    def covers(self, truth: float) -> bool:
        return self.low <= truth <= self.high


def bootstrap_ratio(
    numerator: np.ndarray,
    denominator: np.ndarray | None,
    rng: np.random.Generator,
    n_bootstrap: int = 200,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile interval of ``sum(numerator[s]) / sum(denominator[s])`` over bootstrap
    resamples ``s`` of the rounds (``denominator=None``: ``len(s)``, i.e. a mean).

    A resample's sums depend only on how many times it drew each distinct
    ``(numerator, denominator)`` pair, and those counts are multinomial with the pairs'
    shares of the rounds: when the pairs are few (rewards 0/1, a few propensity classes,
    a segment-level reward model) the counts are drawn directly, in O(pairs) per
    resample instead of O(rounds); the distribution of the interval is the same."""
    with np.errstate(invalid="ignore", divide="ignore"):
        top, bottom = _resampled_sums(numerator, denominator, rng, n_bootstrap)
        values = top / bottom
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


# Drawing one multinomial cell costs about as much as 13 index draws-and-gathers.
_CELLS_PER_ROUND = 16


def _resampled_sums(
    numerator: np.ndarray,
    denominator: np.ndarray | None,
    rng: np.random.Generator,
    n_bootstrap: int,
) -> tuple[np.ndarray, np.ndarray | float]:
    """``(top, bottom)``, each ``(n_bootstrap,)`` (``bottom`` is ``n`` for a mean)."""
    n = len(numerator)
    classes = _value_classes(numerator, denominator)
    if classes is None:
        return _index_sums(numerator, denominator, rng, n_bootstrap)
    top_values, bottom_values, sizes = classes
    counts = rng.multinomial(n, sizes / n, size=n_bootstrap).astype(np.float64)
    return counts @ top_values, float(n) if bottom_values is None else counts @ bottom_values


def _value_classes(
    numerator: np.ndarray, denominator: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray] | None:
    """Distinct ``(numerator, denominator)`` pairs and how many rounds hold each, or
    None when they are too many to pay off (or not all finite: a NaN round must only
    spoil the resamples that draw it)."""
    n = len(numerator)
    top = _distinct(numerator, n)
    if top is None:
        return None
    if denominator is None:
        sizes = np.bincount(np.searchsorted(top, numerator), minlength=len(top))
        return top, None, sizes.astype(np.float64)
    bottom = _distinct(denominator, n)
    if bottom is None:
        return None
    pair = np.searchsorted(top, numerator) * len(bottom) + np.searchsorted(bottom, denominator)
    if len(top) * len(bottom) <= 4 * n:  # a dense count is cheaper than sorting
        counts = np.bincount(pair, minlength=len(top) * len(bottom))
        present = np.flatnonzero(counts)
        sizes = counts[present]
    else:
        present, sizes = np.unique(pair, return_counts=True)
    if len(present) * _CELLS_PER_ROUND > n:
        return None
    return top[present // len(bottom)], bottom[present % len(bottom)], sizes * 1.0


def _distinct(values: np.ndarray, n: int) -> np.ndarray | None:
    """Sorted distinct values, or None when too many or not all finite."""
    if n < _CELLS_PER_ROUND or not np.isfinite(values).all():
        return None
    distinct = np.unique(values)
    return None if len(distinct) * _CELLS_PER_ROUND > n else distinct


def _index_sums(
    numerator: np.ndarray,
    denominator: np.ndarray | None,
    rng: np.random.Generator,
    n_bootstrap: int,
) -> tuple[np.ndarray, np.ndarray | float]:
    """Resample round indexes, in blocks that bound memory to ~16 MB."""
    n = len(numerator)
    top = np.empty(n_bootstrap)
    bottom = np.empty(n_bootstrap)
    rows = max(1, min(n_bootstrap, 2_000_000 // max(n, 1)))
    for start in range(0, n_bootstrap, rows):
        index = rng.integers(n, size=(min(rows, n_bootstrap - start), n), dtype=np.int32)
        top[start : start + len(index)] = numerator[index].sum(1)
        if denominator is not None:
            bottom[start : start + len(index)] = denominator[index].sum(1)
    return top, float(n) if denominator is None else bottom


def _check(reward: np.ndarray, action: np.ndarray, action_dist: np.ndarray) -> None:
    n = len(reward)
    if action.shape != (n,) or action_dist.ndim != 2 or action_dist.shape[0] != n:
        raise ValueError(
            f"reward (n,), action (n,), action_dist (n, n_arms) must align; got "
            f"{reward.shape}, {action.shape}, {action_dist.shape}"
        )
    if n == 0:
        raise ValueError("no logged rounds")


def _weights(action: np.ndarray, pscore: np.ndarray, action_dist: np.ndarray) -> np.ndarray:
    if np.any(pscore <= 0):
        raise ValueError(
            "pscore must be > 0 (a deterministic logging policy cannot be "
            "evaluated off-policy for other arms)"
        )
    return _at_logged(action_dist, action) / pscore


def _at_logged(matrix: np.ndarray, action: np.ndarray) -> np.ndarray:
    """``matrix[i, action[i]]`` per round, ``(n,)`` (an arm out of range raises)."""
    flat = matrix.flags.c_contiguous and action.dtype.kind == "i" and len(action) > 0
    if flat and action.min() >= 0 and action.max() < matrix.shape[1]:
        # one gather from the flat array is about twice as fast as the 2-d fancy index
        return matrix.reshape(-1).take(np.arange(len(action)) * matrix.shape[1] + action)
    return matrix[np.arange(len(action)), action]


def _result(
    name: str,
    num: np.ndarray,
    den: np.ndarray | None,
    n_used: int,
    rng: np.random.Generator,
    n_bootstrap: int,
    alpha: float,
) -> Estimate:
    value = float(num.sum() / (len(num) if den is None else den.sum()))
    low, high = bootstrap_ratio(num, den, rng, n_bootstrap, alpha)
    return Estimate(name, value, low, high, len(num), n_used)


def estimate_replay(
    reward: np.ndarray,
    action: np.ndarray,
    action_dist: np.ndarray,
    rng: np.random.Generator,
    *,
    n_bootstrap: int = 200,
    alpha: float = 0.05,
) -> Estimate:
    """Li et al. (2011) replay: draw the target's arm per round from ``action_dist``; the
    value is the mean reward of rounds where it equals the logged arm. Unbiased when the
    log is uniform random; needs no propensities. Only whether the draw matches matters,
    so that is drawn directly: with probability ``action_dist[i, action_i]`` (over the
    row's sum)."""
    _check(reward, action, action_dist)
    chance = _at_logged(action_dist, action) / action_dist.sum(1)
    match = (rng.random(len(reward)) < chance).astype(np.float64)
    if match.sum() == 0:
        return Estimate("replay", float("nan"), float("nan"), float("nan"), len(reward), 0)
    return _result("replay", reward * match, match, int(match.sum()), rng, n_bootstrap, alpha)


def estimate_ips(
    reward: np.ndarray,
    action: np.ndarray,
    pscore: np.ndarray,
    action_dist: np.ndarray,
    rng: np.random.Generator,
    *,
    n_bootstrap: int = 200,
    alpha: float = 0.05,
) -> Estimate:
    """Inverse propensity scoring: ``mean(reward * action_dist[i, action_i] / pscore_i)``."""
    _check(reward, action, action_dist)
    w = _weights(action, pscore, action_dist)
    return _result("ips", reward * w, None, int((w > 0).sum()), rng, n_bootstrap, alpha)


def estimate_snips(
    reward: np.ndarray,
    action: np.ndarray,
    pscore: np.ndarray,
    action_dist: np.ndarray,
    rng: np.random.Generator,
    *,
    n_bootstrap: int = 200,
    alpha: float = 0.05,
) -> Estimate:
    """Self-normalised IPS: ``sum(reward * w) / sum(w)``; slightly biased, lower variance."""
    _check(reward, action, action_dist)
    w = _weights(action, pscore, action_dist)
    return _result("snips", reward * w, w, int((w > 0).sum()), rng, n_bootstrap, alpha)


def estimate_dr(
    reward: np.ndarray,
    action: np.ndarray,
    pscore: np.ndarray,
    action_dist: np.ndarray,
    estimated_rewards: np.ndarray,
    rng: np.random.Generator,
    *,
    n_bootstrap: int = 200,
    alpha: float = 0.05,
) -> Estimate:
    """Doubly robust: ``mean(sum_a pi(a|x) q(x, a) + w * (reward - q(x, action)))``;
    unbiased when either the propensities or the reward model are right."""
    _check(reward, action, action_dist)
    if estimated_rewards.shape != action_dist.shape:
        raise ValueError(
            f"estimated_rewards {estimated_rewards.shape} must match "
            f"action_dist {action_dist.shape}"
        )
    w = _weights(action, pscore, action_dist)
    direct = np.einsum("ij,ij->i", action_dist, estimated_rewards)
    num = direct + w * (reward - _at_logged(estimated_rewards, action))
    return _result("dr", num, None, int((w > 0).sum()), rng, n_bootstrap, alpha)
