"""Uniform random: the randomized "shuffle" policy that collects unbiased data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.bandit.base import Choice, PolicyContext, check_inputs
from model.bandit.draws import Draws
from state import ArmStats

__all__ = ["Uniform"]


@dataclass(frozen=True)
class Uniform:
    """Every candidate with probability ``1 / n``; every decision counts as explored."""

    name: str = "uniform"

    def probabilities(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> np.ndarray:
        check_inputs(stats, scores, candidates)
        return np.full(len(candidates), 1.0 / len(candidates))

    def choose(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> Choice:
        check_inputs(stats, scores, candidates)
        n = len(candidates)
        return Choice(index=int(rng.integers(n)), propensity=1.0 / n, explored=True)
