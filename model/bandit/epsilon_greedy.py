"""Epsilon-greedy, as the source paper uses it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.bandit.base import Choice, PolicyConfigError
from state import ArmStats

__all__ = ["EpsilonGreedy", "posterior_means"]


def posterior_means(
    stats: Sequence[ArmStats], scores: np.ndarray, prior_strength: float
) -> np.ndarray:
    """Conversion-rate estimate per arm: the model score acts as ``prior_strength``
    pseudo-impressions, then the user's own evidence is added. Shape ``(n,)``."""
    impressions = np.fromiter((s.impressions for s in stats), float, len(stats))
    conversions = np.fromiter((s.conversions for s in stats), float, len(stats))
    return (conversions + prior_strength * scores) / (impressions + prior_strength)


@dataclass(frozen=True)
class EpsilonGreedy:
    """With probability ``epsilon`` pick uniformly among candidates, else the best estimate.

    Ties for the best estimate are broken uniformly, and the propensity accounts for it:
    ``p(a) = epsilon / n + (1 - epsilon) * [a is best] / n_best``.
    """

    epsilon: float = 0.1
    prior_strength: float = 2.0
    name: str = "epsilon-greedy"

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise PolicyConfigError(f"epsilon must be in [0, 1], got {self.epsilon}")
        if self.prior_strength <= 0:
            raise PolicyConfigError(f"prior_strength must be > 0, got {self.prior_strength}")

    def choose(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: np.random.Generator,
    ) -> Choice:
        n = len(candidates)
        if n == 0:
            raise ValueError("no candidates to choose from")
        means = posterior_means(stats, scores, self.prior_strength)
        best = np.flatnonzero(means == means.max())
        explored = bool(rng.random() < self.epsilon)
        index = int(rng.integers(n)) if explored else int(best[rng.integers(len(best))])
        is_best = index in best
        propensity = self.epsilon / n + (1 - self.epsilon) * is_best / len(best)
        return Choice(index=index, propensity=float(propensity), explored=explored)
