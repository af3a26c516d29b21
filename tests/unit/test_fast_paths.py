"""The decision path's shortcuts agree with the plain computations they replace."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from model.bandit import Choice, Draws, HashDraws, PolicyContext, Uniform, build_policy
from model.bandit.estimates import ArmArrays, evidence
from model.catalog import load_catalog
from model.engine import Engine, EngineConfig, Source
from model.events import DecisionRequest
from model.scoring import ConstantScorer
from state import ArmStats, UserState

CATALOG = load_catalog()


def _stats(n: int, seed: int) -> list[ArmStats]:
    rng = np.random.default_rng(seed)
    impressions = rng.integers(0, 20, n).astype(float)
    conversions = rng.integers(0, 25, n).astype(float)  # sometimes above impressions
    reward = rng.uniform(-1, 30, n)
    return [
        ArmStats(impressions=i, conversions=c, reward_sum=r)
        for i, c, r in zip(impressions, conversions, reward, strict=True)
    ]


def _arrays(stats: list[ArmStats]) -> ArmArrays:
    return ArmArrays(
        np.array([s.impressions for s in stats]),
        np.array([s.conversions for s in stats]),
        np.array([s.reward_sum for s in stats]),
    )


@pytest.mark.parametrize("target", ["conversions", "reward"])
def test_evidence_of_arrays_equals_evidence_of_stats(target: str) -> None:
    stats = _stats(30, 1)
    for plain, fast in zip(evidence(stats, target), evidence(_arrays(stats), target), strict=True):
        np.testing.assert_array_equal(plain, fast)


def test_arm_arrays_is_a_sequence_of_arm_stats() -> None:
    stats = _stats(5, 2)
    arrays = _arrays(stats)
    assert len(arrays) == 5 and list(arrays) == stats and arrays[1:3] == stats[1:3]


@pytest.mark.parametrize("policy", ["thompson", "epsilon-greedy", "ucb1", "ucb-model"])
def test_policies_give_the_same_distribution_for_arrays_and_stats(policy: str) -> None:
    stats = _stats(12, 3)
    scores = np.linspace(0.05, 0.3, 12)
    candidates = [f"a{i}" for i in range(12)]
    bandit = build_policy(policy)
    rng = np.random.default_rng(0)
    plain = bandit.probabilities(stats, scores, candidates, rng)
    fast = bandit.probabilities(_arrays(stats), scores, candidates, rng)
    np.testing.assert_array_equal(plain, fast)


@pytest.mark.parametrize(
    "limit", [-3.0, 0.5, 1.0, 2.7, 3.0, 4.99, 5.0, 17.0, float("inf"), float("-inf"), float("nan")]
)
def test_within_risk_of_the_active_arms_equals_the_plain_filter(limit: float) -> None:
    active = CATALOG.active_ids
    plain = tuple(a for a in active if CATALOG.arm(a).product.risk_level <= limit)
    assert CATALOG.within_risk(active, limit) == plain
    assert CATALOG.within_risk(active, limit) == plain  # the cached answer too
    assert CATALOG.within_risk(list(active), limit) == plain


class SpyPolicy:
    """Uniform, remembering the user and population statistics of each decision."""

    name = "spy"

    def __init__(self) -> None:
        self.seen: list[tuple[list[ArmStats], list[ArmStats]]] = []

    def choose(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> Choice:
        assert context is not None and context.population is not None
        self.seen.append((list(stats), list(context.population)))
        return Uniform().choose(stats, scores, candidates, rng)

    def probabilities(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> np.ndarray:
        return Uniform().probabilities(stats, scores, candidates, rng)


def _request(i: int, candidates: list[str]) -> DecisionRequest:
    context: dict[str, float | int | str | bool | None] = {"risk_tolerance": 5}
    return DecisionRequest(
        schema_version=1,
        event_id=f"r{i}",
        ts=10_000 + i,
        user_id="u",
        context=context,
        candidates=candidates,
    )


@pytest.mark.parametrize("half_life", [None, 60.0])
def test_engine_reads_user_and_population_stats_at_the_decision_time(
    half_life: float | None,
) -> None:
    """The engine's arrays hold each candidate's (decayed) counts, zeros for unseen arms."""
    seen = {CATALOG.arm_ids[3]: ArmStats(impressions=4, conversions=1, last_seen_ms=1_000)}
    population = {a: ArmStats(impressions=100, conversions=7, last_seen_ms=500) for a in seen}
    spy = SpyPolicy()
    config = EngineConfig(half_life_seconds=half_life)
    engine = Engine(CATALOG, spy, ConstantScorer(), config, population)
    candidates = [CATALOG.arm_ids[5], CATALOG.arm_ids[3]]
    engine.step(UserState(arms=seen), _request(1, candidates), Source("r", 0, 0))
    user, pooled = spy.seen[0]
    factor = 1.0 if half_life is None else 0.5 ** ((10_001 - 1_000) / 1000 / half_life)
    pooled_factor = 1.0 if half_life is None else 0.5 ** ((10_001 - 500) / 1000 / half_life)
    assert user[0] == ArmStats() and pooled[0] == ArmStats()
    assert user[1].impressions == pytest.approx(4 * factor, rel=1e-12)
    assert user[1].conversions == pytest.approx(factor, rel=1e-12)
    assert pooled[1].impressions == pytest.approx(100 * pooled_factor, rel=1e-12)


@pytest.mark.parametrize("policy", ["thompson", "epsilon-greedy", "ucb1", "ucb-model"])
def test_a_user_who_saw_no_candidate_gets_the_same_choice_as_from_zero_stats(
    policy: str,
) -> None:
    zeros = np.zeros(12)
    unseen = ArmArrays(zeros, zeros, zeros, seen=False)
    scores = np.linspace(0.05, 0.3, 12)
    candidates = [f"a{i}" for i in range(12)]
    bandit = build_policy(policy)
    for seed in range(20):
        plain = bandit.choose([ArmStats()] * 12, scores, candidates, HashDraws(bytes([seed])))
        fast = bandit.choose(unseen, scores, candidates, HashDraws(bytes([seed])))
        assert plain == fast


def test_within_risk_stays_right_past_its_bounded_memory() -> None:
    catalog = load_catalog()
    active = catalog.active_ids
    for limit in np.linspace(-1.0, 6.0, 300):  # more distinct limits than are kept
        plain = tuple(a for a in active if catalog.arm(a).product.risk_level <= limit)
        assert catalog.within_risk(active, float(limit)) == plain
