"""Pure transitions of user state: each returns a new value, nothing is mutated."""

from __future__ import annotations

import math

import msgspec

from state.aggregate import decay
from state.stats import ArmStats, DecisionRecord, UserState

__all__ = [
    "already_applied",
    "apply_decision",
    "apply_impression",
    "impress_decision",
    "apply_reward",
    "decision_index",
    "find_decision",
    "latest_impressed",
    "mark_applied",
    "replace_decision",
]


_EMPTY = ArmStats()  # immutable, so one value serves every unseen arm


def already_applied(state: UserState, source: str, offset: int) -> bool:
    """True when the event at ``offset`` of ``source`` was applied to this user already."""
    return state.offsets.get(source, -1) >= offset


def mark_applied(state: UserState, source: str, offset: int) -> UserState:
    """Remember ``offset`` as the last one applied from ``source`` (never moves back)."""
    offset = max(offset, state.offsets.get(source, -1))
    return msgspec.structs.replace(state, offsets={**state.offsets, source: offset})


def _with_arm(state: UserState, arm_id: str, stats: ArmStats) -> UserState:
    return msgspec.structs.replace(state, arms={**state.arms, arm_id: stats})


def _current(
    state: UserState, arm_id: str, ts_ms: int, half_life_seconds: float | None
) -> ArmStats:
    """The arm's stats decayed to ``ts_ms`` (unchanged without a half-life)."""
    stats = state.arms.get(arm_id, _EMPTY)
    if half_life_seconds is None:  # the common case: skip decay's calls (factor 1)
        return stats
    return decay(stats, ts_ms, half_life_seconds)


def apply_impression(
    state: UserState, arm_id: str, ts_ms: int, *, half_life_seconds: float | None = None
) -> UserState:
    """Add one impression of ``arm_id`` at ``ts_ms`` (epoch ms).

    With ``half_life_seconds`` the old counts are first decayed to ``ts_ms``.
    """
    old = _current(state, arm_id, ts_ms, half_life_seconds)
    new = msgspec.structs.replace(
        old, impressions=old.impressions + 1, last_seen_ms=max(old.last_seen_ms, ts_ms)
    )
    return _with_arm(state, arm_id, new)


def apply_reward(
    state: UserState,
    arm_id: str,
    reward: float,
    ts_ms: int,
    *,
    converted: bool,
    half_life_seconds: float | None = None,
) -> UserState:
    """Credit ``reward`` to ``arm_id``; ``converted`` adds one to its conversions.

    With ``half_life_seconds`` the old counts are first decayed to ``ts_ms``.
    """
    if not math.isfinite(reward):
        raise ValueError(f"reward must be finite, got {reward!r}")
    old = _current(state, arm_id, ts_ms, half_life_seconds)
    new = msgspec.structs.replace(
        old,
        conversions=old.conversions + (1 if converted else 0),
        reward_sum=old.reward_sum + reward,
        last_seen_ms=max(old.last_seen_ms, ts_ms),
    )
    return _with_arm(state, arm_id, new)


def apply_decision(
    state: UserState,
    record: DecisionRecord,
    max_kept: int,
    *,
    applied: tuple[str, int] | None = None,
) -> UserState:
    """Remember ``record``, keeping the newest ``max_kept`` decisions; with
    ``applied = (source, offset)`` also :func:`mark_applied`, in the same new state."""
    kept = (*state.decisions, record)[-max_kept:]
    nudges = state.nudges_ms if record.arm_id is None else (*state.nudges_ms, record.ts_ms)
    if applied is None:
        return msgspec.structs.replace(state, decisions=kept, nudges_ms=nudges[-max_kept:])
    source, offset = applied
    offsets = state.offsets.copy()
    offsets[source] = max(offset, offsets.get(source, -1))
    return msgspec.structs.replace(
        state, offsets=offsets, decisions=kept, nudges_ms=nudges[-max_kept:]
    )


def decision_index(state: UserState, decision_id: str) -> int:
    """Position of the decision ``decision_id`` in ``state.decisions``; -1 when not kept.
    Newest first: impressions and conversions mostly follow their decision closely."""
    decisions = state.decisions
    for index in range(len(decisions) - 1, -1, -1):
        if decisions[index].decision_id == decision_id:
            return index
    return -1


def impress_decision(
    state: UserState,
    index: int,
    ts_ms: int,
    *,
    half_life_seconds: float | None = None,
    applied: tuple[str, int] | None = None,
) -> UserState:
    """Impress the decision at ``index`` of ``state.decisions`` at ``ts_ms``: one
    impression of its arm (:func:`apply_impression`) and the decision marked impressed;
    with ``applied = (source, offset)`` also :func:`mark_applied`. The same value as
    those transitions in turn, built as one new state (an impression is the most
    frequent event: this is its whole state change)."""
    decisions = state.decisions
    record = decisions[index]
    arm_id = record.arm_id
    if arm_id is None:
        raise ValueError("cannot impress a decision that showed no arm")
    old = _current(state, arm_id, ts_ms, half_life_seconds)
    arms = state.arms.copy()
    arms[arm_id] = msgspec.structs.replace(
        old, impressions=old.impressions + 1, last_seen_ms=max(old.last_seen_ms, ts_ms)
    )
    impressed = msgspec.structs.replace(record, impressed_ms=ts_ms)
    decisions = decisions[:index] + (impressed,) + decisions[index + 1 :]
    if applied is None:
        return msgspec.structs.replace(state, arms=arms, decisions=decisions)
    source, offset = applied
    offsets = state.offsets.copy()
    offsets[source] = max(offset, offsets.get(source, -1))
    return msgspec.structs.replace(state, arms=arms, offsets=offsets, decisions=decisions)


def find_decision(state: UserState, decision_id: str) -> DecisionRecord | None:
    for record in reversed(state.decisions):
        if record.decision_id == decision_id:
            return record
    return None


def latest_impressed(state: UserState, at_ms: int | None = None) -> DecisionRecord | None:
    """The most recently impressed decision, if any; with ``at_ms`` only impressions at or
    before that time count (a conversion is never credited to a later impression)."""
    impressed = [
        r
        for r in state.decisions
        if r.impressed_ms is not None and (at_ms is None or r.impressed_ms <= at_ms)
    ]
    return max(impressed, key=lambda r: r.impressed_ms or 0, default=None)


def replace_decision(state: UserState, record: DecisionRecord) -> UserState:
    """Swap the stored record with the same ``decision_id`` for ``record``."""
    decisions = tuple(record if r.decision_id == record.decision_id else r for r in state.decisions)
    return msgspec.structs.replace(state, decisions=decisions)
