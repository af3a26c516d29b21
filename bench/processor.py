"""The worker's per-event code without Kafka: :class:`EventProcessor` over a dict store.

What one worker does per message besides the engine's own work (Quix Streams' consumer,
state transaction and producer): decode and check the event, load, step, store, pool
the change, count it, build the output. Measured on the same messages the Kafka bench
loads (decision requests of ``users`` users, then one impression and one purchase per
decision), against the pure loop alone (decode + :func:`model.loop.step_encoded`), so
the ratio is what our edge costs on top of the step.
"""

from __future__ import annotations

from typing import Any

import msgspec
from prometheus_client import CollectorRegistry

from bench.kafka import load
from bench.timing import median_rate
from model.engine import Source
from model.loop import step_encoded
from streams.runtime.holder import EngineHolder
from streams.runtime.metrics import Metrics
from streams.runtime.processor import EventProcessor
from streams.runtime.schemas import decode_event
from streams.runtime.settings import Settings
from streams.runtime.wiring import build_engine

__all__ = ["bench_processor", "messages"]

Message = tuple[str, bytes, bytes]  # (topic kind, key, value)


def messages(policy: str, n: int, users: int) -> tuple[list[Message], list[Message]]:
    """Requests, and one impression and one purchase per decision that showed an arm."""
    settings = Settings(policy=policy, partitions=1)
    processor = _processor(settings)
    requests = [("decision-requests", k, v) for k, v in load.requests(n, users, "p")]
    _, outputs = _run(processor, settings, requests, {})
    decisions = [msgspec.json.decode(value) for kind, _, value in outputs if kind == "decisions"]
    impressions, conversions = load.outcomes_for(decisions)
    outcomes = [("impressions", k, v) for k, v in impressions]
    outcomes += [("conversions", k, v) for k, v in conversions]
    return requests, outcomes


def _processor(settings: Settings) -> EventProcessor:
    engine = build_engine(settings)
    return EventProcessor(settings, EngineHolder(engine), Metrics(CollectorRegistry()))


def _run(
    processor: EventProcessor,
    settings: Settings,
    batch: list[Message],
    store: dict[bytes, bytes],
) -> tuple[int, list[Any]]:
    outputs: list[Any] = []
    for offset, (kind, key, value) in enumerate(batch):
        stored, out = processor.process(
            settings.topic(kind), 0, offset, key, value, lambda k=key: store.get(k)
        )
        if stored is not None:
            store[key] = stored
        outputs += out
    return len(batch), outputs


def _pure(settings: Settings, batch: list[Message], store: dict[bytes, bytes]) -> int:
    engine = build_engine(settings)
    for offset, (kind, key, value) in enumerate(batch):
        event = decode_event(kind, value, key, settings.max_event_bytes)
        assert not isinstance(event, type(None))
        if not hasattr(event, "user_id"):
            continue
        _, _, stored = step_encoded(engine, store.get(key), event, Source(kind, 0, offset))  # type: ignore[arg-type]
        if stored is not None:
            store[key] = stored
    return len(batch)


def bench_processor(policy: str, n: int, users: int, repeats: int) -> dict[str, Any]:
    """Requests/s and outcomes/s through the processor and through the pure loop."""
    settings = Settings(policy=policy, partitions=1)
    requests, outcomes = messages(policy, n, users)
    report: dict[str, Any] = {}
    for label, batch, before in (("requests", requests, []), ("outcomes", outcomes, requests)):
        seeded: dict[bytes, bytes] = {}
        if before:
            _run(_processor(settings), settings, before, seeded)

        def ours(batch: list[Message] = batch, seeded: dict[bytes, bytes] = seeded) -> int:
            return _run(_processor(settings), settings, batch, dict(seeded))[0]

        def pure(batch: list[Message] = batch, seeded: dict[bytes, bytes] = seeded) -> int:
            return _pure(settings, batch, dict(seeded))

        rate, baseline = median_rate(ours, repeats), median_rate(pure, repeats)
        report[label] = {
            "processor_per_second": round(rate),
            "pure_loop_per_second": round(baseline),
            "ratio": round(rate / baseline, 3),
            "events": len(batch),
        }
    return report
