"""A simple fitted reward model: smoothed conversion rate per (user segment, arm).

Used as DR's reward model in tests and reports, as the scorer of the "nudgeflow" group
of ``nudge abtest`` until a two-tower model is trained, and as a baseline for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from state import UserState

__all__ = ["SegmentRateModel"]


@dataclass(frozen=True)
class SegmentRateModel:
    """``rates[s, a]``: posterior-mean conversion rate of arm ``a`` in segment ``s``
    (``segments[s]``), shrunk towards the arm's overall rate with ``prior_strength``
    pseudo-observations. Unknown segments get the overall rates (last row)."""

    segments: tuple[str, ...]
    arm_ids: tuple[str, ...]
    rates: np.ndarray  # (n_segments + 1, n_arms)
    segment_key: str = "segment"
    version: str = "segment-rate"

    @classmethod
    def fit(
        cls,
        segment: Sequence[str] | np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        arm_ids: Sequence[str],
        prior_strength: float = 20.0,
        weight: np.ndarray | None = None,
    ) -> SegmentRateModel:
        """Fit from logged rounds: ``segment`` names, ``action`` arm indexes and ``reward``,
        each ``(n,)``; ``weight`` (e.g. ``1 / pscore``) corrects for a non-uniform logger."""
        names, codes = np.unique(np.asarray(segment, dtype=object).astype(str), return_inverse=True)
        k, m = len(names), len(arm_ids)
        w = np.ones(len(action)) if weight is None else np.asarray(weight, float)
        flat = codes * m + action
        shown = np.bincount(flat, weights=w, minlength=k * m).reshape(k, m)
        converted = np.bincount(flat, weights=w * reward, minlength=k * m).reshape(k, m)
        overall = (converted.sum(0) + 1.0) / (shown.sum(0) + 20.0)
        rates = (converted + prior_strength * overall) / (shown + prior_strength)
        return cls(tuple(names), tuple(arm_ids), np.vstack([rates, overall]))

    def segment_index(self, segment: Sequence[str] | np.ndarray) -> np.ndarray:
        lookup = {s: i for i, s in enumerate(self.segments)}
        return np.array([lookup.get(str(s), len(self.segments)) for s in segment], np.int64)

    def predict(self, segment: Sequence[str] | np.ndarray) -> np.ndarray:
        """Predicted rate of every arm per round, ``(n, n_arms)``."""
        return self.rates[self.segment_index(segment)]

    def score(
        self, context: Mapping[str, Any], state: UserState, arm_ids: Sequence[str]
    ) -> np.ndarray:
        """The :class:`model.scoring.Scorer` interface: ``(len(arm_ids),)`` probabilities."""
        row = self.rates[self.segment_index([str(context.get(self.segment_key))])[0]]
        index = {a: i for i, a in enumerate(self.arm_ids)}
        return np.array([row[index[a]] if a in index else 0.0 for a in arm_ids])
