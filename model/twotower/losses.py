"""Training objectives (the "task", kept apart from the towers).

- :func:`pointwise_bce`: binary cross-entropy of logged outcomes, as the source paper.
  Fooled by confounders: if strategy A was shown mostly to users who convert anyway, A
  looks better than it is.
- :func:`itemwise_pairwise`: the item-wise ranking loss of the source post,
  ``-log sigma(s_i - s_j)`` for pairs of exposures of the *same product* under
  *different strategies*, where ``i`` converted and ``j`` did not. Built from randomized
  exposures (:func:`sample_itemwise_pairs`), who saw which strategy is independent of
  the user, so the model learns which strategy works for a product, not who saw it.

Optional per-example (or per-pair) weights implement propensity weighting.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["itemwise_pairwise", "pointwise_bce", "propensity_weights", "sample_itemwise_pairs"]


def pointwise_bce(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean (weighted) BCE; ``logits``, ``labels``, ``weights``: shape (B,)."""
    losses = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    if weights is None:
        return losses.mean()
    return (losses * weights).sum() / weights.sum().clamp_min(1e-12)


def itemwise_pairwise(
    better: torch.Tensor, worse: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean (weighted) ``-log sigma(better - worse)``; logits of shape (P,) each."""
    losses = F.softplus(worse - better)  # = -log sigma(better - worse), numerically stable
    if weights is None:
        return losses.mean()
    return (losses * weights).sum() / weights.sum().clamp_min(1e-12)


def propensity_weights(propensity: np.ndarray, max_weight: float = 20.0) -> np.ndarray:
    """Inverse-propensity weights ``1/p`` clipped to ``max_weight`` and scaled to mean 1.

    ``propensity``: shape (n,), values in (0, 1]; returns float32 of shape (n,).
    """
    p = np.clip(np.asarray(propensity, dtype=np.float64), 1.0 / max_weight, 1.0)
    weights = 1.0 / p
    return (weights / weights.mean()).astype(np.float32)


def sample_itemwise_pairs(
    product: np.ndarray,
    strategy: np.ndarray,
    labels: np.ndarray,
    count: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``count`` pairs ``(i, j)`` (index arrays of shape (P,), P <= count) with
    ``product[i] == product[j]``, ``strategy[i] != strategy[j]``, ``labels[i] = 1`` and
    ``labels[j] = 0``. Pairs are spread over products in proportion to their exposures.

    Pass only randomized exposures: the pairs then compare strategies on exchangeable
    users. Products without both a converted and a non-converted exposure under
    different strategies contribute nothing.
    """
    winners: list[np.ndarray] = []
    losers: list[np.ndarray] = []
    n = len(labels)
    for prod in np.unique(product):
        members = np.flatnonzero(product == prod)
        pos, neg = members[labels[members] > 0], members[labels[members] <= 0]
        if len(pos) == 0 or len(neg) == 0:
            continue
        k = max(1, round(count * len(members) / max(n, 1)))
        i, j = rng.choice(pos, k), rng.choice(neg, k)
        keep = strategy[i] != strategy[j]
        winners.append(i[keep])
        losers.append(j[keep])
    if not winners:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(winners), np.concatenate(losers)
