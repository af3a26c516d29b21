"""The confounding trap (the source post's warning), made measurable.

Logs: ``confounded`` rounds from :class:`ConfoundedLogging` (the marketer closes with
gamification and incentive nudges to the customers they know are keen on the product,
a hidden trait) followed by a ``randomized`` slice of uniform exposures, over users
apart from the judged ones. Four two-tower models:

- ``pointwise on the logs``: BCE on every logged exposure (confounded and randomized);
- ``pairwise on the randomized slice``: the item-wise pairwise loss on the uniform slice
  only (``objective="pairwise"``);
- ``pointwise on the randomized slice``: BCE on the uniform slice only;
- ``pointwise on uniform logs``: the same number of exposures, all randomized (reference).

Judged on randomized data of fresh users (the evaluation must be randomized, or it
inherits the trap): the share of same-product pairs of strategies each model orders as
the truth does (``pair_accuracy``), the model's lift of the targeted family over the
others against the true lift (``family_lift`` vs ``true_family_lift``, mean logit
difference), and the conversion rate of choosing, for each user and eligible product,
the strategy the model ranks first (``strategy_value``, % of the best strategy's), and
of giving each user the eligible arm the model ranks first (``arm_value``, % of the
oracle's). Calibration, as a training report would see it: the mean predicted and true
conversion rate of randomized exposures (``predicted_rate`` / ``true_rate``, %) and of
exposures the confounded policy would make (``logged_predicted_rate`` / ``logged_rate``:
judged on its own kind of logs, a fooled model looks calibrated).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.learning.history import History, examples_of, train_two_tower
from bench.learning.world import build_world, eligibility
from model.simulator import ConfoundedLogging, Environment, UniformLogging
from model.simulator.truth import TruthParams
from model.twotower.scorer import TwoTowerScorer
from state import UserState

JUDGED = (
    "pair_accuracy",
    "family_lift",
    "true_family_lift",
    "strategy_value",
    "targeted_share",
    "true_targeted_share",
    "arm_value",
    "predicted_rate",
    "true_rate",
    "logged_predicted_rate",
    "logged_rate",
)
__all__ = ["MODELS", "bench_confounding", "judge", "trap_logs"]

MODELS = {
    "pointwise on the logs": ("mixed", "pointwise"),
    "pairwise on the randomized slice": ("mixed", "pairwise"),
    "pointwise on the randomized slice": ("slice", "pointwise"),
    "pointwise on uniform logs": ("uniform", "pointwise"),
}


def trap_logs(
    env: Environment, confounded: int, randomized: int, seed: int, uniform_only: bool = False
) -> History:
    """``confounded`` targeted rounds then ``randomized`` uniform ones (or all uniform)."""
    rng = np.random.default_rng([seed, 31])
    n = confounded + randomized
    users = rng.integers(env.n_users, size=n)
    arms, pscore = UniformLogging().choose(env, users, rng)
    is_random = np.ones(n, bool)
    if not uniform_only:
        arms[:confounded], pscore[:confounded] = ConfoundedLogging().choose(
            env, users[:confounded], rng
        )
        is_random[:confounded] = False
    rewards = env.draw_outcome(rng, users, arms).astype(np.float64)
    return History(env, users, arms, rewards, pscore, is_random)


def _model_scores(scorer: TwoTowerScorer, env: Environment) -> np.ndarray:
    """Calibrated logits of every user x arm, ``(n_users, m)`` (fresh users: empty state)."""
    ids = env.arm_ids
    return np.stack([scorer.score(env.context(u), UserState(), ids) for u in range(env.n_users)])


def judge(scores: np.ndarray, env: Environment, family: int = 2) -> dict[str, float]:
    """The measures of the module docstring, for model probabilities ``scores``."""
    truth = env.conversion_matrix(np.arange(env.n_users))
    logit = np.log(np.clip(scores, 1e-6, 1 - 1e-6) / np.clip(1 - scores, 1e-6, 1))
    true_logit = np.log(truth / (1 - truth))
    targeted = env.arms.family == family
    lift = float(logit[:, targeted].mean() - logit[:, ~targeted].mean())
    true_lift = float(true_logit[:, targeted].mean() - true_logit[:, ~targeted].mean())
    correct = total = 0.0
    chosen = best = picked_targeted = true_targeted = 0.0
    ok = eligibility(env)
    for product in np.unique(env.arms.product):
        cols = np.flatnonzero(env.arms.product == product)
        m, t = scores[:, cols], truth[:, cols]
        i, j = np.triu_indices(len(cols), 1)
        correct += float(((m[:, i] > m[:, j]) == (t[:, i] > t[:, j])).sum())
        total += m.shape[0] * len(i)
        rows = ok[:, cols[0]]
        pick = m[rows].argmax(1)
        chosen += float(t[rows, pick].sum())
        picked_targeted += float(targeted[cols][pick].sum())
        true_targeted += float(targeted[cols][t[rows].argmax(1)].sum())
        best += float(t[rows].max(1).sum())
    return _values(scores, truth, env) | {
        "pair_accuracy": 100 * correct / total,
        "family_lift": lift,
        "true_family_lift": true_lift,
        "strategy_value": 100 * chosen / best,
        "targeted_share": 100 * picked_targeted / _rows(ok, env),
        "true_targeted_share": 100 * true_targeted / _rows(ok, env),
    }


def _values(scores: np.ndarray, truth: np.ndarray, env: Environment) -> dict[str, float]:
    """``arm_value`` and the calibration measures of the module docstring."""
    ok = eligibility(env)
    top = np.where(ok, scores, -np.inf).argmax(1)
    users = np.arange(env.n_users)
    logged = ConfoundedLogging().action_dist(env, users)
    return {
        "arm_value": 100 * float(truth[users, top].mean() / np.where(ok, truth, 0).max(1).mean()),
        "predicted_rate": 100 * float(scores[ok].mean()),
        "true_rate": 100 * float(truth[ok].mean()),
        "logged_predicted_rate": 100 * float((logged * scores).sum(1).mean()),
        "logged_rate": 100 * float((logged * truth).sum(1).mean()),
    }


def _rows(ok: np.ndarray, env: Environment) -> float:
    """(user, eligible product) pairs judged."""
    firsts = [np.flatnonzero(env.arms.product == p)[0] for p in np.unique(env.arms.product)]
    return float(ok[:, firsts].sum())


def bench_confounding(
    sizes: Any, confounded: int = 80_000, randomized: int = 20_000
) -> dict[str, Any]:
    scale = 0.1 if sizes.n_rounds < 10_000 else 1.0
    n_conf, n_rand = int(confounded * scale), int(randomized * scale)
    out: dict[str, Any] = {"confounded": n_conf, "randomized": n_rand, "seeds": {}}
    for seed in sizes.seeds:
        judged = build_world(seed, 81, min(sizes.n_users, 3_000), 1).env
        params = TruthParams(seed=seed)
        past = Environment.build(
            sizes.history_users, judged.catalog, seed=seed + 7919, params=params
        )
        mixed = examples_of(trap_logs(past, n_conf, n_rand, seed))
        logs = {
            "mixed": mixed,
            "slice": [e for e in mixed if e.randomized],
            "uniform": examples_of(trap_logs(past, n_conf, n_rand, seed, uniform_only=True)),
        }
        out["seeds"][seed] = {
            name: judge(
                _model_scores(train_two_tower(logs[data], judged.catalog, objective, seed), judged),
                judged,
            )
            for name, (data, objective) in MODELS.items()
        }
    out["summary"] = {
        name: {
            k: round(float(np.mean([s[name][k] for s in out["seeds"].values()])), 3) for k in JUDGED
        }
        for name in MODELS
    }
    return out
