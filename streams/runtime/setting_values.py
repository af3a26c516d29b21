"""The values behind :class:`~streams.runtime.settings.Settings`: secrets, the text of a
``NUDGE_*`` variable parsed into its type, and the checks every value must pass (a
secured cluster's settings hold together, or fail naming the variable).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.runtime.settings import Settings

__all__ = [
    "SASL_MECHANISMS",
    "SECURITY_PROTOCOLS",
    "Secret",
    "SettingsError",
    "check_choice",
    "check_client_properties",
    "check_security",
    "parse_variable",
    "read_secret",
]

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SettingsError(ValueError):
    """A setting has a value it cannot take; the message names the variable."""


@dataclass(frozen=True)
class Secret:
    """A value kept out of reprs, logs and reports: printing it shows ``***``; the one
    place that needs the value (a Kafka client's configuration) calls :meth:`reveal`."""

    value: str = field(repr=False)

    def reveal(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def check_security(s: Settings) -> None:
    """A secured cluster's settings hold together, or fail here naming the variable:
    never a client that silently talks plaintext, or SASL without a user."""
    check_choice("NUDGE_SECURITY_PROTOCOL", s.security_protocol, SECURITY_PROTOCOLS)
    sasl = s.security_protocol.startswith("SASL_")
    tls = s.security_protocol.endswith("SSL")
    given = {
        "NUDGE_SASL_MECHANISM": s.sasl_mechanism,
        "NUDGE_SASL_USERNAME": s.sasl_username,
        "NUDGE_SASL_PASSWORD (or NUDGE_SASL_PASSWORD_FILE)": s.sasl_password,
    }
    for var, value in given.items():
        if sasl and not value:
            raise SettingsError(
                f"{var} is needed with NUDGE_SECURITY_PROTOCOL={s.security_protocol}"
            )
        if not sasl and value:
            raise SettingsError(
                f"{var} is set but NUDGE_SECURITY_PROTOCOL={s.security_protocol} "
                "uses no SASL (choose SASL_SSL or SASL_PLAINTEXT)"
            )
    if sasl:
        check_choice("NUDGE_SASL_MECHANISM", str(s.sasl_mechanism), SASL_MECHANISMS)
    files = {"NUDGE_SSL_CA_FILE": s.ssl_ca_file, "NUDGE_SSL_CERT_FILE": s.ssl_cert_file,
             "NUDGE_SSL_KEY_FILE": s.ssl_key_file}  # fmt: skip
    for var, path in files.items():
        if path is not None and not tls:
            raise SettingsError(
                f"{var} is set but NUDGE_SECURITY_PROTOCOL={s.security_protocol} "
                "uses no TLS (choose SSL or SASL_SSL)"
            )
        if path is not None and not Path(path).is_file():
            raise SettingsError(f"{var}={path}: no such file")
    if (s.ssl_cert_file is None) != (s.ssl_key_file is None):
        raise SettingsError("NUDGE_SSL_CERT_FILE and NUDGE_SSL_KEY_FILE go together (mutual TLS)")


def read_secret(path: Path) -> str:
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"NUDGE_SASL_PASSWORD_FILE={path}: {exc.strerror}") from None
    if not text:
        raise SettingsError(f"NUDGE_SASL_PASSWORD_FILE={path} is empty")
    return text


def check_choice(var: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SettingsError(f"{var}={value!r}: choose one of {', '.join(choices)}")


def parse_variable(name: str, raw: str, kind: Any) -> Any:
    var = f"NUDGE_{name.upper()}"
    kind = str(kind)
    try:
        if kind.startswith("bool"):
            return parse_bool(raw)
        if kind.startswith("Secret"):
            return Secret(raw)
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


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


# Properties a client-config setting may not set: each has its own setting, or would
# break what the worker relies on (its group, its offsets, its partitioner)
_RESERVED_PROPERTIES = (
    "bootstrap.servers",
    "security.protocol",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "partitioner",
    "transactional.id",
)


def check_client_properties(var: str, properties: Mapping[str, Any], engine: str) -> None:
    """Extra librdkafka properties: plain values, none reserved, the Quix engine only."""
    if not properties:
        return
    if engine != "quix":
        raise SettingsError(f"{var} applies to the quix engine (librdkafka); {engine} takes none")
    for key, value in properties.items():
        if key in _RESERVED_PROPERTIES or key.startswith(("sasl.", "ssl.")):
            raise SettingsError(f"{var}: {key!r} is not settable here (it has its own setting)")
        if not isinstance(value, str | int | float | bool):
            raise SettingsError(f"{var}: {key!r} must be a string, number or boolean")
