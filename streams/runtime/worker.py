"""Start a worker on the engine the settings name (``quix``, the default, or ``faust``)."""

from __future__ import annotations

import logging

from streams.runtime.holder import EngineHolder
from streams.runtime.kafka import require_broker
from streams.runtime.metrics import Metrics
from streams.runtime.settings import Settings
from streams.runtime.topics import create_topics
from streams.runtime.wiring import build_engine

__all__ = ["run_worker"]


def run_worker(settings: Settings) -> None:
    """Serve ``/metrics``, then process until SIGTERM or Ctrl-C."""
    require_broker(settings, timeout_seconds=30)
    create_topics(settings)  # idempotent; checks co-partitioning before the group forms
    holder = EngineHolder(build_engine(settings))
    metrics = Metrics()
    metrics.model_info.info({"version": holder.engine.scorer.version})
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(
            settings.metrics_port, addr=settings.metrics_addr, registry=metrics.registry
        )
    if settings.engine == "faust":
        _run_faust(settings, holder, metrics)
    else:
        _run_quix(settings, holder, metrics)


def _run_quix(settings: Settings, holder: EngineHolder, metrics: Metrics) -> None:
    from streams.runtime.quix_worker import QuixWorker

    logging.basicConfig(
        level=settings.log_level.upper(),
        format="[%(asctime)s] [%(levelname)s] %(name)s: %(message)s",
    )
    QuixWorker(settings, holder, metrics).run()


def _run_faust(settings: Settings, holder: EngineHolder, metrics: Metrics) -> None:
    import faust

    from streams.runtime.faust_worker import build_app
    from streams.runtime.topics import ensure_changelog

    ensure_changelog(settings)  # before the group forms, so its metadata has the changelog
    app = build_app(settings, holder, metrics)
    logging.getLogger("streams").setLevel(settings.log_level.upper())
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
