"""End-to-end latency at a fixed request rate: a paced producer sends decision requests
(linger 0) while a consumer reads the decisions; latency = decision consumed - request
produced, one clock. Baseline: the broker's echo round trip at the same rate (the same
producer and consumer, but the consumer reads back the topic the producer writes)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from bench.kafka.load import requests
from bench.kafka.stats import latency_summary

__all__ = ["paced_round_trip"]

Extract = Callable[[dict[str, Any]], str]


def _consumer_at_end(bootstrap: str, topic: str) -> Consumer:
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "bench-latency",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 100,
        "auto.offset.reset": "earliest",  # where the end was not known: a new, empty topic
    })  # fmt: skip
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, _end(consumer, topic, p)) for p in meta.partitions])
    return consumer


def _end(consumer: Consumer, topic: str, partition: int, timeout: float = 30) -> int:
    """The partition's high watermark; retried while a new topic has no leader yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
            if high >= 0:
                return int(high)
            raise KafkaException("no watermark yet")
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _receive(
    consumer: Consumer, extract: Extract, expected: int, stop: threading.Event
) -> dict[str, float]:
    received: dict[str, float] = {}
    while len(received) < expected and not stop.is_set():
        message = consumer.poll(0.05)
        if message is None or message.error() is not None:
            continue
        now = time.perf_counter()
        received.setdefault(extract(json.loads(message.value())), now)
    return received


def _send_paced(
    producer: Producer, topic: str, pairs: list[tuple[bytes, bytes]], rate: float, ids: list[str]
) -> dict[str, float]:
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i, (key, value) in enumerate(pairs):
        due = start + i / rate
        while (wait := due - time.perf_counter()) > 0:
            time.sleep(min(wait, 0.002))
        sent[ids[i]] = time.perf_counter()
        producer.produce(topic, value, key)
        producer.poll(0)
    producer.flush(30)
    return sent


def paced_round_trip(
    bootstrap: str,
    send_topic: str,
    read_topic: str,
    extract: Extract,
    rate: float,
    seconds: float,
    users: int,
    tag: str,
    warm_seconds: float = 1.0,
) -> dict[str, Any]:
    """Send ``rate`` requests/s for ``warm_seconds + seconds`` to ``send_topic``, read
    ``read_topic``; the latency summary of the answers (matched by ``extract``: request
    id) to the requests sent after the warm-up. An answer that did not come back within
    ``max(5, seconds)`` after the last send counts as infinitely late (``lost``)."""
    warm = int(rate * warm_seconds)
    n = warm + max(1, int(rate * seconds))
    pairs = requests(n, users, tag)
    ids = [f"{tag}-r{i}" for i in range(n)]
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "partitioner": "murmur2_random",
        "linger.ms": 0,
        "enable.idempotence": True,
    })  # fmt: skip
    consumer = _consumer_at_end(bootstrap, read_topic)
    stop = threading.Event()
    result: dict[str, dict[str, float]] = {}

    def receive() -> None:
        result["received"] = _receive(consumer, extract, n, stop)

    reader = threading.Thread(target=receive, daemon=True)
    reader.start()
    try:
        sent = _send_paced(producer, send_topic, pairs, rate, ids)
        achieved = n / max(max(sent.values()) - min(sent.values()), 1e-9) if n > 1 else rate
        reader.join(max(5.0, seconds))
    finally:
        stop.set()
        reader.join(5)
        consumer.close()
    received = result.get("received", {})
    measured = ids[warm:]
    latencies = [(received[i] - sent[i]) * 1000 if i in received else math.inf for i in measured]
    summary = latency_summary(latencies)
    lost = sum(1 for i in measured if i not in received)
    return summary | {"sent": len(measured), "lost": lost, "send_rate": round(achieved, 1)}
