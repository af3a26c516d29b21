"""The Beta race quadrature (``model.bandit.beta_race``): exact cases, hard cases against
seeded Monte Carlo (tolerance from the sample size), and the shape of the result."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from model.bandit.beta_race import win_probabilities

Z = 5.0  # Monte Carlo tolerance in standard errors (fixed seeds: deterministic)
QUADRATURE = 1e-4  # allowance for the quadrature itself (measured errors are below 3e-5)


def _monte_carlo(alpha: np.ndarray, beta: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """Frequency of each arm's draw being the largest over ``draws`` joint draws."""
    rng = np.random.default_rng(seed)
    wins = np.zeros(len(alpha))
    chunk = 50_000
    for start in range(0, draws, chunk):
        x = rng.beta(alpha, beta, size=(min(chunk, draws - start), len(alpha)))
        wins += np.bincount(x.argmax(axis=1), minlength=len(alpha))
    return wins / draws


def _assert_matches_monte_carlo(
    alpha: np.ndarray, beta: np.ndarray, draws: int, seed: int = 0
) -> None:
    p = win_probabilities(alpha, beta)
    mc = _monte_carlo(alpha, beta, draws, seed)
    # binomial standard error of each frequency (floored so p = 0 allows a stray win)
    tolerance = Z * np.sqrt(np.maximum(p * (1 - p), 1e-6) / draws) + QUADRATURE
    worst = int(np.argmax(np.abs(p - mc) - tolerance))
    assert np.all(np.abs(p - mc) <= tolerance), (worst, p[worst], mc[worst], tolerance[worst])
    assert np.max(np.abs(p - mc)) < 0.01  # the documented bound


