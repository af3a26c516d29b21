"""Every Kafka client of the project is built here, from :class:`Settings` (where the
cluster is and how to reach it: TLS, SASL), plus small helpers shared by the CLI, the
demo, replay and tests. Quix Streams builds its own clients from :func:`client_config`;
Faust from :func:`~streams.runtime.kafka_security.faust_broker`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from streams.runtime.kafka_security import aiokafka_security, faust_broker, librdkafka_security
from streams.runtime.settings import Settings

__all__ = [
    "BrokerRejected",
    "BrokerUnreachable",
    "aiokafka_security",
    "faust_broker",
    "assign_at_end",
    "client_config",
    "assign_from_beginning",
    "make_admin",
    "make_aiokafka_consumer",
    "make_consumer",
    "make_producer",
    "read_to_end",
    "read_topic",
    "require_broker",
]


def client_config(settings: Settings) -> dict[str, Any]:
    """The librdkafka settings every Kafka client of the project starts from: where the
    cluster is (and, on a secured cluster, how to reach it)."""
    return {"bootstrap.servers": settings.bootstrap_servers, **librdkafka_security(settings)}


def make_producer(settings: Settings, **extra: Any) -> Producer:
    """A producer whose partitioner matches the Java client and aiokafka (murmur2), so
    events keyed by ``user_id`` land on the same partition number in every topic whoever
    produces them (co-partitioning)."""
    config = {
        **client_config(settings),
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "enable.idempotence": True,
        **extra,
    }
    return Producer(config)


def make_consumer(settings: Settings, group_id: str | None = None, **extra: Any) -> Consumer:
    """A consumer that commits nothing on its own; without ``group_id`` a throw-away group
    (the callers assign partitions rather than subscribe)."""
    return Consumer({
        **client_config(settings),
        "group.id": group_id or f"nudge-reader-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        **extra,
    })  # fmt: skip


def make_admin(settings: Settings, **extra: Any) -> AdminClient:
    return AdminClient({**client_config(settings), **extra})


def assign_from_beginning(
    consumer: Consumer, topics: list[str], timeout_seconds: float = 30.0
) -> None:
    """Read every partition of ``topics`` from its beginning, without a consumer group.

    Not ``subscribe``: a topic created moments ago can be missing from the client's
    metadata when it subscribes, and then stays unread until the next metadata refresh
    (minutes). Asking for each topic by name waits until the broker knows it."""
    deadline = time.monotonic() + timeout_seconds
    assignment = []
    for topic in topics:
        while True:
            meta = consumer.list_topics(topic, timeout=max(deadline - time.monotonic(), 0.1))
            found = meta.topics.get(topic)
            if found is not None and found.error is None and found.partitions:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} not found within {timeout_seconds:g} s")
            time.sleep(0.2)
        assignment += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in found.partitions]
    consumer.assign(assignment)


def assign_at_end(consumer: Consumer, topic: str, timeout_seconds: float = 30.0) -> None:
    """Read only what is produced to ``topic`` from now on, every partition, no group."""
    meta = consumer.list_topics(topic, timeout=timeout_seconds).topics.get(topic)
    partitions = list(meta.partitions) if meta is not None and meta.error is None else [0]
    consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in partitions])


def read_topic(
    settings: Settings,
    topic: str,
    *,
    expect: int | None = None,
    idle_seconds: float = 5.0,
    timeout_seconds: float = 120.0,
) -> Iterator[Any]:
    """Yield messages of ``topic`` from the beginning until ``expect`` were read, or
    nothing arrived for ``idle_seconds``, or ``timeout_seconds`` passed."""
    consumer = make_consumer(settings)
    assign_from_beginning(consumer, [topic])
    seen, last, deadline = 0, time.monotonic(), time.monotonic() + timeout_seconds
    try:
        while time.monotonic() < deadline and (expect is None or seen < expect):
            batch = consumer.consume(1000, timeout=0.5)
            for message in batch:
                if message.error() is None:
                    seen += 1
                    yield message
            if batch:
                last = time.monotonic()
            elif time.monotonic() - last > idle_seconds and (expect is None or seen > 0):
                return
    finally:
        consumer.close()


def read_to_end(settings: Settings, topic: str, *, timeout_seconds: float = 600.0) -> Iterator[Any]:
    """Every message of ``topic`` from the beginning up to its end as of this call (each
    partition's high watermark then); what is produced later is left for the next read.
    Exact and without waiting for the topic to go quiet. Raises ``ValueError`` for a topic
    that does not exist, ``TimeoutError`` when the end is not reached in time."""
    consumer = make_consumer(settings)
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            raise ValueError(f"no topic {topic} on {settings.bootstrap_servers}")
        ends = {}
        for partition in meta.partitions:
            offsets = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
            low, high = offsets or (None, None)
            if low is None or high is None:
                raise TimeoutError(f"{topic}[{partition}]: no offsets from the broker")
            if high > low:
                ends[partition] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        deadline = time.monotonic() + timeout_seconds
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: end not reached in {timeout_seconds:g} s")
            for message in consumer.consume(1000, timeout=0.5):
                end, offset = ends.get(message.partition() or 0), message.offset()
                if message.error() is None and end is not None and (offset or 0) < end:
                    yield message
            for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                if tp.offset >= ends[tp.partition]:  # past the end (control records too)
                    del ends[tp.partition]
    finally:
        consumer.close()


def make_aiokafka_consumer(settings: Settings, **extra: Any) -> Any:
    """An aiokafka consumer (the Faust engine's event loop) reaching the same cluster the
    same way as :func:`client_config`'s clients."""
    from aiokafka import AIOKafkaConsumer

    servers = settings.bootstrap_servers.split(",")
    return AIOKafkaConsumer(bootstrap_servers=servers, **aiokafka_security(settings), **extra)


class BrokerUnreachable(ConnectionError):
    """No Kafka broker answered at the configured address."""


class BrokerRejected(BrokerUnreachable):
    """A broker answered, but the TLS handshake or the SASL authentication failed."""


_FATAL = (KafkaError._ALL_BROKERS_DOWN, KafkaError._AUTHENTICATION, KafkaError._SSL)


def require_broker(settings: Settings, timeout_seconds: float = 10.0) -> None:
    """Return when a broker answers at ``settings.bootstrap_servers``; otherwise raise
    :class:`BrokerUnreachable` with a one-line reason, so a command fails fast instead of
    retrying silently: at once when every broker refuses the connection, the TLS handshake
    or the credentials (:class:`BrokerRejected`), else after ``timeout_seconds``
    (librdkafka's own connection errors are kept quiet here)."""
    errors: list[KafkaError] = []

    def on_error(error: KafkaError) -> None:
        if error.code() in _FATAL:
            errors.append(error)

    admin = make_admin(settings, log_level=0, error_cb=on_error)
    deadline = time.monotonic() + timeout_seconds
    while not errors and time.monotonic() < deadline:
        try:
            if admin.list_topics(timeout=0.5).brokers:
                return
        except KafkaException:
            pass
        admin.poll(0)  # serves error_cb
    admin.poll(0.2)  # the handshake's own error can follow "all brokers down"
    rejected = [e for e in errors if e.code() != KafkaError._ALL_BROKERS_DOWN]
    if rejected:
        raise BrokerRejected(_rejection(settings, rejected[0]))
    why = "refused the connection" if errors else f"did not answer within {timeout_seconds:g} s"
    raise BrokerUnreachable(
        f"no Kafka broker at {settings.bootstrap_servers}: it {why} (start one with "
        "`nudge broker start`, or set --bootstrap-servers / NUDGE_BOOTSTRAP_SERVERS)"
    )


def _rejection(settings: Settings, error: KafkaError) -> str:
    """Which of TLS or SASL failed, and which settings to check (never their values)."""
    where = f"Kafka at {settings.bootstrap_servers}"
    if error.code() == KafkaError._AUTHENTICATION:
        return (
            f"{where} refused the SASL credentials of user {settings.sasl_username!r} "
            f"({settings.sasl_mechanism}): check NUDGE_SASL_USERNAME and NUDGE_SASL_PASSWORD "
            "/ NUDGE_SASL_PASSWORD_FILE"
        )
    text = error.str()
    if "certificate verify failed" in text:
        ca = settings.ssl_ca_file or "the system's CAs"
        return (
            f"TLS handshake with {where} failed: its certificate could not be verified "
            f"with {ca} (not signed by that CA, or not for that name; check "
            "NUDGE_SSL_CA_FILE / NUDGE_SSL_CHECK_HOSTNAME)"
        )
    return f"TLS handshake with {where} failed: {text}"
