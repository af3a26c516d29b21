"""The lock-free per-event metrics expose exactly what prometheus_client's would."""

from __future__ import annotations

import random

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from streams.runtime.hot_metrics import HotCounter, HotHistogram
from streams.runtime.metrics import LATENCY_BUCKETS_SECONDS, Metrics


def _pair() -> tuple[CollectorRegistry, CollectorRegistry]:
    disable_created_metrics()  # as the worker's registry does (streams.runtime.metrics)
    return CollectorRegistry(), CollectorRegistry()


def test_counter_exposition_equals_prometheus_clients() -> None:
    ours, theirs = _pair()
    hot = HotCounter("x_total", "Things, by kind.", ["kind", "outcome"], registry=ours)
    cold = Counter("x_total", "Things, by kind.", ["kind", "outcome"], registry=theirs)
    hot.labels("never", "seen")  # a pre-initialised series at zero
    cold.labels("never", "seen")
    rng = random.Random(7)
    for _ in range(500):
        labels = (rng.choice("abc"), rng.choice(("ok", "bad")))
        hot.add(labels)
        cold.labels(*labels).inc()
    hot.labels("a", "ok").inc(2.5)
    cold.labels("a", "ok").inc(2.5)
    assert generate_latest(ours) == generate_latest(theirs)
    assert ours.get_sample_value(
        "x_total", {"kind": "a", "outcome": "ok"}
    ) == theirs.get_sample_value("x_total", {"kind": "a", "outcome": "ok"})


def test_histogram_exposition_equals_prometheus_clients() -> None:
    ours, theirs = _pair()
    hot = HotHistogram("lat_seconds", "Latency.", LATENCY_BUCKETS_SECONDS, registry=ours)
    cold = Histogram("lat_seconds", "Latency.", buckets=LATENCY_BUCKETS_SECONDS, registry=theirs)
    rng = random.Random(11)
    # exact bucket bounds too: an observation equal to a bound belongs to that bucket
    values = [rng.lognormvariate(-6, 2) for _ in range(2000)] + list(LATENCY_BUCKETS_SECONDS)
    for value in values:
        hot.observe(value)
        cold.observe(value)
    assert generate_latest(ours) == generate_latest(theirs)


def test_wrong_label_count_is_refused() -> None:
    counter = HotCounter("y_total", "Y.", ["a"], registry=CollectorRegistry())
    with pytest.raises(ValueError, match="expected labels"):
        counter.labels("1", "2")


def test_worker_metrics_keep_their_series_names() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.preinitialise(["thompson"], ["malformed_json"])
    metrics.events_consumed.add(("impressions", "applied"))
    metrics.decision_latency.observe(0.003)
    text = generate_latest(metrics.registry).decode()
    assert 'nudge_events_consumed_total{outcome="applied",topic="impressions"} 1.0' in text
    assert 'nudge_events_consumed_total{outcome="decided",topic="conversions"} 0.0' in text
    assert 'nudge_decision_latency_seconds_bucket{le="0.005"} 1.0' in text
    assert "nudge_decision_latency_seconds_count 1.0" in text
