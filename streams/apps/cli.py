"""The ``nudge`` command line.

Each command lives in ``streams/apps/commands/<name>.py`` and exposes
``register(subparsers) -> None``; the parser it adds sets ``func(args) -> int``.
Errors a user can fix end the command with exit status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from confluent_kafka import KafkaException

from streams.apps.commands._common import CommandError
from streams.runtime.broker import BrokerError
from streams.runtime.settings import SettingsError

__all__ = ["CommandError", "TRAIN_EXTRA", "main", "build_parser"]

TRAIN_EXTRA = "nudgeflow[train]"  # torch: only training needs it (pyproject.toml)

COMMAND_MODULES = (
    "streams.apps.commands.broker",
    "streams.apps.commands.topics",
    "streams.apps.commands.worker",
    "streams.apps.commands.catalog",
    "streams.apps.commands.state",
    "streams.apps.commands.demo",
    "streams.apps.commands.train",
    "streams.apps.commands.simulate",
    "streams.apps.commands.replay",
    "streams.apps.commands.evaluate",
    "streams.apps.commands.abtest",
    "streams.apps.commands.schema",
)

DESCRIPTION = """\
nudgeflow: a streaming recommender that decides which nudge (product x behavioural
strategy) to show each user and learns online from impressions and conversions.

Every option can also be set by an environment variable NUDGE_<OPTION>, e.g.
NUDGE_BOOTSTRAP_SERVERS=127.0.0.1:9092, NUDGE_TOPIC_PREFIX=nudge., NUDGE_PARTITIONS=4,
NUDGE_STATE_DIR=.nudge/state, NUDGE_METRICS_PORT=9464, NUDGE_POLICY=epsilon-greedy,
NUDGE_POLICY_PARAMS='{"epsilon": 0.1}'. Flags win over the environment.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nudge", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", dest="command", required=True
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CommandError, SettingsError, BrokerError, ValueError, OSError) as exc:
        print(f"nudge: error: {exc or type(exc).__name__}", file=sys.stderr)
        return 2
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        print(f"nudge: error: Kafka: {getattr(error, 'str', lambda: error)()}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "torch":
            raise
        print(_needs_torch(args.command), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nudge: interrupted", file=sys.stderr)
        return 130


def _needs_torch(command: str) -> str:
    return (
        f"nudge: error: nudge {command} needs torch, which this install lacks: "
        f"pip install '{TRAIN_EXTRA}'"
    )


if __name__ == "__main__":
    sys.exit(main())
