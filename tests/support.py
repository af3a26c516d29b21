"""Helpers for broker-backed tests: unique settings per test, a worker subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.apps.processes import child_env
from streams.runtime.broker import free_port
from streams.runtime.kafka import make_producer
from streams.runtime.settings import Settings

__all__ = ["WorkerProcess", "produce_json", "scrape", "settings_env"]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a ``nudge`` subprocess use ``settings``."""
    return child_env(settings)


@dataclass
class WorkerProcess:
    """``nudge worker`` in a subprocess; ``start`` returns once it consumes."""

    settings: Settings
    log_path: Path
    extra_args: Iterable[str] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, timeout_seconds: float = 90) -> WorkerProcess:
        self.settings = self.settings.with_(metrics_port=free_port())
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        env = settings_env(self.settings) | {"NUDGE_LOG_LEVEL": "info"}
        cmd = [sys.executable, "-m", "streams.apps.cli", "worker", *self.extra_args]
        self.process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout_seconds)
        return self

    def _wait_ready(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            if b"Worker ready" in self.log_path.read_bytes():
                return
            time.sleep(0.25)
        raise TimeoutError(f"worker not ready: {self.log_path.read_text()[-3000:]}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def metrics(self) -> str:
        return scrape(self.settings.metrics_port)

    def stop(self, timeout_seconds: float = 60) -> int:
        """SIGTERM (graceful: commits offsets, flushes state) and wait."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode or 0)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def produce_json(settings: Settings, kind: str, events: Iterable[Any]) -> int:
    """Produce events (dicts, or raw ``(key, bytes)`` pairs) to the topic of ``kind``."""
    producer = make_producer(settings)
    count = 0
    for event in events:
        if isinstance(event, tuple):
            key, value = event
        else:
            key, value = event["user_id"].encode(), json.dumps(event).encode()
        producer.produce(settings.topic(kind), key=key, value=value)
        producer.poll(0)
        count += 1
    if producer.flush(30) != 0:
        raise RuntimeError("events not delivered within 30 s")
    return count
