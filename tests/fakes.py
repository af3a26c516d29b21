"""Shared fakes for the pure core: a fake clock, a small catalog, a table scorer, an
event factory that numbers offsets like a partition, and a seeded Bernoulli bandit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.bandit import Policy, PolicyContext
from model.catalog import Arm, Catalog, Product, Strategy
from model.engine import Source
from model.events import SCHEMA_VERSION, Conversion, DecisionRequest, Impression
from state import ArmStats, UserState

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
T0_MS = 1_700_000_000_000


@dataclass
class FakeClock:
    """Event time in epoch milliseconds, moved by hand."""

    now_ms: int = T0_MS

    def advance(self, seconds: float) -> int:
        self.now_ms += int(seconds * 1000)
        return self.now_ms


def small_catalog() -> Catalog:
    """3 products (risk 1 savings, 3 investment, 4 credit) x 2 strategies = 6 arms."""
    products = [
        Product("savings", "savings", 0.03, 1),
        Product("fund", "investment", 0.07, 3),
        Product("loan", "credit", 0.0, 4),
    ]
    strategies = [
        Strategy("default", "decision_structure", is_default=True),
        Strategy("peers", "social_appeal", social_proof=True),
    ]
    return Catalog(tuple(Arm(p, s) for p in products for s in strategies))


def new_arm(product_id: str = "gold", risk_level: int = 2) -> Arm:
    return Arm(
        Product(product_id, "investment", 0.05, risk_level),
        Strategy("streak", "decision_assistance", gamified=True),
    )


@dataclass(frozen=True)
class TableScorer:
    """A fake trained model: a fixed predicted probability per arm (default for others)."""

    table: Mapping[str, float] = field(default_factory=dict)
    default: float = 0.05
    version: str = "table-v1"

    def score(
        self, context: Mapping[str, Any], state: UserState, arm_ids: Sequence[str]
    ) -> np.ndarray:
        return np.array([self.table.get(a, self.default) for a in arm_ids], float)


@dataclass
class Events:
    """Builds wire events for one user with unique ids, the clock's time and offsets that
    grow per topic like a Kafka partition's."""

    user_id: str = "u1"
    clock: FakeClock = field(default_factory=FakeClock)
    _counter: int = 0
    _offsets: dict[str, int] = field(default_factory=dict)

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self.user_id}-{self._counter}"

    def source(self, topic: str) -> Source:
        offset = self._offsets.get(topic, -1) + 1
        self._offsets[topic] = offset
        return Source(topic, 0, offset)

    def request(self, **context: Any) -> DecisionRequest:
        candidates = context.pop("candidates", None)
        return DecisionRequest(
            schema_version=SCHEMA_VERSION,
            event_id=self._next_id("req"),
            ts=self.clock.now_ms,
            user_id=self.user_id,
            context={"risk_tolerance": 5, **context},
            candidates=candidates,
        )

    def impression(self, decision_id: str, arm_id: str) -> Impression:
        return Impression(
            schema_version=SCHEMA_VERSION,
            event_id=self._next_id("imp"),
            ts=self.clock.now_ms,
            user_id=self.user_id,
            decision_id=decision_id,
            arm_id=arm_id,
        )

    def conversion(
        self, kind: str = "purchase", decision_id: str | None = None, value: float = 1.0
    ) -> Conversion:
        return Conversion(
            schema_version=SCHEMA_VERSION,
            event_id=self._next_id("conv"),
            ts=self.clock.now_ms,
            user_id=self.user_id,
            kind=kind,
            value=value,
            decision_id=decision_id,
        )


def stats_of(
    impressions: Sequence[float] | np.ndarray, conversions: Sequence[float] | np.ndarray
) -> list[ArmStats]:
    return [
        ArmStats(impressions=float(n), conversions=float(c), reward_sum=float(c))
        for n, c in zip(impressions, conversions, strict=True)
    ]


def run_bandit(
    policy: Policy,
    means: np.ndarray,
    steps: int,
    seed: int,
    scores: np.ndarray | None = None,
    model_loaded: bool = True,
) -> np.ndarray:
    """Play a seeded Bernoulli bandit with true conversion rates ``means`` (shape
    ``(k,)``); return the cumulative pseudo-regret after each step, shape ``(steps,)``."""
    rng = np.random.default_rng(seed)
    k = len(means)
    arms = [f"p{i}:s" for i in range(k)]
    scores = np.full(k, 0.1) if scores is None else scores
    impressions, conversions = np.zeros(k), np.zeros(k)
    context = PolicyContext(model_loaded=model_loaded)
    regret = np.empty(steps)
    for t in range(steps):
        stats = stats_of(impressions, conversions)
        index = policy.choose(stats, scores, arms, rng, context=context).index
        impressions[index] += 1
        conversions[index] += rng.random() < means[index]
        regret[t] = means.max() - means[index]
    return np.cumsum(regret)
