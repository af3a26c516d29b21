"""Per-event metrics without a lock: plain numbers written by the one processing thread,
turned into Prometheus samples when scraped.

``prometheus_client``'s counters take a lock on every increment (about 2 µs on this
machine, several per event); a worker processes events on one thread (Quix Streams' loop,
Faust's event loop), so its per-event counters need no lock: that thread is their only
writer, and a scrape copies them in one C call (``dict(...)``, atomic under the GIL).
Series, names, help texts and labels are exactly those of the locked metrics.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

__all__ = ["HotCounter", "HotHistogram"]


class _Child:
    """``counter.labels(...)``: the locked counters' interface, for cold paths."""

    def __init__(self, counter: HotCounter, values: tuple[str, ...]) -> None:
        self.counter, self.values = counter, values

    def inc(self, amount: float = 1) -> None:
        self.counter.add(self.values, amount)


class HotCounter:
    """A labelled counter whose increments are one dict update (single writer)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name.removesuffix("_total")
        self.documentation, self.labelnames = documentation, tuple(labelnames)
        self.counts: dict[tuple[str, ...], float] = {}
        registry.register(self)

    def add(self, values: tuple[str, ...], amount: float = 1) -> None:
        """Count ``amount`` for the label ``values`` (the hot path: no lock, no lookup)."""
        counts = self.counts
        counts[values] = counts.get(values, 0) + amount

    def labels(self, *values: str) -> _Child:
        """Create the series at zero (if new); its child, like ``Counter.labels``."""
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {values}")
        self.counts.setdefault(values, 0)
        return _Child(self, values)

    def value(self, *values: str) -> float:
        return self.counts.get(values, 0)

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, count in dict(self.counts).items():  # in creation order, as theirs
            family.add_metric(list(values), count)
        yield family


class HotHistogram:
    """An unlabelled histogram whose observations are a bisect and two additions."""

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self.name, self.documentation = name, documentation
        self.bounds = [float(b) for b in buckets]
        # one slot per bound plus +Inf; [counts..., sum] in one list, so a scrape's copy
        # (``list(...)``, one C call) sees counts and sum of the same moment
        self.slots = [0.0] * (len(self.bounds) + 2)
        registry.register(self)

    def observe(self, value: float) -> None:
        slots = self.slots
        slots[bisect.bisect_left(self.bounds, value)] += 1
        slots[-1] += value

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation)]

    def collect(self) -> Iterator[Metric]:
        slots = list(self.slots)
        cumulative, buckets = 0.0, []
        for bound, count in zip([*self.bounds, float("inf")], slots[:-1], strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], buckets, sum_value=slots[-1])
        yield family
