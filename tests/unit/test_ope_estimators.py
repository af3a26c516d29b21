"""Acceptance of the off-policy estimators on simulator logs with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from model.evaluation import (
    SegmentRateModel,
    bootstrap_ratio,
    estimate_dr,
    estimate_ips,
    estimate_replay,
    estimate_snips,
    greedy_action_dist,
)
from model.simulator import Environment, UniformLogging, simulate_rounds, synthetic_catalog

N_ROUNDS = 5_000
SEEDS = range(30)


@pytest.fixture(scope="module")
def world():
    """A 12-arm world, a target policy and a reward model fitted on an independent log."""
    env = Environment.build(3_000, catalog=synthetic_catalog(3, 4, seed=1), seed=11)
    history = simulate_rounds(env, UniformLogging(), 20_000, seed=999)
    segments = _segments(env, history.users)
    model = SegmentRateModel.fit(segments, history.arms, history.reward, env.arm_ids)
    everyone = np.arange(env.n_users)
    target = greedy_action_dist(model.predict(_segments(env, everyone)), epsilon=0.1)
    truth = env.policy_value(everyone, target)  # users are drawn uniformly from everyone
    return env, model, target, truth


def _segments(env: Environment, users: np.ndarray) -> np.ndarray:
    return env.population.segment_names(users)


def _estimates(env, model, target, seed):
    log = simulate_rounds(env, UniformLogging(), N_ROUNDS, seed=seed)
    dist = target[log.users]
    rng = np.random.default_rng(seed)
    q = model.predict(_segments(env, log.users))
    return {
        "ips": estimate_ips(log.reward, log.arms, log.pscore, dist, rng),
        "snips": estimate_snips(log.reward, log.arms, log.pscore, dist, rng),
        "dr": estimate_dr(log.reward, log.arms, log.pscore, dist, q, rng),
        "replay": estimate_replay(log.reward, log.arms, dist, rng),
    }


def test_intervals_cover_the_truth_and_dr_beats_ips(world) -> None:
    env, model, target, truth = world
    runs = [_estimates(env, model, target, seed) for seed in SEEDS]
    for name in ("ips", "snips", "dr"):
        covered = sum(run[name].covers(truth) for run in runs)
        # nominal 95 %: P(Binomial(30, 0.95) < 27) is 6 %; 27/30 is the acceptance bar
        assert covered >= 27, f"{name} covered the truth {covered}/30 times"
    errors = {
        name: np.mean([abs(run[name].value - truth) for run in runs])
        for name in ("ips", "dr", "replay")
    }
    assert errors["dr"] < errors["ips"]
    # replay keeps about 1 round in 12: its error is larger, but it must still centre on
    # the truth: the mean of 30 estimates is within 3 standard errors of it
    replay = np.array([run["replay"].value for run in runs])
    assert abs(replay.mean() - truth) < 3 * replay.std(ddof=1) / np.sqrt(len(replay))


def test_ips_of_the_uniform_policy_on_a_uniform_log_is_the_mean_reward(world) -> None:
    env, *_ = world
    log = simulate_rounds(env, UniformLogging(), 4_000, seed=3)
    uniform = np.full((len(log), env.n_arms), 1.0 / env.n_arms)
    estimate = estimate_ips(log.reward, log.arms, log.pscore, uniform, np.random.default_rng(0))
    assert estimate.value == log.reward.sum() / len(log)
    assert estimate.low <= estimate.value <= estimate.high


def test_estimators_refuse_misaligned_or_impossible_inputs() -> None:
    reward, action = np.zeros(3), np.zeros(3, int)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        estimate_ips(reward, action, np.ones(3), np.ones((2, 4)) / 4, rng)
    with pytest.raises(ValueError, match="pscore"):
        estimate_ips(reward, action, np.array([1.0, 0.0, 1.0]), np.ones((3, 4)) / 4, rng)
    with pytest.raises(ValueError):
        estimate_dr(reward, action, np.ones(3), np.ones((3, 4)) / 4, np.ones((3, 5)), rng)


def test_snips_is_exact_when_every_reward_is_equal() -> None:
    rng = np.random.default_rng(0)
    action = rng.integers(4, size=500)
    dist = rng.dirichlet(np.ones(4), size=500)
    estimate = estimate_snips(np.ones(500), action, np.full(500, 0.25), dist, rng)
    assert estimate.value == pytest.approx(1.0) and estimate.low == pytest.approx(1.0)


@pytest.mark.parametrize("with_denominator", [False, True])
def test_grouped_bootstrap_has_the_index_bootstraps_interval(with_denominator) -> None:
    """Few distinct values take the multinomial-count path; the same values made distinct
    (a 1e-12 nudge) take index resampling: their intervals must agree up to Monte Carlo
    error. With B = 4,000 resamples an end (2.5 % quantile) has a standard error of
    sqrt(0.025 * 0.975 / B) / phi(1.96) = 0.042 sd of the bootstrap distribution (sd =
    width / 3.92); the bar is 4 standard errors of the difference of two ends."""
    rng = np.random.default_rng(7)
    n, resamples = 2_000, 4_000
    weight = rng.choice([0.5, 2.0, 9.0], size=n)
    reward = (rng.random(n) < 0.1) * weight
    denominator = weight if with_denominator else None
    distinct = reward + np.arange(n) * 1e-12
    grouped = bootstrap_ratio(reward, denominator, np.random.default_rng(1), resamples)
    indexed = bootstrap_ratio(distinct, denominator, np.random.default_rng(2), resamples)
    width = grouped[1] - grouped[0]
    tolerance = 4 * np.sqrt(2) * 0.042 * width / 3.92
    assert abs(grouped[0] - indexed[0]) < tolerance
    assert abs(grouped[1] - indexed[1]) < tolerance


def test_replay_matches_the_logged_arm_with_the_targets_probability() -> None:
    """The match is drawn directly with probability ``action_dist[i, action_i]``: over
    n rounds the matches are Binomial(n, p); within 4 standard deviations."""
    rng = np.random.default_rng(3)
    n, p = 8_000, 0.3
    dist = np.tile([p, 1 - p], (n, 1))
    estimate = estimate_replay(rng.random(n), np.zeros(n, np.int64), dist, rng, n_bootstrap=10)
    assert abs(estimate.n_used - n * p) < 4 * np.sqrt(n * p * (1 - p))
