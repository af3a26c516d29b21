"""The worker's background duties beside the hot path (the Quix engine has no event loop).

One daemon thread does them all, so it is the only thread that swaps the engine (a
read-modify-write of ``holder.engine`` never races another swap): it follows the
``model-updates`` topic and hot-swaps validated models, reloads a changed catalog file,
serves this worker's pooled arm statistics, and samples consumer lag and state size for
the metrics. A failing duty is logged and tried again next round; it never stops the worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from streams.runtime.holder import EngineHolder
from streams.runtime.kafka import assign_at_end, make_consumer
from streams.runtime.lag import lag_messages
from streams.runtime.live import CatalogWatch
from streams.runtime.metrics import Metrics
from streams.runtime.online import refit
from streams.runtime.processor import EventProcessor
from streams.runtime.refresh import ModelRefresher
from streams.runtime.settings import Settings

__all__ = ["Maintenance"]

log = logging.getLogger(__name__)


class Maintenance(threading.Thread):
    """``assignment()`` and ``count_keys()`` come from the engine (what this worker owns)."""

    def __init__(
        self,
        settings: Settings,
        holder: EngineHolder,
        metrics: Metrics,
        processor: EventProcessor,
        assignment: Callable[[], list[Any]],
        count_keys: Callable[[], float],
        interval_seconds: float = 5.0,
    ) -> None:
        super().__init__(name="nudge-maintenance", daemon=True)
        self.settings, self.holder, self.metrics = settings, holder, metrics
        self.processor, self.assignment, self.count_keys = processor, assignment, count_keys
        self.interval_seconds = interval_seconds
        self.refresher = ModelRefresher(settings, holder, metrics)
        path = settings.catalog_path
        self.catalog_watch = CatalogWatch(path, holder, metrics) if path else None
        self.stopping = threading.Event()
        self._published_lag: set[tuple[str, str]] = set()
        self._reader: Any = None

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        consumer = make_consumer(self.settings, group_id=None)
        # reads the group's committed offsets for the lag; made once (a new client per
        # round cost the broker a connection and a coordinator look-up every 5 s)
        self._reader = make_consumer(self.settings, group_id=self.settings.app_id)
        try:
            assign_at_end(consumer, self.settings.topic("model-updates"))
            self._guarded(self._look_on_disk)  # an announcement made while starting
            next_round, ready = 0.0, False
            while not self.stopping.is_set():
                if not ready and (ready := bool(self.assignment())):
                    log.info("Worker ready: partitions assigned, consuming")
                message = consumer.poll(0.5)
                if message is not None and message.error() is None:
                    self.refresher.apply_update_blocking(message.value())
                if time.monotonic() >= next_round:
                    self._round(consumer)
                    next_round = time.monotonic() + self.interval_seconds
        finally:
            consumer.close()
            self._reader.close()

    def _round(self, consumer: Any) -> None:
        if self.catalog_watch is not None:
            self._guarded(self.catalog_watch.check)
        self._guarded(self._publish_population)
        self._guarded(lambda: self._sample_lag(consumer))
        self._guarded(lambda: self.metrics.state_keys.set(self.count_keys()))

    def _guarded(self, duty: Callable[[], Any]) -> None:
        try:
            duty()
        except Exception:  # noqa: BLE001 - a duty must never stop the worker
            log.warning("worker maintenance: %s failed this round", duty, exc_info=True)

    def _look_on_disk(self) -> None:
        scorer = self.refresher.newest_scorer()
        if scorer is not None:
            self.refresher.swap(scorer, "found on disk")

    def _publish_population(self) -> None:
        """Pooled statistics, and the online model refitted on its newest sums."""
        processor = self.processor
        if not (processor.population.changed or processor.online.changed):
            return
        with processor.population_lock:
            pooled = processor.population.snapshot()
            moments = processor.online.moments.copy()
        engine = self.holder.engine.with_population(pooled)
        if not engine.model_loaded:
            engine = refit(engine, moments, processor.online.encoder)
        self.holder.engine = engine

    def _sample_lag(self, consumer: Any) -> None:
        """Lag of this worker's source partitions: highwater minus the group's committed
        offset (the log start before the first commit), as ``streams.runtime.lag`` defines."""
        kinds = self.processor.kind_of
        tps = [tp for tp in self.assignment() if tp.topic in kinds]
        committed = _committed(self._reader, tps)
        highwaters, earliest = {}, {}
        for tp in tps:
            low, high = consumer.get_watermark_offsets(tp, timeout=5)
            highwaters[(tp.topic, tp.partition)], earliest[(tp.topic, tp.partition)] = high, low
        self._publish_lag(lag_messages(highwaters, committed, earliest), kinds)

    def _publish_lag(self, lags: Mapping[tuple[str, int], int], kinds: Mapping[str, str]) -> None:
        current = set()
        for (topic, partition), lag in lags.items():
            labels = (kinds[topic], str(partition))
            self.metrics.consumer_lag.labels(*labels).set(lag)
            current.add(labels)
        for labels in self._published_lag - current:
            self.metrics.consumer_lag.remove(*labels)
        self._published_lag = current


def _committed(reader: Any, tps: list[Any]) -> dict[tuple[str, int], int | None]:
    """The group's committed offsets, read by ``reader``: a consumer with the group's id
    that never subscribes, so it never joins the group."""
    if not tps:
        return {}
    found = reader.committed(tps, timeout=5)
    return {(tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else None) for tp in found}
