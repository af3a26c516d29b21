"""One benchmark run's broker, folders and naming: every measured run gets its own topic
prefix, consumer group and state folder, so no run sees another's data or offsets."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from bench.kafka import procs

__all__ = ["Bench", "Names"]


@dataclass(frozen=True)
class Names:
    """Topic prefix, app id and state folder of one measured run."""

    prefix: str
    app_id: str
    state_dir: Path

    def topic(self, kind: str) -> str:
        return f"{self.prefix}{kind}"


@dataclass
class Bench:
    bootstrap: str
    work_dir: Path
    partitions: int = 4
    _serial: itertools.count[int] = field(default_factory=itertools.count)

    def names(self, label: str) -> Names:
        n = next(self._serial)
        tag = f"b{n}-{label}"
        (self.work_dir / "state").mkdir(parents=True, exist_ok=True)
        return Names(f"{tag}.", f"bench-{tag}", self.work_dir / "state" / tag)

    def env(
        self,
        names: Names,
        *,
        engine: str,
        policy: str = "thompson",
        catalog: Path | None = None,
        state_suffix: str = "",
    ) -> dict[str, str]:
        """The environment of a ``nudge`` child for ``names`` (``NUDGE_*`` settings)."""
        env = {
            **os.environ,
            "NUDGE_BOOTSTRAP_SERVERS": self.bootstrap,
            "NUDGE_TOPIC_PREFIX": names.prefix,
            "NUDGE_APP_ID": names.app_id,
            "NUDGE_STATE_DIR": str(names.state_dir) + state_suffix,
            "NUDGE_PARTITIONS": str(self.partitions),
            "NUDGE_POLICY": policy,
            "NUDGE_ENGINE": engine,
            "NUDGE_LOG_LEVEL": "warning",
        }
        env.pop("NUDGE_CATALOG_PATH", None)
        if catalog is not None:
            env["NUDGE_CATALOG_PATH"] = str(catalog)
        return env

    def topics(self, names: Names, engine: str) -> None:
        """The contract's topics of ``names`` through ``nudge topics create``."""
        procs.create_topics(self.env(names, engine=engine), self.partitions)

    def extra_topic(self, name: str, config: dict[str, str] | None = None) -> str:
        """Create topic ``name`` (co-partitioned) unless it exists; its name."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        spec = NewTopic(name, self.partitions, 1, config=config or {})
        try:
            admin.create_topics([spec])[name].result(30)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        return name

    def worker(self, names: Names, env: dict[str, str], label: str) -> procs.Worker:
        return procs.Worker(env, self.work_dir / "logs" / f"{names.app_id}-{label}.log")
