"""``nudge topics create`` also creates the worker's state changelog, co-partitioned."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import ConfigResource, NewTopic

from streams.runtime.kafka import make_admin
from streams.runtime.settings import Settings
from streams.runtime.topics import create_topics, ensure_changelog

pytestmark = pytest.mark.integration


def test_the_changelog_exists_before_any_worker_starts(kafka_settings: Settings) -> None:
    # kafka_settings' topics were created by the fixture, as `nudge topics create` does
    admin = make_admin(kafka_settings)
    topic = admin.list_topics(timeout=10).topics[kafka_settings.changelog_topic]
    assert len(topic.partitions) == kafka_settings.partitions
    resource = ConfigResource(ConfigResource.Type.TOPIC, kafka_settings.changelog_topic)
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["cleanup.policy"].value == "compact"
    assert ensure_changelog(kafka_settings) is False  # already there: left as it is


def test_a_changelog_with_other_partitions_is_refused(kafka_settings: Settings) -> None:
    settings = kafka_settings.with_(app_id=f"{kafka_settings.app_id}-other")
    admin = make_admin(settings)
    wrong = NewTopic(settings.changelog_topic, settings.partitions + 1, 1)
    admin.create_topics([wrong])[settings.changelog_topic].result(timeout=30)
    for _ in range(50):  # the broker's metadata follows its controller a moment later
        if settings.changelog_topic in admin.list_topics(timeout=10).topics:
            break
        time.sleep(0.1)
    with pytest.raises(ValueError, match="co-partitioned"):
        create_topics(settings)
