"""The Quix Streams engine (``nudge worker``, the default): the worker's hot path.

Quix Streams owns the consumer group, rebalancing, the RocksDB state per partition, its
changelog and recovery, checkpoints (state and offsets committed together every
``commit_interval_seconds``; exactly-once through Kafka transactions when asked). We give
it one stateful function over the three co-partitioned source topics ``concat``-ed, so a
user's requests, impressions and conversions share one state store, keyed by the message
key (the ``user_id``; keyless events are dead-lettered before the state is touched).

What the function does is :class:`streams.runtime.processor.EventProcessor`'s, shared with
the Faust engine. The user's state is one value (our versioned codec) under the state key
:data:`STATE_KEY` (the layout: ``streams.runtime.inspect``); a checkpoint writes it to
RocksDB and to the changelog once per user, however many events the user had since the
last checkpoint.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from quixstreams import Application, State, message_context
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.models.serializers import SerializationContext, Serializer
from quixstreams.state.rocksdb import RocksDBOptions

from streams.runtime.holder import EngineHolder
from streams.runtime.inspect import count_keys, quix_changelog_topic
from streams.runtime.kafka import client_config
from streams.runtime.maintenance import Maintenance
from streams.runtime.metrics import Metrics
from streams.runtime.processor import DEAD_LETTER, EventProcessor, Output
from streams.runtime.recovery import KafkaPublished
from streams.runtime.settings import Settings

__all__ = [
    "STATE_KEY",
    "QuixWorker",
    "build_application",
    "consumer_extra_config",
    "producer_extra_config",
]

log = logging.getLogger(__name__)
# The state key under each user's prefix (``streams.runtime.inspect.quix_state_key``).
STATE_KEY = "s"
_POLL_TIMEOUT_SECONDS = 0.002
# Fewer, fuller requests to the broker. On a 2-core machine the broker shares the cores
# with the worker, and one produce or fetch request per decision cost it ~0.8 of a core at
# 2,000 requests/s; with a 5 ms linger and fetches that wait up to 5 ms for 64 KiB it used
# ~0.6, the worker kept up (p99 47-134 ms instead of 140-600 ms) at the price of ~5 ms more
# p50 at 500/s (paired runs of `python -m bench.kafka.latency_probe`; bench/README.md).
# NUDGE_PRODUCER_CONFIG / NUDGE_CONSUMER_CONFIG override them.
_FETCH_WAIT_MS = 5
_FETCH_MIN_BYTES = 64 * 1024
_LINGER_MS = 5


class _OutputValue(Serializer):
    """Produces an :class:`Output`'s bytes (the topic was chosen from its kind)."""

    def __call__(self, value: Output, ctx: SerializationContext) -> bytes:
        return value.value


def build_application(settings: Settings) -> Application:
    """The Quix application with nudgeflow's client, state and checkpoint settings."""
    return Application(
        broker_address=ConnectionConfig.from_librdkafka_dict(client_config(settings)),
        consumer_group=settings.app_id,
        auto_offset_reset="earliest",
        commit_interval=settings.commit_interval_seconds,
        state_dir=Path(settings.state_dir),
        rocksdb_options=RocksDBOptions(
            write_buffer_size=settings.rocksdb_write_buffer_bytes,
            max_write_buffer_number=2,
            block_cache_size=settings.rocksdb_block_cache_bytes,
            max_total_wal_size=4 * settings.rocksdb_write_buffer_bytes,
            open_max_retries=0,  # a store in use by another worker: fail at once
        ),
        processing_guarantee=settings.processing_guarantee,  # type: ignore[arg-type]
        loglevel=None,  # logging is ours (streams.runtime.logs): one format, repeats folded
        producer_extra_config=producer_extra_config(settings),
        auto_create_topics=True,
        # Quix fetches in batches that wait until full or this timeout: at a few hundred
        # requests/s a long timeout is the decision's latency (1 s by default)
        consumer_poll_timeout=_POLL_TIMEOUT_SECONDS,
        consumer_extra_config=consumer_extra_config(settings),
    )


