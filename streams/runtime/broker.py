"""A local single-node Apache Kafka broker (KRaft) without Docker (DESIGN §4).

The jars come from Maven Central through ``broker_files/pom.xml`` (package data, beside
this module, with the broker's log4j2 configuration) into ``deploy/kafka/libs`` of a
checkout or ``~/.cache/nudgeflow/kafka/libs`` of an installed package (Maven also keeps
them in ``~/.m2``), so a second start downloads nothing. The broker runs in the
background; its pid, ports and log live in the data dir.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from streams.runtime.secure_broker import CLIENT_USER, MECHANISM, secure_files, secure_properties
from streams.runtime.settings import Settings, env_value

__all__ = ["BrokerError", "LocalBroker", "ensure_jars", "free_port", "kafka_home"]

KAFKA_JAR_GLOB = "kafka_2.13-*.jar"
BROKER_FILES = Path(__file__).resolve().with_name("broker_files")  # pom.xml, log4j2.properties


class BrokerError(RuntimeError):
    """The local broker could not be fetched, formatted, started or stopped."""


def kafka_home() -> Path:
    """Where the jars go (``libs``): ``$NUDGE_KAFKA_HOME``, else ``deploy/kafka`` of this
    checkout, else (an installed package) ``~/.cache/nudgeflow/kafka``."""
    env = env_value("NUDGE_KAFKA_HOME")
    root = Path(__file__).resolve().parents[2]
    if env:
        return Path(env)
    if (root / "pyproject.toml").is_file():
        return root / "deploy" / "kafka"
    return Path.home() / ".cache" / "nudgeflow" / "kafka"


def ensure_jars(home: Path | None = None) -> Path:
    """Fetch the pinned broker jars once; returns the ``libs`` folder."""
    home = home or kafka_home()
    libs = home / "libs"
    if any(libs.glob(KAFKA_JAR_GLOB)):
        return libs
    if shutil.which("mvn") is None:
        raise BrokerError("Maven (mvn) is needed once to fetch the Kafka jars; install it")
    cmd = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(BROKER_FILES / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}",
        "-DincludeScope=runtime",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not any(libs.glob(KAFKA_JAR_GLOB)):
        raise BrokerError(f"fetching Kafka jars failed: {done.stdout[-500:]}{done.stderr[-500:]}")
    return libs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_taken(port: int) -> bool:
    """Whether something listens on ``port`` of 127.0.0.1 (or all addresses). Bound with
    SO_REUSEADDR, as the broker binds: a port left in TIME_WAIT is not taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _serves(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class LocalBroker:
    """One KRaft broker+controller on 127.0.0.1, its files under ``data_dir``. With
    ``secure``, clients connect over SASL_SSL (see :mod:`streams.runtime.secure_broker`)."""

    data_dir: Path
    port: int = 9092
    controller_port: int | None = None
    heap: str = "512m"
    secure: bool = False

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client_settings(self) -> Settings:
        """How a client reaches this broker (the base of a test's or a demo's settings)."""
        if not self.secure:
            return Settings(bootstrap_servers=self.bootstrap_servers)
        files = secure_files(self.data_dir.resolve())
        return Settings(
            bootstrap_servers=self.bootstrap_servers,
            security_protocol="SASL_SSL",
            sasl_mechanism=MECHANISM,
            sasl_username=CLIENT_USER,
            sasl_password_file=files.client_password,
            ssl_ca_file=files.ca,
        )

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "broker.json"

    def start(self, timeout_seconds: float = 90) -> str:
        """Start in the background and wait until it answers metadata requests."""
        self.data_dir = self.data_dir.resolve()
        running = self.running_pid()
        if running:
            raise BrokerError(f"a broker already runs from {self.data_dir} (pid {running})")
        for port, flag in ((self.port, "--port"), (self.controller_port, "--controller-port")):
            if port and _port_taken(port):
                raise BrokerError(
                    f"port {port} on 127.0.0.1 is already in use: choose another {flag}"
                )
        libs = ensure_jars()
        self.controller_port = self.controller_port or free_port()
        formatted = (self.data_dir / "logs" / "meta.properties").exists()
        if self.secure and formatted and not (self.data_dir / "secure").is_dir():
            raise BrokerError(
                f"{self.data_dir} was formatted without --secure (it has no SCRAM users): "
                "choose another --data-dir"
            )
        props = self._write_properties()
        if not formatted:
            self._format(libs, props)
        process = self._launch(libs, props)
        self._pid_file.write_text(json.dumps({"pid": process.pid, "port": self.port}))
        self._wait_ready(process, timeout_seconds)
        return self.bootstrap_servers

    def stop(self, timeout_seconds: float = 30) -> bool:
        """Stop the broker started from ``data_dir``; False when none was running."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)
        return True

    def running_pid(self) -> int | None:
        try:
            info = json.loads(self._pid_file.read_text())
        except (OSError, ValueError):
            return None
        pid = int(info["pid"])
        return pid if _alive(pid) else None

    def _write_properties(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cport = self.controller_port
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{cport}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{cport}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
        }
        if self.secure:
            lines |= secure_properties(secure_files(self.data_dir), self.port)
            lines["listeners"] += f",CONTROLLER://127.0.0.1:{cport}"
        path = self.data_dir / "server.properties"
        path.unlink(missing_ok=True)  # made anew, private: it holds the broker's password
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{k}={v}\n" for k, v in lines.items()))
        return path

    def _java(self, libs: Path, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java 17+ is needed to run the Kafka broker; install a JDK")
        log4j = BROKER_FILES / "log4j2.properties"
        return [
            java,
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseSerialGC",
            f"-Dkafka.logs.dir={self.data_dir}",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{libs}/*",
            *args,
        ]

    def _format(self, libs: Path, props: Path) -> None:
        uuid = (
            subprocess.run(
                self._java(libs, "kafka.tools.StorageTool", "random-uuid"),
                capture_output=True,
                text=True,
                check=False,
            )
            .stdout.strip()
            .splitlines()
        )
        if not uuid:
            raise BrokerError("kafka StorageTool random-uuid printed nothing")
        scram = secure_files(self.data_dir).scram_args() if self.secure else []
        cmd = self._java(
            libs, "kafka.tools.StorageTool", "format", "-t", uuid[-1], "-c", str(props), *scram
        )
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise BrokerError(
                f"formatting storage failed: {done.stderr[-800:] or done.stdout[-800:]}"
            )

    def _launch(self, libs: Path, props: Path) -> subprocess.Popen[bytes]:
        out = open(self.data_dir / "broker.out", "ab")  # noqa: SIM115 (owned by the child)
        return subprocess.Popen(
            self._java(libs, "kafka.Kafka", str(props)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout_seconds: float) -> None:
        from streams.runtime.kafka import make_admin

        deadline = time.monotonic() + timeout_seconds
        admin = None  # created once the port listens, so librdkafka logs no refusals
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._pid_file.unlink(missing_ok=True)
                tail = (self.data_dir / "broker.out").read_text(errors="replace")[-1500:]
                raise BrokerError(f"broker exited with status {process.returncode}: {tail}")
            if _serves(self.port):
                admin = admin or make_admin(self.client_settings())
                try:
                    if admin.list_topics(timeout=2).brokers:
                        return
                except Exception:  # noqa: BLE001 - not ready yet
                    pass
            time.sleep(0.3)
        self.stop()
        raise BrokerError(
            f"broker did not answer on {self.bootstrap_servers} in {timeout_seconds}s"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return True
