"""Upper confidence bound policies: UCB1 and UCB with the model score as prior mean.

UCB1 (Auer et al. 2002) on the user's own evidence: arms never shown come first (index
+inf), then ``index_a = mean_a + c * sqrt(2 ln N / n_a)`` with ``N`` the impressions over
all candidates. The model variant counts the score as ``prior_strength``
pseudo-impressions: ``mean_a = (successes_a + s * score_a) / (n_a + s)``,
``index_a = mean_a + c * sqrt(2 ln(N + s * k) / (n_a + s))`` with ``k`` candidates, so a
new arm starts from its prediction instead of being forced first.

UCB1 is unfit for serving (kept as the textbook reference, never a default): its
statistics are per user, a user has about ten decisions and the catalog 81 or more arms,
so UCB1 spends every decision on arms the user has not seen, in catalog order, and never
reads the model (the learning benchmark measures it at uniform's value). ``ucb-model``
is UCB1 with the model score as ``prior_strength`` prior pseudo-observations: unseen arms
start from their prediction instead of +inf.

Both are deterministic except for uniform tie-breaking; ``floor`` (default 0) optionally
mixes uniform exploration in so that every arm has a propensity of at least
``floor / n``. ``explored`` is True when the chosen arm is not the one with the best mean.
"""

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
    is_best,
    mix_uniform,
    sample_index,
)
from model.bandit.draws import Draws
from model.bandit.estimates import check_target, evidence
from state import ArmStats

__all__ = ["UCB1", "UCBModel"]


def _check(exploration: float, floor: float, target: str) -> None:
    if not exploration >= 0:
        raise PolicyConfigError(f"exploration must be >= 0, got {exploration}")
    if not 0.0 <= floor <= 1.0:
        raise PolicyConfigError(f"floor must be in [0, 1], got {floor}")
    check_target(target)


class _UCBBase:
    """``choose`` and ``probabilities`` from ``_indices``/``_means`` (shape ``(n,)`` each)."""

    floor: float

    def _indices(self, stats: Sequence[ArmStats], scores: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _means(self, stats: Sequence[ArmStats], scores: np.ndarray) -> np.ndarray:
        raise NotImplementedError

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
        return mix_uniform(greedy_distribution(self._indices(stats, scores)), self.floor)

    def choose(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> Choice:
        p = self.probabilities(stats, scores, candidates, rng, context=context)
        index = sample_index(p, rng)
        means = self._means(stats, check_inputs(stats, scores, candidates))
        explored = not is_best(means, index)
        return Choice(index=index, propensity=float(p[index]), explored=explored)


@dataclass(frozen=True)
class UCB1(_UCBBase):
    exploration: float = 1.0
    floor: float = 0.0
    target: str = "conversions"
    name: str = "ucb1"

    def __post_init__(self) -> None:
        _check(self.exploration, self.floor, self.target)

    def _means(self, stats: Sequence[ArmStats], scores: np.ndarray) -> np.ndarray:
        n, successes = evidence(stats, self.target)
        return np.divide(successes, n, out=np.zeros_like(n), where=n > 0)

    def _indices(self, stats: Sequence[ArmStats], scores: np.ndarray) -> np.ndarray:
        n, _ = evidence(stats, self.target)
        total = max(float(n.sum()), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = self.exploration * np.sqrt(2 * np.log(total) / n)
        return np.where(n > 0, self._means(stats, scores) + bonus, np.inf)


@dataclass(frozen=True)
class UCBModel(_UCBBase):
    exploration: float = 1.0
    prior_strength: float = 10.0
    floor: float = 0.0
    target: str = "conversions"
    name: str = "ucb-model"

    def __post_init__(self) -> None:
        _check(self.exploration, self.floor, self.target)
        if not self.prior_strength > 0:
            raise PolicyConfigError(f"prior_strength must be > 0, got {self.prior_strength}")

    def _means(self, stats: Sequence[ArmStats], scores: np.ndarray) -> np.ndarray:
        n, successes = evidence(stats, self.target)
        return (successes + self.prior_strength * scores) / (n + self.prior_strength)

    def _indices(self, stats: Sequence[ArmStats], scores: np.ndarray) -> np.ndarray:
        n, _ = evidence(stats, self.target)
        effective = n + self.prior_strength
        bonus = self.exploration * np.sqrt(2 * np.log(effective.sum()) / effective)
        return self._means(stats, scores) + bonus
