"""Read one user's state from a worker's local stores or from the changelog topic.

Each engine lays its state out its own way: Faust keeps ``user_id -> state`` in one
``user-state-<partition>.db`` per partition and a changelog named after the table; Quix
Streams keeps ``<user_id>|"s" -> state`` (:func:`streams.runtime.quix_worker.state_db_key`)
under ``<state_dir>/<app_id>/default/<stream>/<partition>`` and a changelog named after the
group, the source topics and the store. The state value is our codec in both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from state import UserState, decode_state
from streams.runtime.kafka import make_consumer
from streams.runtime.settings import SOURCE_KINDS, STATE_TABLE, Settings

__all__ = [
    "StateLayout",
    "count_keys",
    "iter_store",
    "layout",
    "read_changelog",
    "read_from_changelog",
    "read_from_store",
]


@dataclass(frozen=True)
class StateLayout:
    store_paths: list[Path]
    changelog_topic: str
    key: bytes


def layout(settings: Settings, user_id: str) -> StateLayout:
    """Where ``settings.engine`` keeps ``user_id``'s state."""
    if settings.engine == "faust":
        paths = sorted(settings.state_dir.glob(f"**/{STATE_TABLE}-*.db"))
        return StateLayout(paths, settings.changelog_topic, user_id.encode())
    root = settings.state_dir / settings.app_id
    paths = sorted(p.parent for p in root.glob("*/*/*/CURRENT"))
    return StateLayout(paths, quix_changelog_topic(settings), quix_state_key(user_id))


def quix_changelog_topic(settings: Settings) -> str:
    """Quix Streams' name for the changelog of the worker's store (checked against the
    running engine's own in the integration tests)."""
    sources = sorted(settings.topic(kind) for kind in SOURCE_KINDS)
    return "changelog__" + "--".join([settings.app_id, *sources, "default"])


def quix_state_key(user_id: str) -> bytes:
    """The user's key in the Quix store and changelog: message key, ``|``, state key."""
    return user_id.encode() + b'|"s"'


def read_from_store(settings: Settings, user_id: str) -> UserState | None:
    """Open each partition's database read-only (safe while the worker runs)."""
    from rocksdict import AccessType, Options, Rdict

    where = layout(settings, user_id)
    for path in where.store_paths:
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            value = db.get(where.key)  # a point lookup, not a scan
        finally:
            db.close()
        if value is not None:
            return decode_state(value)
    return None


def iter_store(settings: Settings) -> Iterator[tuple[str, UserState]]:
    """Every user's state in the worker's local stores (``user_id``, state)."""
    from rocksdict import AccessType, Options, Rdict

    where = layout(settings, "")
    suffix = quix_state_key("") if settings.engine == "quix" else b""
    for path in where.store_paths:
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            for key, value in db.items():
                user = _user_of(bytes(key), suffix)  # type: ignore[arg-type]
                if user is not None:
                    yield user, decode_state(value)
        finally:
            db.close()


def _user_of(key: bytes, suffix: bytes) -> str | None:
    if key.startswith(b"__faust") or not key.endswith(suffix):
        return None  # the engine's own bookkeeping
    return key[: len(key) - len(suffix)].decode()


def count_keys(db: Any, exact_below: int = 100_000, skip: bytes = b"\x00") -> int:
    """Keys of one open RocksDB database (the users in a partition's store): RocksDB's
    estimate-num-keys, cheap at any size, made exact by a key scan while it is small
    (keys starting with ``skip``, an engine's bookkeeping, left out of the scan)."""
    if db is None:
        return 0
    estimate = int(db.property_int_value("rocksdb.estimate-num-keys") or 0)
    if estimate >= exact_below:
        return estimate
    keys = db.keys()  # noqa: SIM118 - an Rdict iterates by index, not by key
    return sum(1 for key in keys if not bytes(key).startswith(skip))


def read_from_changelog(
    settings: Settings, user_id: str, timeout_seconds: float = 20
) -> UserState | None:
    """The latest value of ``user_id`` in the changelog topic (scans every partition)."""
    key = layout(settings, user_id).key
    latest = _latest_values(settings, lambda k: k == key, timeout_seconds)
    return decode_state(latest[key]) if key in latest else None


def read_changelog(settings: Settings, timeout_seconds: float = 60) -> dict[str, UserState]:
    """Every user's latest state in the changelog topic (what a recovering worker gets)."""
    suffix = quix_state_key("") if settings.engine == "quix" else b""
    users = {}
    for key, value in _latest_values(settings, lambda k: True, timeout_seconds).items():
        user = _user_of(key, suffix)
        if user is not None and value:  # an empty value is a deletion (tombstone)
            users[user] = decode_state(value)
    return users


def _latest_values(
    settings: Settings, wanted: Callable[[bytes], bool], timeout_seconds: float
) -> dict[bytes, bytes | None]:
    from confluent_kafka import TopicPartition

    topic = layout(settings, "").changelog_topic
    consumer = make_consumer(settings, group_id="nudge-inspect")
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_seconds).topics[topic]
        if metadata.error is not None:
            raise ValueError(f"changelog topic {topic} not found: {metadata.error}")
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p))[1]
            for p in metadata.partitions
        }
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        return _scan(consumer, wanted, ends, timeout_seconds)
    finally:
        consumer.close()


def _scan(
    consumer: Any, wanted: Callable[[bytes], bool], ends: dict[int, int], timeout: float
) -> dict[bytes, bytes | None]:
    from confluent_kafka import TopicPartition

    latest: dict[bytes, bytes | None] = {}
    pending = {p for p, end in ends.items() if end > 0}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=1.0):
            if message.error():
                continue
            if wanted(message.key()):
                latest[message.key()] = message.value()
        topic = consumer.assignment()[0].topic if pending else ""
        for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
            if tp.offset >= ends[tp.partition]:  # past the end (transaction markers too)
                pending.discard(tp.partition)
    if pending:
        raise TimeoutError(f"changelog partitions {sorted(pending)} not read in {timeout:g} s")
    return latest
