"""``nudge abtest``: rule-based vs nudgeflow on simulated users, as the source paper did."""

from __future__ import annotations

import argparse
from pathlib import Path

from streams.apps.commands._common import _json_object, add_kafka_flags, settings_from
from streams.runtime.settings import env_value

HELP = """\
A/B test on the simulator. Users are split at random into a rule-based group A (the
marketer's segment -> arm rules) and a nudgeflow group B (the bandit policy given by
--policy over a model fitted on --history uniform-random past decisions). Each user has
--sessions sessions a day apart; outcomes are drawn from the simulator's ground truth.

--through offline (default) runs both groups through the pure engine step.
--through kafka runs them through Kafka and two real `nudge worker` processes (one per
group, with its own topics, consumer group and RocksDB state), started and stopped here.
The broker is started here too unless --bootstrap-servers or NUDGE_BOOTSTRAP_SERVERS
names one. The worker serves two-tower models only, so --through kafka uses --scorer
two-tower (trained on the history into --model-dir, or the newest model found there).
With the same seed, scorer and model, both runners give the same result user by user.

CR = users who purchased through a recommendation / users x 100. Reports both CRs, the
lift, a two-proportion z-test p-value and a 95 % interval, and writes report.md,
report.html (with the plot, one file), result.json, sessions.csv (who was shown what,
and bought) and cr.png into --out-dir.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "abtest",
        help="A/B test rule-based vs nudgeflow, offline or through Kafka",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=20_000, help="users in the test (20000)")
    parser.add_argument("--sessions", type=int, default=1, help="sessions per user (1)")
    parser.add_argument(
        "--history",
        type=int,
        default=100_000,
        help="uniform-random past decisions to fit nudgeflow's model (100000)",
    )
    parser.add_argument(
        "--through",
        choices=("offline", "kafka"),
        default="offline",
        help="run the groups through the pure step (offline, default) or Kafka and workers",
    )
    parser.add_argument(
        "--scorer",
        choices=("segment", "two-tower"),
        help="nudgeflow's model: per-segment conversion rates (fast; offline only) or the "
        "two-tower network (default: segment offline, two-tower through Kafka)",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="two-tower: its artifact directory; trained on the history when it holds no "
        "valid model (default OUT_DIR/model)",
    )
    parser.add_argument(
        "--policy",
        default="epsilon-greedy",
        help="nudgeflow's policy (default epsilon-greedy; env NUDGE_POLICY is not read here)",
    )
    parser.add_argument(
        "--policy-params",
        type=_json_object,
        default={"epsilon": 0.05},
        metavar="JSON",
        help='its parameters (default {"epsilon": 0.05})',
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path("abtest-report"),
        help="where to write the report (abtest-report)",
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=120.0,
        help="kafka: give up when no decision arrived for this long (120)",
    )
    parser.add_argument(
        "--keep-topics",
        action="store_true",
        help="kafka, on a broker not started here: keep the run's topics (default: deleted)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_kafka_flags(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from model.simulator.abtest import AbConfig, prepare, run_offline
    from streams.apps.abtest import group_engines, group_settings, run_kafka
    from streams.apps.abtest_report import write_report

    scorer = args.scorer or ("two-tower" if args.through == "kafka" else "segment")
    if args.through == "kafka" and scorer != "two-tower":
        raise ValueError("--through kafka needs --scorer two-tower: workers serve two-tower models")
    config = AbConfig(
        users=args.users,
        sessions=args.sessions,
        history=args.history,
        policy=args.policy,
        policy_params=args.policy_params,
        scorer=scorer,
        seed=args.seed,
        model_dir=args.model_dir,
    )
    settings = settings_from(args)
    own_broker = args.bootstrap_servers is None and env_value("NUDGE_BOOTSTRAP_SERVERS") is None
    if args.through == "kafka" and not own_broker:
        from streams.runtime.kafka import require_broker

        require_broker(settings)  # before the minutes of preparation
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet
    experiment = prepare(config, out_dir, progress=progress)
    groups = group_settings(experiment, settings, out_dir)
    if args.through == "kafka":
        result = run_kafka(
            experiment,
            groups,
            settings,
            out_dir,
            start_broker=own_broker,
            progress=progress,
            stall_seconds=args.stall_seconds,
            keep_topics=args.keep_topics,
        )
    else:
        result = run_offline(experiment, group_engines(experiment, groups), progress=progress)
    write_report(experiment, result, out_dir)
    return 0
