"""Read one user's state from a worker's local stores or from the changelog topic."""

from __future__ import annotations

from pathlib import Path

from state import RocksStore, UserState, decode_state
from streams.runtime.settings import STATE_TABLE, Settings

__all__ = ["changelog_topic", "read_from_changelog", "read_from_store", "store_paths"]


def changelog_topic(settings: Settings) -> str:
    return settings.changelog_topic


def store_paths(settings: Settings) -> list[Path]:
    """The per-partition RocksDB folders of this worker's state table."""
    return sorted(settings.state_dir.glob(f"**/{STATE_TABLE}-*.db"))


def read_from_store(settings: Settings, user_id: str) -> UserState | None:
    """Open each partition's database read-only (safe while the worker runs)."""
    for path in store_paths(settings):
        store = RocksStore(path, read_only=True)
        try:
            if user_id in store:  # a point lookup, not a scan
                return store.get(user_id)
        finally:
            store.close()
    return None


def read_from_changelog(
    settings: Settings, user_id: str, timeout_seconds: float = 20
) -> UserState | None:
    """The latest value of ``user_id`` in the changelog topic (scans every partition)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": "nudge-inspect",
            "enable.auto.commit": False,
        }
    )
    try:
        topic = changelog_topic(settings)
        metadata = consumer.list_topics(topic, timeout=timeout_seconds).topics[topic]
        if metadata.error is not None:
            raise ValueError(f"changelog topic {topic} not found: {metadata.error}")
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p))[1]
            for p in metadata.partitions
        }
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        return _scan(consumer, user_id.encode(), ends, timeout_seconds)
    finally:
        consumer.close()


def _scan(consumer: object, key: bytes, ends: dict[int, int], timeout: float) -> UserState | None:
    import time

    latest: bytes | None = None
    pending = {p for p, end in ends.items() if end > 0}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=1.0):  # type: ignore[attr-defined]
            if message.error():
                continue
            if message.key() == key:
                latest = message.value()
            if message.offset() + 1 >= ends[message.partition()]:
                pending.discard(message.partition())
    return decode_state(latest) if latest is not None else None
