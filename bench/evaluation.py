"""Off-policy evaluation throughput: logged rounds per second through the estimators.

Inputs are built as ``nudge evaluate`` builds them from a uniform-random simulator log:
rounds split at random (``train_share`` 0.5), a :class:`SegmentRateModel` fitted on the
train rounds with weights ``1 / pscore``, its predictions ``q`` on the test rounds, the
segment-greedy target ``greedy_action_dist(q, 0.1)``. Then, on the test rounds, the
same calls in the same order with one generator: the logging policy's bootstrap mean,
replay, IPS, SNIPS and DR (reward model ``q``), each with its ``n_bootstrap`` percentile
interval. Events are test rounds. Baselines over the same reward array: ``numpy.mean``
and a textbook bootstrap of the mean (``reward[rng.integers(n, size=(B, n))]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.timing import median_rate, one_core, ratio
from model.evaluation import (
    Estimate,
    SegmentRateModel,
    greedy_action_dist,
)
from model.evaluation.pipeline import ESTIMATORS as PIPELINE_ESTIMATORS
from model.evaluation.pipeline import Estimator, EvalRounds, OffPolicyEvaluation
from model.simulator import Environment, Rounds, UniformLogging, simulate_rounds

__all__ = [
    "ESTIMATORS",
    "N_BOOTSTRAP",
    "TARGET_EVENTS_PER_SECOND",
    "EvaluationInputs",
    "bench_evaluation",
    "evaluate_all",
    "estimate_doc",
    "evaluation_inputs",
    "naive_bootstrap_mean",
    "per_round_model",
]

N_BOOTSTRAP = 200  # nudge evaluate --bootstrap default (and the estimators')
TARGET_EVENTS_PER_SECOND = 200_000  # issue 5: the whole evaluation, one core
EPSILON = 0.1  # nudge evaluate --epsilon default
TRAIN_SHARE = 0.5  # nudge evaluate --train-share default


# the rounds and the estimator list of ``nudge evaluate`` (model.evaluation.pipeline)
EvaluationInputs = EvalRounds
ESTIMATORS: dict[str, Estimator] = dict(
    zip(("logging", "replay", "ips", "snips", "dr"), PIPELINE_ESTIMATORS, strict=True)
)


def evaluate_all(
    x: EvaluationInputs, rng: np.random.Generator, n_bootstrap: int = N_BOOTSTRAP
) -> list[Estimate]:
    """Every estimator in ``nudge evaluate``'s order, sharing one generator as it does."""
    return OffPolicyEvaluation(PIPELINE_ESTIMATORS, n_bootstrap).estimate(x, rng)


def _fit_target(
    segments: np.ndarray, rounds: Rounds, train: np.ndarray, arm_ids: tuple[str, ...]
) -> EvaluationInputs:
    model = SegmentRateModel.fit(
        segments[train],
        rounds.arms[train],
        rounds.reward[train],
        arm_ids,
        weight=1.0 / rounds.pscore[train],
    )
    test = np.flatnonzero(~train)
    q = model.predict(segments[test])
    return EvaluationInputs(
        rounds.reward[test],
        rounds.arms[test],
        rounds.pscore[test],
        greedy_action_dist(q, EPSILON),
        q,
    )


