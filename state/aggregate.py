"""Time decay and pooling of arm statistics (pure functions on :class:`ArmStats`).

Decay semantics: an ``ArmStats`` value holds its counts *as of* ``last_seen_ms``.
``decay(stats, now_ms, half_life_seconds)`` gives the counts as of ``now_ms``: every
count is multiplied by ``0.5 ** (elapsed_seconds / half_life_seconds)``, where
``elapsed_seconds = max(now_ms - last_seen_ms, 0) / 1000``. Decaying never moves
``last_seen_ms``, so a decayed value is a read-only view; the transitions that store
state decay to the event time first and then add the event (``apply_*`` with
``half_life_seconds``), which keeps "counts as of last_seen_ms" true.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from state.stats import ArmStats

__all__ = ["decay", "decay_factor", "merge", "merge_all", "merge_arms"]


def decay_factor(elapsed_ms: float, half_life_seconds: float | None) -> float:
    """Multiplier in (0, 1] for counts that aged ``elapsed_ms`` (negative ages count as 0).

    ``half_life_seconds=None`` disables decay (factor 1).
    """
    if half_life_seconds is None or elapsed_ms <= 0:
        return 1.0
    if not half_life_seconds > 0:
        raise ValueError(f"half_life_seconds must be > 0, got {half_life_seconds!r}")
    return math.pow(0.5, elapsed_ms / 1000.0 / half_life_seconds)


def _scaled(stats: ArmStats, factor: float) -> ArmStats:
    if factor == 1.0:
        return stats
    return ArmStats(
        impressions=stats.impressions * factor,
        conversions=stats.conversions * factor,
        reward_sum=stats.reward_sum * factor,
        last_seen_ms=stats.last_seen_ms,
    )


def decay(stats: ArmStats, now_ms: int, half_life_seconds: float | None) -> ArmStats:
    """Counts of ``stats`` as of ``now_ms`` (epoch ms), halved every ``half_life_seconds``."""
    return _scaled(stats, decay_factor(now_ms - stats.last_seen_ms, half_life_seconds))


def merge(a: ArmStats, b: ArmStats, half_life_seconds: float | None = None) -> ArmStats:
    """Pool two statistics of the same arm (e.g. two users, or two partitions).

    Counts add and ``last_seen_ms`` is the later one. With a half-life, both sides are
    first decayed to that later time, so the result is again "as of last_seen_ms".
    ``merge`` is commutative, associative (up to float rounding) and ``ArmStats()`` is
    its identity.
    """
    now_ms = max(a.last_seen_ms, b.last_seen_ms)
    a, b = decay(a, now_ms, half_life_seconds), decay(b, now_ms, half_life_seconds)
    return ArmStats(
        impressions=a.impressions + b.impressions,
        conversions=a.conversions + b.conversions,
        reward_sum=a.reward_sum + b.reward_sum,
        last_seen_ms=now_ms,
    )


def merge_all(stats: Iterable[ArmStats], half_life_seconds: float | None = None) -> ArmStats:
    """Fold :func:`merge` over ``stats``; an empty iterable gives ``ArmStats()``."""
    total = ArmStats()
    for item in stats:
        total = merge(total, item, half_life_seconds)
    return total


def merge_arms(
    a: Mapping[str, ArmStats], b: Mapping[str, ArmStats], half_life_seconds: float | None = None
) -> dict[str, ArmStats]:
    """Pool per-arm statistics (``arm_id -> ArmStats``), e.g. a user into the population."""
    pooled = dict(a)
    for arm_id, stats in b.items():
        pooled[arm_id] = merge(pooled.get(arm_id, ArmStats()), stats, half_life_seconds)
    return pooled
