"""``nudge worker``: run the stream processor until interrupted."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from streams.apps.commands._common import add_kafka_flags, add_policy_flags, settings_from


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "worker",
        help="run the stream processor (Faust, RocksDB state, Prometheus metrics)",
        description="Consume decision requests, impressions and conversions; keep per-user "
        "arm statistics in RocksDB (recovered from a changelog topic); emit one decision per "
        "request; send malformed events to the dead-letter topic. Stop with Ctrl-C or SIGTERM.",
    )
    add_kafka_flags(parser)
    add_policy_flags(parser)
    parser.add_argument("--state-dir", type=Path, help="local state (env NUDGE_STATE_DIR)")
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="Prometheus /metrics port, 0 = off (env NUDGE_METRICS_PORT)",
    )
    parser.add_argument(
        "--metrics-addr",
        help="address /metrics listens on (env NUDGE_METRICS_ADDR, default 127.0.0.1)",
    )
    parser.add_argument("--app-id", help="consumer group and changelog prefix (env NUDGE_APP_ID)")
    parser.add_argument("--log-level", help="debug, info, warning (env NUDGE_LOG_LEVEL)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import faust
    from prometheus_client import start_http_server

    from streams.runtime.faust_worker import build_app
    from streams.runtime.holder import EngineHolder
    from streams.runtime.kafka import require_broker
    from streams.runtime.metrics import Metrics
    from streams.runtime.wiring import build_engine

    settings = settings_from(args)
    require_broker(settings.bootstrap_servers, timeout_seconds=30)
    from streams.runtime.topics import ensure_changelog

    ensure_changelog(settings)  # before the group forms, so its metadata has the changelog
    holder = EngineHolder(build_engine(settings))
    metrics = Metrics()
    metrics.model_info.info({"version": holder.engine.scorer.version})
    if settings.metrics_port:
        start_http_server(
            settings.metrics_port, addr=settings.metrics_addr, registry=metrics.registry
        )
    app = build_app(settings, holder, metrics)
    logging.getLogger("streams").setLevel(settings.log_level.upper())
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
    return 0
