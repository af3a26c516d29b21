"""Start a worker on the engine the settings name (``quix``, the default, or ``faust``)."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from streams.runtime.holder import EngineHolder
from streams.runtime.kafka import require_broker
from streams.runtime.logs import configure_logging
from streams.runtime.metrics import Metrics
from streams.runtime.settings import Settings
from streams.runtime.topics import create_topics
from streams.runtime.wiring import build_engine

__all__ = ["StateDirBusy", "lock_state_dir", "run_worker"]


class StateDirBusy(OSError):
    """Another worker process uses this state directory."""


def lock_state_dir(state_dir: Path) -> IO[str]:
    """Hold ``state_dir`` for this process (released when it exits, even on SIGKILL).
    Two workers on one directory would fight over RocksDB's lock after joining the group,
    crash one of them and rebalance the other: refuse before joining instead."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / ".worker.lock", "a+")  # noqa: SIM115 - held for the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StateDirBusy(
            f"state directory {state_dir} is in use by worker {holder}; give this worker "
            "its own --state-dir (NUDGE_STATE_DIR)"
        ) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def run_worker(settings: Settings) -> None:
    """Serve ``/metrics``, then process until SIGTERM or Ctrl-C."""
    lock = lock_state_dir(Path(settings.state_dir))
    require_broker(settings, timeout_seconds=30)
    create_topics(settings)  # idempotent; checks co-partitioning before the group forms
    holder = EngineHolder(build_engine(settings))
    metrics = Metrics()
    metrics.model_info.info({"version": holder.engine.scorer.version})
    if settings.metrics_port:
        _serve_metrics(settings, metrics)
    try:
        if settings.engine == "faust":
            _run_faust(settings, holder, metrics)
        else:
            _run_quix(settings, holder, metrics)
    finally:
        lock.close()


def _serve_metrics(settings: Settings, metrics: Metrics) -> None:
    from prometheus_client import start_http_server

    try:
        start_http_server(
            settings.metrics_port, addr=settings.metrics_addr, registry=metrics.registry
        )
    except OSError as exc:
        raise OSError(
            f"metrics port {settings.metrics_addr}:{settings.metrics_port} is not free "
            f"({exc.strerror}); choose another with --metrics-port (NUDGE_METRICS_PORT)"
        ) from None


def _run_quix(settings: Settings, holder: EngineHolder, metrics: Metrics) -> None:
    from streams.runtime.quix_worker import QuixWorker

    configure_logging(settings.log_level, settings.log_format)
    QuixWorker(settings, holder, metrics).run()


def _run_faust(settings: Settings, holder: EngineHolder, metrics: Metrics) -> None:
    import faust

    from streams.runtime.faust_worker import build_app
    from streams.runtime.topics import ensure_changelog

    ensure_changelog(settings)  # before the group forms, so its metadata has the changelog
    app = build_app(settings, holder, metrics)
    logging.getLogger("streams").setLevel(settings.log_level.upper())
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    app.nudge_stall_watch.start()  # type: ignore[attr-defined]
    worker.execute_from_commandline()
