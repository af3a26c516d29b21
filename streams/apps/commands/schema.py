"""``nudge schema [TOPIC]``: the event contract as JSON Schema (draft 2020-12)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from streams.apps.cli import CommandError
from streams.runtime.contract import CONTRACT_TOPICS, packaged_schema, write_schemas
from streams.runtime.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "schema",
        help="print the JSON Schema of a topic's events (the wire contract)",
        description="Prints the JSON Schema (draft 2020-12) of the values of TOPIC, a topic "
        f"kind ({', '.join(CONTRACT_TOPICS)}) or its full name (e.g. nudge.decisions); "
        "without TOPIC, one JSON object of every topic's schema by kind. The schemas are "
        "generated from the wire types and ship with the package; the rules a schema "
        "cannot state (key = user_id, murmur2 partition, no repeated JSON names) are in "
        "each schema's description.",
    )
    parser.add_argument("topic", nargs="?", metavar="TOPIC")
    parser.add_argument(
        "--write",
        type=Path,
        metavar="DIR",
        help="write <kind>.schema.json for every topic into DIR (regenerated from the "
        "wire types) instead of printing",
    )
    parser.set_defaults(func=_schema)


def _schema(args: argparse.Namespace) -> int:
    if args.write is not None:
        for path in write_schemas(args.write):
            print(path)
        return 0
    if args.topic is None:
        every = {kind: json.loads(packaged_schema(kind)) for kind in CONTRACT_TOPICS}
        print(json.dumps(every, indent=2, ensure_ascii=False))
        return 0
    print(packaged_schema(_kind(args.topic)), end="")
    return 0


def _kind(topic: str) -> str:
    """A topic kind from a kind or a full topic name (``NUDGE_TOPIC_PREFIX`` or any prefix)."""
    if topic in CONTRACT_TOPICS:
        return topic
    prefix = Settings.from_env().topic_prefix
    if topic.startswith(prefix) and topic[len(prefix) :] in CONTRACT_TOPICS:
        return topic[len(prefix) :]
    matches = [kind for kind in CONTRACT_TOPICS if topic.endswith(f".{kind}")]
    if len(matches) == 1:
        return matches[0]
    raise CommandError(f"no schema for topic {topic!r}: one of {', '.join(CONTRACT_TOPICS)}")
