"""Consumer lag sampling against a fake consumer (the broker-backed check is in
tests/integration/test_observability.py)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.runtime.lag import LagSampler, lag_messages
from streams.runtime.metrics import Metrics

KINDS = {"p.decision-requests": "decision-requests", "p.impressions": "impressions"}


@dataclass
class FakeConsumer:
    """The four things the sampler reads from a Faust consumer."""

    assigned: set[TP]
    ends: dict[TP, int]
    starts: dict[TP, int] = field(default_factory=dict)
    _committed_offset: defaultdict[TP, int | None] = field(
        default_factory=lambda: defaultdict(lambda: None)
    )

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.starts.get(tp, 0) for tp in tps}


def lag_value(metrics: Metrics, topic: str, partition: int) -> float | None:
    return metrics.registry.get_sample_value(
        "nudge_consumer_lag_messages", {"topic": topic, "partition": str(partition)}
    )


def test_lag_is_highwater_minus_committed_else_log_start() -> None:
    a, b, c = TP("t", 0), TP("t", 1), TP("t", 2)
    lags = lag_messages({a: 10, b: 10, c: None}, {a: 7, b: None}, {b: 4})
    assert lags == {a: 3, b: 6}  # c: no highwater known, left out
    assert lag_messages({a: 5}, {a: 9}, {}) == {a: 0}  # never negative


def test_sampler_reports_only_source_partitions_and_drops_revoked_ones() -> None:
    requests0, requests1 = TP("p.decision-requests", 0), TP("p.decision-requests", 1)
    impressions1, changelog = TP("p.impressions", 1), TP("app-user-state-changelog", 0)
    consumer = FakeConsumer(
        assigned={requests0, requests1, impressions1, changelog},
        ends={requests0: 100, requests1: 50, impressions1: 8, changelog: 999},
        starts={requests1: 20},
    )
    consumer._committed_offset[requests0] = 90
    metrics = Metrics(CollectorRegistry())
    sampler = LagSampler(lambda: consumer, metrics, KINDS)

    lags = asyncio.run(sampler.sample())

    assert lags == {requests0: 10, requests1: 30, impressions1: 8}
    assert lag_value(metrics, "decision-requests", 0) == 10
    assert lag_value(metrics, "decision-requests", 1) == 30
    assert lag_value(metrics, "impressions", 1) == 8

    consumer.assigned = {requests0}  # a rebalance moved the others to another worker
    asyncio.run(sampler.sample())
    assert lag_value(metrics, "decision-requests", 0) == 10
    assert lag_value(metrics, "decision-requests", 1) is None
    assert lag_value(metrics, "impressions", 1) is None
