"""Replay a historical log into Kafka; offline replay through the pure step is
:func:`model.replay.replay_offline`.

Into Kafka (:class:`KafkaReplay`): requests, impressions and conversions are produced to
their topics in log order, keyed by ``user_id``, with their original bytes and
``event_id``; so are the decisions of another system (``streams.apps.logged``: an
export's, which the worker does not make itself; our own are made anew by the worker).
Causal gating (on by default) holds a user's impression or conversion until the worker
has emitted the decision it refers to (read from the decisions topic), and holds that
user's later events behind it, as the app would.
Resumable: a checkpoint file records the first log position not yet confirmed, the
confirmed positions beyond it and, per topic partition, the next offset after the last
confirmed delivery; on resume, events found in the topics after those offsets (delivered
before a crash but not yet checkpointed) are recognised by ``event_id`` and not sent
again, so a resumed or repeated replay never publishes an event twice.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec

from model.engine import decision_id_for
from model.events import Decision, DecisionRequest, LogEvent
from model.logs import encode_log_line
from model.replay import EVENT_KIND
from streams.apps.logged import is_foreign

__all__ = ["Checkpoint", "KafkaReplay", "wire_bytes"]


def wire_bytes(event: LogEvent) -> bytes:
    """The event as the contract's JSON (the log line without its ``type`` tag)."""
    doc = msgspec.json.decode(encode_log_line(event))
    doc.pop("type", None)
    return msgspec.json.encode(doc)


