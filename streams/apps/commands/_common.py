"""Flags shared by several commands, mapped onto :class:`streams.runtime.settings.Settings`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from streams.runtime.settings import Settings

__all__ = [
    "add_columns_flag",
    "add_kafka_flags",
    "add_policy_flags",
    "read_log_checked",
    "settings_from",
]


def add_kafka_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("kafka")
    group.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (env NUDGE_BOOTSTRAP_SERVERS, default 127.0.0.1:9092)",
    )
    group.add_argument(
        "--topic-prefix", help="prefix of every topic name (env NUDGE_TOPIC_PREFIX, default nudge.)"
    )
    group.add_argument(
        "--partitions",
        type=int,
        help="partitions of every user-keyed topic (env NUDGE_PARTITIONS, default 4)",
    )


def add_columns_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--columns",
        type=Path,
        metavar="MAPPING.json",
        help="column mapping for a CSV log (see README 'Log format')",
    )


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("policy")
    group.add_argument("--policy", help="bandit policy name (env NUDGE_POLICY)")
    group.add_argument(
        "--policy-params",
        type=_json_object,
        metavar="JSON",
        help="policy parameters as JSON, e.g. '{\"epsilon\": 0.05}' (env NUDGE_POLICY_PARAMS)",
    )
    group.add_argument(
        "--catalog",
        dest="catalog_path",
        type=Path,
        help="arm catalog JSON (env NUDGE_CATALOG_PATH)",
    )


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by whichever flags this command has."""
    names = Settings.__dataclass_fields__.keys()
    flags = {k: v for k, v in vars(args).items() if k in names}
    return Settings.from_env(**flags)


def read_log_checked(path: Path, columns: Path | None) -> Any:
    """The events of log ``path`` read through the mapping file ``columns`` (if any). A
    missing or unreadable file, a bad mapping and a bad row are each one
    ``LogFormatError`` line naming the file, the same for replay, train and evaluate."""
    from model.logs import load_column_mapping, read_log

    mapping = load_column_mapping(columns, log=path) if columns else None
    return read_log(path, mapping)
