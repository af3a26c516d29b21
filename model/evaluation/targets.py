"""Target policies as action distributions, for the estimators."""

from __future__ import annotations

import numpy as np

__all__ = ["greedy_action_dist"]


def greedy_action_dist(predicted: np.ndarray, epsilon: float = 0.0) -> np.ndarray:
    """From predicted rewards ``(n, n_arms)``: the argmax with probability ``1 - epsilon``
    plus ``epsilon`` spread uniformly; returns ``(n, n_arms)`` with rows summing to 1."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    n, m = predicted.shape
    dist = np.full((n, m), epsilon / m)
    dist[np.arange(n), predicted.argmax(1)] += 1.0 - epsilon
    return dist
