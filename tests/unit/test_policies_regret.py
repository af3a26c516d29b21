"""Cumulative regret on a seeded Bernoulli bandit: 20 arms, 20,000 decisions.

Margins come from the sample size: ``4 * sqrt(T * var(gap))`` is four standard
deviations of the pseudo-regret of uniform play (the noisiest policy here) over ``T``
decisions. The regret curves are written as a PNG to ``$NUDGE_TEST_ARTIFACTS`` (or the
test's temporary directory) when matplotlib is installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from model.bandit import EpsilonGreedy, ThompsonSampling, Uniform
from tests.fakes import run_bandit

STEPS = 20_000


@pytest.mark.slow
def test_thompson_has_less_regret_than_epsilon_greedy_and_uniform(tmp_path: Path) -> None:
    env = np.random.default_rng(2024)
    means = np.concatenate([[0.15], env.uniform(0.02, 0.10, 19)])
    good_prior = np.clip(means + env.normal(0, 0.01, 20), 0.001, 0.9)
    curves = {
        "thompson (no model)": run_bandit(ThompsonSampling(prior_strength=1), means, STEPS, 1),
        "thompson (good model prior)": run_bandit(
            ThompsonSampling(prior_strength=50), means, STEPS, 1, scores=good_prior
        ),
        "epsilon-greedy 0.1": run_bandit(EpsilonGreedy(epsilon=0.1), means, STEPS, 1),
        "uniform": run_bandit(Uniform(), means, STEPS, 1),
    }
    _plot(curves, Path(os.environ.get("NUDGE_TEST_ARTIFACTS", tmp_path)))
    gaps = means.max() - means
    margin = 4 * np.sqrt(STEPS * gaps.var())
    final = {name: curve[-1] for name, curve in curves.items()}
    assert final["thompson (no model)"] + margin < final["epsilon-greedy 0.1"], final
    assert final["thompson (no model)"] + margin < final["uniform"], final
    assert final["thompson (good model prior)"] + margin < final["thompson (no model)"], final


def _plot(curves: dict[str, np.ndarray], folder: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the PNG is a report, not part of the check
        return
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, curve in curves.items():
        ax.plot(curve, label=name)
    ax.set(xlabel="decision", ylabel="cumulative pseudo-regret", yscale="log")
    ax.legend()
    fig.savefig(folder / "regret_curves.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
