"""``nudge simulate``: write a historical log drawn from the ground-truth simulator."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tqdm import tqdm

from streams.apps.commands._common import add_kafka_flags, settings_from

HELP = """\
Draw a population of bank customers (age, income, region, risk tolerance, risky
investment experience, phone active time; latent susceptibility per strategy family)
and write a log of decision requests, decisions (with propensities), impressions and
purchase conversions under a logging policy (see model/simulator). The same --seed and
sizes always give the same users, truth and log.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "simulate",
        help="write a simulated historical log",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="log file to write: .jsonl, .parquet, .csv or .csv.gz (with --live: a folder "
        "for the report)",
    )
    parser.add_argument("--users", type=int, default=10_000, help="population size (10000)")
    parser.add_argument(
        "--requests",
        type=int,
        default=10_000,
        help="decision requests to log; each gives a decision and an "
        "impression, and a conversion when it converts (10000)",
    )
    parser.add_argument("--days", type=float, default=7.0, help="time window of the log (7)")
    parser.add_argument(
        "--logging-policy",
        choices=("rule", "uniform", "confounded"),
        default="uniform",
        help="policy that chose the logged arms: the "
        "marketer's segment rules, uniform random (shuffle), or arms "
        "shown to different user groups (default uniform)",
    )
    parser.add_argument(
        "--epsilon",
        type=float,
        default=0.0,
        help="rule policy only: share of uniform-random decisions (0)",
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        dest="catalog_path",
        help="arm catalog JSON (env NUDGE_CATALOG_PATH; default built-in 81 arms)",
    )
    parser.add_argument(
        "--arms",
        metavar="PxS",
        help="synthetic catalog of P products x S strategies instead, e.g. 40x25 for 1,000 arms",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    live = parser.add_argument_group(
        "live traffic",
        "with --live, drive a running broker and workers instead of writing a log: send "
        "decision requests at --rate for --duration seconds (or until --requests were sent), "
        "answer each decision with an impression and, drawn from the ground truth, a "
        "purchase; report conversion rates against the rule-based and uniform baselines "
        "(built-in catalog only)",
    )
    live.add_argument("--live", action="store_true", help="drive live traffic into Kafka")
    live.add_argument("--rate", type=float, default=100.0, help="requests per second (100)")
    live.add_argument("--duration", type=float, default=60.0, help="seconds (60)")
    add_kafka_flags(parser)
    parser.set_defaults(func=_run)


def build_environment(args: argparse.Namespace):
    """The simulator world of ``--users``, ``--seed`` and ``--catalog``/``--arms``."""
    from model.catalog import load_catalog
    from model.simulator import Environment, synthetic_catalog

    if args.arms:
        try:
            products, strategies = (int(x) for x in args.arms.lower().split("x"))
        except ValueError:
            raise ValueError(f"--arms must look like 40x25, got {args.arms!r}") from None
        catalog = synthetic_catalog(products, strategies, seed=args.seed)
    else:
        path = settings_from(args).catalog_path
        catalog = load_catalog(path)
    return Environment.build(args.users, catalog=catalog, seed=args.seed)


def _run_live(args: argparse.Namespace) -> int:
    from streams.apps.demo import DemoConfig, run_live

    if args.arms or args.catalog_path:
        raise ValueError("--live drives the built-in catalog; drop --arms/--catalog")
    config = DemoConfig(
        out_dir=args.out or Path(".nudge/live"),
        duration_seconds=args.duration,
        requests_per_second=args.rate,
        users=args.users,
        seed=args.seed,
    )
    from streams.runtime.kafka import require_broker

    settings = settings_from(args)
    require_broker(settings)
    print(run_live(settings, config, max_requests=args.requests))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.live:
        return _run_live(args)
    if args.out is None:
        raise ValueError("--out FILE is required (a .jsonl, .parquet or .csv log)")
    from model.logs import write_log
    from model.simulator import build_logging_policy, rounds_to_events, simulate_rounds

    started = time.perf_counter()
    env = build_environment(args)
    policy = build_logging_policy(args.logging_policy, epsilon=args.epsilon)
    rounds = simulate_rounds(env, policy, args.requests, seed=args.seed, days=args.days)
    total = 3 * len(rounds) + int(rounds.reward.sum())
    events = rounds_to_events(env, rounds)
    with tqdm(total=total, unit="ev", disable=args.quiet, desc="simulate") as bar:
        count = write_log(args.out, _counted(events, bar.update))
    print(
        f"wrote {count} events ({args.requests} requests, {int(rounds.reward.sum())} "
        f"purchases, CR {rounds.reward.mean():.2%}) to {args.out} in "
        f"{time.perf_counter() - started:.1f} s; users={env.n_users} arms={env.n_arms} "
        f"policy={policy.name} seed={args.seed}"
    )
    return 0


def _counted(events, update):
    for event in events:
        update(1)
        yield event
