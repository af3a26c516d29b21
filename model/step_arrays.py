"""Per-engine lookups of the decision path: candidate lists and pooled statistics as
arrays in candidate order, built once and shared by every decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from model.bandit.estimates import ArmArrays
from model.catalog import Catalog
from state import ArmStats

__all__ = ["CandidateSet", "PooledStats"]


class CandidateSet:
    """Lookups of one candidate list: position of each arm id, catalog row per position,
    and the (read-only) statistics of a user who has seen none of them."""

    __slots__ = ("positions", "rows", "unseen")

    def __init__(self, catalog: Catalog, candidates: Sequence[str]) -> None:
        self.positions = {arm_id: i for i, arm_id in enumerate(candidates)}
        self.rows = np.fromiter((catalog.index(a) for a in candidates), np.intp, len(candidates))
        zeros = np.zeros(len(candidates))
        zeros.flags.writeable = False  # shared by every decision: a write would be a bug
        self.unseen = ArmArrays(zeros, zeros, zeros, seen=False)


class PooledStats:
    """Pooled statistics as arrays in catalog order (rows of arms it lacks are zero)."""

    __slots__ = ("counts", "last_seen_ms")

    def __init__(self, catalog: Catalog, population: Mapping[str, ArmStats]) -> None:
        self.counts = np.zeros((3, len(catalog)))
        self.last_seen_ms = np.zeros(len(catalog))
        for arm_id, stats in population.items():
            if arm_id in catalog:
                row = catalog.index(arm_id)
                self.counts[:, row] = stats.impressions, stats.conversions, stats.reward_sum
                self.last_seen_ms[row] = stats.last_seen_ms

    def at(self, rows: np.ndarray, now_ms: int, half_life_seconds: float | None) -> ArmArrays:
        """The statistics of ``rows`` as of ``now_ms`` (``state.decay``, vectorised)."""
        counts = self.counts[:, rows]
        if half_life_seconds is not None:
            elapsed_s = np.maximum(now_ms - self.last_seen_ms[rows], 0.0) / 1000.0
            counts *= np.power(0.5, elapsed_s / half_life_seconds)
        return ArmArrays(counts[0], counts[1], counts[2])
