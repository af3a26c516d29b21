"""The processes the Kafka benchmark runs from outside: the broker, ``nudge topics`` and
``nudge worker`` through the ``nudge`` command line, each in its own process group, so
that stopping one stops everything it started (also on Ctrl-C)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from streams.runtime.broker import free_port

__all__ = [
    "Worker",
    "broker",
    "create_topics",
    "events_consumed",
    "nudge",
    "rss_bytes",
    "scrape",
    "wait_for",
    "workers",
]

NUDGE = [sys.executable, "-m", "streams.apps.cli"]
_CONSUMED = re.compile(
    r'^nudge_events_consumed_total\{(?=[^}]*topic="([^"]+)")(?=[^}]*outcome="([^"]+)")[^}]*\}'
    r"\s+([0-9.eE+-]+)",
    re.MULTILINE,
)


def nudge(args: list[str], env: Mapping[str, str], timeout: float = 180) -> str:
    """Run ``nudge ARGS`` to completion; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run(
        [*NUDGE, *args], env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"nudge {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


@contextmanager
def broker(data_dir: Path) -> Iterator[str]:
    """A fresh broker on a free port for the block; its bootstrap servers. Always stopped."""
    env = dict(os.environ)
    try:
        out = nudge(
            ["broker", "start", "--port", str(free_port()), "--data-dir", str(data_dir)], env
        )
        yield out.strip().splitlines()[-1]
    finally:
        subprocess.run(
            [*NUDGE, "broker", "stop", "--data-dir", str(data_dir)],
            env=env,
            capture_output=True,
            timeout=120,
        )


def create_topics(env: Mapping[str, str], partitions: int) -> None:
    nudge(["topics", "create", "--partitions", str(partitions)], env)


def scrape(port: int, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as answer:
        return str(answer.read().decode())


def events_consumed(text: str) -> dict[tuple[str, str], float]:
    """``nudge_events_consumed_total`` by (topic kind, outcome) from /metrics text."""
    return {(m[1], m[2]): float(m[3]) for m in _CONSUMED.finditer(text)}


@dataclass
class Worker:
    """``nudge worker`` in its own session; ``env`` holds its ``NUDGE_*`` settings."""

    env: dict[str, str]
    log_path: Path
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "NUDGE_METRICS_PORT": str(self.metrics_port)}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*NUDGE, "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "worker not started"
        return self.process.pid

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker exited early; log {self.log_path}:\n{tail}")

    def consumed(self) -> dict[tuple[str, str], float]:
        """Its event counters; empty while /metrics does not answer yet."""
        try:
            return events_consumed(scrape(self.metrics_port))
        except OSError:
            return {}

    def stop(self, grace_seconds: float = 30) -> None:
        """SIGTERM to its process group (commits, flushes), SIGKILL after the grace."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()


def _signal_group(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pid, sig)


@contextmanager
def workers(make: Callable[[int], Worker], count: int) -> Iterator[list[Worker]]:
    """``count`` started workers for the block, stopped at its end whatever happens."""
    started: list[Worker] = []
    try:
        for index in range(count):
            started.append(make(index).start())
        yield started
    finally:
        for worker in started:
            worker.stop()


def _children(pid: int) -> list[int]:
    found = []
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in tasks.read_text().split()]
        except OSError:
            continue
    return found


def rss_bytes(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants (Linux /proc), in bytes."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match[1]) * 1024 if match else 0
        todo += _children(current)
    return total


def wait_for(check: Callable[[], bool], timeout: float, what: str, poll: float = 0.2) -> None:
    """Poll ``check`` until true; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(poll)


def group_lag(bootstrap: str, group: str, topics: list[str]) -> int:
    """Messages of ``topics`` not yet committed by consumer ``group``."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = [
            TopicPartition(topic, p)
            for topic in topics
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ]
        lag = 0
        for tp in consumer.committed(parts, timeout=10):
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - max(tp.offset, 0)
        return lag
    finally:
        consumer.close()


def wait_committed(bootstrap: str, group: str, topics: list[str], timeout: float = 30) -> bool:
    """Wait until ``group`` committed everything in ``topics``; False after ``timeout``."""
    try:
        wait_for(lambda: group_lag(bootstrap, group, topics) == 0, timeout, "commit", 0.5)
    except TimeoutError:
        return False
    return True
