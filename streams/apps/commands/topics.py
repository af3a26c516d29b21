"""``nudge topics create``: the contract's topics, co-partitioned, safe to run twice."""

from __future__ import annotations

import argparse

from streams.apps.commands._common import add_kafka_flags, settings_from
from streams.runtime.topics import create_topics


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("topics", help="create the contract's Kafka topics")
    actions = parser.add_subparsers(metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="create every topic (existing ones are kept)",
        description="Creates <prefix>decision-requests, decisions, impressions, conversions, "
        "dead-letter (all with --partitions partitions, keyed by user_id) and model-updates "
        "(1 partition, compacted). Running it twice is harmless.",
    )
    add_kafka_flags(create)
    create.set_defaults(func=_create)


def _create(args: argparse.Namespace) -> int:
    from streams.runtime.kafka import require_broker

    settings = settings_from(args)
    require_broker(settings)
    for report in create_topics(settings):
        state = "created" if report.created else "exists"
        print(f"{report.name}\t{report.partitions}\t{state}")
    return 0
