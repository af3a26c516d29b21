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

import numpy as np

from model.bandit.base import PolicyConfigError
from state import ArmStats

__all__ = ["TARGETS", "check_target", "evidence", "posterior_means"]

TARGETS = ("conversions", "reward")


def check_target(target: str) -> None:
    if target not in TARGETS:
        raise PolicyConfigError(f"target must be one of {TARGETS}, got {target!r}")


def evidence(
    stats: Sequence[ArmStats], target: str = "conversions"
) -> tuple[np.ndarray, np.ndarray]:
    """``(impressions, successes)``, each of shape ``(n,)``, successes in [0, impressions]."""
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
    impressions, successes = evidence(stats, target)
    return (successes + prior_strength * scores) / (impressions + prior_strength)
