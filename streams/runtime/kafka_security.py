"""How a client reaches a secured cluster, in each Kafka library's own words.

One source, :class:`~streams.runtime.settings.Settings`, translated for librdkafka
(confluent-kafka and Quix Streams), aiokafka and Faust, so the engines and the tools can
never disagree on TLS or SASL. The clients themselves are built in
:mod:`streams.runtime.kafka`; the values returned here hold the password, so they are
handed to a client and never logged.
"""

from __future__ import annotations

import ssl
from typing import Any

from streams.runtime.settings import Settings

__all__ = ["aiokafka_security", "faust_broker", "librdkafka_security", "ssl_context"]


def librdkafka_security(settings: Settings) -> dict[str, Any]:
    """The ``security.*``, ``sasl.*`` and ``ssl.*`` keys of a librdkafka configuration
    (nothing for a PLAINTEXT cluster, so plain clients keep librdkafka's defaults)."""
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return {}
    # lower case: Quix Streams' ConnectionConfig accepts only that spelling
    config: dict[str, Any] = {"security.protocol": protocol.lower()}
    if protocol.startswith("SASL_"):
        assert settings.sasl_password is not None  # Settings checked this when built
        config |= {
            "sasl.mechanism": settings.sasl_mechanism,
            "sasl.username": settings.sasl_username,
            "sasl.password": settings.sasl_password.reveal(),
        }
    if protocol.endswith("SSL"):
        optional = {
            "ssl.ca.location": settings.ssl_ca_file,
            "ssl.certificate.location": settings.ssl_cert_file,
            "ssl.key.location": settings.ssl_key_file,
        }
        config |= {key: str(path) for key, path in optional.items() if path is not None}
        # librdkafka checks the broker's name against its certificate only when asked
        config["ssl.endpoint.identification.algorithm"] = (
            "https" if settings.ssl_check_hostname else "none"
        )
    return config


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of the asyncio clients (aiokafka, Faust): the configured CA, or the
    system's when none is given; a client certificate for mutual TLS."""
    if not settings.security_protocol.endswith("SSL"):
        return None
    ca = str(settings.ssl_ca_file) if settings.ssl_ca_file is not None else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    if settings.ssl_cert_file is not None:
        context.load_cert_chain(str(settings.ssl_cert_file), str(settings.ssl_key_file))
    context.check_hostname = settings.ssl_check_hostname
    return context


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of an aiokafka client: ``security_protocol``, ``ssl_context`` and,
    for SASL, ``sasl_mechanism``, ``sasl_plain_username``, ``sasl_plain_password``."""
    kwargs: dict[str, Any] = {
        "security_protocol": settings.security_protocol,
        "ssl_context": ssl_context(settings),
    }
    if settings.security_protocol.startswith("SASL_"):
        assert settings.sasl_password is not None
        kwargs |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": settings.sasl_password.reveal(),
        }
    return kwargs


def faust_broker(settings: Settings) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` of a :class:`faust.App`. Faust's URL scheme
    stays ``kafka://`` on a secured cluster: TLS and SASL come with the credentials
    (``SASLCredentials`` carries the TLS context for SASL_SSL)."""
    from faust.auth import SASLCredentials, SSLCredentials

    urls = [f"kafka://{server.strip()}" for server in settings.bootstrap_servers.split(",")]
    protocol = settings.security_protocol
    credentials: Any = None
    if protocol.startswith("SASL_"):
        assert settings.sasl_password is not None
        credentials = SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.reveal(),
            mechanism=settings.sasl_mechanism,
            ssl_context=ssl_context(settings),
        )
    elif protocol == "SSL":
        credentials = SSLCredentials(ssl_context(settings))
    return {"broker": urls, "broker_credentials": credentials}
