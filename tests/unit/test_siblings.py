"""A user's evidence shared along product and strategy (``model.bandit.siblings``) and
Thompson's use of it, and Thompson's ``sharpness``."""

from __future__ import annotations

import numpy as np
import pytest

from model.bandit import ThompsonSampling, build_policy
from model.bandit.beta_race import win_probabilities
from model.bandit.siblings import sibling_groups, sibling_ratio
from tests.fakes import stats_of

# two products x two strategies, and a plain arm
ARMS = ["p:s1", "p:s2", "q:s1", "q:s2", "plain"]
SCORES = np.full(5, 0.1)


def _ratio(impressions: list[float], conversions: list[float], k: float = 4.0) -> np.ndarray:
    n, c = np.array(impressions, float), np.array(conversions, float)
    return sibling_ratio(n, c, SCORES, sibling_groups(ARMS), k)


def test_groups_split_product_and_strategy_and_plain_arms_stand_alone() -> None:
    groups = sibling_groups(ARMS)
    assert groups.product.tolist() == [0, 0, 1, 1, 2]
    assert groups.strategy.tolist() == [0, 1, 0, 1, 2]


def test_no_evidence_leaves_every_prior_alone() -> None:
    assert _ratio([0] * 5, [0] * 5).tolist() == [1.0] * 5


def test_a_conversion_lifts_the_same_product_and_the_same_strategy_only() -> None:
    """Converted once on p:s1 (expected 0.1): p:s2 and q:s1 get (k + 1) / (k + 0.1);
    p:s1 itself (its own evidence goes to its posterior), q:s2 and the plain arm: 1."""
    ratio = _ratio([1, 0, 0, 0, 0], [1, 0, 0, 0, 0])
    lift = 5.0 / 4.1
    assert ratio == pytest.approx([1.0, lift, lift, 1.0, 1.0])


def test_misses_lower_the_siblings_by_what_the_prior_expected() -> None:
    ratio = _ratio([10, 0, 0, 0, 0], [0, 0, 0, 0, 0])
    assert ratio == pytest.approx([1.0, 4 / 5, 4 / 5, 1.0, 1.0])


def test_thompson_shares_evidence_only_with_candidates_and_a_positive_strength() -> None:
    stats = stats_of([1, 0, 0, 0, 0], [1, 0, 0, 0, 0])
    shared = ThompsonSampling(sibling_strength=4.0)
    alpha, beta = shared.posterior(stats, SCORES, None, ARMS)
    means = alpha / (alpha + beta)
    assert means[1] == pytest.approx(0.1 * 5 / 4.1) and means[3] == pytest.approx(0.1)
    plain = ThompsonSampling().posterior(stats, SCORES, None, ARMS)
    np.testing.assert_array_equal(plain[0][1:], 10 * SCORES[1:])  # off by default
    without_ids = shared.posterior(stats, SCORES)
    np.testing.assert_array_equal(without_ids[0], plain[0])


def test_sharpness_races_narrower_posteriors_of_the_same_means() -> None:
    stats = stats_of([3, 1, 0, 2, 0], [1, 0, 0, 1, 0])
    scores = np.array([0.1, 0.2, 0.15, 0.05, 0.3])
    policy = ThompsonSampling(sharpness=8.0, floor=0.02)
    alpha, beta = policy.posterior(stats, scores)
    p = policy.probabilities(stats, scores, ARMS, np.random.default_rng(0))
    expected = 0.02 / 5 + 0.98 * win_probabilities(8 * alpha, 8 * beta)
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-15)
    choice = policy.choose(stats, scores, ARMS, np.random.default_rng(0))
    assert choice.propensity == p[choice.index]
    best = int(np.argmax(alpha / (alpha + beta)))
    wide = ThompsonSampling(floor=0.02, sharpness=1.0).probabilities(
        stats, scores, ARMS, np.random.default_rng(0)
    )
    assert p[best] > wide[best]


def test_the_served_thompson_is_sharpened_and_the_class_stays_textbook() -> None:
    served = build_policy("thompson")
    assert isinstance(served, ThompsonSampling) and served.sharpness == 300.0
    assert served.sibling_strength == 20.0
    assert ThompsonSampling().sharpness == 1.0 and ThompsonSampling().sibling_strength == 0.0
    assert build_policy("thompson", {"sharpness": 2.0}).sharpness == 2.0  # type: ignore[attr-defined]
