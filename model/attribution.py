"""One attribution rule for serving, training and evaluation: decision <-> impression <->
conversions, within the attribution window, with the reward weights.

The serving engine (``model.engine.Engine``) credits conversions with the pure functions
of :mod:`model.reward` on the user's state. :func:`attribute_log` replays a *log* through
the same functions on the same state, with the logged decisions in place of new ones, so
the label (``converted``) and the reward it gives every logged decision are what the
engine credited (or would have credited) to that decision:

- an impression marks its decision impressed (once; an impression of another arm than
  the decision's is refused, as the engine refuses it);
- a conversion of a kind with a weight is credited by ``decision_id``, else to the user's
  latest impression at or before it, within the window of the impression (or of the
  decision, when never impressed); a kind without a weight, a non-finite value, an
  orphan or a conversion credited before adds nothing;
- ``reward`` is the sum over the credited conversions of ``clip(weight * value, 0, cap)``;
  ``converted`` is True when one of them is a success kind;
- ``state_before`` is the user's state just before the decision (arm statistics decayed
  with the half-life, as the engine keeps them): what a model may see without the future.

The training dataset (``model.twotower.dataset``) and the evaluation feedback
(``model.evaluation.feedback``) both read their labels and rewards from here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from model.events import Conversion, Decision, DecisionRequest, Impression, LogEvent
from model.reward import (
    DEFAULT_ATTRIBUTION_WINDOW_SECONDS,
    DEFAULT_REWARD_WEIGHTS,
    already_credited,
    attribute,
    check_weights,
    credit,
    event_reward,
    impress,
    note_purchase,
)
from state import DecisionRecord, UserState, apply_decision, find_decision

__all__ = ["Attributed", "AttributionRule", "LogAttribution", "attribute_log", "event_order"]

_ORDER: dict[type, int] = {DecisionRequest: 0, Decision: 1, Impression: 2, Conversion: 3}


@dataclass(frozen=True)
class AttributionRule:
    """The settings of ``model.engine.EngineConfig`` that decide labels and rewards."""

    reward_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_REWARD_WEIGHTS)
    )
    success_kinds: frozenset[str] = frozenset({"purchase"})
    reward_cap: float = 1.0
    window_seconds: float = DEFAULT_ATTRIBUTION_WINDOW_SECONDS
    half_life_seconds: float | None = None
    purchase_kinds: frozenset[str] = frozenset({"purchase"})
    max_decisions_kept: int = 64

    def __post_init__(self) -> None:
        check_weights(self.reward_weights, self.reward_cap)
        if not self.window_seconds > 0:
            raise ValueError("window_seconds must be > 0")

    @classmethod
    def of(cls, config: Any) -> AttributionRule:
        """The rule of an engine's ``EngineConfig`` (or anything with its field names)."""
        return cls(
            reward_weights=dict(config.reward_weights),
            success_kinds=frozenset(config.success_kinds),
            reward_cap=config.reward_cap,
            window_seconds=config.attribution_window_seconds,
            half_life_seconds=config.half_life_seconds,
            purchase_kinds=frozenset(config.purchase_kinds),
            max_decisions_kept=config.max_decisions_kept,
        )

    @classmethod
    def only(cls, kind: str, **settings: Any) -> AttributionRule:
        """Reward 1 per unit ``value`` of ``kind`` only (``--reward click``)."""
        return cls(reward_weights={kind: 1.0}, success_kinds=frozenset({kind}), **settings)

    def describe(self) -> str:
        weights = ", ".join(f"{k} {w:g}" for k, w in sorted(self.reward_weights.items()))
        return (
            f"reward = sum of clip(weight x value, 0, {self.reward_cap:g}) per attributed "
            f"conversion; weights {weights}; window {self.window_seconds:g} s"
        )


@dataclass(frozen=True)
class Attributed:
    """One logged decision that showed an arm, with what was credited to it."""

    decision: Decision
    context: Mapping[str, Any]
    state_before: UserState
    impressed_ms: int | None = None
    converted: bool = False
    reward: float = 0.0


@dataclass
class LogAttribution:
    """Every decision with an arm (log order) and counts of what was not credited."""

    decisions: list[Attributed]
    skipped: Counter[str]


