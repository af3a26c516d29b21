"""Thompson sampling at the 81-arm default: the decision draws from exactly the vector
``probabilities`` returns, with one uniform from the seeded generator, and that vector is
the exact race (checked against Monte Carlo)."""

from __future__ import annotations

import numpy as np
import pytest

from model.bandit import PolicyContext, ThompsonSampling
from model.bandit.base import sample_index
from state import ArmStats
from tests.fakes import stats_of

N_ARMS = 81
ARMS = [f"arm{i}:x" for i in range(N_ARMS)]


def _user(seed: int, total_impressions: int) -> tuple[list[ArmStats], np.ndarray]:
    """Model scores per arm and ``total_impressions`` spread unevenly over the arms."""
    rng = np.random.default_rng(seed)
    scores = np.clip(rng.beta(1.5, 20, N_ARMS), 0.0, 1.0)
    impressions = rng.multinomial(total_impressions, rng.dirichlet(np.full(N_ARMS, 0.5)))
    conversions = rng.binomial(impressions, scores)
    return stats_of(impressions.tolist(), conversions.tolist()), scores


@pytest.mark.parametrize("total_impressions", [0, 10, 500, 50_000])
def test_choose_draws_from_probabilities_with_one_uniform(total_impressions: int) -> None:
    stats, scores = _user(1, total_impressions)
    policy = ThompsonSampling()
    for seed in range(5):
        p = policy.probabilities(stats, scores, ARMS, np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        choice = policy.choose(stats, scores, ARMS, rng)
        assert choice.index == sample_index(p, np.random.default_rng(seed))
        assert choice.propensity == p[choice.index]
        advanced = np.random.default_rng(seed)
        advanced.random()
        assert rng.random() == advanced.random()  # exactly one uniform was used


def test_explored_means_not_the_best_posterior_mean() -> None:
    stats, scores = _user(2, 200)
    policy = ThompsonSampling()
    alpha, beta = policy.posterior(stats, scores)
    best = set(np.flatnonzero(alpha / (alpha + beta) == (alpha / (alpha + beta)).max()))
    for seed in range(20):
        choice = policy.choose(stats, scores, ARMS, np.random.default_rng(seed))
        assert choice.explored == (choice.index not in best)


def test_every_arm_keeps_the_floor_and_the_vector_sums_to_1() -> None:
    stats, scores = _user(3, 5_000)
    p = ThompsonSampling(floor=0.02).probabilities(stats, scores, ARMS, np.random.default_rng(0))
    assert np.all(p >= 0.02 / N_ARMS - 1e-15)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("total_impressions", [0, 300])
def test_81_arm_propensities_match_monte_carlo(total_impressions: int) -> None:
    stats, scores = _user(4, total_impressions)
    population = stats_of([2_000] * N_ARMS, (np.asarray(scores) * 2_000).astype(int).tolist())
    context = PolicyContext(population=population)
    policy = ThompsonSampling(population_weight=0.05, floor=0.01)
    alpha, beta = policy.posterior(stats, scores, context)
    draws = 200_000
    rng = np.random.default_rng(9)
    wins = np.zeros(N_ARMS)
    for _ in range(draws // 50_000):
        draw = rng.beta(alpha, beta, (50_000, N_ARMS))
        wins += np.bincount(draw.argmax(axis=1), minlength=N_ARMS)
    expected = 0.01 / N_ARMS + 0.99 * wins / draws
    p = policy.probabilities(stats, scores, ARMS, np.random.default_rng(0), context=context)
    # 5 binomial standard errors of each Monte Carlo frequency, plus 1e-4 for the quadrature
    tolerance = 5 * np.sqrt(np.maximum(p * (1 - p), 1e-6) / draws) + 1e-4
    assert np.all(np.abs(p - expected) <= tolerance)
    assert np.max(np.abs(p - expected)) < 0.01
