"""The policy interface: every bandit policy answers ``choose`` with a propensity.

A policy is an immutable, validated value (a frozen dataclass) with two verbs:

- ``choose(stats, scores, candidates, rng, *, context=None) -> Choice``: one decision;
- ``probabilities(stats, scores, candidates, rng, *, context=None) -> np.ndarray``: the
  full distribution over candidates, shape ``(n,)``, summing to 1, computed exactly
  (Thompson integrates P(arm has the largest draw) numerically; see ``beta_race``);
  ``choose`` draws one uniform from ``rng`` and picks from exactly this vector.

``context`` carries what some policies need beyond the statistics: the request's user
features (rule-based), pooled population statistics (Thompson) and whether a trained
model produced ``scores``. Policies that don't need it ignore it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import msgspec
import numpy as np

from model.bandit.draws import Draws
from state import ArmStats

__all__ = [
    "Choice",
    "Policy",
    "PolicyConfigError",
    "PolicyContext",
    "check_inputs",
    "mix_uniform",
    "sample_index",
]


# the reductions themselves: ndarray.min/max go through two Python wrappers per call
reduce_min, reduce_max = np.minimum.reduce, np.maximum.reduce


class PolicyConfigError(ValueError):
    """A policy was built with parameters outside their valid range."""


# Choice and PolicyContext are built once per decision: frozen msgspec Structs construct
# in about a fifth of a frozen dataclass's time, with the same immutability and equality.
class Choice(msgspec.Struct, frozen=True):
    """``index`` points into the candidates; ``propensity`` is P(policy picks it) in (0, 1].

    ``policy`` names the sub-policy that served the decision when it differs from the
    policy's own name (the randomized slice marks its share ``"uniform-slice"``).
    """

    index: int
    propensity: float
    explored: bool
    policy: str | None = None


class PolicyContext(msgspec.Struct, frozen=True):
    """Extra inputs of one decision.

    features: the request's user context (e.g. ``segment``, ``risk_tolerance``).
    population: pooled statistics of all users per candidate, aligned with candidates,
        or None when the caller keeps none.
    model_loaded: False while ``scores`` come from a placeholder (constant) scorer; a
        policy may then centre its prior on population statistics instead.
    prior_strength: per-candidate strength of the prior centred on ``scores``
        (pseudo-impressions), shape ``(n,)``, from a model that knows its own uncertainty
        (``model.online``); None: the policy's own ``prior_strength``.
    """

    features: Mapping[str, Any] = msgspec.field(default_factory=dict)
    population: Sequence[ArmStats] | None = None
    model_loaded: bool = True
    prior_strength: np.ndarray | None = None


class Policy(Protocol):
    @property
    def name(self) -> str: ...

    def choose(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> Choice:
        """Pick one of ``candidates``.

        stats: the user's statistics per candidate, aligned with ``candidates``.
        scores: predicted conversion probability per candidate, shape ``(n,)``.
        """
        ...

    def probabilities(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> np.ndarray:
        """P(choose candidate i) for every candidate, shape ``(n,)``, summing to 1."""
        ...


def check_inputs(
    stats: Sequence[ArmStats], scores: np.ndarray, candidates: Sequence[str]
) -> np.ndarray:
    """Validate aligned inputs; return ``scores`` as floats clipped to [0, 1], shape ``(n,)``."""
    n = len(candidates)
    if n == 0:
        raise ValueError("no candidates to choose from")
    scores = np.asarray(scores, dtype=float)
    if scores.shape != (n,) or len(stats) != n:
        raise ValueError(f"stats {len(stats)} and scores {scores.shape} must align with {n} arms")
    # two reductions answer the common case (already in [0, 1], so finite) without a copy;
    # a NaN fails both comparisons
    if reduce_min(scores) >= 0.0 and reduce_max(scores) <= 1.0:
        return scores
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")
    return np.minimum(np.maximum(scores, 0.0), 1.0)


def mix_uniform(p: np.ndarray, share: float) -> np.ndarray:
    """``share`` of the mass spread uniformly: every arm then has at least ``share / n``."""
    return share / len(p) + (1.0 - share) * p


def sample_index(p: np.ndarray, rng: Draws) -> int:
    """Draw an index from the distribution ``p`` (shape ``(n,)``) with one uniform draw.

    Arms of zero mass are never drawn (``side="right"`` skips empty intervals).
    """
    return sample_cumulative(p, p.cumsum(), rng)


def sample_cumulative(p: np.ndarray, cumulative: np.ndarray, rng: Draws) -> int:
    """:func:`sample_index` given ``cumulative = p.cumsum()`` (kept with a memoised ``p``)."""
    index = int(cumulative.searchsorted(rng.random() * cumulative[-1], side="right"))
    if index >= len(p):  # u * total rounded up to the total: take the last arm with mass
        index = int(np.flatnonzero(p > 0)[-1])
    return index


def best_indices(values: np.ndarray) -> np.ndarray:
    """Indices of the maximal entries of ``values`` (ties kept), shape ``(k,)``."""
    return (values == reduce_max(values)).nonzero()[0]


def is_best(values: np.ndarray, index: int) -> bool:
    """``index in best_indices(values)``, without building the index set."""
    return bool(values[index] == reduce_max(values))


def greedy_distribution(values: np.ndarray) -> np.ndarray:
    """Uniform over the argmax set of ``values``, zero elsewhere; shape ``(n,)``."""
    best = best_indices(values)
    p = np.zeros(len(values))
    p[best] = 1.0 / len(best)
    return p


__all__ += ["best_indices", "greedy_distribution", "is_best", "reduce_max", "reduce_min"]
__all__ += ["sample_cumulative"]
