"""Sufficient statistics of the online model, per arm, summed over users.

For every arm ``a`` with user feature vectors ``x`` (``ContextEncoder``, dim ``k``):
``gram[a] = sum over impressions of x x^T`` (``(k, k)``) and ``reward[a] = sum over
conversions of x`` (``(k,)``). An impression and its conversion may arrive in either
order (the topics are read independently): both sums are additive. Updating costs one
``k x k`` outer product (k = 12 by default: about 5 us, plus about 6 us to encode the
context); the fit that reads them runs elsewhere (``model.online.linear``), not per
event.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["ArmMoments"]


class ArmMoments:
    """Mutable sums, keyed by arm id; ``snapshot`` hands an independent copy to a fit."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._rows: dict[str, int] = {}
        self._gram = np.zeros((8, dim, dim))
        self._reward = np.zeros((8, dim))
        self.changed = False

    def _row(self, arm_id: str) -> int:
        row = self._rows.get(arm_id)
        if row is None:
            row = self._rows[arm_id] = len(self._rows)
            if row == len(self._gram):  # grow by doubling: amortised O(1) per new arm
                self._gram = np.concatenate([self._gram, np.zeros_like(self._gram)])
                self._reward = np.concatenate([self._reward, np.zeros_like(self._reward)])
        return row

    def add(self, arm_id: str, x: np.ndarray, impressions: float, conversions: float) -> None:
        """Add ``impressions`` showings and ``conversions`` conversions of ``arm_id`` to a
        user with features ``x`` (``(dim,)``); negative amounts undo (a decayed count)."""
        row = self._row(arm_id)
        if impressions:
            self._gram[row] += impressions * np.outer(x, x)
        if conversions:
            self._reward[row] += conversions * x
        self.changed = True

    def copy(self) -> ArmMoments:
        """An independent copy (taken under the writer's lock; fitted outside it)."""
        other = ArmMoments(self.dim)
        other._rows = dict(self._rows)
        other._gram, other._reward = self._gram.copy(), self._reward.copy()
        self.changed = False
        return other

    def arrays(self, arm_ids: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(gram (m, k, k), reward (m, k))`` of ``arm_ids`` in that order (zeros for an
        arm never seen); copies, safe to read while this object keeps changing."""
        ids = list(arm_ids)
        gram, reward = np.zeros((len(ids), self.dim, self.dim)), np.zeros((len(ids), self.dim))
        for i, arm_id in enumerate(ids):
            row = self._rows.get(arm_id)
            if row is not None:
                gram[i], reward[i] = self._gram[row], self._reward[row]
        return gram, reward
