"""What the benchmark feeds the broker: contract events as bytes, produced fast with the
murmur2 partitioner (co-partitioned with the worker's topics), decisions read back, a
generated catalog of any size."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from confluent_kafka import Producer

from streams.runtime.kafka import make_producer, read_to_end
from streams.runtime.settings import Settings

__all__ = [
    "Pair",
    "decisions_of",
    "outcomes_for",
    "produce",
    "requests",
    "write_catalog",
]

Pair = tuple[bytes, bytes]  # (key, value)
_encode = msgspec.json.Encoder().encode
CONTEXT = {"age": 31, "risk_tolerance": 3}  # risk 3 keeps most arms eligible


def now_ms() -> int:
    return int(time.time() * 1000)


def requests(
    n: int, users: int, tag: str, first_user: int = 0, ts_offset_ms: int = 0
) -> list[Pair]:
    """``n`` decision requests spread round-robin over ``users`` users (event time now,
    plus ``ts_offset_ms``)."""
    ts = now_ms() + ts_offset_ms
    out = []
    for i in range(n):
        user = f"u{first_user + i % users}"
        body = {
            "schema_version": 1,
            "event_id": f"{tag}-r{i}",
            "ts": ts,
            "user_id": user,
            "context": CONTEXT,
        }
        out.append((user.encode(), _encode(body)))
    return out


def outcomes_for(decisions: Iterable[dict[str, Any]]) -> tuple[list[Pair], list[Pair]]:
    """One impression and one purchase conversion per decision that showed an arm."""
    ts = now_ms()
    impressions, conversions = [], []
    for d in decisions:
        if d.get("arm_id") is None:
            continue
        user, decision_id = d["user_id"], d["decision_id"]
        key = user.encode()
        impression = {
            "schema_version": 1,
            "event_id": f"i-{decision_id}",
            "ts": ts,
            "user_id": user,
            "decision_id": decision_id,
            "arm_id": d["arm_id"],
        }
        conversion = {
            "schema_version": 1,
            "event_id": f"c-{decision_id}",
            "ts": ts + 1,
            "user_id": user,
            "kind": "purchase",
            "value": 1,
            "decision_id": decision_id,
        }
        impressions.append((key, _encode(impression)))
        conversions.append((key, _encode(conversion)))
    return impressions, conversions


def bulk_producer(bootstrap: str) -> Producer:
    return make_producer(
        Settings(bootstrap_servers=bootstrap), **{"linger.ms": 20, "batch.size": 1_000_000}
    )


def produce(
    bootstrap: str,
    topic: str,
    pairs: Iterable[Pair],
    headers: list[tuple[str, bytes]] | None = None,
) -> int:
    """Produce every pair (acks=all, idempotent) and wait until all are delivered."""
    producer = bulk_producer(bootstrap)
    count = 0
    for key, value in pairs:
        while True:
            try:
                producer.produce(topic, value, key, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    left = producer.flush(120)
    if left:
        raise RuntimeError(f"{left} messages to {topic} not delivered")
    return count


def decisions_of(bootstrap: str, topic: str) -> Iterator[dict[str, Any]]:
    """Every decision on ``topic`` as a dict (up to the end as of this call)."""
    for message in read_to_end(Settings(bootstrap_servers=bootstrap), topic):
        yield json.loads(message.value())


def write_catalog(path: Path, arms: int) -> Path:
    """A catalog of exactly ``arms`` arms: the shipped catalog's products cloned (with a
    suffix) times its strategies, cut to size. Risk levels as shipped (1..5)."""
    from importlib import resources

    shipped = json.loads(resources.files("model").joinpath("data/catalog.json").read_text())
    strategies = shipped["strategies"]
    products: list[dict[str, Any]] = []
    copy = 0
    while len(products) * len(strategies) < arms:
        for product in shipped["products"]:
            products.append({**product, "product_id": f"{product['product_id']}_{copy}"})
        copy += 1
    pairs = [f"{p['product_id']}:{s['strategy_id']}" for p in products for s in strategies]
    doc = {"version": 1, "products": products, "strategies": strategies, "arms": pairs[:arms]}
    path.write_text(json.dumps(doc))
    return path
