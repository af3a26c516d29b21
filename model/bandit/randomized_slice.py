"""A randomized slice: a configurable share of traffic served by the uniform policy.

Each decision flips a coin with P(slice) = ``share``; in the slice the arm is drawn
uniformly and the decision is marked ``policy="uniform-slice"``, otherwise the inner
policy serves it under its own name.

Propensity: the *served sub-policy's* propensity (``1 / n`` in the slice, the inner
policy's otherwise), not the mixture ``share / n + (1 - share) * p_inner``. Why:
- the slice's rows are then a clean uniformly randomized data set (propensity exactly
  ``1 / n``) that training on randomized exposures, replay and the split-half CR-lift
  estimate use by filtering ``policy == "uniform-slice"``, with no reweighting;
- the coin is independent of the user and of rewards, so each stratum (``policy``
  value) is an unbiased IPS sample of its own sub-policy, and IPS over all rows stays
  unbiased when each row is weighted by its stratum's propensity, provided the target
  policy's support is covered within the stratum (it always is in the slice; the inner
  policy covers it when it has a floor, as Thompson does);
- it needs no full propensity vector of the inner policy at serving time.
An evaluator that prefers the lower-variance mixture ("balance") weight can recompute it
from the logged ``share``, ``1 / n`` and the inner propensity.

``probabilities`` returns the marginal distribution of the combined policy (the mixture),
which is what the served arms follow over many decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.bandit.base import (
    Choice,
    Policy,
    PolicyConfigError,
    PolicyContext,
    check_inputs,
    mix_uniform,
)
from model.bandit.draws import Draws
from state import ArmStats

__all__ = ["SLICE_POLICY_NAME", "RandomizedSlice"]

SLICE_POLICY_NAME = "uniform-slice"


@dataclass(frozen=True)
class RandomizedSlice:
    inner: Policy
    share: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise PolicyConfigError(f"share must be in [0, 1], got {self.share}")

    @property
    def name(self) -> str:
        return f"{self.inner.name}+{SLICE_POLICY_NAME}"

    def probabilities(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> np.ndarray:
        inner = self.inner.probabilities(stats, scores, candidates, rng, context=context)
        return mix_uniform(inner, self.share)

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
        if rng.random() < self.share:
            n = len(candidates)
            index = int(rng.integers(n))
            return Choice(index, 1.0 / n, explored=True, policy=SLICE_POLICY_NAME)
        choice = self.inner.choose(stats, scores, candidates, rng, context=context)
        served_by = choice.policy or self.inner.name
        return Choice(choice.index, choice.propensity, choice.explored, served_by)
