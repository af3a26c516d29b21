"""The client's machinery: a producer, a thread reading the decisions topic, and the
requests waiting for their decision; plus the events the client sends."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from model.events import SCHEMA_VERSION, Conversion, Decision, DecisionRequest, Event, Impression
from streams.runtime.kafka import make_consumer, make_producer, require_broker
from streams.runtime.schemas import Rejection, decode_event
from streams.runtime.settings import Settings

__all__ = [
    "ClientClosed",
    "Machinery",
    "Resolve",
    "conversion_event",
    "impression_event",
    "request_event",
    "timeout_error",
]

log = logging.getLogger(__name__)
Resolve = Callable[[Decision | BaseException], None]
_decode_decision = msgspec.json.Decoder(Decision).decode
_KINDS = {
    DecisionRequest: "decision-requests",
    Impression: "impressions",
    Conversion: "conversions",
}


class ClientClosed(RuntimeError):
    """The client was closed while a request waited for its decision."""


class Machinery:
    """The producer, the decisions reader thread and the requests waiting for an answer."""

    def __init__(self, settings: Settings, connect_timeout: float) -> None:
        require_broker(settings, connect_timeout)
        self.settings = settings
        self.producer = make_producer(settings)
        self.consumer = make_consumer(settings)
        self.pending: dict[str, Resolve] = {}
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._assign_at_end(settings.topic("decisions"), connect_timeout)
        self.thread = threading.Thread(target=self._read, name="nudge-client", daemon=True)
        self.thread.start()

    def _assign_at_end(self, topic: str, timeout: float) -> None:
        """Every partition at its current end, resolved now: a decision produced after this
        returns is read, whenever the thread gets to it."""
        meta = self.consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise ValueError(f"no topic {topic} on {self.settings.bootstrap_servers} "
                             "(create it with `nudge topics create`)")  # fmt: skip
        deadline = time.monotonic() + timeout
        ends = [TopicPartition(topic, p, self._end(topic, p, deadline)) for p in meta.partitions]
        self.consumer.assign(ends)

    def _end(self, topic: str, partition: int, deadline: float) -> int:
        """The partition's high watermark; retried while its leader is being elected (a
        topic created moments ago)."""
        while True:
            left = max(deadline - time.monotonic(), 0.5)
            try:
                _, high = self.consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), left
                )
                return int(high)
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _read(self) -> None:
        while not self.stopping.is_set():
            self.producer.poll(0)  # delivery reports
            for message in self.consumer.consume(500, timeout=0.1):
                if message.error() is not None:
                    log.warning("decisions topic: %s", message.error())
                    continue
                try:
                    decision = _decode_decision(message.value() or b"")
                except msgspec.DecodeError:
                    continue  # not a decision of this contract: not ours to answer
                with self.lock:
                    resolve = self.pending.pop(decision.request_id, None)
                if resolve is not None:
                    resolve(decision)

    def event(self, event: Event) -> bytes:
        """``event`` encoded, checked as the worker's edge will check it."""
        raw = msgspec.json.encode(event)
        key = event.user_id.encode()
        checked = decode_event(_KINDS[type(event)], raw, key, self.settings.max_event_bytes)
        if isinstance(checked, Rejection):
            raise ValueError(f"{_KINDS[type(event)]} event refused ({checked.reason}): "
                             f"{checked.detail}")  # fmt: skip
        return raw

    def produce(
        self, event: Event, on_failure: Callable[[BaseException], None] | None = None
    ) -> None:
        raw = self.event(event)

        def delivered(error: KafkaError | None, _message: Any) -> None:
            if error is None:
                return
            failure = f"{event.event_id} not delivered: {error.str()}"
            if on_failure is not None:
                on_failure(KafkaException(error))
            else:
                self.failures.append(failure)

        topic = self.settings.topic(_KINDS[type(event)])
        self.producer.produce(topic, key=event.user_id.encode(), value=raw, on_delivery=delivered)
        self.producer.poll(0)

    def ask(self, request: DecisionRequest, resolve: Resolve) -> None:
        if self.stopping.is_set():
            raise ClientClosed("the client is closed")
        with self.lock:
            self.pending[request.event_id] = resolve
        try:
            self.produce(request, on_failure=lambda exc: self._fail(request.event_id, exc))
        except BaseException:
            self.forget(request.event_id)
            raise

    def _fail(self, request_id: str, error: BaseException) -> None:
        with self.lock:
            resolve = self.pending.pop(request_id, None)
        if resolve is not None:
            resolve(error)

    def forget(self, request_id: str) -> None:
        with self.lock:
            self.pending.pop(request_id, None)

    def flush(self, timeout: float) -> None:
        left = self.producer.flush(timeout)
        failures, self.failures[:] = list(self.failures), []
        if left or failures:
            raise TimeoutError(f"{left} events not delivered within {timeout:g} s"
                               + "".join(f"; {f}" for f in failures))  # fmt: skip

    def close(self, timeout: float) -> None:
        if self.stopping.is_set():
            return
        try:
            self.flush(timeout)
        finally:
            self.stopping.set()
            self.thread.join()
            self.consumer.close()
            with self.lock:
                waiting, self.pending = list(self.pending.items()), {}
            for request_id, resolve in waiting:
                resolve(ClientClosed(f"client closed before request {request_id} was answered"))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


def request_event(
    user_id: str,
    context: Mapping[str, Any],
    candidates: Sequence[str] | None,
    touchpoint: str | None,
) -> DecisionRequest:
    return DecisionRequest(
        schema_version=SCHEMA_VERSION, event_id=_new_id("req"), ts=_now_ms(), user_id=user_id,
        context=dict(context), candidates=list(candidates) if candidates is not None else None,
        touchpoint=touchpoint,
    )  # fmt: skip


def impression_event(decision: Decision) -> Impression:
    if decision.arm_id is None:
        raise ValueError(f"decision {decision.decision_id} showed no nudge ({decision.reason})")
    return Impression(
        schema_version=SCHEMA_VERSION, event_id=_new_id("imp"), ts=_now_ms(),
        user_id=decision.user_id, decision_id=decision.decision_id, arm_id=decision.arm_id,
    )  # fmt: skip


def conversion_event(decision_or_user: Decision | str, kind: str, value: float) -> Conversion:
    decision = decision_or_user if isinstance(decision_or_user, Decision) else None
    return Conversion(
        schema_version=SCHEMA_VERSION, event_id=_new_id("conv"), ts=_now_ms(),
        user_id=decision.user_id if decision is not None else str(decision_or_user),
        kind=kind, value=float(value),
        decision_id=decision.decision_id if decision is not None else None,
    )  # fmt: skip


def timeout_error(request: DecisionRequest, timeout: float) -> TimeoutError:
    return TimeoutError(f"no decision for request {request.event_id} (user {request.user_id}) "
                        f"within {timeout:g} s: is a `nudge worker` running?")  # fmt: skip
