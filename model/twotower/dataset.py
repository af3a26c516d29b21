"""Training examples from the event log: decisions joined to impressions and outcomes.

One example per *impressed* decision: the request's context, the user's state as it was
just before the decision (no feature sees the future), the arm shown, the propensity and
whether the decision came from a randomized policy. The join is the one attribution rule
of :mod:`model.attribution`, the serving engine's: the label is 1 when a success-kind
conversion was credited to the decision (within the window, by ``decision_id`` or to the
user's latest impression), ``reward`` the weighted reward credited to it, and the state
is the engine's (arm statistics with impressions, rewards and the half-life decay).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from model.attribution import AttributionRule, attribute_log
from model.catalog import Catalog
from model.events import LogEvent
from model.features import FeatureSpec
from state import UserState

__all__ = [
    "LABELS",
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
LABELS = {
    "success": "1 when a success kind ({kinds}) was credited to the decision",
    "reward": "1 when the decision earned a reward > 0 ({weights})",
}


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
    reward: float = 0.0


def build_examples(
    events: Iterable[LogEvent],
    *,
    rule: AttributionRule | None = None,
    success_kinds: frozenset[str] | None = None,
    attribution_window_seconds: float | None = None,
    randomized_policies: frozenset[str] = RANDOMIZED_POLICIES,
    label: str = "success",
) -> list[Example]:
    """Join a log (any order; sorted here by time) into examples, oldest first.

    ``rule`` is the attribution rule (default: the engine's defaults); the keyword
    ``success_kinds`` / ``attribution_window_seconds`` override its fields. ``label``
    (:data:`LABELS`): ``"success"`` labels 1 a decision credited a success kind,
    ``"reward"`` one credited any reward (a click, with the engine's weights)."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
    rule = _rule(rule, success_kinds, attribution_window_seconds)
    found = attribute_log(events, rule).decisions
    examples = [
        Example(
            user_id=a.decision.user_id,
            ts_ms=a.decision.ts,
            decision_id=a.decision.decision_id,
            arm_id=a.decision.arm_id or "",
            context=a.context,
            state=a.state_before,
            label=int(a.converted if label == "success" else a.reward > 0),
            propensity=a.decision.propensity,
            randomized=a.decision.policy in randomized_policies,
            reward=a.reward,
        )
        for a in found
        if a.impressed_ms is not None
    ]
    return sorted(examples, key=lambda e: (e.ts_ms, e.decision_id))


def _rule(
    rule: AttributionRule | None,
    success_kinds: frozenset[str] | None,
    window_seconds: float | None,
) -> AttributionRule:
    rule = rule or AttributionRule()
    changes: dict[str, Any] = {}
    if success_kinds is not None:
        weights = dict(rule.reward_weights)
        for kind in success_kinds - weights.keys():
            weights[kind] = 1.0
        changes.update(success_kinds=frozenset(success_kinds), reward_weights=weights)
    if window_seconds is not None:
        changes["window_seconds"] = window_seconds
    return replace(rule, **changes) if changes else rule


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
