"""``nudge evaluate LOG``: off-policy estimates, CR lift and the split-half bound."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from model.evaluation.pipeline import TARGETS
from streams.apps.commands._common import add_columns_flag, mapping_checked, settings_from

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
--out-dir. A reward model fit on fewer than 10 rounds per (segment, arm) cell, or a DR
outside the range of the logged rewards, is a warning (report and stderr). An
impression-level export (--columns with "outcome") is read straight into arrays where
that gives what its events give (each row its own user), else as events.
"""


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
    from model.evaluation.export import feedback_from_log
    from model.evaluation.pipeline import evaluate_target
    from model.logs import check_readable
    from streams.apps.evaluate_report import Report, write_report

    if args.target_file is not None:
        args.target = args.target or "file"
    args.target = args.target or "segment-greedy"
    config = _config(args)
    env = _environment(args)
    rule = _rule(args)
    # An impression-level export is read from its columns, without events (the same
    # feedback, several times faster: model.evaluation.export).
    mapping = mapping_checked(args.log, args.columns)
    check_readable(args.log)  # before the arms, as ever
    fb = feedback_from_log(
        args.log, mapping, _arms(args, env), rule=rule, drop_unknown=args.drop_unknown_arms
    )
    report = Report(args, fb, rule)
    if fb.reward.any():
        report = report.with_result(evaluate_target(fb, config, env))
    write_report(report)
    for warning in report.warnings:  # in the report too; here where it is not missed
        print(f"nudge: warning: {warning}", file=sys.stderr)
    return 0


def _config(args: argparse.Namespace) -> Any:
    """The evaluation's settings from the flags (``--policy-params`` is read only when
    the target is a policy)."""
    import json

    from model.evaluation.pipeline import OffPolicyConfig

    wants_params = args.target == "policy" and args.policy
    return OffPolicyConfig(
        target=args.target,
        epsilon=args.epsilon,
        policy=args.policy,
        policy_params=json.loads(args.policy_params) if wants_params else {},
        target_file=args.target_file,
        train_share=args.train_share,
        n_bootstrap=args.bootstrap,
        segment_key=args.segment_key,
        seed=args.seed,
    )
