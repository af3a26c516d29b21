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
    resamples ``s`` of the rounds (``denominator=None``: ``len(s)``, i.e. a mean)."""
    n = len(numerator)
    values = np.empty(n_bootstrap)
    rows = max(1, min(n_bootstrap, 2_000_000 // max(n, 1)))  # bound memory to ~16 MB
    for start in range(0, n_bootstrap, rows):
        index = rng.integers(n, size=(min(rows, n_bootstrap - start), n), dtype=np.int32)
        top = numerator[index].sum(1)
        bottom = float(n) if denominator is None else denominator[index].sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            values[start : start + len(index)] = top / bottom
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


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
    return action_dist[np.arange(len(action)), action] / pscore


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
    log is uniform random; needs no propensities."""
    _check(reward, action, action_dist)
    cumulative = np.cumsum(action_dist, axis=1)
    drawn = (cumulative < rng.random(len(reward))[:, None] * cumulative[:, -1:]).sum(1)
    match = (drawn == action).astype(np.float64)
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
    rows = np.arange(len(action))
    direct = (action_dist * estimated_rewards).sum(1)
    num = direct + w * (reward - estimated_rewards[rows, action])
    return _result("dr", num, None, int((w > 0).sum()), rng, n_bootstrap, alpha)
