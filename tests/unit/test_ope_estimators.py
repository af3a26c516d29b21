"""Acceptance of the off-policy estimators on simulator logs with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from model.evaluation import (
    SegmentRateModel,
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
