"""The simulator: reproducible, consistent views of one truth, valid logs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model.engine import decision_id_for
from model.events import Conversion, Decision, DecisionRequest, Impression
from model.logs import read_jsonl, write_jsonl
from model.simulator import (
    ConfoundedLogging,
    Environment,
    RuleLogging,
    UniformLogging,
    build_logging_policy,
    rounds_to_events,
    simulate_rounds,
    synthetic_catalog,
)


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment.build(5_000, seed=3)


def test_same_seed_same_world_other_seed_other_world(env: Environment) -> None:
    again = Environment.build(5_000, seed=3)
    other = Environment.build(5_000, seed=4)
    users, arms = np.arange(100), np.arange(100) % env.n_arms
    p = env.conversion_probability(users, arms)
    np.testing.assert_array_equal(p, again.conversion_probability(users, arms))
    assert not np.allclose(p, other.conversion_probability(users, arms))


def test_pairwise_matrix_and_oracle_agree(env: Environment) -> None:
    users = np.arange(300)
    matrix = env.conversion_matrix(users)
    assert matrix.shape == (300, env.n_arms)
    assert np.all((matrix > 0) & (matrix < 1))
    arms = np.arange(300) % env.n_arms
    np.testing.assert_allclose(
        env.conversion_probability(users, arms), matrix[users, arms], rtol=1e-5
    )
    best, value = env.best_arm(users, batch_size=7)  # batches must not change the answer
    np.testing.assert_array_equal(best, matrix.argmax(1))
    np.testing.assert_allclose(value, matrix.max(1), rtol=1e-5)


def test_ids_and_indexes_are_interchangeable(env: Environment) -> None:
    arm_id = env.arm_ids[5]
    by_id = env.conversion_probability(["u0000042"], [arm_id])
    np.testing.assert_array_equal(by_id, env.conversion_probability(42, 5))
    with pytest.raises(ValueError):
        env.user_index(env.n_users)


def test_context_has_the_papers_features_and_fits_the_contract(env: Environment) -> None:
    context = env.context(7)
    assert {
        "age",
        "income",
        "region",
        "risk_tolerance",
        "risky_investment",
        "phone_active_time",
        "segment",
    } <= context.keys()
    assert 1 <= context["risk_tolerance"] <= 5 and context["risky_investment"] in (0, 1)
    DecisionRequest(schema_version=1, event_id="e", ts=0, user_id="u", context=context)
    json.dumps(context)


def test_truth_penalises_products_riskier_than_the_user_tolerates(env: Environment) -> None:
    users = np.arange(2_000)
    matrix = env.conversion_matrix(users)
    too_risky = env.arms.risk_level[None, :] > env.population.risk_tolerance[users][:, None]
    assert matrix[too_risky].mean() < matrix[~too_risky].mean()


def test_outcomes_follow_the_probabilities(env: Environment) -> None:
    rng = np.random.default_rng(0)
    n = 40_000
    users, arms = rng.integers(env.n_users, size=n), rng.integers(env.n_arms, size=n)
    p = env.conversion_probability(users, arms)
    drawn = env.draw_outcome(rng, users, arms)
    # sum of independent Bernoullis: within 4 standard deviations
    assert abs(drawn.sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())


@pytest.mark.parametrize(
    "policy", [UniformLogging(), RuleLogging(epsilon=0.2), ConfoundedLogging()]
)
def test_logging_policies_report_their_true_propensities(env: Environment, policy) -> None:
    users = np.random.default_rng(1).integers(env.n_users, size=3_000)
    dist = policy.action_dist(env, users)
    np.testing.assert_allclose(dist.sum(1), 1.0)
    arms, pscore = policy.choose(env, users, np.random.default_rng(2))
    np.testing.assert_allclose(pscore, dist[np.arange(len(users)), arms])
    # importance weights of a fixed arm average to its uniform share (unbiasedness):
    # E[1{a=k}/p] = 1 for every k; over 3,000 draws and 81 arms check the total mass
    weights = 1.0 / pscore
    assert abs(weights.mean() / env.n_arms - 1.0) < 0.2


def test_rule_logging_without_epsilon_is_deterministic(env: Environment) -> None:
    users = np.arange(500)
    arms, pscore = build_logging_policy("rule").choose(env, users, np.random.default_rng(0))
    assert np.all(pscore == 1.0)
    segments = env.population.segment_codes(users)
    for code in np.unique(segments):
        assert len(np.unique(arms[segments == code])) == 1


def test_log_is_time_ordered_unique_and_attributable(env: Environment, tmp_path) -> None:
    rounds = simulate_rounds(env, UniformLogging(), 2_000, seed=5, days=1)
    path = tmp_path / "log.jsonl"
    count = write_jsonl(path, rounds_to_events(env, rounds))
    events = list(read_jsonl(path))
    assert count == len(events) == 3 * 2_000 + int(rounds.reward.sum())
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    assert len({e.event_id for e in events}) == len(events)
    requests = {e.event_id: e for e in events if isinstance(e, DecisionRequest)}
    decisions = {e.decision_id: e for e in events if isinstance(e, Decision)}
    assert {decision_id_for(r) for r in requests} == set(decisions)
    for e in events:
        if isinstance(e, Impression | Conversion):
            assert e.decision_id in decisions
            assert decisions[e.decision_id].user_id == e.user_id
    assert all(d.propensity == pytest.approx(1 / env.n_arms) for d in decisions.values())


def test_scales_to_a_million_users_and_a_thousand_arms() -> None:
    big = Environment.build(1_000_000, catalog=synthetic_catalog(40, 25), seed=0)
    assert big.n_arms == 1_000
    users = np.arange(0, 1_000_000, 997)  # about 1,000 users, scored in batches
    best, value = big.best_arm(users, batch_size=256)
    assert best.shape == value.shape == (len(users),)
    assert np.all(value >= big.conversion_probability(users, np.zeros(len(users), int)))
