"""The pure step: ``(user state, event) -> (user state, decision | None, outcome)``.

The Faust agent, offline replay and unit tests all call ``Engine.step``; nothing here
knows about Kafka. Redelivered events are recognised by the source offset stored in
the user's state and change nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec
import numpy as np

from model.bandit import Policy
from model.catalog import Catalog
from model.events import SCHEMA_VERSION, Conversion, Decision, DecisionRequest, Event, Impression
from model.scoring import Scorer
from state import (
    ArmStats,
    DecisionRecord,
    UserState,
    already_applied,
    apply_decision,
    apply_impression,
    apply_reward,
    find_decision,
    latest_impressed,
    mark_applied,
    replace_decision,
)

__all__ = [
    "Engine",
    "EngineConfig",
    "Outcome",
    "Source",
    "StepResult",
    "decision_id_for",
    "rng_for",
]


class Outcome(StrEnum):
    DECIDED = "decided"
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    ORPHAN = "orphan"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Source:
    """Where an event came from: its partition is the unit of ordering and idempotency."""

    topic: str
    partition: int
    offset: int

    @property
    def key(self) -> str:
        return f"{self.topic}/{self.partition}"


@dataclass(frozen=True)
class StepResult:
    state: UserState
    outcome: Outcome
    decision: Decision | None = None
    reason: str | None = None


@dataclass(frozen=True)
class EngineConfig:
    """Reward and attribution settings.

    reward_weights: reward per unit ``value`` of each conversion kind; kinds not listed
        are rejected. The reward of one event is clipped to ``[0, reward_cap]``.
    success_kinds: kinds that mark a decision as converted (counted once per decision).
    """

    reward_weights: Mapping[str, float] = field(
        default_factory=lambda: {"click": 0.1, "dwell": 0.2, "purchase": 1.0}
    )
    success_kinds: frozenset[str] = frozenset({"purchase"})
    reward_cap: float = 1.0
    attribution_window_seconds: float = 7 * 24 * 3600
    max_decisions_kept: int = 64

    def __post_init__(self) -> None:
        if self.reward_cap <= 0:
            raise ValueError("reward_cap must be > 0")
        if self.attribution_window_seconds <= 0:
            raise ValueError("attribution_window_seconds must be > 0")
        if not self.success_kinds <= set(self.reward_weights):
            raise ValueError("every success kind needs a reward weight")
        if self.max_decisions_kept < 1:
            raise ValueError("max_decisions_kept must be >= 1")


def decision_id_for(request_id: str) -> str:
    """Deterministic: the same request always gets the same decision id."""
    return "d-" + hashlib.blake2b(request_id.encode(), digest_size=12).hexdigest()


def rng_for(event_id: str) -> np.random.Generator:
    """A generator seeded from the request, so a redelivered request draws the same arm."""
    seed = int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")
    return np.random.default_rng(seed)


class Engine:
    """Decides and learns for one user at a time. Swap ``scorer``/``catalog`` atomically by
    building a new engine with :meth:`with_scorer` / :meth:`with_catalog`."""

    def __init__(
        self,
        catalog: Catalog,
        policy: Policy,
        scorer: Scorer,
        config: EngineConfig | None = None,
    ) -> None:
        self.catalog = catalog
        self.policy = policy
        self.scorer = scorer
        self.config = config or EngineConfig()

    def with_scorer(self, scorer: Scorer) -> Engine:
        return Engine(self.catalog, self.policy, scorer, self.config)

    def with_catalog(self, catalog: Catalog) -> Engine:
        return Engine(catalog, self.policy, self.scorer, self.config)

    def step(self, state: UserState, event: Event, source: Source | None = None) -> StepResult:
        if source is not None and already_applied(state, source.key, source.offset):
            return self._redelivered(state, event)
        if isinstance(event, DecisionRequest):
            result = self._decide(state, event)
        elif isinstance(event, Impression):
            result = self._impress(state, event)
        else:
            result = self._convert(state, event)
        if source is not None and result.outcome is not Outcome.REJECTED:
            applied = mark_applied(result.state, source.key, source.offset)
            result = StepResult(applied, result.outcome, result.decision, result.reason)
        return result

    # -- requests -------------------------------------------------------------------------

    def _decide(self, state: UserState, request: DecisionRequest) -> StepResult:
        candidates = self._candidates(request)
        if isinstance(candidates, str):
            return StepResult(state, Outcome.REJECTED, reason=candidates)
        if not candidates:
            record = self._no_nudge(request, "no_eligible_arm")
        else:
            record = self._choose(state, request, candidates)
        new_state = apply_decision(state, record, self.config.max_decisions_kept)
        return StepResult(new_state, Outcome.DECIDED, self._decision(request, record))

    def _candidates(self, request: DecisionRequest) -> list[str] | str:
        if request.candidates is None:
            return list(self.catalog.active_ids)
        if self.catalog.unknown(request.candidates):
            return "unknown_arm"
        retired = self.catalog.retired
        return list(dict.fromkeys(a for a in request.candidates if a not in retired))

    def _choose(
        self, state: UserState, request: DecisionRequest, candidates: list[str]
    ) -> DecisionRecord:
        scores = np.asarray(self.scorer.score(request.context, state, candidates), float)
        stats = [state.arms.get(a, ArmStats()) for a in candidates]
        choice = self.policy.choose(stats, scores, candidates, rng_for(request.event_id))
        return DecisionRecord(
            decision_id=decision_id_for(request.event_id),
            request_id=request.event_id,
            ts_ms=request.ts,
            arm_id=candidates[choice.index],
            propensity=choice.propensity,
            explored=choice.explored,
            policy=self.policy.name,
            model_version=self.scorer.version,
            score=float(scores[choice.index]),
        )

    def _no_nudge(self, request: DecisionRequest, reason: str) -> DecisionRecord:
        return DecisionRecord(
            decision_id=decision_id_for(request.event_id),
            request_id=request.event_id,
            ts_ms=request.ts,
            policy=self.policy.name,
            model_version=self.scorer.version,
            reason=reason,
        )

    def _decision(self, request: DecisionRequest, record: DecisionRecord) -> Decision:
        arm = self.catalog.arm(record.arm_id) if record.arm_id in self.catalog else None
        return Decision(
            schema_version=SCHEMA_VERSION,
            event_id=record.decision_id,
            ts=request.ts,
            user_id=request.user_id,
            decision_id=record.decision_id,
            request_id=record.request_id,
            arm_id=record.arm_id,
            product_id=arm.product.product_id if arm else None,
            strategy_id=arm.strategy.strategy_id if arm else None,
            propensity=record.propensity,
            explored=record.explored,
            policy=record.policy,
            model_version=record.model_version,
            score=record.score,
            reason=record.reason,
        )

    def _redelivered(self, state: UserState, event: Event) -> StepResult:
        """Answer a redelivered request with its stored decision; ignore other repeats."""
        if isinstance(event, DecisionRequest):
            record = find_decision(state, decision_id_for(event.event_id))
            if record is not None:
                return StepResult(state, Outcome.DUPLICATE, self._decision(event, record))
        return StepResult(state, Outcome.DUPLICATE)

    # -- outcomes -------------------------------------------------------------------------

    def _impress(self, state: UserState, impression: Impression) -> StepResult:
        if impression.arm_id not in self.catalog:
            return StepResult(state, Outcome.REJECTED, reason="unknown_arm")
        record = find_decision(state, impression.decision_id)
        if record is not None and record.arm_id != impression.arm_id:
            return StepResult(state, Outcome.REJECTED, reason="arm_mismatch")
        new_state = apply_impression(state, impression.arm_id, impression.ts)
        if record is not None and record.impressed_ms is None:
            impressed = msgspec.structs.replace(record, impressed_ms=impression.ts)
            new_state = replace_decision(new_state, impressed)
        return StepResult(new_state, Outcome.APPLIED)

    def _convert(self, state: UserState, conversion: Conversion) -> StepResult:
        weight = self.config.reward_weights.get(conversion.kind)
        if weight is None:
            return StepResult(state, Outcome.REJECTED, reason="unknown_conversion_kind")
        record = self._attribute(state, conversion)
        if isinstance(record, str):
            return StepResult(state, Outcome.ORPHAN, reason=record)
        reward = min(max(weight * conversion.value, 0.0), self.config.reward_cap)
        success = conversion.kind in self.config.success_kinds and not record.converted
        assert record.arm_id is not None
        new_state = apply_reward(state, record.arm_id, reward, conversion.ts, converted=success)
        if success:
            converted = msgspec.structs.replace(record, converted=True)
            new_state = replace_decision(new_state, converted)
            new_state = msgspec.structs.replace(new_state, last_purchase_ms=conversion.ts)
        return StepResult(new_state, Outcome.APPLIED)

    def _attribute(self, state: UserState, conversion: Conversion) -> DecisionRecord | str:
        """The decision a conversion is credited to, or the reason it is an orphan."""
        if conversion.decision_id is not None:
            record = find_decision(state, conversion.decision_id)
            if record is None:
                return "orphan_unknown_decision"
        else:
            record = latest_impressed(state)
            if record is None:
                return "orphan_no_impression"
        if record.arm_id is None:
            return "orphan_no_nudge"
        window_ms = self.config.attribution_window_seconds * 1000
        if conversion.ts - (record.impressed_ms or record.ts_ms) > window_ms:
            return "orphan_outside_window"
        return record
