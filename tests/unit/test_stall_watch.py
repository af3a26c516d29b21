"""The stall watch: a ready worker that owes messages and processes none is ended."""

from __future__ import annotations

from streams.runtime.stall import StallWatch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watch(progress: list[int], owed: list[float], ready: list[bool], clock: Clock) -> StallWatch:
    return StallWatch(
        lambda: progress[0], lambda: owed[0], lambda: ready[0], stall_seconds=60, clock=clock
    )


def test_a_ready_worker_owing_messages_and_processing_none_is_stalled_after_the_limit() -> None:
    clock, progress, owed, ready = Clock(), [5], [334.0], [True]
    w = watch(progress, owed, ready, clock)
    assert w.check() is None  # the first look only starts the clock
    clock.now = 59
    assert w.check() is None
    clock.now = 61
    reason = w.check()
    assert reason is not None and "334 messages owed" in reason and "61 s" in reason


def test_progress_recovery_or_nothing_owed_restart_the_clock() -> None:
    clock, progress, owed, ready = Clock(), [0], [10.0], [True]
    w = watch(progress, owed, ready, clock)
    w.check()
    for step in range(1, 20):
        clock.now = step * 50.0
        if step % 3 == 0:
            progress[0] += 1  # processing, slowly
        elif step % 3 == 1:
            ready[0] = False  # rebalancing or recovering: not a stall
        else:
            ready[0], owed[0] = True, 0.0  # nothing owed: idle, not stalled
        assert w.check() is None, step
        ready[0], owed[0] = True, 10.0


def test_the_thread_reports_once_and_ends() -> None:
    reasons: list[str] = []
    w = StallWatch(
        lambda: 0, lambda: 1.0, lambda: True, stall_seconds=0.0, interval_seconds=0.01,
        on_stall=reasons.append,
    )  # fmt: skip
    w.start()
    w.join(5)
    assert not w.is_alive() and len(reasons) == 1
