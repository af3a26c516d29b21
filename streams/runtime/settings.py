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

from model.reward import DEFAULT_ATTRIBUTION_WINDOW_SECONDS
from streams.runtime.setting_values import (
    SASL_MECHANISMS,
    SECURITY_PROTOCOLS,
    Secret,
    SettingsError,
    check_choice,
    check_client_properties,
    check_security,
    parse_variable,
    read_secret,
)

__all__ = [
    "env_value",
    "process_environment",
    "CONNECTION_FIELDS",
    "ENGINES",
    "LOG_LEVELS",
    "PROCESSING_GUARANTEES",
    "SASL_MECHANISMS",
    "SECURITY_PROTOCOLS",
    "Secret",
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
# What a client needs to reach the cluster: copied whole when settings are derived.
CONNECTION_FIELDS = (
    "bootstrap_servers",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "sasl_password_file",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_check_hostname",
)


def env_value(name: str) -> str | None:
    """One variable of this process's environment (the module's one other reader)."""
    return os.environ.get(name)


def process_environment() -> dict[str, str]:
    """A copy of this process's environment, for the children it starts."""
    return dict(os.environ)


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
    attribution_window_seconds: float = DEFAULT_ATTRIBUTION_WINDOW_SECONDS
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
    # librdkafka properties for the Quix worker's producer and consumer (JSON objects), on
    # top of its defaults (streams.runtime.quix_worker: linger, fetch batching), e.g.
    # {"linger.ms": 0} for the lowest latency at low rates; connection and security
    # properties have their own settings and are refused here
    producer_config: Mapping[str, Any] = field(default_factory=dict)
    consumer_config: Mapping[str, Any] = field(default_factory=dict)
    # The cold-start online model (model.online) as the prior until a trained model is
    # loaded. It is learnt from this worker's own outcomes and lost on a crash; a request
    # redelivered after one keeps the decision already sent out (streams.runtime.recovery;
    # tests/integration/test_faults runs with it on)
    online_model: bool = True
    # RocksDB memory per state partition (the Quix engine), bounded for a 512 MiB container:
    # at most two write buffers and one block cache each, 8 MiB per partition
    rocksdb_write_buffer_bytes: int = 2 * 1024 * 1024
    rocksdb_block_cache_bytes: int = 4 * 1024 * 1024
    # How clients reach a secured cluster (TLS, SASL); see streams.runtime.kafka_security.
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = field(default=None, repr=False)
    sasl_password_file: Path | None = None  # read when built; wins over a copy in the env
    ssl_ca_file: Path | None = None
    ssl_cert_file: Path | None = None  # with ssl_key_file: mutual TLS
    ssl_key_file: Path | None = None
    ssl_check_hostname: bool = True

    def __post_init__(self) -> None:
        if not self.bootstrap_servers:
            raise SettingsError("NUDGE_BOOTSTRAP_SERVERS must not be empty")
        if self.partitions < 1:
            raise SettingsError(f"NUDGE_PARTITIONS must be >= 1, got {self.partitions}")
        if not 0 <= self.metrics_port <= 65535:
            raise SettingsError(f"NUDGE_METRICS_PORT must be a port, got {self.metrics_port}")
        if self.max_event_bytes < 256:
            raise SettingsError("NUDGE_MAX_EVENT_BYTES must be >= 256")
        check_choice("NUDGE_ENGINE", self.engine, ENGINES)
        check_choice("NUDGE_LOG_LEVEL", self.log_level.lower(), LOG_LEVELS)
        check_choice("NUDGE_LOG_FORMAT", self.log_format, ("text", "json"))
        check_choice("NUDGE_PROCESSING_GUARANTEE", self.processing_guarantee, PROCESSING_GUARANTEES)
        if not self.commit_interval_seconds > 0:
            raise SettingsError("NUDGE_COMMIT_INTERVAL_SECONDS must be > 0")
        for name in ("producer_config", "consumer_config"):
            check_client_properties(f"NUDGE_{name.upper()}", getattr(self, name), self.engine)
        self._build_password()
        check_security(self)

    def _build_password(self) -> None:
        """A password given as text becomes a :class:`Secret`; a password file is read
        now, so a missing or unreadable file fails here, naming its variable."""
        password = self.sasl_password
        if isinstance(password, str):
            password = Secret(password)
        if password is not None and not password.reveal():
            password = None  # an empty NUDGE_SASL_PASSWORD is no password
        if self.sasl_password_file is not None:
            from_file = Secret(read_secret(self.sasl_password_file))
            if password is not None and password != from_file:
                raise SettingsError(
                    "NUDGE_SASL_PASSWORD and NUDGE_SASL_PASSWORD_FILE disagree: set only one"
                )
            password = from_file
        object.__setattr__(self, "sasl_password", password)

    def with_connection_of(self, other: Settings) -> Settings:
        """These settings reaching the cluster ``other`` reaches, the way it does."""
        return replace(self, **{name: getattr(other, name) for name in CONNECTION_FIELDS})

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
                values[f.name] = parse_variable(f.name, raw, f.type)
        if overrides.get("sasl_password_file") is not None:
            values.pop("sasl_password", None)  # the flag's file wins over the env's password
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
            if value is None or (f.name == "sasl_password" and self.sasl_password_file):
                continue  # a child reads the password file itself: no copy in its env
            if isinstance(value, Mapping):
                text = json.dumps(dict(value))
            elif isinstance(value, Secret):
                text = value.reveal()
            else:
                text = str(value)
            env[f"NUDGE_{f.name.upper()}"] = text
        return env

    @classmethod
    def variables(cls) -> list[str]:
        """Every ``NUDGE_*`` variable a setting is read from."""
        return [f"NUDGE_{f.name.upper()}" for f in fields(cls)]
