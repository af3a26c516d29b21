"""``nudge state show USER_ID``: a user's arm statistics, for operators."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from state import UserState
from streams.apps.commands._common import add_kafka_flags, settings_from


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("state", help="inspect per-user state")
    actions = parser.add_subparsers(metavar="ACTION", required=True)
    show = actions.add_parser(
        "show",
        help="print a user's arm statistics",
        description="Read USER_ID's state from the worker's RocksDB stores under --state-dir "
        "(read-only, safe while it runs) or, when not found there or with --source changelog, "
        "from the state table's changelog topic in Kafka.",
    )
    show.add_argument("user_id", metavar="USER_ID")
    show.add_argument("--json", action="store_true", help="print the whole state as JSON")
    show.add_argument("--source", choices=("auto", "store", "changelog"), default="auto")
    show.add_argument("--state-dir", type=Path, help="worker state dir (env NUDGE_STATE_DIR)")
    show.add_argument("--app-id", help="worker app id (env NUDGE_APP_ID)")
    add_kafka_flags(show)
    show.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    from streams.runtime.inspect import read_from_changelog, read_from_store

    settings = settings_from(args)
    state = None
    if args.source in ("auto", "store"):
        state = read_from_store(settings, args.user_id)
    if state is None and args.source in ("auto", "changelog"):
        from streams.runtime.kafka import require_broker

        require_broker(settings)
        state = read_from_changelog(settings, args.user_id)
    if state is None:
        print(f"nudge: no state for user {args.user_id!r}")
        return 1
    print(msgspec.json.format(msgspec.json.encode(state)).decode() if args.json else _table(state))
    return 0


def _table(state: UserState) -> str:
    rows = [f"{'arm_id':42} {'impressions':>11} {'conversions':>11} {'reward_sum':>10}  last_seen"]
    for arm_id, s in sorted(state.arms.items()):
        seen = datetime.fromtimestamp(s.last_seen_ms / 1000, UTC).isoformat(timespec="seconds")
        rows.append(
            f"{arm_id:42} {s.impressions:>11g} {s.conversions:>11g} {s.reward_sum:>10.3f}  {seen}"
        )
    rows.append(f"{len(state.arms)} arms, {len(state.decisions)} recent decisions")
    return "\n".join(rows)
