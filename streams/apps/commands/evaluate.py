"""``nudge evaluate LOG``: off-policy estimates, CR lift and the split-half bound."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from streams.apps.commands._common import add_columns_flag, read_log_checked, settings_from

HELP = """\
Evaluate a target policy on a logged log without deploying it. Arms are the log's own
ids unless --catalog (or --arms PxS, --sim-users) gives a catalog; arms of the log
outside it stop the command unless --drop-unknown-arms. Rewards are what the serving
engine credits (one attribution rule: window, NUDGE_REWARD_WEIGHTS), or one kind only
with --reward KIND. The log's rounds are split at random: --train-share fits a
segment x arm reward model (weighted by 1/propensity), the rest evaluates. Targets:
segment-greedy (the model's best arm, --epsilon uniform), uniform, logging (the logging
policy itself: IPS equals the logged mean), policy (--policy NAME --policy-params JSON
over the model's scores), file (--target-file: action probabilities per logged round
or per context, .csv or .npy), or oracle (the simulator's truth; needs --sim-users).
Reports replay, IPS, SNIPS and DR with bootstrap intervals, per position too when the
log has slots, and for product:strategy arms the per-product CR lift and split-half
bound; writes report.md, estimates.json, estimates.png, lift.png and report.html into
--out-dir.
"""

TARGETS = ("segment-greedy", "uniform", "logging", "policy", "file", "oracle")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="off-policy evaluation of a target policy",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "log", type=Path, metavar="LOG", help="log file (.jsonl, .parquet, .csv or .csv.gz)"
    )
    add_columns_flag(parser)
    target = parser.add_argument_group("target")
    target.add_argument("--target", choices=TARGETS, help="target policy (segment-greedy)")
    target.add_argument("--target-file", type=Path, help="action probabilities (implies file)")
    target.add_argument("--epsilon", type=float, default=0.1, help="greedy's uniform share (0.1)")
    target.add_argument("--policy", help="--target policy: a nudgeflow policy name")
    target.add_argument("--policy-params", default="{}", help="its parameters as JSON")
    arms = parser.add_argument_group("arms and rewards")
    arms.add_argument("--catalog", type=Path, dest="catalog_path", help="arm catalog JSON")
    arms.add_argument("--arms", metavar="PxS", help="the log used nudge simulate --arms PxS")
    arms.add_argument("--arm-ids", help="the arms as plain ids, comma-separated")
    arms.add_argument(
        "--drop-unknown-arms",
        action="store_true",
        help="leave out rounds whose arm is not among the arms (counted in the report)",
    )
    arms.add_argument(
        "--reward",
        default="weights",
        metavar="KIND|weights",
        help="reward: the serving weights (NUDGE_REWARD_WEIGHTS, default) or one kind",
    )
    arms.add_argument("--segment-key", default="segment", help="context key of the model")
    parser.add_argument("--train-share", type=float, default=0.5, help="rounds used to fit (0.5)")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples (200)")
    parser.add_argument("--sim-users", type=int, help="log of nudge simulate --users N: truth")
    parser.add_argument("--sim-seed", type=int, default=0, help="its --seed (0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of splits and bootstrap (0)")
    parser.add_argument(
        "--out-dir", type=Path, default=Path("evaluation-report"), help="report directory"
    )
    parser.set_defaults(func=_run)


def _environment(args: argparse.Namespace) -> Any:
    from streams.apps.commands.simulate import build_environment

    if args.sim_users is None:
        return None
    sim = argparse.Namespace(
        users=args.sim_users, seed=args.sim_seed, arms=args.arms, catalog_path=args.catalog_path
    )
    return build_environment(sim)


def _arms(args: argparse.Namespace, env: Any) -> Any:
    from model.catalog import load_catalog
    from model.evaluation import ArmSpace
    from model.simulator import synthetic_catalog

    if env is not None:
        return ArmSpace.from_catalog(env.catalog, "simulator catalog")
    if args.arms:
        p, s = (int(x) for x in args.arms.lower().split("x"))
        return ArmSpace.from_catalog(synthetic_catalog(p, s, seed=args.sim_seed), "--arms")
    if args.catalog_path:
        return ArmSpace.from_catalog(load_catalog(args.catalog_path), str(args.catalog_path))
    if args.arm_ids:
        return ArmSpace.plain(
            [a.strip() for a in args.arm_ids.split(",") if a.strip()], "--arm-ids"
        )
    return None


def _rule(args: argparse.Namespace) -> Any:
    from model.attribution import AttributionRule

    settings = settings_from(args)
    window: dict[str, Any] = {
        "window_seconds": settings.attribution_window_seconds,
        "half_life_seconds": settings.half_life_seconds,
    }
    if args.reward == "weights":
        weights = dict(settings.reward_weights)
        kinds = frozenset({"purchase"}) & weights.keys() or frozenset(weights)
        return AttributionRule(reward_weights=weights, success_kinds=kinds, **window)
    return AttributionRule.only(args.reward, **window)


def _run(args: argparse.Namespace) -> int:
    from model.evaluation import feedback_from_events
    from streams.apps.evaluate_report import Report, write_report

    if not 0 < args.train_share < 1:
        raise ValueError("--train-share must be in (0, 1)")
    if args.target_file is not None:
        args.target = args.target or "file"
    args.target = args.target or "segment-greedy"
    if args.target == "file" and args.target_file is None:
        raise ValueError("--target file needs --target-file PATH")
    env = _environment(args)
    rule = _rule(args)
    events = read_log_checked(args.log, args.columns)
    fb = feedback_from_events(
        events, _arms(args, env), rule=rule, drop_unknown=args.drop_unknown_arms
    )
    report = Report(args, fb, rule)
    if not fb.reward.any():
        write_report(report)
        return 0
    _evaluate(args, env, fb, report)
    write_report(report)
    return 0


def _evaluate(args: argparse.Namespace, env: Any, fb: Any, report: Any) -> None:
    from model.evaluation import SegmentRateModel

    rng = np.random.default_rng(args.seed)
    train = rng.random(len(fb)) < args.train_share
    test = np.flatnonzero(~train)
    segments = np.array(fb.segments(args.segment_key))
    model = SegmentRateModel.fit(
        segments[train],
        fb.action[train],
        fb.reward[train],
        fb.arm_ids,
        weight=1.0 / fb.pscore[train],
    )
    q = model.predict(segments[test])
    dist, ranking = _target(args, env, fb, test, q)
    report.n_fit, report.n_test = int(train.sum()), len(test)
    report.rows = _estimates(args, fb, test, dist, q, rng)
    report.by_position = _by_position(args, fb, test, dist, q, rng)
    if env is not None:
        report.truth = env.policy_value(env.user_index(fb.user_ids[test]), dist)
    if fb.arms.structured:
        report.lifts = _lifts(fb, test, ranking, rng)


def _target(args: argparse.Namespace, env: Any, fb: Any, test: np.ndarray, q: np.ndarray):
    """``(action_dist (n_test, n_arms), ranking (n_test, n_arms))``: the target's
    distribution and the scores it ranks arms by (for the per-product lift)."""
    from model.evaluation import greedy_action_dist, logging_action_dist, read_action_file

    if args.target == "uniform":
        return np.full(q.shape, 1.0 / q.shape[1]), np.random.default_rng(args.seed).random(q.shape)
    if args.target == "logging":
        dist = logging_action_dist(fb.action[test], fb.pscore[test], fb.n_arms)
        return dist, dist
    if args.target == "file":
        dist = read_action_file(args.target_file, fb)[test]
        return dist, dist
    if args.target == "policy":
        dist = _policy_dist(args, fb, test, q)
        return dist, dist
    if args.target == "oracle":
        if env is None:
            raise ValueError("--target oracle needs --sim-users (the simulator's truth)")
        truth = env.conversion_matrix(env.user_index(fb.user_ids[test]))
        return greedy_action_dist(truth, args.epsilon), truth
    return greedy_action_dist(q, args.epsilon), q


def _policy_dist(args: argparse.Namespace, fb: Any, test: np.ndarray, q: np.ndarray) -> np.ndarray:
    """A nudgeflow policy over the model's scores, for a user with no history."""
    import json

    from model.bandit import PolicyContext, build_policy
    from state import ArmStats

    if not args.policy:
        raise ValueError("--target policy needs --policy NAME (e.g. thompson)")
    policy = build_policy(args.policy, json.loads(args.policy_params))
    stats, arms = [ArmStats()] * fb.n_arms, list(fb.arm_ids)
    rng = np.random.default_rng(args.seed)
    rows = [
        policy.probabilities(
            stats, q[k], arms, rng, context=PolicyContext(fb.contexts[i], None, True)
        )
        for k, i in enumerate(test.tolist())
    ]
    return np.asarray(rows, np.float64)


def _estimates(args, fb, test, dist, q, rng) -> list[Any]:
    from model.evaluation import (
        Estimate,
        bootstrap_ratio,
        estimate_dr,
        estimate_ips,
        estimate_replay,
        estimate_snips,
    )

    r, a, p, b = fb.reward[test], fb.action[test], fb.pscore[test], args.bootstrap
    low, high = bootstrap_ratio(r, None, rng, b)
    mean = Estimate("logging (on-policy mean)", float(r.mean()), low, high, len(r), len(r))
    return [
        mean,
        estimate_replay(r, a, dist, rng, n_bootstrap=b),
        estimate_ips(r, a, p, dist, rng, n_bootstrap=b),
        estimate_snips(r, a, p, dist, rng, n_bootstrap=b),
        estimate_dr(r, a, p, dist, q, rng, n_bootstrap=b),
    ]


def _by_position(args, fb, test, dist, q, rng) -> dict[int, list[Any]]:
    """IPS, SNIPS and DR on each slot's rounds (each slot its own round: see the report)."""
    from model.evaluation import estimate_dr, estimate_ips, estimate_snips

    slots = fb.position[test]
    out: dict[int, list[Any]] = {}
    if not (slots > 0).any():
        return out
    for slot in sorted(set(slots.tolist())):
        k = np.flatnonzero(slots == slot)
        r, a, p, d, b = (
            fb.reward[test][k],
            fb.action[test][k],
            fb.pscore[test][k],
            dist[k],
            args.bootstrap,
        )
        out[slot] = [
            estimate_ips(r, a, p, d, rng, n_bootstrap=b),
            estimate_snips(r, a, p, d, rng, n_bootstrap=b),
            estimate_dr(r, a, p, d, q[k], rng, n_bootstrap=b),
        ]
    return out


def _lifts(fb, test, q, rng) -> dict[str, Any]:
    """Target (model's best strategy per product and user), random and split-half bound,
    each relative to the baseline: every product shown with its first arm."""
    from model.evaluation import best_within_item, relative_mean_cr_lift, split_half_bound

    r, a, item = fb.reward[test], fb.action[test], fb.item[test]
    first_arm = np.array([np.flatnonzero(fb.item_of_arm == i)[0] for i in range(fb.n_items)])
    baseline = first_arm[item]
    target = best_within_item(q, fb.item_of_arm, item)
    return {
        "target": relative_mean_cr_lift(r, a, item, target, baseline, fb.n_items),
        "random": relative_mean_cr_lift(r, a, item, a, baseline, fb.n_items),
        "split-half bound": split_half_bound(r, a, item, baseline, fb.n_items, fb.n_arms, rng),
    }
