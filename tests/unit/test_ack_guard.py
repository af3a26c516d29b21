"""AckGuard (streams.runtime.ack_guard): faust may not commit past a message it skipped.

A fake consumer side: committed offsets in a dict, seeks recorded, a generation counter,
a fake clock. ``deliver`` is what the Faust agent does with a message (handled, then
acked); ``skip`` is faust acking a message it never gave to the agent.
"""

from __future__ import annotations

from streams.runtime.ack_guard import AckGuard

T = "p.decision-requests"


class Fakes:
    def __init__(self, committed: dict[tuple[str, int], int] | None = None) -> None:
        self.committed = committed or {}
        self.seeks: list[tuple[str, int, int]] = []
        self.generation = 1
        self.now = 0.0
        self.reads = 0

    def read_committed(self, topic: str, partition: int) -> int:
        self.reads += 1
        return self.committed.get((topic, partition), 0)

    def guard(self) -> AckGuard:
        return AckGuard(
            {T, "p.impressions"},
            self.read_committed,
            lambda t, p, o: self.seeks.append((t, p, o)),
            lambda: self.generation,
            reseek_seconds=5.0,
            clock=lambda: self.now,
        )


def deliver(guard: AckGuard, offset: int, partition: int = 0, topic: str = T) -> bool:
    guard.handled(topic, partition, offset)
    return guard.allow(topic, partition, offset)


def test_in_order_processing_is_acked_and_reads_the_committed_offset_once() -> None:
    fakes = Fakes({(T, 0): 5})
    guard = fakes.guard()
    assert [deliver(guard, o) for o in range(5, 10)] == [True] * 5
    assert fakes.reads == 1 and guard.refused == 0 and fakes.seeks == []


def test_a_skipped_message_holds_every_later_ack_and_is_sought_back_once() -> None:
    fakes = Fakes()
    guard = fakes.guard()
    assert deliver(guard, 0)
    assert not guard.allow(T, 0, 1)  # faust acks 1 without giving it to the agent
    assert fakes.seeks == [(T, 0, 1)]
    # what follows is processed, but acking it would let faust commit past offset 1
    assert [deliver(guard, o) for o in (2, 3, 4)] == [False] * 3
    assert fakes.seeks == [(T, 0, 1)]  # one seek per hole
    # the seek delivers 1 again, then 2..4 again: all acked now
    assert [deliver(guard, o) for o in (1, 2, 3, 4)] == [True] * 4
    assert guard.refused == 4


def test_a_message_never_delivered_at_the_head_is_caught_too() -> None:
    """Faust's own rule lets one missing offset at the head through (and a committed 0
    counts as none): the first ack the guard sees is past the committed offset."""
    fakes = Fakes({(T, 3): 0})
    guard = fakes.guard()
    assert not deliver(guard, 1, partition=3)
    assert fakes.seeks == [(T, 3, 0)]
    assert deliver(guard, 0, partition=3) and deliver(guard, 1, partition=3)


def test_partitions_and_topics_are_independent_and_other_topics_pass() -> None:
    fakes = Fakes()
    guard = fakes.guard()
    assert not deliver(guard, 1, partition=0)  # a hole on partition 0
    assert deliver(guard, 0, partition=1)
    assert deliver(guard, 0, topic="p.impressions")
    assert guard.allow("p.model-updates", 0, 7)  # not a source topic: faust's rule
    assert fakes.seeks == [(T, 0, 0)]


def test_a_hole_that_stays_is_sought_again_after_the_backoff() -> None:
    fakes = Fakes()
    guard = fakes.guard()
    assert not deliver(guard, 1)
    fakes.now = 4.9
    assert not deliver(guard, 2)
    assert fakes.seeks == [(T, 0, 0)]
    fakes.now = 5.0
    assert not deliver(guard, 3)
    assert fakes.seeks == [(T, 0, 0), (T, 0, 0)]


def test_redeliveries_below_the_processed_offset_are_acked() -> None:
    fakes = Fakes({(T, 0): 3})
    guard = fakes.guard()
    assert deliver(guard, 3) and deliver(guard, 4)
    assert deliver(guard, 3)  # redelivered after faust's own seek: already in order
    assert guard.allow(T, 0, 2)  # below the committed offset: faust ignores it anyway


def test_a_rebalance_reads_the_committed_offsets_again() -> None:
    fakes = Fakes({(T, 0): 0})
    guard = fakes.guard()
    assert deliver(guard, 0) and deliver(guard, 1)
    fakes.generation, fakes.committed[(T, 0)] = 2, 10  # another worker moved it on
    assert deliver(guard, 10)
    assert fakes.reads == 2 and guard.refused == 0


def test_a_failed_read_of_the_committed_offset_falls_back_to_faust_for_that_ack() -> None:
    calls = []

    def broken(topic: str, partition: int) -> int:
        calls.append((topic, partition))
        if len(calls) == 1:
            raise RuntimeError("broker away")
        return 0

    guard = AckGuard({T}, broken, lambda *_: None, lambda: 1)
    guard.handled(T, 0, 0)
    assert guard.allow(T, 0, 0)  # unknown start: allowed, and read again next time
    assert deliver(guard, 1) is False  # start 0 read now: offset 0 not seen in order
    assert len(calls) == 2