@dataclass
class _Pending:
    decision: Decision
    context: Mapping[str, Any]
    state_before: UserState
    impressed_ms: int | None = None
    converted: bool = False
    reward: float = 0.0


def event_order(events: Iterable[LogEvent]) -> list[LogEvent]:
    """Events by time; ties: request, decision, impression, conversion (stable)."""
    return sorted(events, key=lambda e: (e.ts, _ORDER[type(e)]))


def attribute_log(
    events: Iterable[LogEvent], rule: AttributionRule | None = None, *, ordered: bool = False
) -> LogAttribution:
    """Replay ``events`` (sorted by :func:`event_order` unless ``ordered``) through the
    engine's attribution; see the module docstring."""
    rule = rule or AttributionRule()
    join = _Join(rule)
    for event in events if ordered else event_order(events):
        join.apply(event)
    found = [
        Attributed(p.decision, p.context, p.state_before, p.impressed_ms, p.converted, p.reward)
        for p in join.pending.values()
    ]
    return LogAttribution(found, join.skipped)


class _Join:
    def __init__(self, rule: AttributionRule) -> None:
        self.rule = rule
        self.users: dict[str, UserState] = {}
        self.contexts: dict[str, Mapping[str, Any]] = {}
        self.pending: dict[str, _Pending] = {}
        self.skipped: Counter[str] = Counter()

    def apply(self, event: LogEvent) -> None:
        state = self.users.get(event.user_id) or UserState()
        if isinstance(event, DecisionRequest):
            self.contexts[event.event_id] = event.context
            return
        if isinstance(event, Decision):
            state = self._decide(state, event)
        elif isinstance(event, Impression):
            state = self._impress(state, event)
        else:
            state = self._convert(state, event)
        self.users[event.user_id] = state

    def _decide(self, state: UserState, decision: Decision) -> UserState:
        if decision.arm_id is None:
            self.skipped["no_nudge"] += 1
        elif decision.decision_id in self.pending:
            self.skipped["duplicate_decision"] += 1
            return state
        else:
            context = self.contexts.pop(decision.request_id, {})
            self.pending[decision.decision_id] = _Pending(decision, context, state)
        record = DecisionRecord(
            decision_id=decision.decision_id,
            request_id=decision.request_id,
            ts_ms=decision.ts,
            arm_id=decision.arm_id,
            propensity=decision.propensity,
            explored=decision.explored,
            policy=decision.policy,
            model_version=decision.model_version,
            score=decision.score,
            reason=decision.reason,
        )
        return apply_decision(state, record, self.rule.max_decisions_kept)

    def _impress(self, state: UserState, impression: Impression) -> UserState:
        record = find_decision(state, impression.decision_id)
        if record is None:  # the engine's rule: an orphan, not evidence for the arm
            self.skipped["impression_unknown_decision"] += 1
            return state
        if record.arm_id != impression.arm_id:
            self.skipped["impression_arm_mismatch"] += 1
            return state
        if record.impressed_ms is not None:
            self.skipped["impression_duplicate"] += 1
            return state
        pending = self.pending.get(impression.decision_id)
        if pending is not None:
            pending.impressed_ms = impression.ts
        return impress(state, record, impression, self.rule.half_life_seconds)

    def _convert(self, state: UserState, conversion: Conversion) -> UserState:
        rule = self.rule
        weight = rule.reward_weights.get(conversion.kind)
        reward = None if weight is None else event_reward(weight, conversion.value, rule.reward_cap)
        if reward is None:
            self.skipped["conversion_unknown_kind" if weight is None else "invalid_value"] += 1
            return state
        record = attribute(state, conversion, rule.window_seconds)
        if not isinstance(record, str) and already_credited(record, conversion):
            self.skipped["conversion_duplicate"] += 1
            return state
        state = note_purchase(state, conversion, rule.purchase_kinds)
        if isinstance(record, str):
            self.skipped[record] += 1
            return state
        success = conversion.kind in rule.success_kinds
        pending = self.pending.get(record.decision_id)
        if pending is not None:
            pending.reward += reward
            pending.converted = pending.converted or success
        return credit(state, record, conversion, reward, success, rule.half_life_seconds)