def _thompson_shapes(
    prior_mean: np.ndarray, prior_strength: float, impressions: np.ndarray, successes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return (
        prior_strength * prior_mean + successes,
        prior_strength * (1 - prior_mean) + impressions - successes,
    )


def _narrow_overlapping() -> tuple[np.ndarray, np.ndarray]:
    """81 arms with 2,000-20,000 impressions each and rates within a few sds of 5 %."""
    rng = np.random.default_rng(11)
    impressions = rng.integers(2_000, 20_000, 81).astype(float)
    successes = rng.binomial(impressions.astype(int), 0.05 + rng.normal(0, 0.002, 81))
    return _thompson_shapes(np.full(81, 0.05), 10, impressions, successes.astype(float))


def _wide_and_narrow() -> tuple[np.ndarray, np.ndarray]:
    """40 cold arms with a model prior (shapes below 1) among 41 with 500-50,000
    impressions near 10 %."""
    rng = np.random.default_rng(12)
    prior = np.clip(rng.beta(1.5, 12, 81), 1e-3, 0.95)
    impressions = np.where(np.arange(81) < 40, 0, rng.integers(500, 50_000, 81)).astype(float)
    successes = rng.binomial(impressions.astype(int), 0.1 + rng.normal(0, 0.003, 81))
    return _thompson_shapes(prior, 10, impressions, successes.astype(float))


def _cold_near_zero() -> tuple[np.ndarray, np.ndarray]:
    """81 cold arms with prior strength 1: alpha in [0.05, 0.3], beta below 1 (densities
    singular at both ends)."""
    prior = np.random.default_rng(13).uniform(0.05, 0.3, 81)
    return _thompson_shapes(prior, 1, np.zeros(81), np.zeros(81))


def _user_with_some_evidence() -> tuple[np.ndarray, np.ndarray]:
    """A model prior per arm and 300 impressions spread unevenly over the 81 arms."""
    rng = np.random.default_rng(14)
    prior = np.clip(rng.beta(1.5, 20, 81), 1e-3, 0.95)
    impressions = rng.multinomial(300, rng.dirichlet(np.full(81, 0.5))).astype(float)
    successes = rng.binomial(impressions.astype(int), prior).astype(float)
    return _thompson_shapes(prior, 10, impressions, successes)


def _groups() -> tuple[np.ndarray, np.ndarray]:
    """81 arms sharing three posteriors, plus one arm of its own."""
    which = np.random.default_rng(15).integers(0, 3, 81)
    alpha = np.array([0.5, 3.0, 30.0])[which]
    beta = np.array([9.5, 40.0, 300.0])[which]
    alpha[0], beta[0] = 12.0, 140.0
    return alpha, beta


@pytest.mark.parametrize(
    "case",
    [_narrow_overlapping, _wide_and_narrow, _cold_near_zero, _user_with_some_evidence, _groups],
    ids=lambda case: case.__name__.strip("_"),
)
def test_81_arms_match_monte_carlo(case: object) -> None:
    alpha, beta = case()  # type: ignore[operator]
    _assert_matches_monte_carlo(alpha, beta, draws=200_000)


@pytest.mark.parametrize(
    ("alpha", "beta"),
    [
        ([20_000.0, 20_100.0, 3.0], [380_000.0, 381_500.0, 57.0]),  # a heavy near tie
        ([1.4, 3714.6, 192.7], [8.5, 33_604.0, 1726.3]),  # wide against very narrow
        ([1.0, 1.8, 1.9, 0.9], [1.0, 0.2, 0.1, 0.5]),  # means up to 0.95, beta below 1
        ([2827.0, 4555.2], [25_791.9, 41_413.8]),  # two narrow, overlapping
    ],
    ids=["heavy-tie", "wide-vs-narrow", "high-means", "two-narrow"],
)
def test_few_arms_match_monte_carlo(alpha: list[float], beta: list[float]) -> None:
    _assert_matches_monte_carlo(np.array(alpha), np.array(beta), draws=400_000, seed=1)


@pytest.mark.parametrize(
    "alpha", [[0.05, 0.3, 1.0, 2.5, 7.0], [0.002, 0.01, 0.05], [0.5, 0.5, 3.0]]
)
def test_power_laws_at_0_race_exactly(alpha: list[float]) -> None:
    """Beta(a_i, 1) has CDF x**a_i, so arm i wins with probability a_i / sum(a)."""
    a = np.array(alpha)
    p = win_probabilities(a, np.ones(len(a)))
    np.testing.assert_allclose(p, a / a.sum(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("beta", [[0.1, 0.5, 2.0], [0.05, 0.06, 1.0, 30.0], [3.0, 4.0, 5.0]])
def test_power_laws_at_1_race_exactly(beta: list[float]) -> None:
    """Beta(1, b_i): 1 - X_i has CDF y**b_i; by inclusion-exclusion arm i wins with
    probability sum over subsets S of the others of (-1)**|S| b_i / (b_i + sum_S b_j)."""
    b = np.array(beta)
    exact = np.zeros(len(b))
    for i in range(len(b)):
        others = [j for j in range(len(b)) if j != i]
        for size in range(len(others) + 1):
            for subset in itertools.combinations(others, size):
                exact[i] += (-1) ** size * b[i] / (b[i] + b[list(subset)].sum())
    p = win_probabilities(np.ones(len(b)), b)
    np.testing.assert_allclose(p, exact, rtol=0, atol=1e-9)


def test_all_equal_posteriors_split_evenly() -> None:
    for shape in [(0.01, 0.5), (3.0, 27.0), (500.0, 9500.0)]:
        p = win_probabilities(np.full(81, shape[0]), np.full(81, shape[1]))
        np.testing.assert_array_equal(p, np.full(81, 1 / 81))


def test_identical_posteriors_get_identical_probabilities() -> None:
    alpha, beta = _groups()
    p = win_probabilities(alpha, beta)
    for group in range(1, 4):
        members = np.flatnonzero((alpha == alpha[group]) & (beta == beta[group]))
        np.testing.assert_array_equal(p[members], p[members[0]])


def test_permuting_arms_permutes_the_probabilities() -> None:
    alpha, beta = _wide_and_narrow()
    order = np.random.default_rng(3).permutation(81)
    np.testing.assert_allclose(
        win_probabilities(alpha[order], beta[order]),
        win_probabilities(alpha, beta)[order],
        rtol=0,
        atol=1e-12,
    )


def test_arms_that_cannot_win_get_zero() -> None:
    # Beta(10, 990) lies more than 40 sds below Beta(5000, 5000)
    assert win_probabilities(np.array([5000.0, 10.0]), np.array([5000.0, 990.0])).tolist() == [
        1.0,
        0.0,
    ]
    p = win_probabilities(np.array([5000.0, 5010.0, 10.0]), np.array([5000.0, 4990.0, 990.0]))
    assert p[2] == 0.0 and p[1] > p[0] > 0.0


def test_a_single_arm_wins() -> None:
    assert win_probabilities(np.array([0.3]), np.array([2.0])).tolist() == [1.0]


def test_result_is_a_distribution_over_the_whole_domain() -> None:
    """Finite, non-negative and summing to 1 for shapes from 1e-3 to 1e7."""
    rng = np.random.default_rng(5)
    for n in [2, 3, 10, 81]:
        for _ in range(25):
            alpha = np.exp(rng.uniform(np.log(1e-3), np.log(1e7), n))
            beta = np.exp(rng.uniform(np.log(0.05), np.log(1e7), n))
            p = win_probabilities(alpha, beta)
            assert p.shape == (n,)
            assert np.all(np.isfinite(p)) and np.all(p >= 0)
            assert p.sum() == pytest.approx(1.0, abs=1e-12)
