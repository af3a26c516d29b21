"""``nudge worker``: run the stream processor until interrupted."""

from __future__ import annotations

import argparse
from pathlib import Path

from streams.apps.commands._common import add_kafka_flags, add_policy_flags, settings_from
from streams.runtime.settings import ENGINES, LOG_LEVELS, PROCESSING_GUARANTEES


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "worker",
        help="run the stream processor (Quix Streams or Faust, RocksDB state, metrics)",
        description="Consume decision requests, impressions and conversions; keep per-user "
        "arm statistics in RocksDB (recovered from a changelog topic); emit one decision per "
        "request; send malformed events to the dead-letter topic. Stop with Ctrl-C or SIGTERM.",
    )
    add_kafka_flags(parser)
    add_policy_flags(parser)
    parser.add_argument("--state-dir", type=Path, help="local state (env NUDGE_STATE_DIR)")
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="Prometheus /metrics port, 0 = off (env NUDGE_METRICS_PORT)",
    )
    parser.add_argument(
        "--metrics-addr",
        help="address /metrics listens on (env NUDGE_METRICS_ADDR, default 127.0.0.1)",
    )
    parser.add_argument("--app-id", help="consumer group and changelog prefix (env NUDGE_APP_ID)")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="debug, info, warning (default), error (env NUDGE_LOG_LEVEL)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text (default) or json, one object a line for log shippers (env NUDGE_LOG_FORMAT)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        help="stream engine (env NUDGE_ENGINE, default quix): quix for throughput; faust "
        "where an asyncio service is wanted",
    )
    parser.add_argument(
        "--processing-guarantee",
        choices=PROCESSING_GUARANTEES,
        help="quix engine: at-least-once (default) or exactly-once through Kafka "
        "transactions (env NUDGE_PROCESSING_GUARANTEE)",
    )
    parser.add_argument(
        "--commit-interval-seconds",
        type=float,
        help="seconds between checkpoints of state and offsets (env "
        "NUDGE_COMMIT_INTERVAL_SECONDS, default 1)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from streams.runtime.worker import run_worker

    run_worker(settings_from(args))
    return 0
