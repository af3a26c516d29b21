"""No source offset is committed past a message the Faust engine did not process.

faust-streaming can let a source message go unprocessed and still commit past it:

- a message fetched while a rebalance or a table recovery is under way (stale
  generation, flow control off) is skipped *and acked*, so that the lag does not grow;
- its commit rule takes the acked offsets from their lowest one, and lets one missing
  offset at the head through (``min(acked) - committed > 1``, and a committed offset of 0
  counts as none);
- after a recovery it seeks back only partitions that have a committed offset.

Measured here: a worker recovering 100,000 users from its changelog, with 50 requests
waiting on a new consumer group, decided 48 of them (then 49 with the skipped acks
refused), and committed all 50 offsets: the lost requests were never decided, on no
retry. :class:`AckGuard` sits on the consumer's acks. Per source partition it knows the
offset up to which every message was processed in order (from the group's committed
offset on first sight, again after each rebalance). An ack beyond a message that was not
processed is refused, so nothing past it can be committed, and the partition is sought
back to that message once (``seek``), which delivers it and what followed again. A
redelivery changes nothing (source offsets inside each user's state; a redelivered
request is answered as before).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["AckGuard"]

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]


class AckGuard:
    """``committed(topic, partition)``: the group's committed offset (the partition's
    start when none); ``seek(topic, partition, offset)``: deliver from ``offset`` again;
    ``generation()``: changes with every rebalance."""

    def __init__(
        self,
        sources: set[str],
        committed: Callable[[str, int], int],
        seek: Callable[[str, int, int], None],
        generation: Callable[[], int],
        reseek_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = sources
        self.committed, self.seek, self.generation = committed, seek, generation
        self.reseek_seconds, self.clock = reseek_seconds, clock
        self.refused = 0  # acks refused since start (a counter for tests and logs)
        self.seeks = 0
        self._generation: int | None = None
        self._next: dict[TopicPartition, int] = {}  # processed in order below this
        self._handled: set[tuple[str, int, int]] = set()  # processed, ack not yet seen
        # per partition: the hole it was sought back to, and when
        self._sought: dict[TopicPartition, tuple[int, float]] = {}

    def handled(self, topic: str, partition: int, offset: int) -> None:
        """The agent processed this message (its ack follows)."""
        self._handled.add((topic, partition, offset))

    def allow(self, topic: str, partition: int, offset: int) -> bool:
        """May faust ack this message? False holds its commit below the first message
        of the partition that was not processed."""
        if topic not in self.sources:
            return True
        generation = self.generation()
        if generation != self._generation:  # a rebalance: committed offsets moved on
            self._generation = generation
            self._next.clear()
            self._sought.clear()
        where = (topic, partition, offset)
        processed = where in self._handled
        self._handled.discard(where)
        tp = (topic, partition)
        expected = self._next.get(tp)
        if expected is None:
            try:
                expected = self._next[tp] = self.committed(topic, partition)
            except Exception:  # noqa: BLE001 - unknown start: faust's own rule, this once
                log.warning("committed offset of %s/%d not read", topic, partition, exc_info=True)
                return True
        if offset < expected:  # processed before, in order: faust ignores it or has it
            return True
        if offset == expected and processed:
            self._next[tp] = offset + 1
            self._sought.pop(tp, None)
            return True
        self.refused += 1
        now = self.clock()
        sought = self._sought.get(tp)
        # once per hole, and again while it stays (a seek can be undone by a fetch that was
        # already under way: faust's drain then drops the messages it reads again)
        if sought is None or sought[0] != expected or now - sought[1] >= self.reseek_seconds:
            self._sought[tp] = (expected, now)
            self.seeks += 1
            log.warning(
                "faust went past %s/%d@%d without processing it: its offset is held back "
                "and the partition read again from there",
                topic,
                partition,
                expected,
            )
            self.seek(topic, partition, expected)
        return False
