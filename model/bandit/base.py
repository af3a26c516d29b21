"""The policy interface: every bandit policy answers ``choose`` with a propensity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from state import ArmStats

__all__ = ["Choice", "Policy", "PolicyConfigError"]


class PolicyConfigError(ValueError):
    """A policy was built with parameters outside their valid range."""


@dataclass(frozen=True)
class Choice:
    """``index`` points into the candidates; ``propensity`` is P(policy picks it) in (0, 1]."""

    index: int
    propensity: float
    explored: bool


class Policy(Protocol):
    @property
    def name(self) -> str: ...

    def choose(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: np.random.Generator,
    ) -> Choice:
        """Pick one of ``candidates``.

        stats: the user's statistics per candidate, aligned with ``candidates``.
        scores: predicted conversion probability per candidate, shape ``(n,)``.
        """
        ...
