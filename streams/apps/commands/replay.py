"""``nudge replay LOG``: a historical log offline through the pure step, or into Kafka."""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
from tqdm import tqdm

from streams.apps.commands._common import (
    add_columns_flag,
    add_kafka_flags,
    add_policy_flags,
    settings_from,
)
from streams.runtime.settings import Settings

HELP = """\
Replay a log (JSONL, Parquet or CSV, see model/logs/ and README 'Log format') of
decision requests, decisions, impressions and conversions. A CSV export with its own
column names is read through --columns MAPPING.json.

--offline: run every event through the same engine step as the worker (policy and
  catalog from --policy/--catalog or NUDGE_POLICY/NUDGE_CATALOG_PATH), into an in-memory
  store or the RocksDB database at --state-dir; no broker. Prints outcome counts and the
  replay (Li et al.) estimate of the policy's conversion rate on the matched decisions.
--into kafka: publish requests, impressions and conversions to the topics in log
  order, keyed by user_id, keeping event ids; another system's decisions (an export's)
  too, with each request pinned to its logged arm so a worker whose catalog has the
  log's arms (nudge catalog --from-log) applies the log's outcomes (see
  streams/apps/logged.py). Resumable: progress is kept in --checkpoint; rerunning the
  same command continues where it stopped and never publishes an event twice.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "replay",
        help="replay a historical log offline or into Kafka",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "log", type=Path, metavar="LOG", help="log file (.jsonl, .parquet, .csv or .csv.gz)"
    )
    add_columns_flag(parser)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--offline", action="store_true", help="replay through the pure step")
    mode.add_argument("--into", choices=("kafka",), help="publish into Kafka topics")
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="offline: RocksDB directory to write user state into (default: in memory)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="offline: write every user's final state as JSON lines {user_id, state} to this file",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="kafka: progress file (default: LOG.<topic prefix>replay.json next to the log)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="kafka: event-time speed "
        "factor (2 = twice real time; default 0 = as fast as possible)",
    )
    parser.add_argument(
        "--max-events",
        type=int,
        help="stop after this many events of the log (offline: replayed; kafka: published)",
    )
    parser.add_argument(
        "--no-gate",
        action="store_true",
        help="kafka: don't wait for the "
        "worker's decision before publishing a request's impression/conversion",
    )
    parser.add_argument(
        "--gate-timeout",
        type=float,
        default=120.0,
        help="kafka: seconds to wait for a decision before giving up",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_kafka_flags(parser)
    add_policy_flags(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from model.logs import check_readable, count_events, load_column_mapping, read_log
    from streams.apps.cli import CommandError

    if args.max_events is not None and args.max_events < 1:
        raise CommandError(f"--max-events must be >= 1, got {args.max_events}")
    check_readable(args.log)
    columns = load_column_mapping(args.columns, log=args.log) if args.columns else None
    settings = settings_from(args)
    total = count_events(args.log, columns)
    if args.max_events is not None:
        total = min(total, args.max_events)
    with tqdm(total=total, unit="ev", disable=args.quiet, desc="replay") as bar:
        if args.offline:
            events = itertools.islice(read_log(args.log, columns), args.max_events)
            return _offline(args, settings, events, bar.update)
        return _kafka(args, settings, read_log(args.log, columns), bar.update)


def _offline(args: argparse.Namespace, settings: Settings, events: Iterator, update) -> int:
    from model.replay import replay_offline
    from state import InMemoryStore, RocksStore, UserStore
    from streams.runtime.wiring import build_engine

    store: UserStore = (
        RocksStore(args.state_dir, durable=False) if args.state_dir else InMemoryStore()
    )
    started = time.perf_counter()
    try:
        summary = replay_offline(events, build_engine(settings), store, update)
        seconds = time.perf_counter() - started
        if args.out:
            _dump(store, args.out)
    finally:
        store.close()
    print(
        f"replayed {summary.events} events in {seconds:.1f} s "
        f"({summary.events / max(seconds, 1e-9):,.0f} events/s)"
    )
    for (kind, outcome), count in sorted(summary.outcomes.items()):
        print(f"  {kind:18} {outcome:10} {count:>9}")
    print(
        f"decisions matching the logged arm: {summary.matched}, of which converted: "
        f"{summary.matched_conversions} (replay CR {summary.replay_rate:.4f})"
    )
    return 0


def _dump(store, path: Path) -> None:
    with open(path, "wb") as out:
        for user in store.users():
            out.write(msgspec.json.encode({"user_id": user, "state": store.get(user)}) + b"\n")


def _kafka(args: argparse.Namespace, settings: Settings, events: Iterator, update) -> int:
    from streams.apps.replay import KafkaReplay
    from streams.runtime.kafka import make_producer, require_broker

    require_broker(settings)
    checkpoint = args.checkpoint or args.log.with_name(
        f"{args.log.name}.{settings.topic_prefix}replay.json"
    )
    from streams.apps.logged import as_logged

    kinds = ("decision-requests", "decisions", "impressions", "conversions")
    producer = make_producer(settings, **{"linger.ms": 20})
    feed = None if args.no_gate else _DecisionFeed(settings)
    replay = KafkaReplay(
        sink=producer,
        topics={k: settings.topic(k) for k in kinds},
        checkpoint_path=checkpoint,
        already_published=lambda o: _scan(settings, o),
        feed=feed,
        speed=args.speed,
        gate_timeout_seconds=args.gate_timeout,
    )
    try:
        published = replay.run(as_logged(events), args.max_events, update)
    finally:
        if feed is not None:
            feed.close()
    state = "finished" if replay.checkpoint.finished else "stopped; rerun to resume"
    print(f"published {published} events ({state}); checkpoint {checkpoint}")
    return 0


class _EventId(msgspec.Struct):
    event_id: str = ""
    decision_id: str | None = None


class _DecisionFeed:
    """Reads the decisions topic from its beginning; yields decision ids as they come."""

    def __init__(self, settings: Settings) -> None:
        from streams.runtime.kafka import assign_from_beginning, make_consumer

        self._consumer = make_consumer(settings)
        assign_from_beginning(self._consumer, [settings.topic("decisions")])
        self._decode = msgspec.json.Decoder(_EventId).decode

    def decided(self) -> Iterator[str]:
        while True:
            batch = self._consumer.consume(5000, timeout=0.05)
            for message in batch:
                if message.error() is None:
                    decision = self._decode(message.value() or b"{}")
                    if decision.decision_id:
                        yield decision.decision_id
            if not batch:
                return

    def close(self) -> None:
        self._consumer.close()


def _scan(settings: Settings, next_offsets: dict[str, dict[str, int]]) -> set[str]:
    """Event ids in the topics at or after the checkpointed offsets (delivered before an
    interruption but not yet in the checkpoint)."""
    from confluent_kafka import TopicPartition

    from streams.runtime.kafka import make_consumer

    wanted = [
        TopicPartition(t, int(p), o) for t, parts in next_offsets.items() for p, o in parts.items()
    ]
    if not wanted:
        return set()
    consumer = make_consumer(settings)
    ends = {
        (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=20)[1] for tp in wanted
    }
    todo = [tp for tp in wanted if ends[(tp.topic, tp.partition)] > tp.offset]
    found: set[str] = set()
    decode = msgspec.json.Decoder(_EventId).decode
    try:
        consumer.assign(todo)
        pending = {(tp.topic, tp.partition) for tp in todo}
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for message in consumer.consume(5000, timeout=0.5):
                if message.error() is None:
                    found.add(decode(message.value() or b"{}").event_id)
                    where = (str(message.topic()), int(message.partition() or 0))
                    if int(message.offset() or 0) + 1 >= ends[where]:
                        pending.discard(where)
    finally:
        consumer.close()
    return found
