"""``nudge evaluate LOG``: off-policy estimates, CR lift and the split-half bound."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from streams.apps.commands._common import add_columns_flag

HELP = """\
Evaluate a target policy on a logged (ideally uniform-random) log without deploying it.
The log's rounds are split at random: --train-share fits a segment x arm conversion
model (weighted by 1/propensity), the rest evaluates. Target policies: segment-greedy
(the model's best arm per user, with --epsilon uniform), uniform, or oracle (the
simulator's truth; needs --sim-users). Reports replay, IPS, SNIPS and DR estimates with
bootstrap intervals, the relative mean CR lift per product of the target over the
baseline (each product with its first strategy, the marketer's default), the random
policy's lift and the split-half optimal lower bound; writes report.md, estimates.json,
estimates.png, lift.png and report.html (all in one file) into --out-dir. With
--sim-users/--sim-seed (as given to nudge simulate) the true values are added.
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
    parser.add_argument(
        "--target",
        choices=("segment-greedy", "uniform", "oracle"),
        default="segment-greedy",
        help="target policy (segment-greedy)",
    )
    parser.add_argument("--epsilon", type=float, default=0.1, help="target's uniform share (0.1)")
    parser.add_argument("--train-share", type=float, default=0.5, help="rounds used to fit (0.5)")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples (200)")
    parser.add_argument(
        "--catalog",
        type=Path,
        dest="catalog_path",
        help="arm catalog JSON of the log (env NUDGE_CATALOG_PATH)",
    )
    parser.add_argument("--arms", metavar="PxS", help="the log used nudge simulate --arms PxS")
    parser.add_argument(
        "--sim-users",
        type=int,
        help="the log came from nudge simulate --users N: add the true values",
    )
    parser.add_argument("--sim-seed", type=int, default=0, help="its --seed (0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of splits and bootstrap (0)")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path("evaluation-report"),
        help="where to write the report (evaluation-report)",
    )
    parser.set_defaults(func=_run)


def _environment(args: argparse.Namespace):
    from streams.apps.commands.simulate import build_environment

    if args.sim_users is None:
        return None
    sim = argparse.Namespace(
        users=args.sim_users, seed=args.sim_seed, arms=args.arms, catalog_path=args.catalog_path
    )
    return build_environment(sim)


def _catalog(args: argparse.Namespace, env):
    from model.catalog import load_catalog
    from model.simulator import synthetic_catalog
    from streams.runtime.settings import Settings

    if env is not None:
        return env.catalog
    if args.arms:
        p, s = (int(x) for x in args.arms.lower().split("x"))
        return synthetic_catalog(p, s, seed=args.sim_seed)
    return load_catalog(args.catalog_path or Settings.from_env().catalog_path)


def _run(args: argparse.Namespace) -> int:
    from model.evaluation import SegmentRateModel, feedback_from_events
    from model.logs import load_column_mapping, read_log

    if not 0 < args.train_share < 1:
        raise ValueError("--train-share must be in (0, 1)")
    columns = load_column_mapping(args.columns, log=args.log) if args.columns else None
    env = _environment(args)
    fb = feedback_from_events(read_log(args.log, columns), _catalog(args, env))
    rng = np.random.default_rng(args.seed)
    train = rng.random(len(fb)) < args.train_share
    test = np.flatnonzero(~train)
    segments = np.array(fb.segments())
    model = SegmentRateModel.fit(
        segments[train],
        fb.action[train],
        fb.reward[train],
        fb.arm_ids,
        weight=1.0 / fb.pscore[train],
    )
    q = model.predict(segments[test])
    dist, ranking = _target(args, env, fb, test, q)
    rows = _estimates(args, fb, test, dist, q, rng)
    truth = None if env is None else env.policy_value(env.user_index(fb.user_ids[test]), dist)
    lifts = _lifts(fb, test, ranking, rng)
    _write(args, fb, rows, truth, lifts)
    return 0


def _target(args, env, fb, test, q):
    """``(action_dist (n, n_arms), ranking (n, n_arms))``: the target's distribution and
    the scores it ranks arms by (for the per-product lift)."""
    from model.evaluation import greedy_action_dist

    if args.target == "uniform":
        return np.full(q.shape, 1.0 / q.shape[1]), np.random.default_rng(args.seed).random(q.shape)
    if args.target == "oracle":
        if env is None:
            raise ValueError("--target oracle needs --sim-users (the simulator's truth)")
        truth = env.conversion_matrix(env.user_index(fb.user_ids[test]))
        return greedy_action_dist(truth, args.epsilon), truth
    return greedy_action_dist(q, args.epsilon), q


def _estimates(args, fb, test, dist, q, rng):
    from model.evaluation import (
        bootstrap_ratio,
        estimate_dr,
        estimate_ips,
        estimate_replay,
        estimate_snips,
    )

    r, a, p, b = fb.reward[test], fb.action[test], fb.pscore[test], args.bootstrap
    logging_low, logging_high = bootstrap_ratio(r, None, rng, b)
    return [
        ("logging (on-policy mean)", float(r.mean()), logging_low, logging_high),
        *(
            (e.name, e.value, e.low, e.high)
            for e in (
                estimate_replay(r, a, dist, rng, n_bootstrap=b),
                estimate_ips(r, a, p, dist, rng, n_bootstrap=b),
                estimate_snips(r, a, p, dist, rng, n_bootstrap=b),
                estimate_dr(r, a, p, dist, q, rng, n_bootstrap=b),
            )
        ),
    ]


def _lifts(fb, test, q, rng):
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


def _write(args, fb, rows, truth, lifts) -> None:
    args.out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Off-policy evaluation of {args.target} (epsilon {args.epsilon})",
        "",
        f"log {args.log}: {len(fb)} decisions, logging policies {', '.join(fb.policies)}",
        "",
        "| estimator | value | 95 % low | 95 % high |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {v:.4f} | {lo:.4f} | {hi:.4f} |" for name, v, lo, hi in rows]
    if truth is not None:
        lines += [f"| truth (simulator) | {truth:.4f} | | |"]
    lines += [
        "",
        "| relative mean CR lift vs baseline | lift | mean CR | items |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {100 * lf.lift:+.1f} % | {lf.target_mean_cr:.4f} | {lf.items} |"
        for name, lf in lifts.items()
    ]
    if set(fb.policies) - {"uniform"}:
        lines += ["", "note: lift and bound assume randomized (uniform) logs; this log is not."]
    (args.out_dir / "report.md").write_text("\n".join(lines) + "\n")
    doc = {
        "estimates": [
            dict(zip(("name", "value", "low", "high"), row, strict=True)) for row in rows
        ],
        "truth": truth,
        "lift": {
            k: {"lift": v.lift, "mean_cr": v.target_mean_cr, "items": v.items}
            for k, v in lifts.items()
        },
    }
    (args.out_dir / "estimates.json").write_text(json.dumps(doc, indent=2))
    _plot(args.out_dir, rows, truth, lifts)
    from streams.apps.html_report import write_html_report

    images = [args.out_dir / "estimates.png", args.out_dir / "lift.png"]
    write_html_report(args.out_dir / "report.html", "\n".join(lines), images, lines[0][2:])
    print("\n".join(lines[4:]))
    print(f"report: {args.out_dir / 'report.md'} (and report.html, with the plots)")


def _plot(out_dir: Path, rows, truth, lifts) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    names = [row[0] for row in rows]
    values = np.array([row[1] for row in rows])
    errors = np.array([[v - row[2], row[3] - v] for v, row in zip(values, rows, strict=True)]).T
    ax.errorbar(range(len(rows)), values, yerr=errors, fmt="o", capsize=5)
    if truth is not None:
        ax.axhline(truth, color="red", linestyle="--", label="truth (simulator)")
        ax.legend()
    ax.set_xticks(range(len(rows)), names, rotation=15)
    ax.set_ylabel("conversion rate")
    ax.set_title("estimates with 95 % bootstrap intervals")
    fig.tight_layout()
    fig.savefig(out_dir / "estimates.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(list(lifts), [100 * v.lift for v in lifts.values()], color=["#2a7", "#999", "#36c"])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("relative mean CR lift vs baseline, %")
    ax.set_title("target vs random vs split-half optimal lower bound")
    fig.tight_layout()
    fig.savefig(out_dir / "lift.png", dpi=100)
    plt.close(fig)
