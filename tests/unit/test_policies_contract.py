"""Every registered policy goes through the same checks (one table of valid and invalid
parameters per policy; registering a policy without an entry here fails the suite)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from model.bandit import POLICIES, PolicyConfigError, PolicyContext, build_policy
from state import ArmStats
from tests.fakes import stats_of

CANDIDATES = ["savings:default", "savings:peers", "fund:default", "fund:peers", "loan:peers"]
SCORES = np.array([0.05, 0.10, 0.02, 0.20, 0.08])
STATS = stats_of([10, 3, 0, 25, 1], [1, 1, 0, 6, 0])
CONTEXT = PolicyContext(features={"segment": "young"}, population=stats_of([100] * 5, [5] * 5))

VALID: dict[str, dict[str, Any]] = {
    "thompson": {"prior_strength": 5},
    "epsilon-greedy": {"epsilon": 0.1},
    "ucb1": {},
    "ucb-model": {"floor": 0.05},
    "uniform": {},
    "rule-based": {"rules": {"young": "fund:peers", "old": "savings:default"}},
    "randomized-slice": {"share": 0.2},
}
INVALID: dict[str, list[tuple[dict[str, Any], str]]] = {
    "thompson": [
        ({"prior_strength": 0}, "prior_strength"),
        ({"floor": 0}, "floor"),
        ({"prior_strength": 0.5}, "prior_strength"),
        ({"population_weight": 2}, "population_weight"),
        ({"target": "clicks"}, "target"),
        ({"sharpness": 0.5}, "sharpness"),
        ({"sibling_strength": -1}, "sibling_strength"),
    ],
    "epsilon-greedy": [({"epsilon": 1.5}, "epsilon"), ({"prior_strength": -1}, "prior")],
    "ucb1": [({"exploration": -1}, "exploration"), ({"floor": 2}, "floor")],
    "ucb-model": [({"prior_strength": 0}, "prior_strength")],
    "uniform": [({"epsilon": 0.1}, "epsilon")],
    "rule-based": [({}, "rules"), ({"rules": {"young": "not-an-arm"}}, "arm id")],
    "randomized-slice": [({"share": 1.5}, "share"), ({"policy": "nope"}, "unknown policy")],
}

NAMES = sorted(POLICIES)


def test_every_registered_policy_has_contract_parameters() -> None:
    assert set(VALID) == set(POLICIES) == set(INVALID)


def _choose(name: str, stats: list[ArmStats], seed: int, **overrides: Any) -> Any:
    policy = build_policy(name, {**VALID[name], **overrides})
    rng = np.random.default_rng(seed)
    return policy.choose(stats, SCORES, CANDIDATES, rng, context=CONTEXT)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("stats", [STATS, [ArmStats()] * 5], ids=["warm", "cold"])
def test_choice_is_an_eligible_candidate_with_a_propensity(
    name: str, stats: list[ArmStats]
) -> None:
    for seed in range(20):
        choice = _choose(name, stats, seed)
        assert 0 <= choice.index < len(CANDIDATES)
        assert 0.0 < choice.propensity <= 1.0
        assert isinstance(choice.explored, bool)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("stats", [STATS, [ArmStats()] * 5], ids=["warm", "cold"])
def test_probabilities_are_a_distribution_over_candidates(name: str, stats: list[ArmStats]) -> None:
    policy = build_policy(name, VALID[name])
    p = policy.probabilities(stats, SCORES, CANDIDATES, np.random.default_rng(0), context=CONTEXT)
    assert p.shape == (len(CANDIDATES),)
    assert np.all((p >= 0) & (p <= 1))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "randomized-slice"])
def test_reported_propensity_is_the_probability_of_the_chosen_arm(name: str) -> None:
    """With the generator in the same state, ``choose`` draws from ``probabilities``.
    (The slice reports its served sub-policy's propensity: see test_policies.py.)"""
    policy = build_policy(name, VALID[name])
    for seed in range(10):
        choice = _choose(name, STATS, seed)
        rng = np.random.default_rng(seed)
        p = policy.probabilities(STATS, SCORES, CANDIDATES, rng, context=CONTEXT)
        assert choice.propensity == pytest.approx(p[choice.index], abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_choice(name: str) -> None:
    assert [_choose(name, STATS, s) for s in range(10)] == [
        _choose(name, STATS, s) for s in range(10)
    ]


@pytest.mark.parametrize("name", NAMES)
def test_empirical_frequencies_match_probabilities(name: str) -> None:
    """Over N seeded decisions each arm's share is within 4 standard errors of the mean
    reported probability (for Monte Carlo policies the vector itself varies by seed)."""
    policy = build_policy(
        name, {**VALID[name], "share": 0.2} if name == "randomized-slice" else VALID[name]
    )
    n = 1500
    counts = np.zeros(len(CANDIDATES))
    expected = np.zeros(len(CANDIDATES))
    for seed in range(n):
        choice = policy.choose(
            STATS, SCORES, CANDIDATES, np.random.default_rng(seed), context=CONTEXT
        )
        counts[choice.index] += 1
        rng = np.random.default_rng(seed + 10**6)
        expected += policy.probabilities(STATS, SCORES, CANDIDATES, rng, context=CONTEXT)
    freq, expected = counts / n, expected / n
    tolerance = 4 * np.sqrt(expected * (1 - expected) / n) + 1e-9
    assert np.all(np.abs(freq - expected) <= tolerance), (freq, expected)


@pytest.mark.parametrize("name", NAMES)
def test_invalid_configuration_is_rejected_with_a_clear_message(name: str) -> None:
    for params, words in INVALID[name]:
        with pytest.raises(PolicyConfigError, match=words):
            build_policy(name, {**VALID[name], **params} if name != "rule-based" else params)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameters_are_rejected(name: str) -> None:
    with pytest.raises(PolicyConfigError, match=name):
        build_policy(name, {**VALID[name], "no_such_parameter": 1})


def test_unknown_policy_names_the_choices() -> None:
    with pytest.raises(PolicyConfigError, match="thompson"):
        build_policy("greedy-ish")


@pytest.mark.parametrize("name", NAMES)
def test_no_candidates_is_an_error_not_a_choice(name: str) -> None:
    policy = build_policy(name, VALID[name])
    with pytest.raises(ValueError, match="no candidates"):
        policy.choose([], np.array([]), [], np.random.default_rng(0))


@pytest.mark.parametrize("name", NAMES)
def test_context_is_optional(name: str) -> None:
    policy = build_policy(name, VALID[name])
    choice = policy.choose(STATS, SCORES, CANDIDATES, np.random.default_rng(0))
    assert 0.0 < choice.propensity <= 1.0
