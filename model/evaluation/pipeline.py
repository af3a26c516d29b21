"""The off-policy evaluation of one target policy on a logged feedback, end to end.

OBP's habit: one meta-evaluator (:class:`OffPolicyEvaluation`) runs a list of estimators
that share their arguments (:class:`EvalRounds`: ``reward, action, pscore, action_dist,
estimated_rewards``) and returns one :class:`~model.evaluation.estimators.Estimate` each.
:func:`evaluate_target` is the pipeline behind ``nudge evaluate``: split the log's rounds
at random (``train_share`` fits a segment x arm reward model weighted by 1/propensity,
the rest is evaluated), build the target's action distribution, run the estimators
(overall and per slot), and, when arms are ``product:strategy``, the per-product CR lift
with its split-half bound; with a simulator, the target's true value too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.evaluation.checks import reward_model_warnings
from model.evaluation.estimators import (
    Estimate,
    bootstrap_ratio,
    estimate_dr,
    estimate_ips,
    estimate_replay,
    estimate_snips,
)
from model.evaluation.feedback import LoggedFeedback
from model.evaluation.lift import Lift, best_within_item, relative_mean_cr_lift, split_half_bound
from model.evaluation.reward_model import SegmentRateModel
from model.evaluation.targets import greedy_action_dist, logging_action_dist, read_action_file

__all__ = [
    "BY_POSITION",
    "ESTIMATORS",
    "TARGETS",
    "EvalRounds",
    "Estimator",
    "OffPolicyConfig",
    "OffPolicyEvaluation",
    "OffPolicyResult",
    "evaluate_target",
]

TARGETS = ("segment-greedy", "uniform", "logging", "policy", "file", "oracle")


@dataclass(frozen=True)
class EvalRounds:
    """The evaluated rounds with OBP's argument names: ``reward``, ``action``, ``pscore``
    shape ``(n,)``; ``action_dist`` (the target's) and ``estimated_rewards`` (the reward
    model's) shape ``(n, n_arms)``."""

    reward: np.ndarray
    action: np.ndarray
    pscore: np.ndarray
    action_dist: np.ndarray
    estimated_rewards: np.ndarray

    def __len__(self) -> int:
        return len(self.reward)

    def take(self, rows: np.ndarray) -> EvalRounds:
        return EvalRounds(
            self.reward[rows],
            self.action[rows],
            self.pscore[rows],
            self.action_dist[rows],
            self.estimated_rewards[rows],
        )


Estimator = Callable[[EvalRounds, np.random.Generator, int], Estimate]


def on_policy_mean(x: EvalRounds, rng: np.random.Generator, n_bootstrap: int) -> Estimate:
    """The logged mean reward: what the logging policy itself earned."""
    low, high = bootstrap_ratio(x.reward, None, rng, n_bootstrap)
    n = len(x.reward)
    return Estimate("logging (on-policy mean)", float(x.reward.mean()), low, high, n, n)


def replay(x: EvalRounds, rng: np.random.Generator, n_bootstrap: int) -> Estimate:
    return estimate_replay(x.reward, x.action, x.action_dist, rng, n_bootstrap=n_bootstrap)


def ips(x: EvalRounds, rng: np.random.Generator, n_bootstrap: int) -> Estimate:
    return estimate_ips(x.reward, x.action, x.pscore, x.action_dist, rng, n_bootstrap=n_bootstrap)


def snips(x: EvalRounds, rng: np.random.Generator, n_bootstrap: int) -> Estimate:
    return estimate_snips(x.reward, x.action, x.pscore, x.action_dist, rng, n_bootstrap=n_bootstrap)


def dr(x: EvalRounds, rng: np.random.Generator, n_bootstrap: int) -> Estimate:
    return estimate_dr(
        x.reward,
        x.action,
        x.pscore,
        x.action_dist,
        x.estimated_rewards,
        rng,
        n_bootstrap=n_bootstrap,
    )


ESTIMATORS: tuple[Estimator, ...] = (on_policy_mean, replay, ips, snips, dr)
BY_POSITION: tuple[Estimator, ...] = (ips, snips, dr)  # per slot: replay needs whole rounds


@dataclass(frozen=True)
class OffPolicyEvaluation:
    """Runs every estimator on the same rounds, in order, drawing from one generator."""

    estimators: Sequence[Estimator] = ESTIMATORS
    n_bootstrap: int = 200

    def estimate(self, rounds: EvalRounds, rng: np.random.Generator) -> list[Estimate]:
        return [estimator(rounds, rng, self.n_bootstrap) for estimator in self.estimators]


@dataclass(frozen=True)
class OffPolicyConfig:
    """The target policy and how it is evaluated (``target`` one of :data:`TARGETS`)."""

    target: str = "segment-greedy"
    epsilon: float = 0.1  # greedy targets: the uniform share
    policy: str | None = None  # target "policy": a nudgeflow policy name ...
    policy_params: Mapping[str, Any] = field(default_factory=dict)  # ... and its parameters
    target_file: Path | None = None  # target "file": action probabilities
    train_share: float = 0.5
    n_bootstrap: int = 200
    segment_key: str = "segment"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.train_share < 1:
            raise ValueError("--train-share must be in (0, 1)")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.target == "file" and self.target_file is None:
            raise ValueError("--target file needs --target-file PATH")


@dataclass
class OffPolicyResult:
    """What :func:`evaluate_target` found; counts are those its figures used."""

    n_fit: int = 0
    n_test: int = 0
    rows: list[Estimate] = field(default_factory=list)
    by_position: dict[int, list[Estimate]] = field(default_factory=dict)
    truth: float | None = None
    lifts: dict[str, Lift] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # why not to trust a figure


def evaluate_target(
    fb: LoggedFeedback, config: OffPolicyConfig, env: Any = None
) -> OffPolicyResult:
    """Fit on a random ``train_share`` of ``fb``'s rounds, estimate the target's value on
    the rest. ``env``: the simulator (``model.simulator.Environment``) that drew the log,
    for the truth and the oracle target; None for a real log."""
    rng = np.random.default_rng(config.seed)
    train = rng.random(len(fb)) < config.train_share
    test = np.flatnonzero(~train)
    segments = np.array(fb.segments(config.segment_key))
    model = SegmentRateModel.fit(
        segments[train],
        fb.action[train],
        fb.reward[train],
        fb.arm_ids,
        weight=1.0 / fb.pscore[train],
    )
    q = model.predict(segments[test])
    dist, ranking = _target(config, env, fb, test, q)
    rounds = EvalRounds(fb.reward[test], fb.action[test], fb.pscore[test], dist, q)
    result = OffPolicyResult(int(train.sum()), len(test))
    result.rows = OffPolicyEvaluation(ESTIMATORS, config.n_bootstrap).estimate(rounds, rng)
    result.warnings = reward_model_warnings(
        result.n_fit, len(model.segments), fb.n_arms, fb.reward, result.rows
    )
    result.by_position = _by_position(config, fb.position[test], rounds, rng)
    if env is not None:
        result.truth = env.policy_value(env.user_index(fb.user_ids[test]), dist)
    if fb.arms.structured:
        result.lifts = _lifts(fb, test, ranking, rng)
    return result


def _target(
    config: OffPolicyConfig, env: Any, fb: LoggedFeedback, test: np.ndarray, q: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(action_dist (n_test, n_arms), ranking (n_test, n_arms))``: the target's
    distribution and the scores it ranks arms by (for the per-product lift)."""
    if config.target == "uniform":
        ranking = np.random.default_rng(config.seed).random(q.shape)
        return np.full(q.shape, 1.0 / q.shape[1]), ranking
    if config.target == "logging":
        dist = logging_action_dist(fb.action[test], fb.pscore[test], fb.n_arms)
        return dist, dist
    if config.target == "file":
        assert config.target_file is not None  # checked when the config was built
        dist = read_action_file(config.target_file, fb)[test]
        return dist, dist
    if config.target == "policy":
        dist = _policy_dist(config, fb, test, q)
        return dist, dist
    if config.target == "oracle":
        if env is None:
            raise ValueError("--target oracle needs --sim-users (the simulator's truth)")
        truth = env.conversion_matrix(env.user_index(fb.user_ids[test]))
        return greedy_action_dist(truth, config.epsilon), truth
    return greedy_action_dist(q, config.epsilon), q


def _policy_dist(
    config: OffPolicyConfig, fb: LoggedFeedback, test: np.ndarray, q: np.ndarray
) -> np.ndarray:
    """A nudgeflow policy over the model's scores, for a user with no history."""
    from model.bandit import PolicyContext, build_policy
    from state import ArmStats

    if not config.policy:
        raise ValueError("--target policy needs --policy NAME (e.g. thompson)")
    policy = build_policy(config.policy, dict(config.policy_params))
    stats, arms = [ArmStats()] * fb.n_arms, list(fb.arm_ids)
    rng = np.random.default_rng(config.seed)
    rows = [
        policy.probabilities(
            stats, q[k], arms, rng, context=PolicyContext(fb.contexts[i], None, True)
        )
        for k, i in enumerate(test.tolist())
    ]
    return np.asarray(rows, np.float64)


def _by_position(
    config: OffPolicyConfig, slots: np.ndarray, rounds: EvalRounds, rng: np.random.Generator
) -> dict[int, list[Estimate]]:
    """IPS, SNIPS and DR on each slot's rounds (each slot its own round: see the report)."""
    out: dict[int, list[Estimate]] = {}
    if not (slots > 0).any():
        return out
    evaluation = OffPolicyEvaluation(BY_POSITION, config.n_bootstrap)
    for slot in sorted(set(slots.tolist())):
        out[slot] = evaluation.estimate(rounds.take(np.flatnonzero(slots == slot)), rng)
    return out


def _lifts(
    fb: LoggedFeedback, test: np.ndarray, q: np.ndarray, rng: np.random.Generator
) -> dict[str, Lift]:
    """Target (model's best strategy per product and user), random and split-half bound,
    each relative to the baseline: every product shown with its first arm."""
    r, a, item = fb.reward[test], fb.action[test], fb.item[test]
    first_arm = np.array([np.flatnonzero(fb.item_of_arm == i)[0] for i in range(fb.n_items)])
    baseline = first_arm[item]
    target = best_within_item(q, fb.item_of_arm, item)
    return {
        "target": relative_mean_cr_lift(r, a, item, target, baseline, fb.n_items),
        "random": relative_mean_cr_lift(r, a, item, a, baseline, fb.n_items),
        "split-half bound": split_half_bound(r, a, item, baseline, fb.n_items, fb.n_arms, rng),
    }
