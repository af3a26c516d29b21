"""Epsilon-greedy, as the source paper uses it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.bandit.base import (
    Choice,
    PolicyConfigError,
    PolicyContext,
    check_inputs,
    greedy_distribution,
    mix_uniform,
    reduce_max,
)
from model.bandit.draws import Draws
from model.bandit.estimates import check_target, posterior_means
from state import ArmStats

__all__ = ["EpsilonGreedy", "posterior_means"]


@dataclass(frozen=True)
class EpsilonGreedy:
    """With probability ``epsilon`` pick uniformly among candidates, else the best estimate.

    The estimate is :func:`posterior_means` (model score as ``prior_strength``
    pseudo-impressions plus the user's evidence). Ties for the best estimate are broken
    uniformly, and the propensity accounts for it:
    ``p(a) = epsilon / n + (1 - epsilon) * [a is best] / n_best``.
    ``explored`` is True when the epsilon coin chose to explore.
    """

    epsilon: float = 0.1
    prior_strength: float = 2.0
    target: str = "conversions"
    name: str = "epsilon-greedy"

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise PolicyConfigError(f"epsilon must be in [0, 1], got {self.epsilon}")
        if not self.prior_strength > 0:
            raise PolicyConfigError(f"prior_strength must be > 0, got {self.prior_strength}")
        check_target(self.target)

    def _means(self, stats: Sequence[ArmStats], scores: np.ndarray) -> np.ndarray:
        return posterior_means(stats, scores, self.prior_strength, self.target)

    def probabilities(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> np.ndarray:
        scores = check_inputs(stats, scores, candidates)
        greedy = greedy_distribution(self._means(stats, scores))
        return mix_uniform(greedy, self.epsilon)

    def choose(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> Choice:
        scores = check_inputs(stats, scores, candidates)
        n = len(candidates)
        means = self._means(stats, scores)
        top = reduce_max(means)
        best = (means == top).nonzero()[0]  # best_indices, reusing the maximum
        explored = bool(rng.random() < self.epsilon)
        index = int(rng.integers(n)) if explored else int(best[rng.integers(len(best))])
        greedy = bool(means[index] == top)
        propensity = self.epsilon / n + (1 - self.epsilon) * greedy / len(best)
        return Choice(index=index, propensity=float(propensity), explored=explored)
