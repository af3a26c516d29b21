"""Multi-objective reward and its attribution to a decision (pure functions).

Reward: the reward of one conversion event is ``clip(weight[kind] * value, 0,
reward_cap)``, so it always lies in ``[0, reward_cap]`` (default cap 1.0: one purchase
is worth at most one unit). Weights must be finite and non-negative; a kind without a
weight is not a conversion this deployment knows (rejected, then dead-lettered).

Attribution: a conversion with a ``decision_id`` is credited to that decision's arm;
without one, to the user's latest impression at or before the conversion. Either way
the conversion must come within the attribution window of the impression (or of the
decision when it was never impressed). Otherwise it is an orphan with a reason:
``orphan_unknown_decision``, ``orphan_no_impression``, ``orphan_no_nudge`` (the decision
showed nothing) or ``orphan_outside_window``. A decision converts at most once: only
the first success-kind event adds to ``conversions``; every event adds its reward, once:
the decision remembers the ``event_id`` of the conversions credited to it (the newest
``MAX_CREDITED``), so the same conversion sent again at another offset (a repeated
replay, a producer's retry) is a duplicate, not a second reward.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec

from model.events import Conversion, Impression
from state import (
    DecisionRecord,
    UserState,
    apply_impression,
    apply_reward,
    find_decision,
    latest_impressed,
    replace_decision,
)

__all__ = [
    "DEFAULT_ATTRIBUTION_WINDOW_SECONDS",
    "DEFAULT_REWARD_WEIGHTS",
    "MAX_CREDITED",
    "already_credited",
    "attribute",
    "check_weights",
    "credit",
    "event_reward",
    "impress",
    "note_purchase",
]

DEFAULT_REWARD_WEIGHTS: Mapping[str, float] = {"click": 0.1, "dwell": 0.2, "purchase": 1.0}
DEFAULT_ATTRIBUTION_WINDOW_SECONDS = 7 * 24 * 3600.0  # serving, training and evaluation
MAX_CREDITED = 32  # conversion event ids remembered per decision


def check_weights(weights: Mapping[str, float], reward_cap: float) -> None:
    """Raise ValueError unless every weight is finite and >= 0 and the cap is > 0."""
    if not (math.isfinite(reward_cap) and reward_cap > 0):
        raise ValueError(f"reward_cap must be finite and > 0, got {reward_cap!r}")
    bad = {k: w for k, w in weights.items() if not (math.isfinite(w) and w >= 0)}
    if bad:
        raise ValueError(f"reward weights must be finite and >= 0, got {bad}")


def event_reward(weight: float, value: float, reward_cap: float) -> float | None:
    """Reward of one event in ``[0, reward_cap]``; None when ``value`` is not finite."""
    if not math.isfinite(value):
        return None
    return min(max(weight * value, 0.0), reward_cap)


def attribute(
    state: UserState, conversion: Conversion, window_seconds: float
) -> DecisionRecord | str:
    """The decision a conversion is credited to, or the reason it is an orphan."""
    if conversion.decision_id is not None:
        record = find_decision(state, conversion.decision_id)
        if record is None:
            return "orphan_unknown_decision"
    else:
        record = latest_impressed(state, at_ms=conversion.ts)
        if record is None:
            return "orphan_no_impression"
    if record.arm_id is None:
        return "orphan_no_nudge"
    if conversion.ts - (record.impressed_ms or record.ts_ms) > window_seconds * 1000:
        return "orphan_outside_window"
    return record


def credit(
    state: UserState,
    record: DecisionRecord,
    conversion: Conversion,
    reward: float,
    success: bool,
    half_life_seconds: float | None = None,
) -> UserState:
    """Add ``reward`` to the decision's arm; a ``success`` converts a decision once only.
    Check :func:`already_credited` first: crediting the same event twice counts twice."""
    if record.arm_id is None:
        raise ValueError("cannot credit a decision that showed no arm")
    converts = success and not record.converted
    new_state = apply_reward(
        state,
        record.arm_id,
        reward,
        conversion.ts,
        converted=converts,
        half_life_seconds=half_life_seconds,
    )
    credited = (*record.credited, conversion.event_id)[-MAX_CREDITED:]
    updated = msgspec.structs.replace(
        record, converted=record.converted or converts, credited=credited
    )
    return replace_decision(new_state, updated)


def already_credited(record: DecisionRecord, conversion: Conversion) -> bool:
    """True when this conversion event was credited to ``record`` before."""
    return conversion.event_id in record.credited


def note_purchase(
    state: UserState, conversion: Conversion, purchase_kinds: frozenset[str]
) -> UserState:
    """Start the cool-down on any purchase, attributed or orphan (latest time wins)."""
    if conversion.kind not in purchase_kinds:
        return state
    last = max(state.last_purchase_ms or conversion.ts, conversion.ts)
    return msgspec.structs.replace(state, last_purchase_ms=last)


def impress(
    state: UserState,
    record: DecisionRecord | None,
    impression: Impression,
    half_life_seconds: float | None = None,
) -> UserState:
    """Count the impression for its arm and mark the decision (when known) impressed."""
    new_state = apply_impression(
        state, impression.arm_id, impression.ts, half_life_seconds=half_life_seconds
    )
    if record is None:
        return new_state
    impressed = msgspec.structs.replace(record, impressed_ms=impression.ts)
    return replace_decision(new_state, impressed)
