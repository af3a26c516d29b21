"""One event through the worker, whatever the engine: decode, load, step, store, emit, count.

The stream engine (Quix Streams or Faust) owns consumption, state storage, recovery and
commits; it hands :meth:`EventProcessor.process` one message and a way to read the user's
stored bytes, and gets back the bytes to store (or ``None``: unchanged) and the messages
to produce. The pure step (:class:`model.engine.Engine`) is unchanged; the idempotency rule
(source offsets inside the user's state) lives in it, so a redelivery changes nothing on
either engine. A bug never stops a partition: the event is dead-lettered as
``internal_error`` and the state is left as it was.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from model.engine import Outcome, Source, StepResult
from model.events import Conversion, Decision, DecisionRequest, Event
from model.loop import (
    CORRUPT_STATE,
    Stepped,
    adopt_decoded,
    adopt_encoded,
    step_decoded,
    step_encoded,
)
from model.step_values import decision_id_for
from state import UserState
from streams.runtime.holder import EngineHolder
from streams.runtime.live import PopulationTally
from streams.runtime.metrics import Metrics
from streams.runtime.online import OnlineTally
from streams.runtime.partitioning import partition_for
from streams.runtime.recovery import DecisionRecovery, Published
from streams.runtime.schemas import REJECTION_REASONS, Rejection, dead_letter_bytes, decode_event
from streams.runtime.settings import SOURCE_KINDS, Settings

__all__ = ["DECISIONS", "DEAD_LETTER", "EventProcessor", "Output"]

log = logging.getLogger(__name__)
DECISIONS = "decisions"
DEAD_LETTER = "dead-letter"
REQUESTS = "decision-requests"
_encode = msgspec.json.Encoder().encode
# Decoded states kept for the bytes last stored per user (see ``_step``); cleared when full
_DECODED_KEPT = 8192


class Output(NamedTuple):
    """A message to produce: topic kind (:data:`DECISIONS` or :data:`DEAD_LETTER`), key, value."""

    kind: str
    key: bytes | None
    value: bytes


class EventProcessor:
    """The worker's per-event logic, shared by every engine adapter."""

    def __init__(
        self,
        settings: Settings,
        holder: EngineHolder,
        metrics: Metrics,
        population: PopulationTally | None = None,
        published: Published | None = None,
    ) -> None:
        """``published``: where decisions already sent out are read back after a crash
        (``streams.runtime.recovery``); at least once only, None to decide again."""
        self.kind_of = {settings.topic(kind): kind for kind in SOURCE_KINDS}
        self.recovery = (
            DecisionRecovery(published)
            if published is not None and settings.processing_guarantee == "at-least-once"
            else None
        )
        self.holder, self.metrics = holder, metrics
        self.population = population or PopulationTally()
        self.online = OnlineTally()  # under population_lock too
        self._online_on = settings.online_model
        self.population_lock = threading.Lock()
        self._max_bytes = settings.max_event_bytes
        self._partitions = settings.partitions
        self._decoded: dict[bytes, tuple[bytes, UserState]] = {}
        self._families: dict[str, str] = {}  # arm -> strategy family, of ``_catalog``
        self._catalog: Any = None
        metrics.preinitialise([holder.engine.policy.name], REJECTION_REASONS)

    def process(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        load: Callable[[], bytes | None],
    ) -> tuple[bytes | None, list[Output]]:
        """Handle one message; ``load()`` reads the stored state of the event's user."""
        started = time.perf_counter()
        kind = self.kind_of[topic]
        try:
            return self._process(kind, Source(topic, partition, offset), key, value, load, started)
        except Exception:  # a bug must not stop the partition: dead-letter, keep going
            log.exception("unexpected failure on %s", topic)
            rejection = Rejection("internal_error", "unexpected failure; see worker log")
            return None, [
                self._reject(kind, Source(topic, partition, offset), key, value, rejection)
            ]

    def _process(
        self,
        kind: str,
        source: Source,
        key: bytes | None,
        value: bytes | None,
        load: Callable[[], bytes | None],
        started: float,
    ) -> tuple[bytes | None, list[Output]]:
        sent_out = None
        if self.recovery is not None and kind == REQUESTS:  # every request, in order
            sent_out = self.recovery.advance(source.partition, source.offset)
        if key is None:  # keyless events would split a user's state over partitions
            rejection = Rejection("missing_key", "message has no key; the key must be the user_id")
            return None, [self._reject(kind, source, key, value, rejection)]
        event = decode_event(kind, value, key, self._max_bytes)
        if isinstance(event, Rejection):
            return None, [self._reject(kind, source, key, value, event)]
        stored_before = load()
        if not stored_before and partition_for(key, self._partitions) != source.partition:
            # a user's first event here: is this their partition? (checked once per user,
            # so the hash is not paid per event; an existing state was checked on arrival)
            return None, [self._reject(kind, source, key, value, self._misplaced(key))]
        published = None
        if sent_out is not None and isinstance(event, DecisionRequest):
            published = sent_out.pop(decision_id_for(event.event_id), None)
        result, before, stored = self._step(key, stored_before, event, source, published)
        if result.reason == CORRUPT_STATE:
            rejection = Rejection(CORRUPT_STATE, "the user's stored state does not decode")
            return None, [self._reject(kind, source, key, value, rejection)]
        if result.outcome is Outcome.APPLIED and result.arm_id is not None:
            self._pool(key, result.arm_id, before, result.state)
        elif (
            self._online_on
            and isinstance(event, DecisionRequest)
            and not self.holder.engine.model_loaded
        ):
            self.online.note_request(key, event.context)  # the online model learns
        outputs = self._emit(kind, source, key, value, result, event)
        if result.decision is not None:
            self.metrics.decision_latency.observe(time.perf_counter() - started)
        return stored, outputs

    def _step(
        self,
        key: bytes,
        stored: bytes | None,
        event: Event,
        source: Source,
        published: Decision | None = None,
    ) -> Stepped:
        """Step on the user's state; the decoding of the bytes this processor stored last
        for the user is reused while the store hands back those very bytes (Quix Streams'
        and Faust's stores return the object they were given until it is written out and
        read back), so a user with several events between checkpoints is decoded once.
        ``published``: the request's decision as already sent out, taken, not re-decided."""
        engine, decoded = self.holder.engine, self._decoded
        last = decoded.get(key)
        if published is not None:
            assert isinstance(event, DecisionRequest)
            if last is not None and stored is not None and last[0] is stored:
                stepped = adopt_decoded(engine, last[1], event, published, source)
            else:
                stepped = adopt_encoded(engine, stored, event, published, source)
        elif last is not None and stored is not None and last[0] is stored:
            stepped = step_decoded(engine, last[1], event, source)
        else:
            stepped = step_encoded(engine, stored, event, source)
        if stepped.stored is not None:
            if len(decoded) >= _DECODED_KEPT:
                decoded.clear()
            decoded[key] = (stepped.stored, stepped.result.state)
        return stepped

    def _misplaced(self, key: bytes) -> Rejection:
        right = partition_for(key, self._partitions)
        return Rejection(
            "wrong_partition",
            f"key belongs to partition {right} of {self._partitions} (murmur2, the contract's "
            "partitioner); produce with the Java client's default partitioner or librdkafka's "
            "partitioner=murmur2_random (kcat: -X partitioner=murmur2_random)",
        )

    def _pool(self, key: bytes, arm_id: str, before: UserState, after: UserState) -> None:
        with self.population_lock:  # the maintenance thread snapshots both
            self.population.add_change(arm_id, before, after)
            self.online.add_change(key, arm_id, before, after)

    def _emit(
        self,
        kind: str,
        source: Source,
        key: bytes | None,
        value: bytes | None,
        result: StepResult,
        event: Event,
    ) -> list[Output]:
        outputs = []
        if result.decision is not None:
            outputs.append(Output(DECISIONS, key, _encode(result.decision)))
            if result.outcome is not Outcome.DUPLICATE:  # a re-emitted decision is not new
                self._count_decision(result.decision)
        if result.outcome in (Outcome.REJECTED, Outcome.ORPHAN):
            assert result.reason is not None
            rejection = Rejection(result.reason, f"{kind} event refused")
            outputs.append(self._reject(kind, source, key, value, rejection))
            if result.outcome is Outcome.ORPHAN:
                orphans = self.metrics.orphan_conversions
                if kind == "impressions":
                    orphans = self.metrics.orphan_impressions
                orphans.add((result.reason,))
        else:
            self._count(kind, result.outcome.value)
            if result.outcome is Outcome.APPLIED and result.arm_id is not None:
                self._count_outcome(event, result.arm_id)
        return outputs

    def _reject(
        self,
        kind: str,
        source: Source,
        key: bytes | None,
        value: bytes | None,
        rejection: Rejection,
    ) -> Output:
        letter = dead_letter_bytes(
            rejection, source.topic, source.partition, source.offset, key, value
        )
        self.metrics.dead_letters.add((rejection.reason,))
        self._count(kind, "orphan" if rejection.reason.startswith("orphan") else "dead_lettered")
        return Output(DEAD_LETTER, key, letter)

    def _count(self, kind: str, outcome: str) -> None:
        self.metrics.events_consumed.add((kind, outcome))

    def _count_outcome(self, event: Event, arm_id: str) -> None:
        family = self._family(arm_id)
        if isinstance(event, Conversion):
            self.metrics.rewards.add((event.kind, family))
        else:
            self.metrics.impressions.add((family,))

    def _family(self, arm_id: str) -> str:
        """The arm's strategy family in the serving catalog (looked up once per catalog)."""
        catalog = self.holder.engine.catalog
        if catalog is not self._catalog:
            self._catalog, self._families = catalog, {}
        family = self._families.get(arm_id)
        if family is None:
            family = catalog.arm(arm_id).strategy.family if arm_id in catalog else "unknown"
            self._families[arm_id] = family
        return family

    def _count_decision(self, decision: Decision) -> None:
        self.metrics.decisions.add((decision.policy, "true" if decision.explored else "false"))
        if decision.arm_id is None:
            self.metrics.no_nudge.add((decision.reason or "unknown",))
