"""Consumer lag of a worker's assigned source partitions, sampled on a Faust timer.

Lag of a partition = its log end offset (the highwater: the offset the next produced
message will get) minus the group's committed offset (the offset a restarted consumer
resumes from), in messages. Before the group has committed anything on a partition, the
log start offset stands in for the committed one: with ``auto_offset_reset=earliest`` all
that is still in the log is to be read. Committed, not fetched, is the honest base: a
message fetched but not yet processed and committed is still owed.

Each worker reports only the partitions assigned to it and drops the series of partitions
a rebalance took away, so ``sum`` over workers counts every partition once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from streams.runtime.metrics import Metrics
from streams.runtime.settings import Settings

__all__ = [
    "LagSampler",
    "committed_lag",
    "install_lag_sampler",
    "lag_messages",
    "wait_until_caught_up",
]

log = logging.getLogger(__name__)


def lag_messages(
    highwaters: Mapping[Any, int | None],
    committed: Mapping[Any, int | None],
    earliest: Mapping[Any, int],
) -> dict[Any, int]:
    """Messages owed per partition: ``highwater - (committed or earliest)``, never negative.

    Partitions without a known highwater are left out (the broker did not answer for them);
    a partition with neither a committed nor an earliest offset counts from offset 0.
    """
    lags = {}
    for tp, high in highwaters.items():
        if high is None:
            continue
        base = committed.get(tp)
        if base is None:
            base = earliest.get(tp, 0)
        lags[tp] = max(0, int(high) - int(base))
    return lags


class LagSampler:
    """Reads offsets from a Faust consumer and sets ``nudge_consumer_lag_messages``.

    ``kinds`` maps each source topic's full name to its kind (the ``topic`` label, as in
    ``nudge_events_consumed_total``); other assigned topics (table changelogs) are ignored.
    """

    def __init__(
        self, consumer: Callable[[], Any], metrics: Metrics, kinds: Mapping[str, str]
    ) -> None:
        self._consumer = consumer
        self._gauge = metrics.consumer_lag
        self._kinds = dict(kinds)
        self._published: set[tuple[str, str]] = set()
        self.owed = 0  # messages owed on this worker's partitions at the last sample

    async def sample(self) -> dict[Any, int]:
        """Query the broker once and publish; returns the lag per (topic, partition)."""
        consumer = self._consumer()
        tps = [tp for tp in consumer.assignment() if tp.topic in self._kinds]
        highwaters = await consumer.highwaters(*tps) if tps else {}
        # Faust's own record of what it committed (next offset to read), None until the
        # first commit; .get, not [], because it is a defaultdict.
        committed = {tp: consumer._committed_offset.get(tp) for tp in tps}
        uncommitted = [tp for tp in tps if committed[tp] is None]
        earliest = await consumer.earliest_offsets(*uncommitted) if uncommitted else {}
        lags = lag_messages(highwaters, committed, earliest)
        self.publish(lags)
        return lags

    def publish(self, lags: Mapping[Any, int]) -> None:
        """Set one series per partition; remove the series of partitions no longer ours."""
        current = set()
        for (topic, partition), lag in lags.items():
            labels = (self._kinds[topic], str(partition))
            self._gauge.labels(*labels).set(lag)
            current.add(labels)
        for labels in self._published - current:
            self._gauge.remove(*labels)
        self._published = current
        self.owed = sum(lags.values())


def install_lag_sampler(
    app: Any, metrics: Metrics, kinds: Mapping[str, str], interval_seconds: float = 10.0
) -> LagSampler:
    """Sample lag every ``interval_seconds`` on a timer of ``app`` (every worker, not only
    the leader). ``kinds``: full source topic name -> kind label. A failed round (a
    rebalance in progress, a broker hiccup) is logged at debug level; the previous values
    stay until the next round."""
    sampler = LagSampler(lambda: app.consumer, metrics, kinds)

    @app.timer(interval=interval_seconds, name="nudge-consumer-lag")
    async def sample_consumer_lag() -> None:
        try:
            await sampler.sample()
        except Exception:  # noqa: BLE001 - metrics must never stop the worker
            log.debug("consumer lag not sampled this round", exc_info=True)

    return sampler


def committed_lag(settings: Settings, kinds: Iterable[str]) -> int:
    """Messages of ``kinds``' topics not yet committed by the consumer group of
    ``settings.app_id`` (all partitions, whichever worker owns them)."""
    from confluent_kafka import TopicPartition

    from streams.runtime.kafka import make_consumer

    consumer = make_consumer(settings, group_id=settings.app_id)
    try:
        tps = [
            TopicPartition(settings.topic(k), p) for k in kinds for p in range(settings.partitions)
        ]
        lag = 0
        for tp in consumer.committed(tps, timeout=10):
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - max(tp.offset, low, 0)
        return lag
    finally:
        consumer.close()


def wait_until_caught_up(
    settings: Settings,
    kinds: Iterable[str] = ("decision-requests", "impressions", "conversions"),
    timeout_seconds: float = 120,
    poll_seconds: float = 0.5,
) -> None:
    """Block until the worker group committed every message of ``kinds``."""
    kinds = tuple(kinds)
    deadline = time.monotonic() + timeout_seconds
    while (lag := committed_lag(settings, kinds)) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers still {lag} messages behind after {timeout_seconds:g} s")
        time.sleep(poll_seconds)
