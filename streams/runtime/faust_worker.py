"""The Faust engine (``nudge worker --engine faust``): the second engine behind the step.

One agent consumes the three co-partitioned source topics, so one worker owns a user's
requests, impressions, conversions and state. State lives in a Faust table (RocksDB
through rocksdict, recovered from its changelog topic); what happens to each event is
:class:`streams.runtime.processor.EventProcessor`'s, shared with the Quix engine.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from confluent_kafka import TopicPartition as KafkaTopicPartition
from faust.types import TP

from streams.runtime.ack_guard import AckGuard
from streams.runtime.holder import EngineHolder
from streams.runtime.inspect import count_keys
from streams.runtime.kafka import faust_broker, make_consumer
from streams.runtime.lag import install_lag_sampler
from streams.runtime.live import install_catalog_watch, install_population
from streams.runtime.metrics import Metrics
from streams.runtime.online import install_online
from streams.runtime.processor import DEAD_LETTER, EventProcessor
from streams.runtime.recovery import KafkaPublished
from streams.runtime.refresh import install_refresh
from streams.runtime.settings import STATE_TABLE, Settings
from streams.runtime.stall import StallWatch

__all__ = ["STATE_TABLE", "build_app"]

log = logging.getLogger(__name__)
_SEEK_DELAY_SECONDS = 0.5


def _raw_topic(app: faust.App, *names: str) -> Any:
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def _faust_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.app_id,
        **faust_broker(settings),  # broker URLs and credentials (TLS, SASL)
        store="rocksdb://",
        datadir=str(settings.state_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        web_enabled=False,
        producer_acks=-1,
        producer_linger_ms=5,  # batch decisions instead of one request per send
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        broker_commit_interval=settings.commit_interval_seconds,
        key_serializer="raw",
        value_serializer="raw",
        Stream=GuardedStream,  # acks through Consumer.ack, where AckGuard sits
    )


def build_app(settings: Settings, holder: EngineHolder, metrics: Metrics) -> faust.App:
    app = _faust_app(settings)
    # decisions already sent out are read back after a crash (at least once)
    processor = EventProcessor(settings, holder, metrics, published=KafkaPublished(settings))
    sources = _raw_topic(app, *processor.kind_of)
    outputs = {
        "decisions": _raw_topic(app, settings.topic("decisions")),
        DEAD_LETTER: _raw_topic(app, settings.topic("dead-letter")),
    }
    table = app.Table(
        STATE_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
        options={"driver": "rocksdict"},
    )
    install_refresh(app, settings, holder, metrics)
    install_population(app, holder, processor.population)
    install_online(app, holder, processor.online)
    install_catalog_watch(app, settings, holder, metrics)

    processed = [0]  # events handled, for the stall watch
    guard = install_ack_guard(app, settings, set(processor.kind_of))

    async def handle(message: Any) -> None:
        processed[0] += 1
        guard.handled(message.topic, message.partition, message.offset)

        def load() -> bytes | None:
            return table.get(message.key) if message.key is not None else None

        stored, emitted = processor.process(
            message.topic, message.partition, message.offset, message.key, message.value, load
        )
        if stored is not None:
            table[message.key] = stored
        for output in emitted:
            await outputs[output.kind].send(key=output.key, value=output.value)

    @app.agent(sources, name="nudge-processor")
    async def process(stream: Any) -> None:
        async for event in stream.events():
            await handle(event.message)

    @app.timer(interval=10.0)
    async def sample_state_size() -> None:
        metrics.state_keys.set(_count_keys(table))

    sampler = install_lag_sampler(app, metrics, processor.kind_of)
    app.nudge_table = table  # type: ignore[attr-defined]
    app.nudge_stall_watch = StallWatch(  # type: ignore[attr-defined]
        lambda: processed[0], lambda: sampler.owed, lambda: _ready(app)
    )
    return app


class GuardedStream(faust.Stream):
    """faust's stream on its pure-Python iterator, whose acks go through ``Consumer.ack``
    (the Cython iterator, otherwise preferred, writes the consumer's ack books itself)."""

    def __aiter__(self) -> Any:
        iterator = self._py_aiter()
        agens = getattr(self, "_active_agens", None)  # kept by faust-streaming 0.15.3+
        if agens is not None:
            agens.add(iterator)
        return iterator


def install_ack_guard(app: Any, settings: Settings, sources: set[str]) -> AckGuard:
    """:class:`AckGuard` on ``app``'s consumer: ``Consumer.ack`` asks it first."""
    reader: list[Any] = []  # a consumer with the group's id that never joins: offsets only

    def committed(topic: str, partition: int) -> int:
        if not reader:
            reader.append(make_consumer(settings, group_id=settings.app_id))
        found = reader[0].committed([KafkaTopicPartition(topic, partition)], timeout=10)[0]
        if found.offset >= 0:
            return int(found.offset)
        low, _ = reader[0].get_watermark_offsets(found, timeout=10)
        return int(low)

    def seek(topic: str, partition: int, offset: int) -> None:
        # after the batch being drained now: its messages would move faust's read offset
        # past the sought one again, and the messages read again would be dropped
        loop = asyncio.get_running_loop()
        loop.call_later(_SEEK_DELAY_SECONDS, start_seek, topic, partition, offset)

    def start_seek(topic: str, partition: int, offset: int) -> None:
        task = asyncio.ensure_future(app.consumer.seek_wait({TP(topic, partition): offset}))
        task.add_done_callback(_log_failed_seek)

    guard = AckGuard(sources, committed, seek, lambda: int(app.consumer_generation_id))
    consumer = app.consumer
    ack = consumer.ack

    def guarded_ack(message: Any) -> bool:
        if guard.allow(message.topic, message.partition, message.offset):
            return bool(ack(message))
        return False

    consumer.ack = guarded_ack
    return guard


def _log_failed_seek(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:  # e.g. revoked meanwhile
        log.info("seek back not done: %s", task.exception())


def _ready(app: Any) -> bool:
    """Consuming: not in a rebalance, and the tables' recovery has completed."""
    recovery = getattr(getattr(app, "tables", None), "recovery", None)
    completed = getattr(recovery, "completed", None)
    return not app.rebalancing and completed is not None and completed.is_set()


def _count_keys(table: Any, exact_below: int = 100_000) -> float:
    """Users in this worker's partitions (every 10 s on the event loop)."""
    total = 0
    for db in list(getattr(table.data, "_dbs", {}).values()):
        try:
            total += count_keys(db, exact_below, skip=b"__faust")
        except Exception:  # noqa: BLE001 - a db closing during a rebalance
            continue
    return float(total)
