"""Secured-cluster settings: validated when built, translated the same way for every Kafka
library, and never shown (repr, env of children given a password file)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from quixstreams.kafka.configuration import ConnectionConfig

from streams.apps.cli import build_parser
from streams.apps.commands._common import settings_from
from streams.apps.processes import child_env
from streams.runtime.kafka import aiokafka_security, client_config, faust_broker
from streams.runtime.settings import Secret, Settings, SettingsError

PASSWORD = "s3cr3t-Pa55"


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("not parsed by Settings, only checked to exist\n")
    return path


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "nudge.password"
    path.write_text(PASSWORD + "\n")  # a trailing newline, as `echo` writes it
    return path


def sasl_ssl(ca_file: Path, **changes: object) -> dict[str, str]:
    env = {
        "NUDGE_SECURITY_PROTOCOL": "SASL_SSL",
        "NUDGE_SASL_MECHANISM": "SCRAM-SHA-512",
        "NUDGE_SASL_USERNAME": "nudge",
        "NUDGE_SASL_PASSWORD": PASSWORD,
        "NUDGE_SSL_CA_FILE": str(ca_file),
    }
    env.update({k: str(v) for k, v in changes.items()})
    return {k: v for k, v in env.items() if v != "None"}


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"NUDGE_SECURITY_PROTOCOL": "TLS"}, "NUDGE_SECURITY_PROTOCOL"),
        ({"NUDGE_SASL_MECHANISM": None}, "NUDGE_SASL_MECHANISM"),
        ({"NUDGE_SASL_MECHANISM": "GSSAPI"}, "NUDGE_SASL_MECHANISM"),
        ({"NUDGE_SASL_USERNAME": None}, "NUDGE_SASL_USERNAME"),
        ({"NUDGE_SASL_PASSWORD": ""}, "NUDGE_SASL_PASSWORD"),
        ({"NUDGE_SECURITY_PROTOCOL": "SSL"}, "NUDGE_SASL_MECHANISM is set"),
        ({"NUDGE_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "NUDGE_SSL_CA_FILE is set"),
        ({"NUDGE_SSL_CA_FILE": "/nonexistent/ca.pem"}, "NUDGE_SSL_CA_FILE"),
        ({"NUDGE_SSL_CERT_FILE": "CA"}, "NUDGE_SSL_KEY_FILE"),
        ({"NUDGE_SSL_CHECK_HOSTNAME": "maybe"}, "NUDGE_SSL_CHECK_HOSTNAME"),
        ({"NUDGE_SASL_PASSWORD_FILE": "/nonexistent/pw"}, "NUDGE_SASL_PASSWORD_FILE"),
    ],
)
def test_inconsistent_security_fails_when_built_naming_the_variable(
    ca_file: Path, changes: dict[str, object], variable: str
) -> None:
    changes = {k: ca_file if v == "CA" else v for k, v in changes.items()}
    with pytest.raises(SettingsError, match=variable) as raised:
        Settings.from_env(sasl_ssl(ca_file, **changes))
    assert PASSWORD not in str(raised.value)


def test_the_password_file_is_read_and_the_password_never_shown(
    ca_file: Path, password_file: Path
) -> None:
    env = sasl_ssl(ca_file, NUDGE_SASL_PASSWORD=None, NUDGE_SASL_PASSWORD_FILE=password_file)
    settings = Settings.from_env(env)
    assert settings.sasl_password == Secret(PASSWORD)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.sasl_password)
    # a child reads the file itself: its environment names the file, not the password
    child = settings.to_env()
    assert child["NUDGE_SASL_PASSWORD_FILE"] == str(password_file)
    assert PASSWORD not in "".join(child.values())
    assert Settings.from_env(child) == settings


def test_a_password_without_a_file_reaches_children_and_round_trips(ca_file: Path) -> None:
    settings = Settings.from_env(sasl_ssl(ca_file))
    assert settings.to_env()["NUDGE_SASL_PASSWORD"] == PASSWORD
    assert Settings.from_env(settings.to_env()) == settings
    assert PASSWORD not in repr(settings)


def test_the_password_file_flag_wins_over_the_environment_password(
    ca_file: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.password"
    other.write_text("from-the-flag")
    args = build_parser().parse_args(["topics", "create", "--sasl-password-file", str(other)])
    settings = settings_from(args, env=sasl_ssl(ca_file))
    assert settings.sasl_password == Secret("from-the-flag")


def test_a_password_and_a_file_that_disagree_fail(ca_file: Path, password_file: Path) -> None:
    env = sasl_ssl(ca_file, NUDGE_SASL_PASSWORD="other", NUDGE_SASL_PASSWORD_FILE=password_file)
    with pytest.raises(SettingsError, match="disagree"):
        Settings.from_env(env)


def test_children_do_not_inherit_a_secured_cluster_they_are_not_given(ca_file: Path) -> None:
    parent = {"PATH": "/bin", **sasl_ssl(ca_file)}
    env = child_env(Settings(bootstrap_servers="127.0.0.1:1"), environ=parent)
    assert env["PATH"] == "/bin"
    assert env["NUDGE_SECURITY_PROTOCOL"] == "PLAINTEXT"
    assert not {"NUDGE_SASL_USERNAME", "NUDGE_SASL_PASSWORD", "NUDGE_SSL_CA_FILE"} & set(env)
    Settings.from_env(env)  # consistent: a plain child of a secured parent


def test_plaintext_clients_get_only_the_bootstrap_servers() -> None:
    assert client_config(Settings()) == {"bootstrap.servers": "127.0.0.1:9092"}
    assert aiokafka_security(Settings()) == {"security_protocol": "PLAINTEXT", "ssl_context": None}
    assert faust_broker(Settings(bootstrap_servers="a:1,b:2")) == {
        "broker": ["kafka://a:1", "kafka://b:2"],
        "broker_credentials": None,
    }


def test_every_library_gets_the_same_sasl_ssl_settings(ca_file: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from streams.runtime.secure_broker import secure_files

    files = secure_files(tmp_path)  # a real CA, so Python's ssl can load it
    settings = Settings.from_env(sasl_ssl(files.ca), ssl_check_hostname=False)
    librdkafka = client_config(settings)
    assert librdkafka["security.protocol"] == "sasl_ssl"
    assert librdkafka["sasl.mechanism"] == "SCRAM-SHA-512"
    assert librdkafka["sasl.password"] == PASSWORD
    assert librdkafka["ssl.ca.location"] == str(files.ca)
    assert librdkafka["ssl.endpoint.identification.algorithm"] == "none"
    quix = ConnectionConfig.from_librdkafka_dict(librdkafka)  # Quix knows every key
    assert PASSWORD not in repr(quix)

    aio = aiokafka_security(settings)
    assert aio["security_protocol"] == "SASL_SSL" and aio["sasl_plain_password"] == PASSWORD
    assert isinstance(aio["ssl_context"], ssl.SSLContext)
    assert aio["ssl_context"].check_hostname is False
    assert aio["ssl_context"].verify_mode == ssl.CERT_REQUIRED

    credentials = faust_broker(settings)["broker_credentials"]
    assert (
        credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-512"
    )
    assert PASSWORD not in repr(credentials)

    key = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "client.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    mtls = settings.with_(ssl_cert_file=files.ca, ssl_key_file=key_file)
    assert client_config(mtls)["ssl.key.location"] == str(key_file)
    with pytest.raises(ssl.SSLError):  # the client certificate is loaded (and must match)
        aiokafka_security(mtls)
