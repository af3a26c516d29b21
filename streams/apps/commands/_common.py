"""Flags shared by several commands, mapped onto :class:`streams.runtime.settings.Settings`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model.bandit import POLICIES
from streams.runtime.settings import SASL_MECHANISMS, SECURITY_PROTOCOLS, Settings, SettingsError

__all__ = [
    "CommandError",
    "add_columns_flag",
    "add_kafka_flags",
    "add_policy_flags",
    "env_help",
    "read_log_checked",
    "settings_from",
]


class CommandError(Exception):
    """A failure the user can act on; printed as one line, exit status 2 (by the CLI)."""


def env_help(name: str, text: str, default: object = None) -> str:
    """``text`` with the setting's variable and default: ``(env NUDGE_NAME, default D)``;
    the default is the one of :class:`Settings` unless given."""
    if default is None:
        default = getattr(Settings(), name)
    if isinstance(default, Mapping):
        default = json.dumps(dict(default))
    shown = "none" if default is None else default
    return f"{text} (env NUDGE_{name.upper()}, default {shown})".replace("%", "%%")


def add_kafka_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("kafka")
    group.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (env NUDGE_BOOTSTRAP_SERVERS, default 127.0.0.1:9092)",
    )
    group.add_argument(
        "--topic-prefix", help="prefix of every topic name (env NUDGE_TOPIC_PREFIX, default nudge.)"
    )
    group.add_argument(
        "--partitions",
        type=int,
        help="partitions of every user-keyed topic (env NUDGE_PARTITIONS, default 4)",
    )
    _add_security_flags(parser)


def _add_security_flags(parser: argparse.ArgumentParser) -> None:
    """TLS and SASL. The password has no flag (a command line is visible to every user of
    the machine in ``ps``): NUDGE_SASL_PASSWORD, or a file named here or in the env."""
    group = parser.add_argument_group("kafka security (secured clusters)")
    group.add_argument(
        "--security-protocol",
        choices=SECURITY_PROTOCOLS,
        help=env_help("security_protocol", f"one of {', '.join(SECURITY_PROTOCOLS)}"),
    )
    group.add_argument(
        "--sasl-mechanism",
        choices=SASL_MECHANISMS,
        help=env_help("sasl_mechanism", f"one of {', '.join(SASL_MECHANISMS)}", "none"),
    )
    group.add_argument("--sasl-username", help=env_help("sasl_username", "SASL user", "none"))
    group.add_argument(
        "--sasl-password-file",
        type=Path,
        metavar="FILE",
        help="file holding the SASL password (env NUDGE_SASL_PASSWORD_FILE, default none; or "
        "the password itself in NUDGE_SASL_PASSWORD)",
    )
    for name, what in (("ca", "CA certificate(s) the broker's certificate is checked against, "
                        "PEM; default: the system's"),
                       ("cert", "client certificate for mutual TLS, PEM"),
                       ("key", "client private key for mutual TLS, PEM")):  # fmt: skip
        group.add_argument(
            f"--ssl-{name}-file",
            type=Path,
            metavar="FILE",
            help=env_help(f"ssl_{name}_file", what, "none"),
        )
    group.add_argument(
        "--ssl-check-hostname",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="check the broker's name against its certificate (env NUDGE_SSL_CHECK_HOSTNAME, "
        "default true)",
    )


def add_columns_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--columns",
        type=Path,
        metavar="MAPPING.json",
        help="column mapping for a CSV log (see README 'Log format')",
    )


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("policy")
    group.add_argument(
        "--policy",
        metavar="NAME",
        help=env_help("policy", f"bandit policy, one of {', '.join(sorted(POLICIES))}"),
    )
    group.add_argument(
        "--policy-params",
        type=_json_object,
        metavar="JSON",
        help=env_help("policy_params", "policy parameters as JSON, e.g. '{\"epsilon\": 0.05}'"),
    )
    group.add_argument(
        "--catalog",
        dest="catalog_path",
        type=Path,
        help=env_help("catalog_path", "arm catalog JSON", "the packaged catalog"),
    )


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def settings_from(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (``os.environ`` unless ``env``), overridden by
    whichever flags this command has."""
    names = Settings.__dataclass_fields__.keys()
    flags = {k: v for k, v in vars(args).items() if k in names}
    try:
        return Settings.from_env(env, **flags)
    except SettingsError as exc:
        raise _named_by_flag(exc, [k for k, v in flags.items() if v is not None]) from None


def _named_by_flag(error: SettingsError, given: list[str]) -> SettingsError:
    """The error names the flag the user typed, not the variable it stands for."""
    message = str(error)
    for name in given:
        variable = f"NUDGE_{name.upper()}"
        if message.startswith(variable):
            return SettingsError(message.replace(variable, f"--{name.replace('_', '-')}", 1))
    return error


def read_log_checked(path: Path, columns: Path | None) -> Any:
    """The events of log ``path`` read through the mapping file ``columns`` (if any). A
    missing or unreadable file, a bad mapping and a bad row are each one
    ``LogFormatError`` line naming the file, the same for replay, train and evaluate."""
    from model.logs import read_log

    return read_log(path, mapping_checked(path, columns))


def mapping_checked(path: Path, columns: Path | None) -> Any:
    """The column mapping in file ``columns`` for log ``path`` (None without one); a
    bad mapping, or one for a log that is not CSV, is one ``LogFormatError`` line."""
    from model.logs import load_column_mapping

    return load_column_mapping(columns, log=path) if columns else None
