"""Relative mean CR lift, the split-half bound and the A/B z-test, against known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.evaluation import (
    item_rates,
    relative_mean_cr_lift,
    split_half_bound,
    two_proportion_ztest,
)
from model.simulator import Environment, UniformLogging, simulate_rounds

SEEDS = range(5)


@pytest.fixture(scope="module")
def world():
    """Built-in catalog (9 products x 9 strategies); per-arm population truth."""
    env = Environment.build(4_000, seed=21)
    truth = env.mean_by_arm().reshape(9, 9)  # arms are product-major: [product, strategy]
    return env, truth


def _log(env: Environment, n: int, seed: int):
    log = simulate_rounds(env, UniformLogging(), n, seed=seed)
    item = env.arms.product[log.arms]
    baseline = item * 9  # the human choice: every product shown with its first strategy
    return log, item, baseline


def test_split_half_bound_lies_between_random_and_the_true_optimum(world) -> None:
    env, truth = world
    optimum, random = truth.max(1).mean(), truth.mean(1).mean()
    log, item, baseline = _log(env, 100_000, seed=1)
    bound = split_half_bound(log.reward, log.arms, item, baseline, 9, 81, np.random.default_rng(0))
    # the measured half holds ~n/2/81 rounds per arm: standard error of the mean over 9
    # items of one arm's rate each; allow 3 of them on each side
    se = math.sqrt(optimum * (1 - optimum) / (len(log) / 2 / 81) / 9)
    assert random + 3 * se < bound.target_mean_cr < optimum + 3 * se
    assert bound.items == 9


def test_lift_of_the_truth_knowing_policy_approaches_the_bound(world) -> None:
    env, truth = world
    oracle_strategy = truth.argmax(1)

    def mean_gap(n: int) -> float:
        gaps = []
        for seed in SEEDS:
            log, item, baseline = _log(env, n, seed)
            oracle = item * 9 + oracle_strategy[item]
            lift = relative_mean_cr_lift(log.reward, log.arms, item, oracle, baseline, 9)
            bound = split_half_bound(
                log.reward, log.arms, item, baseline, 9, 81, np.random.default_rng(seed)
            )
            gaps.append(abs(lift.lift - bound.lift))
        return float(np.mean(gaps))

    small, large = mean_gap(5_000), mean_gap(160_000)
    # the gap is noise plus the bound's wrong picks, both shrinking with n: 32x the data
    # should shrink it several-fold (noise alone by sqrt(32) = 5.7)
    assert large < small / 2
    assert large < 0.1


def test_random_policy_lift_is_the_items_mean_rate_over_the_baseline(world) -> None:
    env, _ = world
    log, item, baseline = _log(env, 20_000, seed=3)
    random = relative_mean_cr_lift(log.reward, log.arms, item, log.arms, baseline, 9)
    per_item = np.array([log.reward[item == i].mean() for i in range(9)])
    np.testing.assert_allclose(random.target_cr, per_item)
    base = item_rates(log.reward, log.arms, item, baseline, 9)
    assert random.lift == pytest.approx(per_item.mean() / base.mean() - 1)


def test_two_proportion_ztest_matches_the_textbook() -> None:
    # 105/1000 vs 130/1000: pooled p = 0.1175, z = 0.025 / sqrt(p(1-p) 2/1000) = 1.7360
    result = two_proportion_ztest(105, 1000, 130, 1000)
    assert result.z == pytest.approx(1.7360, abs=1e-3)
    assert result.p_value == pytest.approx(0.0826, abs=1e-3)
    assert result.lift == pytest.approx(0.025 / 0.105)
    half = 1.959964 * math.sqrt(0.105 * 0.895 / 1000 + 0.13 * 0.87 / 1000)
    assert result.diff_low == pytest.approx(0.025 - half, abs=1e-6)
    with pytest.raises(ValueError):
        two_proportion_ztest(5, 0, 1, 10)


def test_ztest_has_its_nominal_false_positive_rate() -> None:
    rng = np.random.default_rng(0)
    trials = 2_000
    a, b = rng.binomial(500, 0.1, trials), rng.binomial(500, 0.1, trials)
    rejected = sum(
        two_proportion_ztest(int(x), 500, int(y), 500).p_value < 0.05
        for x, y in zip(a, b, strict=True)
    )
    # 5 % of 2,000 = 100, binomial sd 9.7: within 4 sd
    assert abs(rejected - 100) < 40
