"""Child ``nudge`` processes (workers, trainer) that a command starts and must stop.

Each child runs ``python -m streams.apps.cli ...`` in its own session with the environment
that makes it use the given :class:`~streams.runtime.settings.Settings`, its output appended to a
log file. :meth:`Children.close` stops them all: SIGTERM to each process group (a
worker then commits its offsets and flushes its state), SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from streams.runtime.settings import Settings, process_environment

__all__ = ["Children", "child_env"]


def child_env(
    settings: Settings, log_level: str = "warning", environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment that makes a ``nudge`` child process use ``settings``. The parent's
    own ``NUDGE_*`` settings are dropped first: one that ``settings`` leaves unset (a SASL
    user, a password) must not reach a child meant for another cluster."""
    environ = process_environment() if environ is None else environ
    inherited = {k: v for k, v in environ.items() if k not in Settings.variables()}
    return {**inherited, **settings.to_env(), "NUDGE_LOG_LEVEL": log_level}


class Children:
    """The processes started so far; ``close`` stops them all (idempotent)."""

    def __init__(self, log_dir: Path, log_level: str = "warning") -> None:
        self.log_dir, self.log_level = log_dir, log_level
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, args: list[str], settings: Settings, log_name: str) -> subprocess.Popen[bytes]:
        """Start ``nudge ARGS`` with ``settings``; output goes to ``log_dir/log_name``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_dir / log_name, "ab")  # noqa: SIM115 - owned by the child
        env = child_env(settings, self.log_level)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "streams.apps.cli", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            out.close()  # the child holds its own descriptor
        self.processes.append(process)
        return process

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def close(self, grace_seconds: float = 30) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
