"""Every Prometheus metric of nudgeflow, defined once, on an injected registry.

The core returns facts (outcome, explored, propensity, reason); the edge counts them here.
The per-event ones are lock-free (:mod:`streams.runtime.hot_metrics`: one writer, the
processing thread); the rest are ``prometheus_client``'s.
Labels are bounded (topic kinds, outcomes, policy names, reasons): never a user id.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    ProcessCollector,
    disable_created_metrics,
)

from streams.runtime.hot_metrics import HotCounter, HotHistogram
from streams.runtime.settings import SOURCE_KINDS

__all__ = ["LATENCY_BUCKETS_SECONDS", "Metrics", "OUTCOMES", "TRAINING_OUTCOMES", "TrainerMetrics"]

OUTCOMES = ("decided", "applied", "duplicate", "orphan", "rejected", "dead_lettered")
TRAINING_OUTCOMES = ("published", "rejected", "skipped")
LATENCY_BUCKETS_SECONDS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)


def _registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    """``registry`` (a new one if None) with the standard process metrics on it: CPU
    seconds, resident and virtual memory, open and maximum file descriptors, start time."""
    disable_created_metrics()  # the *_created series only double every counter's size
    registry = registry or CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry


class Metrics:
    """All metrics of a worker process (and the process metrics)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = _registry(registry)
        r = self.registry
        self.events_consumed = HotCounter(
            "nudge_events_consumed_total",
            "Events consumed, by source topic kind and outcome.",
            ["topic", "outcome"],
            registry=r,
        )
        self.decisions = HotCounter(
            "nudge_decisions_total",
            "Decisions made, by policy and whether it explored (a repeated request's re-emitted "
            "decision is counted as a duplicate event, not here).",
            ["policy", "explored"],
            registry=r,
        )
        self.no_nudge = HotCounter(
            "nudge_no_nudge_total",
            "Decisions that showed no nudge, by guardrail reason.",
            ["reason"],
            registry=r,
        )
        self.decision_latency = HotHistogram(
            "nudge_decision_latency_seconds",
            "Seconds from a request's arrival in the worker to its decision being handed to Kafka.",
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=r,
        )
        self.dead_letters = HotCounter(
            "nudge_dead_letters_total",
            "Events sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.orphan_conversions = HotCounter(
            "nudge_orphan_conversions_total",
            "Conversions that could not be attributed to a decision, by reason.",
            ["reason"],
            registry=r,
        )
        self.orphan_impressions = HotCounter(
            "nudge_orphan_impressions_total",
            "Impressions of a decision this user's state does not hold, by reason (counted, "
            "dead-lettered, never applied to an arm).",
            ["reason"],
            registry=r,
        )
        self.rewards = HotCounter(
            "nudge_conversions_attributed_total",
            "Conversion events credited to an arm, by conversion kind and strategy family.",
            ["kind", "family"],
            registry=r,
        )
        self.impressions = HotCounter(
            "nudge_impressions_total",
            "Impressions applied, by strategy family.",
            ["family"],
            registry=r,
        )
        self.state_keys = Gauge(
            "nudge_state_keys", "Users with state in this worker's local stores.", registry=r
        )
        self.consumer_lag = Gauge(
            "nudge_consumer_lag_messages",
            "Source messages not yet committed, by topic kind and partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.model_info = Info("nudge_model", "The model serving decisions.", registry=r)
        self.model_trained_timestamp = Gauge(
            "nudge_model_trained_timestamp_seconds",
            "Unix time the serving model finished training (0: no trained model).",
            registry=r,
        )
        self.catalog_reloads = Counter(
            "nudge_catalog_reloads_total",
            "Catalog file reloads, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.model_refreshes = Counter(
            "nudge_model_refresh_total",
            "Model refresh attempts, by outcome.",
            ["outcome"],
            registry=r,
        )

    def preinitialise(self, policies: Iterable[str], reasons: Iterable[str]) -> None:
        """Create the bounded label sets at zero so rates exist before the first event."""
        for topic in SOURCE_KINDS:
            for outcome in OUTCOMES:
                self.events_consumed.labels(topic, outcome)
        for policy in policies:
            for explored in ("true", "false"):
                self.decisions.labels(policy, explored)
        for reason in reasons:
            self.dead_letters.labels(reason)
            if reason.startswith("orphan_impression"):
                self.orphan_impressions.labels(reason)
        for outcome in ("swapped", "failed"):
            self.catalog_reloads.labels(outcome)


class TrainerMetrics:
    """The periodic trainer's own metrics (and the process metrics): none of a worker's."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = _registry(registry)
        r = self.registry
        self.rounds = Counter(
            "nudge_training_rounds_total",
            "Training rounds, by outcome (published, rejected by the quality gate, skipped).",
            ["outcome"],
            registry=r,
        )
        self.published_timestamp = Gauge(
            "nudge_training_published_timestamp_seconds",
            "Unix time this trainer last published a model (0: none yet).",
            registry=r,
        )
        self.published_info = Info(
            "nudge_training_published_model", "The model this trainer last published.", registry=r
        )
        for outcome in TRAINING_OUTCOMES:
            self.rounds.labels(outcome)

    def record(self, outcome: str, version: str | None, now: float) -> None:
        """Count one round; a published one also sets the version and the time."""
        self.rounds.labels(outcome).inc()
        if outcome == "published":
            self.published_info.info({"version": str(version)})
            self.published_timestamp.set(now)
