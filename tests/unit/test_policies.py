"""Per-policy behaviour: each policy does what its docstring promises."""

from __future__ import annotations

import numpy as np
import pytest

from model.bandit import (
    SLICE_POLICY_NAME,
    UCB1,
    EpsilonGreedy,
    PolicyContext,
    RandomizedSlice,
    RuleBased,
    ThompsonSampling,
    UCBModel,
    Uniform,
    build_policy,
)
from state import ArmStats
from tests.fakes import run_bandit, stats_of

ARMS = ["a:x", "b:x", "c:x", "d:x"]
FLAT = np.full(4, 0.1)
COLD = [ArmStats()] * 4


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- Thompson sampling ------------------------------------------------------------------


def test_thompson_converges_to_the_best_arm_on_a_seeded_bernoulli_bandit() -> None:
    means = np.array([0.05, 0.10, 0.25, 0.12])
    policy = ThompsonSampling(prior_strength=2)
    regret = run_bandit(policy, means, steps=3000, seed=7)
    # regret per step over the last 1000 steps is far below uniform's mean gap (0.12)
    assert (regret[-1] - regret[-1001]) / 1000 < 0.02


@pytest.mark.parametrize(
    ("impressions", "conversions", "scores"),
    [
        ([0, 0, 0, 0], [0, 0, 0, 0], [0.1, 0.15, 0.05, 0.001]),  # cold start, shapes < 1
        ([20, 15, 5, 0], [3, 2, 1, 0], [0.1, 0.15, 0.2, 0.05]),
        ([5000, 5200, 4900, 10], [250, 270, 240, 1], [0.05, 0.05, 0.05, 0.05]),
        ([30, 30, 30, 30], [3, 3, 3, 3], [0.1, 0.1, 0.1, 0.1]),  # a four-way tie
        ([0, 0, 0, 0], [0, 0, 0, 0], [0.9, 0.95, 0.99, 0.5]),  # the top of the domain
    ],
    ids=["cold", "warm", "heavy", "tie", "high"],
)
def test_thompson_propensity_is_within_0_01_of_monte_carlo(
    impressions: list[int], conversions: list[int], scores: list[float]
) -> None:
    """The quadrature against 400,000 joint posterior draws (standard error <= 0.0008)."""
    stats, score = stats_of(impressions, conversions), np.array(scores)
    policy = ThompsonSampling(prior_strength=2, floor=0.01)
    alpha, beta = policy.posterior(stats, score)
    draws = _rng(3).beta(alpha, beta, size=(400_000, 4))
    mc = np.bincount(draws.argmax(axis=1), minlength=4) / 400_000
    p = policy.probabilities(stats, score, ARMS, _rng())
    assert np.max(np.abs(p - (0.01 / 4 + 0.99 * mc))) < 0.01


def test_thompson_floor_gives_every_eligible_arm_a_propensity() -> None:
    stats = stats_of([1000, 1000, 1000, 1000], [500, 1, 1, 1])
    policy = ThompsonSampling(floor=0.02)
    p = policy.probabilities(stats, FLAT, ARMS, _rng())
    assert np.all(p >= 0.02 / 4 - 1e-12)
    assert p[0] > 0.98


def test_thompson_prior_follows_the_model_score_at_cold_start() -> None:
    scores = np.array([0.02, 0.02, 0.60, 0.02])
    p = ThompsonSampling(prior_strength=50).probabilities(COLD, scores, ARMS, _rng())
    assert int(np.argmax(p)) == 2 and p[2] > 0.9


def test_thompson_prior_comes_from_population_until_a_model_is_loaded() -> None:
    population = stats_of([1000, 1000, 1000, 1000], [20, 300, 20, 20])
    scores = np.array([0.5, 0.01, 0.01, 0.01])  # what a (misleading) scorer says
    policy = ThompsonSampling(prior_strength=50)
    no_model = PolicyContext(population=population, model_loaded=False)
    with_model = PolicyContext(population=population, model_loaded=True)
    assert int(np.argmax(policy.probabilities(COLD, scores, ARMS, _rng(), context=no_model))) == 1
    assert int(np.argmax(policy.probabilities(COLD, scores, ARMS, _rng(), context=with_model))) == 0


def test_thompson_pools_population_evidence_capped_by_population_max() -> None:
    population = stats_of([10_000] * 4, [100, 100, 3000, 100])
    policy = ThompsonSampling(prior_strength=10, population_weight=1.0, population_max=40)
    alpha, beta = policy.posterior(COLD, FLAT, PolicyContext(population=population))
    assert alpha + beta == pytest.approx(np.full(4, 50.0))  # 10 prior + 40 pooled
    assert alpha[2] == pytest.approx(10 * 0.1 + 40 * 0.3)
    unpooled = ThompsonSampling(prior_strength=10).posterior(COLD, FLAT, PolicyContext())
    assert unpooled[0] + unpooled[1] == pytest.approx(np.full(4, 10.0))


def test_thompson_reward_target_uses_the_multi_objective_reward() -> None:
    stats = [ArmStats(impressions=10, conversions=0, reward_sum=4.0)] + [ArmStats()] * 3
    alpha, _ = ThompsonSampling(prior_strength=1, target="reward").posterior(stats, FLAT)
    assert alpha[0] == pytest.approx(0.1 + 4.0)