def evaluation_inputs(
    n_rounds: int, seed: int = 0, repeats: int = 1
) -> tuple[EvaluationInputs, float]:
    """About ``n_rounds`` test rounds (twice as many, at least 100, are simulated, then
    split) and the reward-model stage's rate (fit + predict + target; simulated rounds
    per second)."""
    env = Environment.build(max(1_000, n_rounds // 10), seed=seed)
    rounds = simulate_rounds(env, UniformLogging(), max(100, round(n_rounds / TRAIN_SHARE)), seed)
    segments = env.population.segment_names(rounds.users)
    train = np.random.default_rng(seed).random(len(rounds)) < TRAIN_SHARE
    made: list[EvaluationInputs] = []

    def run() -> int:
        made.append(_fit_target(segments, rounds, train, env.arm_ids))
        return len(rounds)

    rate = median_rate(run, repeats)
    return made[-1], rate


def _estimator_rate(
    estimator: Estimator, x: EvaluationInputs, seed: int, n_bootstrap: int, repeats: int
) -> tuple[float, Estimate]:
    made: list[Estimate] = []

    def run() -> int:
        made.append(estimator(x, np.random.default_rng(seed), n_bootstrap))
        return len(x)

    return median_rate(run, repeats), made[-1]


def _all_rate(x: EvaluationInputs, seed: int, n_bootstrap: int, repeats: int) -> float:
    def run() -> int:
        evaluate_all(x, np.random.default_rng(seed), n_bootstrap)
        return len(x)

    return median_rate(run, repeats)


def naive_bootstrap_mean(
    reward: np.ndarray, rng: np.random.Generator, n_bootstrap: int
) -> tuple[float, float]:
    """The textbook interval: resample indexes, take means, percentiles (in blocks)."""
    n = len(reward)
    means = np.empty(n_bootstrap)
    rows = max(1, 2_000_000 // n)
    for start in range(0, n_bootstrap, rows):
        index = rng.integers(n, size=(min(rows, n_bootstrap - start), n))
        means[start : start + len(index)] = reward[index].mean(1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def _baselines(x: EvaluationInputs, seed: int, n_bootstrap: int, repeats: int) -> dict[str, float]:
    loops = 100  # one mean is too quick to time alone

    def mean() -> int:
        for _ in range(loops):
            np.mean(x.reward)
        return loops * len(x)

    def bootstrap() -> int:
        naive_bootstrap_mean(x.reward, np.random.default_rng(seed), n_bootstrap)
        return len(x)

    return {
        "numpy_mean_events_per_second": median_rate(mean, repeats),
        "naive_bootstrap_mean_events_per_second": median_rate(bootstrap, repeats),
    }


def _entry(rate: float, baselines: dict[str, float]) -> dict[str, Any]:
    return {
        "events_per_second": round(rate),
        "ratio_to_numpy_mean": ratio(rate, baselines["numpy_mean_events_per_second"]),
        "ratio_to_naive_bootstrap": ratio(
            rate, baselines["naive_bootstrap_mean_events_per_second"]
        ),
    }


def estimate_doc(estimate: Estimate) -> dict[str, float | int]:
    return {
        "value": estimate.value,
        "low": estimate.low,
        "high": estimate.high,
        "n_used": estimate.n_used,
    }


def per_round_model(x: EvaluationInputs, seed: int) -> EvaluationInputs:
    """The same rounds with a reward model that predicts differently for every round (as
    a two-tower scorer would): ``q`` times a factor in [0.9, 1.1]."""
    jitter = np.random.default_rng(seed).uniform(0.9, 1.1, x.estimated_rewards.shape)
    q = np.clip(x.estimated_rewards * jitter, 0.0, 1.0)
    return EvaluationInputs(x.reward, x.action, x.pscore, x.action_dist, q)


def bench_evaluation(
    n_rounds: int, repeats: int, n_bootstrap: int = N_BOOTSTRAP, seed: int = 0
) -> dict[str, Any]:
    """Rates on one core (this process pinned to one CPU while it runs)."""
    with one_core() as pinning:
        x, model_rate = evaluation_inputs(n_rounds, seed, repeats)
        baselines = _baselines(x, seed, n_bootstrap, repeats)
        estimators: dict[str, Any] = {}
        for name, estimator in ESTIMATORS.items():
            rate, estimate = _estimator_rate(estimator, x, seed, n_bootstrap, repeats)
            estimators[name] = _entry(rate, baselines) | {"estimate": estimate_doc(estimate)}
        every = _entry(_all_rate(x, seed, n_bootstrap, repeats), baselines)
        dense = per_round_model(x, seed)
        dense_dr = _estimator_rate(ESTIMATORS["dr"], dense, seed, n_bootstrap, repeats)[0]
    return {
        "rounds": len(x),
        "n_bootstrap": n_bootstrap,
        "one_core": pinning,
        "target_events_per_second": TARGET_EVENTS_PER_SECOND,
        "all": every | {"meets_target": every["events_per_second"] >= TARGET_EVENTS_PER_SECOND},
        "estimators": estimators,
        "baselines": {k: round(v) for k, v in baselines.items()},
        "reward_model_rounds_per_second": round(model_rate),
        "dr_per_round_model": _entry(dense_dr, baselines),
    }
