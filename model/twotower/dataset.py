"""Training examples from the event log: decisions joined to impressions and outcomes.

One example per *impressed* decision: the request's context, the user's state as it was
just before the decision (rebuilt by replaying the user's earlier impressions and
conversions through the pure ``state`` transitions, so no feature sees the future), the
arm shown, the propensity and whether the decision came from a randomized policy. The
label is 1 when a success-kind conversion was attributed to the decision within the
attribution window (by ``decision_id``, else to the user's latest impression before it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from model.catalog import Catalog
from model.events import Conversion, Decision, DecisionRequest, Impression, LogEvent
from model.features import FeatureSpec
from state import UserState, apply_impression, apply_reward

__all__ = [
    "RANDOMIZED_POLICIES",
    "EncodedExamples",
    "Example",
    "build_examples",
    "data_range",
    "encode_examples",
    "split_by_time",
    "split_by_user",
]

RANDOMIZED_POLICIES = frozenset({"uniform", "uniform-slice"})
_ORDER: dict[type, int] = {DecisionRequest: 0, Decision: 1, Impression: 2, Conversion: 3}


@dataclass(frozen=True)
class Example:
    user_id: str
    ts_ms: int
    decision_id: str
    arm_id: str
    context: Mapping[str, Any]
    state: UserState
    label: int
    propensity: float = 1.0
    randomized: bool = False


@dataclass
class _Pending:
    example: Example
    impressed_ms: int
    converted: bool = False


@dataclass
class _User:
    state: UserState = field(default_factory=UserState)
    latest: _Pending | None = None


def build_examples(
    events: Iterable[LogEvent],
    *,
    success_kinds: frozenset[str] = frozenset({"purchase"}),
    attribution_window_seconds: float = 7 * 24 * 3600,
    randomized_policies: frozenset[str] = RANDOMIZED_POLICIES,
) -> list[Example]:
    """Join a log (any order; sorted here by time) into examples, oldest first."""
    ordered = sorted(events, key=lambda e: (e.ts, _ORDER[type(e)]))
    window_ms = attribution_window_seconds * 1000
    contexts: dict[str, Mapping[str, Any]] = {}
    decisions: dict[str, Decision] = {}
    pending: dict[str, _Pending] = {}
    users: dict[str, _User] = {}
    for event in ordered:
        user = users.setdefault(event.user_id, _User())
        if isinstance(event, DecisionRequest):
            contexts[event.event_id] = event.context
        elif isinstance(event, Decision):
            if event.arm_id is not None:
                decisions[event.decision_id] = event
        elif isinstance(event, Impression):
            decision = decisions.pop(event.decision_id, None)
            if decision is None or decision.arm_id != event.arm_id:
                continue
            context = contexts.pop(decision.request_id, {})
            example = _example(decision, context, user.state, randomized_policies)
            user.latest = pending[decision.decision_id] = _Pending(example, event.ts)
            user.state = apply_impression(user.state, event.arm_id, event.ts)
        elif event.kind in success_kinds:
            _convert(event, user, pending, window_ms)
    return sorted(
        (_labelled(p.example, p.converted) for p in pending.values()),
        key=lambda e: (e.ts_ms, e.decision_id),
    )


def _example(
    decision: Decision, context: Mapping[str, Any], state: UserState, randomized: frozenset[str]
) -> Example:
    assert decision.arm_id is not None
    return Example(
        user_id=decision.user_id,
        ts_ms=decision.ts,
        decision_id=decision.decision_id,
        arm_id=decision.arm_id,
        context=context,
        state=state,
        label=0,
        propensity=decision.propensity,
        randomized=decision.policy in randomized,
    )


def _convert(
    event: Conversion, user: _User, pending: dict[str, _Pending], window_ms: float
) -> None:
    target = pending.get(event.decision_id) if event.decision_id else user.latest
    if target is None or target.converted or event.ts - target.impressed_ms > window_ms:
        return
    if event.ts < target.impressed_ms:
        return
    target.converted = True
    user.state = apply_reward(user.state, target.example.arm_id, 1.0, event.ts, converted=True)


def _labelled(example: Example, converted: bool) -> Example:
    """The example with its final label."""
    return replace(example, label=int(converted))


def data_range(examples: list[Example]) -> dict[str, Any]:
    """What an artifact records about its training data."""
    ts = [e.ts_ms for e in examples]
    return {
        "examples": len(examples),
        "positives": int(sum(e.label for e in examples)),
        "randomized": int(sum(e.randomized for e in examples)),
        "users": len({e.user_id for e in examples}),
        "first_ts_ms": min(ts, default=None),
        "last_ts_ms": max(ts, default=None),
    }


def split_by_time(examples: list[Example], holdout: float) -> tuple[list[Example], list[Example]]:
    """The newest ``holdout`` share (by decision time) is held out."""
    ordered = sorted(examples, key=lambda e: e.ts_ms)
    cut = len(ordered) - round(holdout * len(ordered))
    return ordered[:cut], ordered[cut:]


def split_by_user(
    examples: list[Example], holdout: float, salt: str = ""
) -> tuple[list[Example], list[Example]]:
    """Users whose salted hash falls below ``holdout`` are held out, all their examples."""

    def held(user_id: str) -> bool:
        digest = hashlib.blake2b(f"{salt}{user_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < holdout

    train = [e for e in examples if not held(e.user_id)]
    return train, [e for e in examples if held(e.user_id)]


@dataclass(frozen=True)
class EncodedExamples:
    """Arrays for training and evaluation; n examples, k distinct arms.

    users (n, user_dim), arm_index (n,) into arms (k, arm_dim) and arms_hidden (k,
    arm_dim) (ids masked, for id dropout), labels (n,), propensity (n,), randomized
    (n,), product (n,) and strategy (n,) integer codes.
    """

    users: np.ndarray
    arm_index: np.ndarray
    arms: np.ndarray
    arms_hidden: np.ndarray
    labels: np.ndarray
    propensity: np.ndarray
    randomized: np.ndarray
    product: np.ndarray
    strategy: np.ndarray
    arm_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


def encode_examples(
    examples: list[Example], spec: FeatureSpec, catalog: Catalog
) -> EncodedExamples:
    """Encode examples whose arm is in ``catalog`` (others are skipped)."""
    kept = [e for e in examples if e.arm_id in catalog]
    arm_ids = tuple(sorted({e.arm_id for e in kept}))
    position = {a: i for i, a in enumerate(arm_ids)}
    arms = [catalog.arm(a) for a in arm_ids]
    products = {p: i for i, p in enumerate(sorted({a.product.product_id for a in arms}))}
    strategies = {s: i for i, s in enumerate(sorted({a.strategy.strategy_id for a in arms}))}
    shown = [catalog.arm(e.arm_id) for e in kept]
    return EncodedExamples(
        users=spec.encode_users([e.context for e in kept], [e.state for e in kept]),
        arm_index=np.asarray([position[e.arm_id] for e in kept], dtype=np.int64),
        arms=spec.encode_arms(arms),
        arms_hidden=spec.encode_arms(arms, hide_ids=True),
        labels=np.asarray([e.label for e in kept], dtype=np.float32),
        propensity=np.asarray([e.propensity for e in kept], dtype=np.float32),
        randomized=np.asarray([e.randomized for e in kept], dtype=bool),
        product=np.asarray([products[a.product.product_id] for a in shown], dtype=np.int64),
        strategy=np.asarray([strategies[a.strategy.strategy_id] for a in shown], dtype=np.int64),
        arm_ids=arm_ids,
    )
