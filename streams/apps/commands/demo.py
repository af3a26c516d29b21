"""``nudge demo``: the live loop end to end on simulated users (what `make demo` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from streams.apps.commands._common import _json_object

if TYPE_CHECKING:
    from streams.apps.demo import DemoConfig


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help="run everything locally on simulated users and report conversion rates",
        description="Starts a local Kafka broker, the topics, workers and the periodic "
        "trainer; drives simulated users with known ground truth; prints nudgeflow's "
        "conversion rate over time against rule-based and uniform-random baselines and the "
        "oracle (table + PNG). Stops everything it started, also on Ctrl-C.",
    )
    parser.add_argument("--out-dir", type=Path, default=Path(".nudge/demo"), help="where files go")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of live traffic")
    parser.add_argument("--rate", type=float, default=100.0, help="decision requests per second")
    parser.add_argument("--users", type=int, default=3000, help="simulated customers")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--policy", default="thompson", help="bandit policy of the workers")
    parser.add_argument(
        "--policy-params",
        type=_json_object,
        default={"prior_strength": 50.0},
        metavar="JSON",
        help='policy parameters (default {"prior_strength": 50})',
    )
    parser.add_argument("--train-every", type=float, default=40.0, help="seconds between trainings")
    parser.add_argument("--seed", type=int, default=7)
    ports = parser.add_argument_group("ports on 127.0.0.1 (default 0: any free port)")
    ports.add_argument("--broker-port", type=int, default=0, help="Kafka client port")
    ports.add_argument("--controller-port", type=int, default=0, help="Kafka controller port")
    ports.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="first worker's /metrics port; worker i uses this + i",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from streams.apps.demo import run_demo

    print(run_demo(config_from(args)))
    return 0


def config_from(args: argparse.Namespace) -> DemoConfig:
    from streams.apps.demo import DemoConfig

    return DemoConfig(
        out_dir=args.out_dir,
        duration_seconds=args.duration,
        requests_per_second=args.rate,
        users=args.users,
        workers=args.workers,
        policy=args.policy,
        policy_params=args.policy_params,
        train_every_seconds=args.train_every,
        seed=args.seed,
        broker_port=args.broker_port,
        controller_port=args.controller_port,
        metrics_port=args.metrics_port,
    )
