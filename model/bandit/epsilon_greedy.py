"""Epsilon-greedy, as the source paper uses it."""

from __future__ import annotations

import functools
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
from model.bandit.estimates import ArmArrays, check_target, posterior_means
from state import ArmStats

__all__ = ["EpsilonGreedy", "posterior_means"]

_EVIDENCE_FREE_KEPT = 1024  # memoised greedy sets of users without evidence (score vectors)


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
        n = len(candidates)
        if isinstance(stats, ArmArrays) and not stats.seen and len(stats) == n:
            # a user without evidence: the greedy set is a function of the scores alone
            # (the same for every new user of a constant scorer), so it is computed once;
            # a vector that fails check_inputs raises there and is never kept
            values = np.asarray(scores, dtype=float)
            if values.shape == (n,):
                best, is_best = _evidence_free(self.prior_strength, self.target, values.tobytes())
                explored = bool(rng.random() < self.epsilon)
                index = int(rng.integers(n)) if explored else best[rng.integers(len(best))]
                propensity = self.epsilon / n + (1 - self.epsilon) * is_best[index] / len(best)
                return Choice(index=index, propensity=float(propensity), explored=explored)
        scores = check_inputs(stats, scores, candidates)
        means = self._means(stats, scores)
        top = reduce_max(means)
        best = (means == top).nonzero()[0]  # best_indices, reusing the maximum
        explored = bool(rng.random() < self.epsilon)
        index = int(rng.integers(n)) if explored else int(best[rng.integers(len(best))])
        greedy = bool(means[index] == top)
        propensity = self.epsilon / n + (1 - self.epsilon) * greedy / len(best)
        return Choice(index=index, propensity=float(propensity), explored=explored)


@functools.lru_cache(maxsize=_EVIDENCE_FREE_KEPT)
def _evidence_free(
    prior_strength: float, target: str, scores: bytes
) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """The greedy set of a user without evidence, ``scores`` the float64 bytes of the
    score vector: the best estimate's indices (ascending) and, per arm, whether it is
    one of them. As ``choose`` computes them (``check_inputs`` raises for a vector it
    refuses, and nothing is kept then)."""
    values = np.frombuffer(scores)
    zeros = np.zeros(len(values))
    unseen = ArmArrays(zeros, zeros, zeros, seen=False)
    values = check_inputs(unseen, values, ("",) * len(values))  # only their number counts
    means = posterior_means(unseen, values, prior_strength, target)
    is_best = means == reduce_max(means)
    return tuple(is_best.nonzero()[0].tolist()), tuple(is_best.tolist())
