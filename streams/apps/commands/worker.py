"""``nudge worker``: run the stream processor until interrupted.

Every setting the worker reads has a flag here (or in the shared kafka and policy groups),
a ``NUDGE_*`` variable and a help line naming its choices and default; the one exception
is the SASL password, kept off command lines (see ``_common``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from streams.apps.commands._common import (
    _json_object,
    add_kafka_flags,
    add_policy_flags,
    env_help,
    settings_from,
)
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
    _add_process_flags(parser)
    _add_model_flags(parser)
    _add_engine_flags(parser)
    parser.set_defaults(func=_run)


def _choices(name: str, text: str, choices: tuple[str, ...]) -> str:
    return env_help(name, f"{text}: one of {', '.join(choices)}")


def _add_process_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("process")
    group.add_argument("--app-id", help=env_help("app_id", "consumer group and changelog prefix"))
    group.add_argument("--state-dir", type=Path, help=env_help("state_dir", "local RocksDB state"))
    group.add_argument(
        "--metrics-port",
        type=int,
        help=env_help("metrics_port", "Prometheus /metrics port, 0 = off"),
    )
    group.add_argument(
        "--metrics-addr", help=env_help("metrics_addr", "address /metrics listens on")
    )
    group.add_argument(
        "--log-level", choices=LOG_LEVELS, help=_choices("log_level", "log level", LOG_LEVELS)
    )
    group.add_argument(
        "--log-format",
        choices=("text", "json"),
        help=_choices("log_format", "log line format (json: one object a line)", ("text", "json")),
    )


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and rewards")
    group.add_argument(
        "--model-dir",
        type=Path,
        help=env_help("model_dir", "two-tower artifacts; the newest valid one is served"),
    )
    for name, text in (
        ("attribution_window_seconds", "seconds after a decision a conversion is credited to it"),
        ("half_life_seconds", "half-life of the arm statistics' decay, none = no decay"),
    ):
        group.add_argument(f"--{name.replace('_', '-')}", type=float, help=env_help(name, text))
    group.add_argument(
        "--reward-weights",
        type=_json_object,
        metavar="JSON",
        help=env_help("reward_weights", "reward of each conversion kind"),
    )
    group.add_argument(
        "--guardrails",
        type=_json_object,
        metavar="JSON",
        help=env_help("guardrails", "guardrail settings as JSON"),
    )


def _add_engine_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("stream engine")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        help=_choices("engine", "quix for throughput, faust for an asyncio service", ENGINES),
    )
    group.add_argument(
        "--processing-guarantee",
        choices=PROCESSING_GUARANTEES,
        help=_choices("processing_guarantee", "quix engine", PROCESSING_GUARANTEES),
    )
    int_flags = (
        ("replication_factor", "replication factor of the changelog topic"),
        ("max_event_bytes", "larger events are dead-lettered"),
        ("rocksdb_write_buffer_bytes", "RocksDB write buffer per state partition"),
        ("rocksdb_block_cache_bytes", "RocksDB block cache per state partition"),
    )
    for name, text in int_flags:
        group.add_argument(f"--{name.replace('_', '-')}", type=int, help=env_help(name, text))
    group.add_argument(
        "--online-model",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve the cold-start online model until a trained model is loaded: it learns "
        "across users from this worker's outcomes (env NUDGE_ONLINE_MODEL, default true; "
        "--no-online-model: pooled statistics only)",
    )
    for name, text, example in (
        ("producer_config", "producer", '{"linger.ms": 0}'),
        ("consumer_config", "consumer", '{"fetch.wait.max.ms": 1}'),
    ):
        group.add_argument(
            f"--{name.replace('_', '-')}",
            type=_json_object,
            metavar="JSON",
            help=env_help(
                name, f"librdkafka properties of the quix worker's {text}, e.g. '{example}'"
            ),
        )
    group.add_argument(
        "--commit-interval-seconds",
        type=float,
        help=env_help(
            "commit_interval_seconds", "seconds between checkpoints of state and offsets"
        ),
    )


def _run(args: argparse.Namespace) -> int:
    from streams.runtime.worker import run_worker

    run_worker(settings_from(args))
    return 0
