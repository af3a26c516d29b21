"""Per-arm evidence as arrays, shared by the policies (shapes ``(n,)``, aligned with the
candidates).

``target`` picks what counts as a success: ``"conversions"`` (at most one per decision,
the Bernoulli outcome the model predicts) or ``"reward"`` (the multi-objective reward sum,
each event clipped to its documented range by the engine). Successes are clipped to
``[0, impressions]`` so a Beta update stays valid when a conversion is attributed before
its impression arrives (the topics are read independently).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np

from model.bandit.base import PolicyConfigError
from state import ArmStats

__all__ = ["TARGETS", "ArmArrays", "check_target", "evidence", "posterior_means"]

TARGETS = ("conversions", "reward")


def check_target(target: str) -> None:
    if target not in TARGETS:
        raise PolicyConfigError(f"target must be one of {TARGETS}, got {target!r}")


class ArmArrays(Sequence[ArmStats]):
    """Per-candidate statistics held as arrays of shape ``(n,)``.

    The engine builds these from a user's (sparse) arms so that policies read arrays
    instead of looping over ``n`` ``ArmStats`` values per decision; it is still a
    ``Sequence[ArmStats]`` for code that indexes it. Items carry no ``last_seen_ms``
    (the counts are already as of the decision time). ``seen`` False promises all counts
    are zero (a user new to these candidates), which lets policies skip arithmetic.
    """

    __slots__ = ("conversions", "impressions", "reward_sum", "seen")

    def __init__(
        self,
        impressions: np.ndarray,
        conversions: np.ndarray,
        reward_sum: np.ndarray,
        *,
        seen: bool = True,
    ) -> None:
        self.impressions, self.conversions, self.reward_sum = impressions, conversions, reward_sum
        self.seen = seen

    def __len__(self) -> int:
        return len(self.impressions)

    @overload
    def __getitem__(self, index: int) -> ArmStats: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ArmStats]: ...
    def __getitem__(self, index: int | slice) -> ArmStats | Sequence[ArmStats]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return ArmStats(
            impressions=float(self.impressions[index]),
            conversions=float(self.conversions[index]),
            reward_sum=float(self.reward_sum[index]),
        )


def evidence(
    stats: Sequence[ArmStats], target: str = "conversions"
) -> tuple[np.ndarray, np.ndarray]:
    """``(impressions, successes)``, each of shape ``(n,)``, successes in [0, impressions]."""
    if isinstance(stats, ArmArrays):
        if not stats.seen:
            return stats.impressions, stats.impressions  # zeros, already in range
        raw = stats.reward_sum if target == "reward" else stats.conversions
        return stats.impressions, np.minimum(np.maximum(raw, 0.0), stats.impressions)
    impressions = np.fromiter((s.impressions for s in stats), float, len(stats))
    if target == "reward":
        raw = np.fromiter((s.reward_sum for s in stats), float, len(stats))
    else:
        raw = np.fromiter((s.conversions for s in stats), float, len(stats))
    return impressions, np.clip(raw, 0.0, impressions)


def posterior_means(
    stats: Sequence[ArmStats],
    scores: np.ndarray,
    prior_strength: float,
    target: str = "conversions",
) -> np.ndarray:
    """Conversion-rate estimate per arm: the model score acts as ``prior_strength``
    pseudo-impressions, then the user's own evidence is added. Shape ``(n,)``."""
    if isinstance(stats, ArmArrays) and not stats.seen:  # the same values: x + 0.0 == x
        return prior_strength * scores / prior_strength
    impressions, successes = evidence(stats, target)
    return (successes + prior_strength * scores) / (impressions + prior_strength)
