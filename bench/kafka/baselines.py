"""Same-run baselines, each in a child process counting into shared memory, timed by
the same poller and the same 10-90 % window as the worker:

(a) ``consume``: bare confluent-kafka consumer (its own group) + JSON decode, no state;
(b) ``consume_produce``: (a) + one JSON output produced per input;
(c) ``quix_stateful``: the engine's own bare stateful job in nudgeflow's topology, a
    minimal Quix Streams app: the three co-partitioned source topics ``concat``-ed, a
    stateful ``apply`` reading the user's counter, incrementing and writing it back
    (RocksDB + changelog, at-least-once), one output per input.
"""

from __future__ import annotations

import multiprocessing as mp
import uuid
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import msgspec

from bench.kafka.measure import Run, poll_count

BASELINE_POLL_SECONDS = 0.01

__all__ = ["BASELINES", "run_baseline"]

Counter = Synchronized  # an mp.Value('q'): events handled so far


def consume(bootstrap: str, topics: list[str], out: str | None, counter: Counter) -> None:
    """(a) and, with ``out``, (b)."""
    from confluent_kafka import Consumer

    from streams.runtime.kafka import make_producer
    from streams.runtime.settings import Settings

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-bare-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
    })  # fmt: skip
    producer = make_producer(Settings(bootstrap_servers=bootstrap)) if out else None
    decode, encode = msgspec.json.decode, msgspec.json.encode
    consumer.subscribe(topics)
    while True:
        batch = consumer.consume(1000, timeout=0.5)
        for message in batch:
            if message.error() is not None:
                continue
            event = decode(message.value())
            if producer is not None:
                answer = {"request_id": event["event_id"], "user_id": event["user_id"]}
                _produce(producer, out or "", message.key(), encode(answer))
        if producer is not None:
            producer.poll(0)
        counter.value += len(batch)


def _produce(producer: Any, topic: str, key: bytes, value: bytes) -> None:
    while True:
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:
            producer.poll(0.05)


def quix_stateful(
    bootstrap: str, topics: list[str], out: str | None, counter: Counter, state_dir: str
) -> None:
    """(c): Quix Streams, three topics concat-ed, a per-user counter in RocksDB."""
    from quixstreams import Application, State

    app = Application(
        broker_address=bootstrap,
        consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        state_dir=state_dir,
        processing_guarantee="at-least-once",
        loglevel="WARNING",
        producer_extra_config={"partitioner": "murmur2_random"},
    )
    frames = [app.dataframe(app.topic(name, value_deserializer="json")) for name in topics]
    sdf = frames[0]
    for other in frames[1:]:
        sdf = sdf.concat(other)

    def count(value: dict[str, Any], state: State) -> dict[str, Any]:
        seen = int(state.get("seen", 0)) + 1
        state.set("seen", seen)
        counter.value += 1
        return {"event_id": value.get("event_id"), "seen": seen}

    sdf = sdf.apply(count, stateful=True)
    sdf.to_topic(app.topic(out or f"{topics[0]}-quix-out", value_serializer="json"))
    app.run()


BASELINES: dict[str, Callable[..., None]] = {
    "consume": consume,
    "consume_produce": consume,
    "quix_stateful": quix_stateful,
}


def run_baseline(
    name: str, bootstrap: str, topics: list[str], out: str | None, expected: int, work: Path
) -> Run:
    """Run baseline ``name`` on ``topics`` in a child until it handled ``expected``."""
    context = mp.get_context("spawn")
    counter = context.Value("q", 0, lock=False)
    args: tuple[Any, ...] = (bootstrap, topics, out, counter)
    if name == "quix_stateful":
        args += (str(work / f"quix-{uuid.uuid4().hex[:8]}"),)
    child = context.Process(target=BASELINES[name], args=args, daemon=True)
    child.start()

    def alive() -> None:
        if not child.is_alive():
            raise RuntimeError(f"baseline {name} exited with {child.exitcode}")

    try:
        # the bare loops do 80-150k events/s: every 0.2 s would leave a window of one or
        # two samples (rates came out as 150k or 80k and nothing between)
        return poll_count(
            lambda: float(counter.value),
            expected,
            f"baseline {name}",
            alive=alive,
            poll_seconds=BASELINE_POLL_SECONDS,
        )
    finally:
        child.terminate()
        child.join(30)
        if child.is_alive():
            child.kill()
            child.join()
