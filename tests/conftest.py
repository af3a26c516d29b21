"""Shared fixtures. Broker-backed tests get one real Kafka broker per test session
(started on free ports, stopped at the end) and unique topics/app ids per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.runtime.broker import LocalBroker, free_port
from streams.runtime.settings import Settings
from streams.runtime.topics import create_topics


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broker = LocalBroker(tmp_path_factory.mktemp("kafka"), port=free_port())
    bootstrap = broker.start(timeout_seconds=120)
    try:
        yield bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings with this test's own topics, consumer group and state dir; topics exist."""
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"t{tag}.",
        app_id=f"nudge-test-{tag}",
        partitions=4,
        state_dir=tmp_path / "state",
        model_dir=tmp_path / "models",
        metrics_port=free_port(),
    )
    create_topics(settings)
    return settings


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nudgeflow")
    group.addoption("--soak-seconds", default="300", help="soak test length (make soak: 600)")
    group.addoption("--soak-warmup-seconds", default="120", help="soak warm-up (both: 120)")
