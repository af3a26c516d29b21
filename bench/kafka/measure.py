"""Timing from outside: poll a count every ~0.2 s until it reaches the expected total,
and take the rate between 10 % and 90 % of it (start-up and rebalances excluded)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.kafka.stats import Sample, window_rate
from bench.timing import note

__all__ = ["Run", "cpu_jiffies", "poll_count"]

POLL_SECONDS = 0.2


def cpu_jiffies() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far, in jiffies (Linux /proc/stat;
    (0, 0) elsewhere). Busy = all but idle and iowait."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])
    return total - idle, total


@dataclass
class Run:
    """The samples of one measured run, and what it counted in the end."""

    expected: int
    samples: list[Sample] = field(default_factory=list)
    stalled: bool = False
    # cores of the whole machine busy during the run (broker, worker, load generator and
    # anything else): near the core count means the machine, not the worker, set the pace
    machine_cores_busy: float = float("nan")

    @property
    def final(self) -> float:
        return self.samples[-1][1] if self.samples else 0.0

    @property
    def rate(self) -> float:
        return window_rate(self.samples, self.expected)

    @property
    def seconds(self) -> float:
        return self.samples[-1][0] if self.samples else 0.0


def poll_count(
    count: Callable[[], float],
    expected: int,
    what: str,
    *,
    stall_seconds: float = 90.0,
    alive: Callable[[], None] = lambda: None,
    poll_seconds: float | None = None,
) -> Run:
    """Sample ``count()`` until it reaches ``expected`` or makes no progress for
    ``stall_seconds`` (then ``stalled``; the rate is NaN when 90 % was not reached).
    ``alive`` raises when the thing measured died. ``poll_seconds``: between samples
    (:data:`POLL_SECONDS` unless given; a count in shared memory costs nothing to read,
    a worker's ``/metrics`` does)."""
    run = Run(expected)
    started = time.perf_counter()
    cpu_before = cpu_jiffies()
    last_value, last_change = -1.0, started
    shown = 0.0
    while True:
        now = time.perf_counter()
        value = count()
        run.samples.append((now - started, value))
        if value >= expected:
            return _with_cpu(run, cpu_before)
        if value != last_value:
            last_value, last_change = value, now
        elif now - last_change > stall_seconds:
            note(f"{what}: stalled at {value:.0f}/{expected}")
            run.stalled = True
            return _with_cpu(run, cpu_before)
        if now - shown >= 10:
            note(f"{what}: {value:.0f}/{expected}")
            shown = now
        alive()
        time.sleep(POLL_SECONDS if poll_seconds is None else poll_seconds)


def _with_cpu(run: Run, before: tuple[float, float]) -> Run:
    busy, total = (now - then for now, then in zip(cpu_jiffies(), before, strict=True))
    if total > 0:
        run.machine_cores_busy = round(busy / total * (os.cpu_count() or 1), 2)
    return run
