"""Value types of per-user bandit state.

All of a user's arms live in one value (one RocksDB key per user): reading a user's
arms is then one get, which measured 16x cheaper than a key per arm (DESIGN §5).

Compatibility rule of the stored format (``state.codec``): fields are only ever added,
each with a default, and never renamed or retyped, so every state written before still
decodes (pinned by a golden-bytes test).
"""

from __future__ import annotations

import msgspec

__all__ = ["ArmStats", "DecisionRecord", "UserState"]


# gc=False: these values hold only numbers, strings and tuples of strings, so they can
# never be part of a reference cycle; untracked, they cost the collector nothing.
class ArmStats(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """What one user has seen of one arm.

    Counts are floats so that exponential time decay can shrink them.
    ``conversions`` counts decisions that converted (at most one per decision);
    ``reward_sum`` is the weighted multi-objective reward of every attributed event.
    """

    impressions: float = 0.0
    conversions: float = 0.0
    reward_sum: float = 0.0
    last_seen_ms: int = 0


class DecisionRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """A decision kept in the user's state for attribution and redelivery.

    A redelivered request is answered from this record, so the same request always
    yields the same decision even after the state moved on.
    """

    decision_id: str
    request_id: str
    ts_ms: int
    arm_id: str | None = None
    propensity: float = 1.0
    explored: bool = False
    policy: str = ""
    model_version: str = ""
    score: float = 0.0
    reason: str | None = None
    impressed_ms: int | None = None
    converted: bool = False
    credited: tuple[str, ...] = ()  # event ids of the conversions credited to it, newest last


class UserState(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Everything the worker keeps about one user.

    ``offsets`` maps a source ``"topic/partition"`` to the last offset applied to this
    user, which makes replays after a crash harmless (at-least-once delivery).
    ``decisions`` is bounded and ordered oldest first.
    """

    arms: dict[str, ArmStats] = {}
    offsets: dict[str, int] = {}
    decisions: tuple[DecisionRecord, ...] = ()
    nudges_ms: tuple[int, ...] = ()
    last_purchase_ms: int | None = None
