"""Settings: the only place that reads the environment.

Every setting has an environment variable ``NUDGE_<NAME>`` and, on the commands that use
it, a flag; flags win over the environment, the environment over defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = [
    "ENGINES",
    "LOG_LEVELS",
    "PROCESSING_GUARANTEES",
    "SOURCE_KINDS",
    "STATE_TABLE",
    "SettingsError",
    "Settings",
    "TOPIC_KINDS",
    "USER_KEYED",
]

# Topic kinds of the contract; the full name is ``<prefix><kind>``.
TOPIC_KINDS = (
    "decision-requests",
    "decisions",
    "impressions",
    "conversions",
    "dead-letter",
    "model-updates",
)
USER_KEYED = ("decision-requests", "decisions", "impressions", "conversions")
# The worker's inputs: co-partitioned, so one worker owns a user's events and state.
SOURCE_KINDS = ("decision-requests", "impressions", "conversions")
ENGINES = ("quix", "faust")
PROCESSING_GUARANTEES = ("at-least-once", "exactly-once")
LOG_LEVELS = ("debug", "info", "warning", "error")
STATE_TABLE = "user-state"  # the worker's Faust table of per-user state


class SettingsError(ValueError):
    """A setting has a value it cannot take; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "nudge."
    partitions: int = 4
    replication_factor: int = 1
    app_id: str = "nudgeflow"
    state_dir: Path = Path(".nudge/state")
    model_dir: Path = Path(".nudge/models")
    metrics_port: int = 9464
    metrics_addr: str = "127.0.0.1"
    catalog_path: Path | None = None
    policy: str = "thompson"
    policy_params: Mapping[str, Any] = field(default_factory=dict)
    max_event_bytes: int = 64 * 1024
    attribution_window_seconds: float = 7 * 24 * 3600
    half_life_seconds: float | None = None
    reward_weights: Mapping[str, float] = field(
        default_factory=lambda: {"click": 0.1, "dwell": 0.2, "purchase": 1.0}
    )
    guardrails: Mapping[str, Any] = field(default_factory=dict)
    log_level: str = "warning"
    log_format: str = "text"
    engine: str = "quix"
    processing_guarantee: str = "at-least-once"
    commit_interval_seconds: float = 1.0
    # RocksDB memory per state partition (the Quix engine), bounded for a 512 MiB container:
    # at most two write buffers and one block cache each, 12 MiB per partition
    rocksdb_write_buffer_bytes: int = 4 * 1024 * 1024
    rocksdb_block_cache_bytes: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        if not self.bootstrap_servers:
            raise SettingsError("NUDGE_BOOTSTRAP_SERVERS must not be empty")
        if self.partitions < 1:
            raise SettingsError(f"NUDGE_PARTITIONS must be >= 1, got {self.partitions}")
        if not 0 <= self.metrics_port <= 65535:
            raise SettingsError(f"NUDGE_METRICS_PORT must be a port, got {self.metrics_port}")
        if self.max_event_bytes < 256:
            raise SettingsError("NUDGE_MAX_EVENT_BYTES must be >= 256")
        _choice("NUDGE_ENGINE", self.engine, ENGINES)
        _choice("NUDGE_LOG_LEVEL", self.log_level.lower(), LOG_LEVELS)
        _choice("NUDGE_LOG_FORMAT", self.log_format, ("text", "json"))
        _choice("NUDGE_PROCESSING_GUARANTEE", self.processing_guarantee, PROCESSING_GUARANTEES)
        if not self.commit_interval_seconds > 0:
            raise SettingsError("NUDGE_COMMIT_INTERVAL_SECONDS must be > 0")

    def topic(self, kind: str) -> str:
        if kind not in TOPIC_KINDS:
            raise KeyError(f"unknown topic kind {kind!r}")
        return f"{self.topic_prefix}{kind}"

    @property
    def changelog_topic(self) -> str:
        """The state table's changelog (Faust's name for it: app id, table, "changelog")."""
        return f"{self.app_id}-{STATE_TABLE}-changelog"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``NUDGE_*`` variables, then non-None ``overrides`` (flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"NUDGE_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _parse(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The ``NUDGE_*`` variables that make a ``nudge`` subprocess use these settings
        (the inverse of :meth:`from_env`; unset optional values are left out)."""
        env = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            text = json.dumps(dict(value)) if isinstance(value, Mapping) else str(value)
            env[f"NUDGE_{f.name.upper()}"] = text
        return env


def _choice(var: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SettingsError(f"{var}={value!r}: choose one of {', '.join(choices)}")


def _parse(name: str, raw: str, kind: Any) -> Any:
    var = f"NUDGE_{name.upper()}"
    kind = str(kind)
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if "Path" in kind:
            return Path(raw) if raw else None
        if "Mapping" in kind:
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError("expected a JSON object")
            return value
    except ValueError as exc:
        raise SettingsError(f"{var}={raw!r}: {exc}") from None
    return raw
