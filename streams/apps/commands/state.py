"""``nudge state show USER_ID``: a user's arm statistics, for operators."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from state import UserState
from streams.apps.commands._common import add_kafka_flags, settings_from
from streams.runtime.settings import ENGINES, Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("state", help="inspect per-user state")
    actions = parser.add_subparsers(metavar="ACTION", required=True)
    show = actions.add_parser(
        "show",
        help="print a user's arm statistics",
        description="Read USER_ID's state from the state changelog topic in Kafka (current: "
        "what a recovering worker gets) or, with --source store or when no broker answers, from "
        "a worker's RocksDB stores under --state-dir (read-only, safe while it runs; a copy "
        "that lags for partitions the worker no longer owns). Says which on stderr.",
    )
    show.add_argument("user_id", metavar="USER_ID")
    show.add_argument("--json", action="store_true", help="print the whole state as JSON")
    show.add_argument(
        "--source",
        choices=("auto", "store", "changelog"),
        default="auto",
        help="auto (default): the changelog, or the local store when no broker answers",
    )
    show.add_argument(
        "--engine",
        choices=ENGINES,
        help="the worker's engine, whose state layout to read (env NUDGE_ENGINE, default quix)",
    )
    show.add_argument("--state-dir", type=Path, help="worker state dir (env NUDGE_STATE_DIR)")
    show.add_argument("--app-id", help="worker app id (env NUDGE_APP_ID)")
    add_kafka_flags(show)
    show.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    state, note = _read(settings, args.user_id, args.source)
    if state is None:
        print(f"nudge: no state for user {args.user_id!r} ({note})")
        return 1
    print(f"nudge: {note}", file=sys.stderr)  # stdout stays the state (JSON stays JSON)
    print(msgspec.json.format(msgspec.json.encode(state)).decode() if args.json else _table(state))
    return 0


def _read(settings: Settings, user_id: str, source: str) -> tuple[UserState | None, str]:
    """The state and where it came from. The changelog is what a recovering worker gets:
    current. A worker's local store is a copy that lags it for partitions the worker no
    longer owns, so ``auto`` reads the store only when no broker answers, and says so."""
    from streams.runtime.inspect import read_from_changelog, read_from_store
    from streams.runtime.kafka import BrokerUnreachable, require_broker

    if source in ("auto", "changelog"):
        try:
            require_broker(settings, timeout_seconds=3 if source == "auto" else 10)
        except BrokerUnreachable:
            if source == "changelog":
                raise
        else:
            return read_from_changelog(settings, user_id), "source: the changelog (current)"
    state = read_from_store(settings, user_id)
    why = "no broker answered; " if source == "auto" else ""
    return state, (
        f"source: the local store under {settings.state_dir} ({why}a copy, which lags the "
        "changelog for partitions this worker no longer owns)"
    )


def _table(state: UserState) -> str:
    rows = [f"{'arm_id':42} {'impressions':>11} {'conversions':>11} {'reward_sum':>10}  last_seen"]
    for arm_id, s in sorted(state.arms.items()):
        seen = datetime.fromtimestamp(s.last_seen_ms / 1000, UTC).isoformat(timespec="seconds")
        rows.append(
            f"{arm_id:42} {s.impressions:>11g} {s.conversions:>11g} {s.reward_sum:>10.3f}  {seen}"
        )
    rows.append(f"{len(state.arms)} arms, {len(state.decisions)} recent decisions")
    return "\n".join(rows)
