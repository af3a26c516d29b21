"""Scorers turn (context, user state, arms) into predicted conversion probabilities.

The two-tower scorer lives in its own module (torch); this file holds the interface and
the constant scorer used until a model is loaded, in tests, and in offline checks.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from state import UserState

__all__ = ["ConstantScorer", "Scorer"]


class Scorer(Protocol):
    """``score`` returns an array of shape ``(len(arm_ids),)`` of probabilities in [0, 1]."""

    @property
    def version(self) -> str: ...

    def score(
        self, context: Mapping[str, Any], state: UserState, arm_ids: Sequence[str]
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class ConstantScorer:
    """Predicts the same conversion probability for every arm."""

    probability: float = 0.1
    version: str = "constant"

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {self.probability}")

    def score(
        self, context: Mapping[str, Any], state: UserState, arm_ids: Sequence[str]
    ) -> np.ndarray:
        """A shared read-only array per length: np.full per request cost a fifth of an
        epsilon-greedy decision; a caller that wants to write must copy."""
        return _constant(self.probability, len(arm_ids))


@functools.lru_cache(maxsize=256)
def _constant(probability: float, n: int) -> np.ndarray:
    scores = np.full(n, probability)
    scores.flags.writeable = False
    return scores
