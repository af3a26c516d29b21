"""The services ``nudge demo`` starts: a local broker, the workers and the periodic trainer."""

from __future__ import annotations

import importlib.util
import re
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from streams.apps.processes import Children
from streams.runtime.broker import LocalBroker
from streams.runtime.settings import Settings
from streams.runtime.topics import create_topics

if TYPE_CHECKING:
    from streams.apps.demo import DemoConfig

__all__ = ["Services", "serving_model_version"]


class Services:
    """The broker and processes the demo started; ``close`` stops them all (idempotent)."""

    def __init__(self, config: DemoConfig, settings: Settings, port: int) -> None:
        self.config, self.settings = config, settings
        self.broker = LocalBroker(
            config.out_dir / "broker", port=port, controller_port=config.controller_port or None
        )
        self.children = Children(config.out_dir)
        self.metrics_ports: list[int] = []

    def start(self, log_path: Path) -> list[str]:
        notes = []
        self.broker.start()
        create_topics(self.settings)
        for i, port in enumerate(self.config.worker_metrics_ports()):
            state_dir = self.config.out_dir / f"worker-{i}"
            self.children.spawn(
                ["worker", "--state-dir", str(state_dir), "--metrics-port", str(port)],
                self.settings,
                f"worker-{i}.log",
            )
            self.metrics_ports.append(port)
        if importlib.util.find_spec("streams.apps.commands.train") is None:
            notes.append("trainer: not available in this build; workers serve the prior only")
        else:
            self.children.spawn(_trainer_args(self.config, log_path), self.settings, "trainer.log")
        return notes

    def alive(self) -> bool:
        return self.children.alive()

    def model_version(self) -> str:
        for port in self.metrics_ports:
            version = serving_model_version(port)
            if version is not None:
                return version
        return "?"

    def close(self) -> None:
        self.children.close()
        self.broker.stop()


def serving_model_version(metrics_port: int) -> str | None:
    """The model version a worker reports on its /metrics, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as r:
            match = re.search(r'nudge_model_info\{version="([^"]*)"', r.read().decode())
    except OSError:
        return None
    return match.group(1) if match else None


def _trainer_args(config: DemoConfig, log_path: Path) -> list[str]:
    return [
        "train",
        "--input",
        str(log_path),
        "--every",
        f"{config.train_every_seconds:g}s",
        "--no-progress",
    ]