# -- epsilon-greedy ---------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [0.01, 0.1])
def test_epsilon_greedy_explores_with_probability_epsilon(epsilon: float) -> None:
    stats = stats_of([50, 50, 50, 50], [5, 20, 5, 5])
    policy = EpsilonGreedy(epsilon=epsilon)
    n = 8000
    choices = [policy.choose(stats, FLAT, ARMS, _rng(s)) for s in range(n)]
    explored = np.mean([c.explored for c in choices])
    assert abs(explored - epsilon) <= 4 * np.sqrt(epsilon * (1 - epsilon) / n)
    best = next(c for c in choices if c.index == 1)
    other = next(c for c in choices if c.index != 1)
    assert best.propensity == pytest.approx(1 - epsilon + epsilon / 4)
    assert other.propensity == pytest.approx(epsilon / 4)


def test_epsilon_greedy_breaks_ties_uniformly_and_says_so() -> None:
    p = EpsilonGreedy(epsilon=0.0).probabilities(COLD, np.array([0.2, 0.2, 0.1, 0.1]), ARMS, _rng())
    assert p.tolist() == [0.5, 0.5, 0.0, 0.0]


# -- UCB --------------------------------------------------------------------------------


def test_ucb1_plays_unseen_arms_first() -> None:
    stats = stats_of([5, 0, 5, 0], [5, 0, 5, 0])
    p = UCB1().probabilities(stats, FLAT, ARMS, _rng())
    assert p.tolist() == [0.0, 0.5, 0.0, 0.5]


def test_ucb1_bonus_favours_the_less_tried_arm_of_equal_mean() -> None:
    stats = stats_of([100, 10, 100, 100], [10, 1, 10, 10])
    choice = UCB1().choose(stats, FLAT, ARMS, _rng())
    assert choice.index == 1 and choice.propensity == 1.0 and not choice.explored


def test_ucb_model_starts_from_the_model_score() -> None:
    scores = np.array([0.05, 0.30, 0.10, 0.05])
    assert UCBModel().choose(COLD, scores, ARMS, _rng()).index == 1


def test_ucb_floor_mixes_uniform_exploration() -> None:
    p = UCBModel(floor=0.2).probabilities(COLD, np.array([0.1, 0.3, 0.1, 0.1]), ARMS, _rng())
    assert p.tolist() == pytest.approx([0.05, 0.85, 0.05, 0.05])


# -- uniform, rule-based ------------------------------------------------------------------


def test_uniform_is_uniform_and_always_explores() -> None:
    choice = Uniform().choose(COLD, FLAT, ARMS, _rng())
    assert choice.propensity == 0.25 and choice.explored


def test_rule_based_follows_the_segment_mapping() -> None:
    policy = RuleBased(rules={"young": "c:x", "3": "d:x"}, default="a:x")
    young = PolicyContext(features={"segment": "young"})
    assert policy.choose(COLD, FLAT, ARMS, _rng(), context=young).index == 2
    numeric = PolicyContext(features={"segment": 3})
    assert policy.choose(COLD, FLAT, ARMS, _rng(), context=numeric).index == 3
    unknown = PolicyContext(features={"segment": "old"})
    choice = policy.choose(COLD, FLAT, ARMS, _rng(), context=unknown)
    assert (choice.index, choice.propensity, choice.explored) == (0, 1.0, False)


def test_rule_based_falls_back_to_uniform_when_its_arm_is_not_a_candidate() -> None:
    policy = RuleBased(rules={"young": "z:z"}, segment_key="age_band")
    choice = policy.choose(COLD, FLAT, ARMS, _rng(), context=PolicyContext({"age_band": "young"}))
    assert choice.propensity == 0.25 and choice.explored


# -- randomized slice -------------------------------------------------------------------


def test_slice_serves_its_share_uniformly_and_marks_it() -> None:
    inner = EpsilonGreedy(epsilon=0.0)
    policy = RandomizedSlice(inner, share=0.02)
    scores = np.array([0.1, 0.4, 0.1, 0.1])
    n = 8000
    choices = [policy.choose(COLD, scores, ARMS, _rng(s)) for s in range(n)]
    sliced = [c for c in choices if c.policy == SLICE_POLICY_NAME]
    assert abs(len(sliced) / n - 0.02) <= 4 * np.sqrt(0.02 * 0.98 / n)
    assert all(c.propensity == 0.25 and c.explored for c in sliced)
    served = [c for c in choices if c.policy != SLICE_POLICY_NAME]
    assert all(c.policy == "epsilon-greedy" and c.propensity == 1.0 for c in served)
    assert {c.index for c in sliced} == {0, 1, 2, 3}


def test_slice_probabilities_are_the_mixture_of_the_combined_policy() -> None:
    policy = RandomizedSlice(EpsilonGreedy(epsilon=0.0), share=0.2)
    p = policy.probabilities(COLD, np.array([0.1, 0.4, 0.1, 0.1]), ARMS, _rng())
    assert p.tolist() == pytest.approx([0.05, 0.85, 0.05, 0.05])


def test_slice_is_built_by_name_around_any_inner_policy() -> None:
    policy = build_policy("randomized-slice", {"share": 0.05, "policy": "ucb1"})
    assert isinstance(policy, RandomizedSlice) and policy.inner.name == "ucb1"
    assert policy.name == "ucb1+uniform-slice"
    assert build_policy("randomized-slice").inner.name == "thompson"  # type: ignore[attr-defined]
