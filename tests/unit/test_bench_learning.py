"""The learning benchmark's harness at tiny sizes (fixed seeds; no wall-time asserts)."""

from __future__ import annotations

import numpy as np

from bench.learning.harness import reference_choices, run_learner, score_choices
from bench.learning.learners import NudgeflowLearner
from bench.learning.world import build_world
from model.bandit import build_policy
from model.simulator.ceiling import expected_given_features


def test_world_references_are_ordered_and_common_to_all_policies() -> None:
    world = build_world(3, 81, 400, 2_000)
    again = build_world(3, 81, 400, 2_000)
    np.testing.assert_array_equal(world.users, again.users)
    np.testing.assert_array_equal(world.reward_draws, again.reward_draws)
    refs = {k: score_choices(world, v) for k, v in reference_choices(world).items()}
    assert refs["oracle"]["regret"] == 0.0
    assert refs["oracle"]["pct_oracle"] == 100.0
    assert refs["features-only ceiling"]["pct_ceiling"] == 100.0
    assert refs["features-only ceiling"]["pct_oracle"] < 100.0
    assert world.eligible[np.arange(400), world.ceiling_arm].all()


def test_features_only_expectation_matches_the_population_average() -> None:
    """Averaged over users, E[p | features] equals the mean true p per arm: 3,000 users,
    per-user sd of p below 0.25, so 4 standard errors are under 0.02."""
    world = build_world(0, 81, 3_000, 1)
    users, arms = np.arange(3_000), np.arange(81)
    expected = expected_given_features(world.env.truth, users, arms).mean(0)
    truth = world.env.conversion_matrix(users).mean(0)
    assert np.abs(expected - truth).max() < 4 * 0.25 / np.sqrt(3_000)


def test_learners_offer_only_eligible_arms_and_report_every_measure() -> None:
    """``run_learner`` raises on an ineligible arm; a deterministic policy is repeatable."""
    world = build_world(1, 81, 300, 3_000)

    def learner(name: str, params: dict) -> NudgeflowLearner:
        return NudgeflowLearner(world, name, build_policy(name, params), None, pooled=True)

    first = run_learner(world, learner("epsilon-greedy", {"epsilon": 0.1}))
    second = run_learner(world, learner("epsilon-greedy", {"epsilon": 0.1}))
    assert first["regret"] == second["regret"]  # seeded draws, common random numbers
    assert len(first["regret_curve"]) == 50
    assert np.all(np.diff(first["regret_curve"]) >= -1e-9)  # regret never decreases
    assert 0.0 < first["pct_oracle"] <= 100.0


def test_cells_cover_the_lineup_and_results_do_not_depend_on_the_process() -> None:
    """``plan`` names every (catalog, seed, policy); a cell run alone measures what the
    cell runner reports (each cell rebuilds its world from the seed)."""
    from bench.learning.run import Sizes, plan, run_cell, run_cells

    sizes = Sizes(n_users=200, n_rounds=1_000, seeds=(0, 1))
    cells = plan((81,), sizes, (), history=False, only=lambda name: name == "uniform")
    assert [(c.seed, c.group, c.name) for c in cells] == [
        (0, "cold", "uniform"),
        (1, "cold", "uniform"),
    ]
    measured = run_cells(cells, sizes, (), jobs=1)
    assert set(measured) == {(81, "oracle"), (81, "features-only ceiling"), (81, "uniform")}
    again = run_cell(cells[1], sizes, (), cache=False)
    assert measured[(81, "uniform")]["results"][1]["regret"] == again["regret"]
