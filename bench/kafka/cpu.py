"""Who used the machine's cores during a timed run: the whole machine (``/proc/stat``) and
named processes (``/proc/PID/stat``: user + system time), as cores busy on average.

On a 2-core machine the broker, the worker and the load generator share the cores, so a
figure taken while they add up to ~2 is set by the machine; the split says who took what.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.kafka.measure import cpu_jiffies

__all__ = ["cores_used", "process_jiffies"]

_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_jiffies(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, in clock ticks (0 when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return float(fields[11]) + float(fields[12])  # utime, stime (fields 14, 15 of stat)


@contextmanager
def cores_used(pids: Mapping[str, int]) -> Iterator[dict[str, float]]:
    """Fills the yielded dict, when the block ends, with the average cores busy during it:
    ``machine`` and one entry per name in ``pids``."""
    result: dict[str, float] = {}
    machine_before = cpu_jiffies()
    before = {name: process_jiffies(pid) for name, pid in pids.items()}
    started = time.monotonic()
    yield result
    seconds = max(time.monotonic() - started, 1e-9)
    busy, total = (now - then for now, then in zip(cpu_jiffies(), machine_before, strict=True))
    if total > 0:
        result["machine"] = round(busy / total * (os.cpu_count() or 1), 2)
    for name, pid in pids.items():
        result[name] = round((process_jiffies(pid) - before[name]) / _HZ / seconds, 2)
