"""What ``nudge broker start --secure`` adds to the local broker: TLS and SASL/SCRAM.

A private CA and a broker certificate for 127.0.0.1/localhost (PEM, made with the
``cryptography`` package), two SCRAM-SHA-512 users created when the storage is formatted
(``nudge`` for clients, ``broker`` for the broker's own inter-broker client) and one
SASL_SSL listener for clients. The KRaft controller listener stays PLAINTEXT on loopback:
only this process talks to it. Everything lives in ``<data-dir>/secure`` (mode 0700),
generated once and reused by later starts of the same data dir.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CLIENT_USER", "MECHANISM", "SecureFiles", "secure_files", "secure_properties"]

CLIENT_USER = "nudge"
BROKER_USER = "broker"
MECHANISM = "SCRAM-SHA-512"
_VALID_DAYS = 365


@dataclass(frozen=True)
class SecureFiles:
    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def keystore(self) -> Path:  # the broker's key and certificate chain, one PEM file
        return self.folder / "broker.pem"

    @property
    def client_password(self) -> Path:
        return self.folder / f"{CLIENT_USER}.password"

    @property
    def broker_password(self) -> Path:
        return self.folder / f"{BROKER_USER}.password"

    def scram_args(self) -> list[str]:
        """``kafka-storage format`` arguments that create both SCRAM users."""
        users = {CLIENT_USER: self.client_password, BROKER_USER: self.broker_password}
        return [
            arg
            for name, path in users.items()
            for arg in ("--add-scram", f"{MECHANISM}=[name={name},password={path.read_text()}]")
        ]


def secure_files(data_dir: Path) -> SecureFiles:
    """The CA, broker keystore and passwords of ``data_dir``, made when missing."""
    files = SecureFiles(data_dir / "secure")
    files.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (files.client_password, files.broker_password):
        if not path.exists():
            # URL-safe: the password sits inside --add-scram's [name=...,password=...]
            _write_private(path, secrets.token_urlsafe(24).encode())
    if not (files.ca.exists() and files.keystore.exists()):
        ca_pem, keystore_pem = _certificates()
        files.ca.write_bytes(ca_pem)
        _write_private(files.keystore, keystore_pem)
    return files


def secure_properties(files: SecureFiles, port: int) -> dict[str, str]:
    """``server.properties`` entries of the SASL_SSL client listener (they replace the
    PLAINTEXT listener; the controller's stay as they are)."""
    login = "org.apache.kafka.common.security.scram.ScramLoginModule"
    password = files.broker_password.read_text()
    return {
        "listeners": f"SASL_SSL://127.0.0.1:{port}",  # the caller appends the controller's
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
        "inter.broker.listener.name": "SASL_SSL",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": (
            f'{login} required username="{BROKER_USER}" password="{password}";'
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(files.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(files.ca),
        "ssl.client.auth": "none",
    }


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _certificates() -> tuple[bytes, bytes]:
    """(CA certificate, broker key + certificate + CA) as PEM. EC P-256 keys: quick to
    make, and read by the JDK's PEM keystore, OpenSSL (librdkafka) and Python's ssl."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nudgeflow local CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    server_auth, client_auth = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (
        _builder(server_name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([server_auth, client_auth]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(  # PKCS#8, unencrypted: what the JDK's PEM keystore reads
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ca_pem = ca.public_bytes(pem)
    return ca_pem, key_pem + cert.public_bytes(pem) + ca_pem


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))  # a little clock skew
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,  # ECDHE with an EC key
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
