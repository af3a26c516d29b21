"""Acceptance: the confounding trap of the source post, and quality on simulated data."""

from __future__ import annotations

import numpy as np
import pytest

from model.catalog import load_catalog
from model.twotower.dataset import build_examples, split_by_user
from model.twotower.evaluation import auc
from model.twotower.pipeline import fit
from model.twotower.scorer import TwoTowerScorer
from model.twotower.train import TrainConfig
from state import UserState
from tests.unit.test_twotower_synthetic import (
    confounded_catalog,
    confounded_log,
    preference_log,
    preference_rate,
)

PRODUCTS = 8


def _b_wins(scorer: TwoTowerScorer, contexts: list) -> int:
    """Products whose strategy B gets the higher mean predicted rate over ``contexts``."""
    wins = 0
    for p in range(PRODUCTS):
        arms = [f"p{p}:A", f"p{p}:B"]
        mean = np.mean([scorer.score(c, UserState(), arms) for c in contexts], axis=0)
        wins += int(mean[1] > mean[0])
    return wins


@pytest.fixture(scope="module")
def confounded() -> tuple:
    """12,000 confounded exposures and a randomized slice of 2,000 (1/7 of the log).

    Why the slice suffices: in it each strategy is shown ~1,000 times to a 50/50 mix of
    groups, so the raw rates are A = 0.17, B = 0.24 with standard errors ~0.012 each;
    the 0.07 gap is ~4 standard errors of the difference, pooled over products through
    the shared strategy features. Per product (~125 exposures per strategy) the gap is
    only ~1.3 standard errors, hence "most" products, not all: we require 6 of 8.
    """
    catalog = confounded_catalog(PRODUCTS)
    examples = build_examples(confounded_log(12_000, 2_000, seed=11, catalog=catalog))
    contexts = [e.context for e in examples[:200]]
    return catalog, examples, contexts


def test_pointwise_on_confounded_logs_ranks_the_worse_strategy_first(confounded: tuple) -> None:
    """Raw log rates are A 0.27 vs B 0.11 (see the generator's test): BCE learns them."""
    catalog, examples, contexts = confounded
    result = fit(examples, examples[:1], catalog, TrainConfig(objective="pointwise", seed=1))
    assert _b_wins(TwoTowerScorer(result.artifact, catalog), contexts) <= PRODUCTS - 6


def test_itemwise_pairwise_on_the_randomized_slice_ranks_the_better_strategy_first(
    confounded: tuple,
) -> None:
    catalog, examples, contexts = confounded
    config = TrainConfig(objective="pairwise", seed=1)  # pairs come from the slice only
    result = fit(examples, examples[:1], catalog, config)
    assert _b_wins(TwoTowerScorer(result.artifact, catalog), contexts) >= 6


def test_held_out_user_auc_and_calibration_on_simulated_data() -> None:
    """2,000 users x 10 uniformly randomized decisions (8.5% convert); a quarter of
    the users held out (~5,000 examples, ~400 conversions).

    AUC: its standard error here is ~0.015, so > 0.60 is > 6 SE above chance; the
    true rates themselves reach about 0.72 (reported by the test on failure).
    Calibration: ECE over 10 equal-count bins of ~500; a perfectly calibrated model's
    per-bin error is noise with SE sqrt(0.085 * 0.915 / 500) = 0.0125, mean absolute
    value ~0.01, so we require ECE < 0.03.
    """
    catalog = load_catalog()
    examples = build_examples(preference_log(2000, 10, seed=7, catalog=catalog))
    train, held = split_by_user(examples, 0.25)
    result = fit(train, held, catalog, TrainConfig(seed=3))
    truth = [preference_rate(e.context, catalog.arm(e.arm_id)) for e in held]
    oracle = auc(np.array([e.label for e in held]), np.array(truth))
    metrics = result.metrics
    assert metrics["examples"] == len(held) > 4000
    assert metrics["auc"] > 0.60, f"AUC {metrics['auc']:.3f} (true rates: {oracle:.3f})"
    assert metrics["calibration"]["ece"] < 0.03, metrics["calibration"]
    assert {f["feature"] for f in metrics["importance"][:4]} & {"risk_tolerance", "income"}