# -- into Kafka ---------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """Progress of one log into one set of topics (JSON file, rewritten atomically)."""

    watermark: int = 0  # every log position below is delivered (or skipped)
    done_above: set[int] = field(default_factory=set)
    next_offsets: dict[str, dict[str, int]] = field(default_factory=dict)  # topic -> part -> off
    finished: bool = False

    def is_done(self, position: int) -> bool:
        return position < self.watermark or position in self.done_above

    def mark(self, position: int) -> None:
        self.done_above.add(position)
        while self.watermark in self.done_above:
            self.done_above.discard(self.watermark)
            self.watermark += 1

    def saw_offset(self, topic: str, partition: int, offset: int) -> None:
        parts = self.next_offsets.setdefault(topic, {})
        parts[str(partition)] = max(parts.get(str(partition), 0), offset + 1)

    def save(self, path: Path) -> None:
        doc = {
            "watermark": self.watermark,
            "done_above": sorted(self.done_above),
            "next_offsets": self.next_offsets,
            "finished": self.finished,
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        if not path.exists():
            return cls()
        doc = json.loads(path.read_text())
        return cls(
            int(doc["watermark"]),
            set(doc["done_above"]),
            doc["next_offsets"],
            bool(doc.get("finished")),
        )


class Sink(Protocol):
    """What the replay needs of a Kafka producer (confluent-kafka's ``Producer`` fits)."""

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None: ...
    def poll(self, timeout: float) -> int: ...
    def flush(self, timeout: float) -> int: ...


class DecisionFeed(Protocol):
    def decided(self) -> Iterator[str]:
        """Decision ids the worker emitted since the last call."""
        ...


@dataclass
class KafkaReplay:
    """Publishes a log into ``topics`` (kind -> topic name) through ``sink``.

    ``already_published(next_offsets) -> set[event_id]`` scans the topics from the
    checkpointed offsets (see the module docstring); ``feed`` gives emitted decisions
    (None disables causal gating); ``speed`` > 0 paces by event time (2.0 = twice real
    time); ``max_events`` stops once that many were published (an interruption on
    purpose; held events released in the same poll may add a few).
    """

    sink: Sink
    topics: dict[str, str]
    checkpoint_path: Path
    already_published: Callable[[dict[str, dict[str, int]]], set[str]]
    feed: DecisionFeed | None = None
    speed: float = 0.0
    batch_size: int = 2_000
    max_held: int = 50_000
    gate_timeout_seconds: float = 120.0
    published: int = 0
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    _held: dict[str, deque[tuple[int, LogEvent]]] = field(default_factory=dict)
    _pending_decisions: set[str] = field(default_factory=set)
    _decided: set[str] = field(default_factory=set)
    _unconfirmed: int = 0

    def run(
        self,
        events: Iterable[LogEvent],
        max_events: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Publish what the checkpoint says is left; returns how many were published."""
        self.checkpoint = Checkpoint.load(self.checkpoint_path)
        seen_in_topics = self.already_published(self.checkpoint.next_offsets)
        clock = _Pacer(self.speed)
        for position, event in enumerate(events):
            if max_events is not None and self.published >= max_events:
                break
            if isinstance(event, Decision) and not self._publishes(event):
                self._skip(position, progress)
                continue
            if self.checkpoint.is_done(position) or event.event_id in seen_in_topics:
                if isinstance(event, DecisionRequest):  # published before: still gate on it
                    self._pending_decisions.add(decision_id_for(event.event_id))
                self._skip(position, progress)
                continue
            clock.wait(event.ts)
            self._offer(position, event, progress)
        else:
            self._drain(progress)
            self.checkpoint.finished = not self._held
        self._confirm()
        return self.published

    def _publishes(self, decision: Decision) -> bool:
        """Another system's decision, when a decisions topic is given (see the module
        docstring); the worker makes our own decisions anew."""
        return "decisions" in self.topics and is_foreign(decision)

    def _skip(self, position: int, progress: Callable[[int], None] | None) -> None:
        self.checkpoint.mark(position)
        if progress is not None:
            progress(1)

    def _blocked(self, event: LogEvent) -> bool:
        if self.feed is None:
            return False
        if event.user_id in self._held:
            return True
        ref = getattr(event, "decision_id", None)
        return ref is not None and ref in self._pending_decisions and ref not in self._decided

    def _offer(
        self, position: int, event: LogEvent, progress: Callable[[int], None] | None
    ) -> None:
        if self._blocked(event):
            self._held.setdefault(event.user_id, deque()).append((position, event))
            if sum(len(q) for q in self._held.values()) > self.max_held:
                self._release(progress, wait=True)
            return
        self._publish(position, event, progress)
        if self.published % 200 == 0:
            self._release(progress, wait=False)

    def _publish(
        self, position: int, event: LogEvent, progress: Callable[[int], None] | None
    ) -> None:
        topic = self.topics[EVENT_KIND[type(event)]]

        def delivered(error: Any, message: Any) -> None:
            if error is not None:
                raise RuntimeError(f"delivery of {event.event_id} failed: {error}")
            self.checkpoint.mark(position)
            self.checkpoint.saw_offset(message.topic(), message.partition(), message.offset())

        if isinstance(event, DecisionRequest):
            self._pending_decisions.add(decision_id_for(event.event_id))
        self.sink.produce(
            topic, value=wire_bytes(event), key=event.user_id.encode(), on_delivery=delivered
        )
        self.sink.poll(0)
        self.published += 1
        self._unconfirmed += 1
        if progress is not None:
            progress(1)
        if self._unconfirmed >= self.batch_size:
            self._confirm()

    def _confirm(self) -> None:
        """Flush, wait for every delivery report, then write the checkpoint."""
        if self.sink.flush(60) != 0:
            raise RuntimeError("events not delivered within 60 s; checkpoint not advanced")
        self._unconfirmed = 0
        self.checkpoint.save(self.checkpoint_path)

    def _release(self, progress: Callable[[int], None] | None, *, wait: bool) -> None:
        """Publish held events whose decisions have appeared; with ``wait`` keep polling
        until something is released (or the gate times out)."""
        deadline = time.monotonic() + self.gate_timeout_seconds
        while True:
            if self.feed is not None:
                self._decided.update(self.feed.decided())
            released = self._release_ready(progress)
            if released or not wait or not self._held:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(self._held)} users' events still wait for decisions "
                    "after the gate timeout; is the worker running?"
                )
            self._confirm()  # requests must reach the broker before the worker can decide
            time.sleep(0.05)

    def _release_ready(self, progress: Callable[[int], None] | None) -> int:
        released = 0
        for user in list(self._held):
            queue = self._held.pop(user)
            while queue and not self._blocked(queue[0][1]):
                self._publish(*queue.popleft(), progress)
                released += 1
            if queue:
                self._held[user] = queue
        return released

    def _drain(self, progress: Callable[[int], None] | None) -> None:
        while self._held:
            self._release(progress, wait=True)


class _Pacer:
    """Sleeps so that event time advances ``speed`` times faster than the wall clock."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.start: tuple[int, float] | None = None

    def wait(self, ts_ms: int) -> None:
        if self.speed <= 0:
            return
        if self.start is None:
            self.start = (ts_ms, time.monotonic())
            return
        due = self.start[1] + (ts_ms - self.start[0]) / 1000 / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
