"""Create the contract's topics (idempotent) with confluent-kafka's admin client."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from streams.runtime.inspect import quix_changelog_topic
from streams.runtime.kafka import make_admin
from streams.runtime.settings import TOPIC_KINDS, USER_KEYED, Settings

__all__ = [
    "TopicReport",
    "changelog_spec",
    "create_topics",
    "delete_app_topics",
    "ensure_changelog",
    "topic_specs",
]


@dataclass(frozen=True)
class TopicReport:
    name: str
    partitions: int
    created: bool


def topic_specs(settings: Settings) -> list[NewTopic]:
    """User-keyed topics share one partition count (co-partitioning); the others too,
    except model updates, which every worker reads whole (one partition keeps order)."""
    specs = []
    for kind in TOPIC_KINDS:
        partitions = 1 if kind == "model-updates" else settings.partitions
        config = {"cleanup.policy": "compact"} if kind == "model-updates" else {}
        specs.append(
            NewTopic(settings.topic(kind), partitions, settings.replication_factor, config=config)
        )
    return [*specs, changelog_spec(settings)]


def changelog_spec(settings: Settings) -> NewTopic:
    """The worker's state changelog, co-partitioned with the user-keyed topics. Created
    here rather than by Faust at worker start: a changelog created moments before the
    consumer group forms can be missing from the group's metadata snapshot, and Faust
    then refuses every table write as a partition mismatch until the snapshot changes."""
    compact = {"cleanup.policy": "compact"}
    return NewTopic(
        settings.changelog_topic, settings.partitions, settings.replication_factor, config=compact
    )


def ensure_changelog(settings: Settings, timeout_seconds: float = 30) -> bool:
    """Create the changelog topic when missing (the worker calls this before it joins its
    group); True when it was created now."""
    admin = make_admin(settings)
    spec = changelog_spec(settings)
    try:
        admin.create_topics([spec], operation_timeout=timeout_seconds)[spec.topic].result(
            timeout=timeout_seconds
        )
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        return False
    return True


def create_topics(settings: Settings, timeout_seconds: float = 30) -> list[TopicReport]:
    """Create missing topics; existing ones are left as they are (safe to run twice).

    Raises ValueError when an existing user-keyed topic has another partition count,
    because co-partitioning would silently break.
    """
    admin = make_admin(settings)
    specs = topic_specs(settings)
    futures = admin.create_topics(specs, operation_timeout=timeout_seconds)
    reports = []
    for spec in specs:
        try:
            futures[spec.topic].result(timeout=timeout_seconds)
            reports.append(TopicReport(spec.topic, spec.num_partitions, True))
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            reports.append(TopicReport(spec.topic, spec.num_partitions, False))
    _check_partitions(admin, settings, timeout_seconds)
    return reports


def _check_partitions(admin: AdminClient, settings: Settings, timeout_seconds: float) -> None:
    metadata = admin.list_topics(timeout=timeout_seconds)
    counts = {
        kind: len(metadata.topics[settings.topic(kind)].partitions)
        for kind in USER_KEYED
        if settings.topic(kind) in metadata.topics
    }
    if settings.changelog_topic in metadata.topics:
        counts["changelog"] = len(metadata.topics[settings.changelog_topic].partitions)
    if len(set(counts.values())) > 1:
        raise ValueError(f"user-keyed topics are not co-partitioned: {counts}")


def delete_app_topics(settings: Settings, timeout_seconds: float = 30) -> list[str]:
    """Delete the topics of one throw-away deployment: those named with its topic prefix
    and the worker's own (changelog, assignor), named after its app id. Returns them."""
    admin = make_admin(settings)
    names = sorted(
        name
        for name in admin.list_topics(timeout=timeout_seconds).topics
        if name.startswith((settings.topic_prefix, f"{settings.app_id}-"))
        or name == quix_changelog_topic(settings)
    )
    if names:
        for future in admin.delete_topics(names, operation_timeout=timeout_seconds).values():
            future.result(timeout=timeout_seconds)
    return names