def producer_extra_config(settings: Settings) -> dict[str, Any]:
    """The worker's producer properties: batching, then ``NUDGE_PRODUCER_CONFIG``; murmur2
    always, as the contract requires (decisions co-partitioned with the requests)."""
    return {"linger.ms": _LINGER_MS, **settings.producer_config, "partitioner": "murmur2_random"}


def consumer_extra_config(settings: Settings) -> dict[str, Any]:
    """The worker's consumer properties, then ``NUDGE_CONSUMER_CONFIG``. Concat-ed topics
    are read in event-time order: a partition whose buffer ran dry holds the others back
    until a fetch response tells its high watermark, and an idle partition's fetch waits
    up to fetch.wait.max.ms (500 by default) for data: hence the short wait."""
    return {
        "fetch.wait.max.ms": _FETCH_WAIT_MS,
        "fetch.min.bytes": _FETCH_MIN_BYTES,
        **settings.consumer_config,
    }


class QuixWorker:
    """One worker process: the Quix application, the processor and the maintenance thread."""

    def __init__(self, settings: Settings, holder: EngineHolder, metrics: Metrics) -> None:
        self.settings, self.holder, self.metrics = settings, holder, metrics
        # decisions already sent out are read back after a crash (at least once)
        self.processor = EventProcessor(
            settings, holder, metrics, published=KafkaPublished(settings)
        )
        self.app = build_application(settings)
        self.changelog_topic = self._build_topology()
        if self.changelog_topic != quix_changelog_topic(settings):  # `nudge state show` reads it
            log.warning("changelog %s is not where inspect looks", self.changelog_topic)
        self.maintenance = Maintenance(
            settings, holder, metrics, self.processor, self._assignment, self._count_keys
        )
        self.maintenance.refresher.load_newest()

    def _build_topology(self) -> str:
        app = self.app
        sources = [
            app.dataframe(app.topic(name, key_deserializer="bytes", value_deserializer="bytes"))
            for name in self.processor.kind_of
        ]
        stream = sources[0]
        for other in sources[1:]:
            stream = stream.concat(other)
        decisions, dead_letter = (
            app.topic(
                self.settings.topic(kind), key_serializer="bytes", value_serializer=_OutputValue()
            )
            for kind in ("decisions", "dead-letter")
        )
        outputs = stream.apply(self._step, stateful=True, metadata=True, expand=True)
        outputs.to_topic(lambda value, *_: dead_letter if value.kind == DEAD_LETTER else decisions)
        return _changelog_name(self.app, stream.stream_id)

    def _step(
        self, value: bytes, key: bytes | None, timestamp: int, headers: Any, state: State
    ) -> list[Output]:
        context = message_context()
        stored, outputs = self.processor.process(
            context.topic,
            context.partition,
            context.offset,
            key,
            value,
            partial(state.get_bytes, STATE_KEY),
        )
        if stored is not None:
            state.set_bytes(STATE_KEY, stored)
        return outputs

    def run(self) -> None:
        """Process until SIGTERM or Ctrl-C (Quix stops cleanly, committing a checkpoint)."""
        self.maintenance.start()
        try:
            self.app.run()
        finally:
            self.maintenance.stop()

    # What the maintenance thread reads from the engine. Quix Streams has no public
    # accessor for the consumer's assignment or its stores; both are read-only uses.
    def _assignment(self) -> list[Any]:
        consumer = getattr(self.app, "_consumer", None)
        return list(consumer.assignment()) if consumer is not None else []

    def _count_keys(self) -> float:
        manager = getattr(self.app, "_state_manager", None)
        stores = manager.stores.values() if manager is not None else []
        partitions = [
            p for by_name in stores for s in by_name.values() for p in s.partitions.values()
        ]
        return float(sum(count_keys(getattr(p, "_db", None)) for p in partitions))


def _changelog_name(app: Application, stream_id: str) -> str:
    topics = app._topic_manager.changelog_topics.get(stream_id, {})
    return next(iter(topics.values())).name if topics else ""
