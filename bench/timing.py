"""Measuring helpers shared by the benchmarks: median rates, one-core pinning, notes."""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["THREAD_VARIABLES", "median_rate", "note", "one_core", "ratio", "rate_entry"]

# Read by BLAS/OpenMP when numpy is first imported: ``python -m bench`` sets them to 1
# before that happens (see ``bench/__main__.py``).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def note(message: str) -> None:
    """Progress for people: stderr, so stdout stays one JSON object."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def median_rate(
    run: Callable[[], int], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median over ``repeats`` runs of ``count / seconds``; ``run`` returns its count.
    ``clock=time.process_time`` counts this process's CPU seconds instead of wall seconds
    (on a shared machine, time spent waiting for a core is then left out)."""
    rates = []
    for _ in range(max(1, repeats)):
        started = clock()
        count = run()
        rates.append(count / max(clock() - started, 1e-9))
    return statistics.median(rates)


def ratio(rate: float, baseline: float) -> float:
    """``rate / baseline`` to 4 significant digits (some ratios are far below 1e-4)."""
    return float(f"{rate / baseline:.4g}") if baseline > 0 else math.nan


def rate_entry(rate: float, baseline: float) -> dict[str, float]:
    """The usual triple: our rate, the same-run baseline's and their ratio."""
    return {
        "events_per_second": round(rate),
        "baseline_events_per_second": round(baseline),
        "ratio_to_baseline": ratio(rate, baseline),
    }


@contextmanager
def one_core() -> Iterator[dict[str, Any]]:
    """Pin this process to one CPU (the lowest it may use) while the block runs; yields
    what was done, for the report. Thread-count variables are reported as found."""
    threads = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    if not hasattr(os, "sched_setaffinity"):  # not Linux: report, do not pin
        yield {"cpu_affinity": None, "thread_variables": threads}
        return
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield {"cpu_affinity": [cpu], "thread_variables": threads}
    finally:
        os.sched_setaffinity(0, allowed)
