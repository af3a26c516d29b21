"""The Faust stream processor: decode, load, step, store, emit, count.

One agent consumes the three user-keyed source topics (co-partitioned), so one worker
owns a user's requests, impressions, conversions and state. State lives in a Faust table
(RocksDB through rocksdict, recovered from its changelog topic); its value is our own
versioned codec, and idempotency comes from the source offsets kept inside it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import faust
import msgspec

from model.engine import Engine, Outcome, Source, StepResult
from model.events import Conversion, Decision, Event
from state import StateCodecError, decode_state, encode_state
from streams.lag import install_lag_sampler
from streams.live import PopulationTally, install_catalog_watch, install_population
from streams.metrics import Metrics
from streams.refresh import install_refresh
from streams.schemas import REJECTION_REASONS, Rejection, dead_letter_bytes, decode_event
from streams.settings import STATE_TABLE, Settings

__all__ = ["STATE_TABLE", "EngineHolder", "build_app"]

log = logging.getLogger(__name__)
SOURCE_KINDS = ("decision-requests", "impressions", "conversions")
_SWAPS_KEPT = 100
_encode = msgspec.json.Encoder().encode


@dataclass
class EngineHolder:
    """The engine in service. Replacing ``engine`` is one assignment, done between events
    on the event loop, so a swap (new model, new catalog) is atomic for every event."""

    engine: Engine
    swaps: list[str] = field(default_factory=list)

    def swap(self, engine: Engine, why: str) -> None:
        self.engine = engine
        self.swaps.append(why)
        del self.swaps[:-_SWAPS_KEPT]  # a long-running worker keeps only the recent ones


def _raw_topic(app: faust.App, *names: str) -> Any:
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def build_app(settings: Settings, holder: EngineHolder, metrics: Metrics) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap_servers}",
        store="rocksdb://",
        datadir=str(settings.state_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        web_enabled=False,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        broker_commit_interval=1.0,
        key_serializer="raw",
        value_serializer="raw",
    )
    kind_of = {settings.topic(kind): kind for kind in SOURCE_KINDS}
    sources = _raw_topic(app, *kind_of)
    decisions = _raw_topic(app, settings.topic("decisions"))
    dead_letter = _raw_topic(app, settings.topic("dead-letter"))
    table = app.Table(
        STATE_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
        options={"driver": "rocksdict"},
    )
    metrics.preinitialise([holder.engine.policy.name], REJECTION_REASONS)
    install_refresh(app, settings, holder, metrics)
    population = PopulationTally()
    install_population(app, holder, population)
    install_catalog_watch(app, settings, holder, metrics)

    async def reject(message: Any, kind: str, rejection: Rejection) -> None:
        letter = dead_letter_bytes(
            rejection, message.topic, message.partition, message.offset, message.key, message.value
        )
        await dead_letter.send(key=message.key, value=letter)
        metrics.dead_letters.labels(rejection.reason).inc()
        outcome = "orphan" if rejection.reason.startswith("orphan") else "dead_lettered"
        metrics.events_consumed.labels(kind, outcome).inc()

    async def handle(message: Any) -> None:
        started = time.perf_counter()
        kind = kind_of[message.topic]
        event = decode_event(kind, message.value, message.key, settings.max_event_bytes)
        if isinstance(event, Rejection):
            await reject(message, kind, event)
            return
        key = event.user_id.encode()
        try:
            state = decode_state(table.get(key))
        except StateCodecError as exc:
            await reject(message, kind, Rejection("corrupt_state", str(exc)))
            return
        source = Source(message.topic, message.partition, message.offset)
        result = holder.engine.step(state, event, source)
        if result.state is not state:
            table[key] = encode_state(result.state)
        if result.outcome is Outcome.APPLIED and result.arm_id is not None:
            population.add_change(result.arm_id, state, result.state)
        await emit(kind, message, result, event)
        if result.decision is not None:
            metrics.decision_latency.observe(time.perf_counter() - started)

    async def emit(kind: str, message: Any, result: StepResult, event: Event) -> None:
        if result.decision is not None:
            await decisions.send(key=message.key, value=_encode(result.decision))
            if result.outcome is not Outcome.DUPLICATE:  # a re-emitted decision is not new
                count_decision(result.decision)
        if result.outcome in (Outcome.REJECTED, Outcome.ORPHAN):
            assert result.reason is not None
            await reject(message, kind, Rejection(result.reason, f"{kind} event refused"))
            if result.outcome is Outcome.ORPHAN:
                metrics.orphan_conversions.labels(result.reason).inc()
        else:
            metrics.events_consumed.labels(kind, result.outcome.value).inc()
            if result.outcome is Outcome.APPLIED and result.arm_id is not None:
                count_outcome(event, result.arm_id)

    def count_outcome(event: Event, arm_id: str) -> None:
        catalog = holder.engine.catalog
        family = catalog.arm(arm_id).strategy.family if arm_id in catalog else "unknown"
        if isinstance(event, Conversion):
            metrics.rewards.labels(event.kind, family).inc()
        else:
            metrics.impressions.labels(family).inc()

    def count_decision(decision: Decision) -> None:
        metrics.decisions.labels(decision.policy, str(decision.explored).lower()).inc()
        if decision.arm_id is None:
            metrics.no_nudge.labels(decision.reason or "unknown").inc()

    @app.agent(sources, name="nudge-processor")
    async def process(stream: Any) -> None:
        async for event in stream.events():
            try:
                await handle(event.message)
            except Exception:  # a bug must not stop the partition: dead-letter, keep going
                log.exception("unexpected failure on %s", event.message.topic)
                await reject(
                    event.message,
                    kind_of[event.message.topic],
                    Rejection("internal_error", "unexpected failure; see worker log"),
                )

    @app.timer(interval=10.0)
    async def sample_state_size() -> None:
        metrics.state_keys.set(_count_keys(table))

    install_lag_sampler(app, metrics, kind_of)
    app.nudge_table = table  # type: ignore[attr-defined]
    return app


def _count_keys(table: Any, exact_below: int = 100_000) -> float:
    """Users in this worker's partitions, every 10 s on the event loop: RocksDB's
    estimate-num-keys (cheap at any size), made exact by a key scan while it is small."""
    dbs = getattr(table.data, "_dbs", {})
    total = 0
    for db in list(dbs.values()):
        try:
            estimate = int(db.property_int_value("rocksdb.estimate-num-keys") or 0)
            if estimate >= exact_below:
                total += estimate  # Faust's few bookkeeping keys are noise at this size
            else:
                keys = db.keys()  # an Rdict iterates by index, not by key: keys() it is
                total += sum(1 for key in keys if not bytes(key).startswith(b"__faust"))
        except Exception:  # noqa: BLE001 - a db closing during a rebalance
            continue
    return float(total)
