"""Decisions already sent out, read back after a crash, so a redelivered request keeps them.

At least once, a worker that crashes after deciding a request but before its next
checkpoint leaves the request uncommitted and the user's state without the decision; the
decision itself may already be on the ``decisions`` topic, seen by the app and shown.
The request comes again, to whichever worker now owns the partition. Deciding it again
gives the same answer only while nothing the decision depends on changed: a model
hot-swapped or the online model refitted in between, or the online model lost with the
crash, and the second decision differs from the one users saw, whose impressions are
then refused as ``arm_mismatch``. Exactly-once needs none of this: an aborted
transaction's decisions are never seen.

So a worker reads back, when it starts on a requests partition (the first request of
that partition it sees, or a request that does not follow the one before: a
reassignment), the decisions that can belong to requests it is about to see again, and
:meth:`model.engine.Engine.adopt` takes them instead of deciding. Which are they? The
decisions of requests at or after the first offset now being read were produced after
every other decision of the partition (a partition's decisions are produced in its
requests' order, by one worker at a time), so they are among the last ``owed`` messages
of the co-partitioned ``decisions`` partition, where ``owed`` is how many requests lie
between that offset and the partition's end. That is the bound read (at most ``cap``;
older ones are decided again, as before), and the table is dropped once the worker has
passed the requests that were there when it read.

A worker that is alive but was pushed out of the group (a zombie) can still produce
after the read; only exactly-once fences it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from model.events import Decision

__all__ = ["DecisionRecovery", "KafkaPublished", "Published"]

log = logging.getLogger(__name__)
_decode = msgspec.json.Decoder(Decision).decode
# decisions read back per partition at most: ~1-2 s of a worker's full speed per partition
DEFAULT_CAP = 20_000


class Published(Protocol):
    """Where the recovery reads: the end of a requests partition and the last messages
    of the co-partitioned decisions partition."""

    def requests_end(self, partition: int) -> int: ...

    def last_decisions(self, partition: int, count: int) -> list[bytes]: ...


@dataclass
class _Partition:
    next_offset: int
    until: int  # the requests partition's end when read: past it, nothing is owed
    table: dict[str, Decision] = field(default_factory=dict)
    read: int = 0  # decisions read back


class DecisionRecovery:
    """Per requests partition: which offset comes next, and the decisions read back."""

    def __init__(self, published: Published, cap: int = DEFAULT_CAP) -> None:
        self.published, self.cap = published, cap
        self._partitions: dict[int, _Partition] = {}
        self.reads = 0  # tail reads made (a start, a reassignment or a gap each)

    def advance(self, partition: int, offset: int) -> dict[str, Decision] | None:
        """Note the request at ``offset`` (call for every request, valid or not, in the
        order consumed); the decisions read back for this partition, or None."""
        part = self._partitions.get(partition)
        if part is None or offset != part.next_offset:
            part = self._partitions[partition] = self._read(partition, offset)
        if part.table and offset >= part.until:  # past the owed requests
            log.info(
                "partition %d: %d of the %d decisions read back were taken by redelivered "
                "requests (the others answered requests committed before)",
                partition,
                part.read - len(part.table),
                part.read,
            )
            part.table = {}
        part.next_offset = offset + 1
        return part.table or None

    def _read(self, partition: int, offset: int) -> _Partition:
        self.reads += 1
        try:
            end = self.published.requests_end(partition)
            owed = end - offset
            if owed <= 0:
                return _Partition(offset, end)
            count = min(owed, self.cap)
            table = {}
            for value in self.published.last_decisions(partition, count):
                try:
                    decision = _decode(value)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue  # not ours to judge here: the topic's readers see it as it is
                table[decision.decision_id] = decision
        except Exception:  # noqa: BLE001 - reading back is a safeguard: never stop a partition
            log.warning(
                "could not read back partition %d's decisions; its redelivered requests "
                "are decided again",
                partition,
                exc_info=True,
            )
            return _Partition(offset, offset)
        if owed > self.cap:
            log.warning(
                "partition %d: %d requests owed, decisions read back for the last %d only",
                partition,
                owed,
                self.cap,
            )
        return _Partition(offset, end, table, len(table))


class KafkaPublished:
    """:class:`Published` on the cluster: one reader client, made on first use."""

    def __init__(self, settings: Any, timeout_seconds: float = 30.0) -> None:
        self.settings, self.timeout_seconds = settings, timeout_seconds
        self.requests = settings.topic("decision-requests")
        self.decisions = settings.topic("decisions")
        self._consumer: Any = None

    def _client(self) -> Any:
        if self._consumer is None:
            from streams.runtime.kafka import make_consumer

            # only committed decisions: an aborted transaction's were never seen
            self._consumer = make_consumer(self.settings, **{"isolation.level": "read_committed"})
        return self._consumer

    def requests_end(self, partition: int) -> int:
        from confluent_kafka import TopicPartition

        tp = TopicPartition(self.requests, partition)
        return int(self._client().get_watermark_offsets(tp, timeout=self.timeout_seconds)[1])

    def last_decisions(self, partition: int, count: int) -> list[bytes]:
        from confluent_kafka import TopicPartition

        consumer = self._client()
        tp = TopicPartition(self.decisions, partition)
        low, high = consumer.get_watermark_offsets(tp, timeout=self.timeout_seconds)
        start = max(low, high - count)
        if start >= high:
            return []
        consumer.assign([TopicPartition(self.decisions, partition, start)])
        values: list[bytes] = []
        position, deadline = start, time.monotonic() + self.timeout_seconds
        try:
            while position < high:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.decisions}[{partition}] read back to {position}")
                batch = consumer.consume(1000, timeout=0.5)
                for message in batch:
                    if message.error() is not None:
                        continue
                    position = message.offset() + 1
                    if message.value():
                        values.append(message.value())
                if not batch:  # transaction markers at the end are never delivered
                    position = max(position, consumer.position([tp])[0].offset)
        finally:
            consumer.unassign()
        return values

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
