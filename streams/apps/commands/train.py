"""``nudge train``: fit the two-tower model on logged events and publish a version."""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from streams.apps.commands._common import add_columns_flag, add_kafka_flags, settings_from

log = logging.getLogger("streams.train")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="train the two-tower model from logged events and publish a model version",
        description="Join logged decisions to impressions and conversions, split by user or "
        "time, train, evaluate (AUC, log loss, accuracy, calibration, feature importance) and "
        "write a versioned artifact to the model directory. With --every, repeat on the newest "
        "data, publish only a model not worse than the serving one, and announce it on the "
        "model-updates topic so workers swap it in.",
    )
    source = parser.add_argument_group("data")
    source.add_argument(
        "--input",
        "--log",
        dest="input",
        type=Path,
        metavar="PATH",
        help="event log, JSONL, Parquet or CSV (the format replay uses)",
    )
    add_columns_flag(source)
    source.add_argument(
        "--from-kafka",
        action="store_true",
        help="read the decision-requests, decisions, impressions and conversions "
        "topics instead of a file",
    )
    source.add_argument("--since", type=_time_ms, help="first event time (epoch ms or ISO 8601)")
    source.add_argument("--until", type=_time_ms, help="end of events (exclusive; ms or ISO)")
    source.add_argument(
        "--window",
        type=_duration,
        metavar="DURATION",
        help="train on the newest DURATION of events only (e.g. 7d)",
    )
    _model_flags(parser.add_argument_group("model"))
    refresh = parser.add_argument_group("refresh")
    refresh.add_argument(
        "--every",
        type=_duration,
        metavar="DURATION",
        help="retrain every DURATION (e.g. 10m) until interrupted",
    )
    refresh.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="with --every: serve /metrics on this port (round outcomes as "
        "nudge_model_refresh_total, newest published model); off when not given",
    )
    refresh.add_argument(
        "--iterations",
        type=int,
        default=0,
        help="with --every: stop after N rounds (default 0: never)",
    )
    refresh.add_argument(
        "--max-auc-drop",
        type=float,
        default=0.02,
        help="publish only if held-out AUC is at most this much below the "
        "serving model's (default 0.02)",
    )
    refresh.add_argument("--force", action="store_true", help="publish even if worse")
    refresh.add_argument(
        "--announce",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="announce on the model-updates topic (default: on with --every)",
    )
    parser.add_argument("--model-dir", type=Path, help="artifact directory (env NUDGE_MODEL_DIR)")
    parser.add_argument(
        "--catalog",
        dest="catalog_path",
        type=Path,
        help="arm catalog JSON (env NUDGE_CATALOG_PATH)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_kafka_flags(parser)
    parser.set_defaults(func=_run)


def _model_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--objective",
        choices=("pointwise", "pairwise", "both"),
        default="pointwise",
        help="training loss (default pointwise)",
    )
    group.add_argument("--epochs", type=int, default=5, help="passes over the data (default 5)")
    group.add_argument("--batch-size", type=int, default=512, help="default 512")
    group.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=[64],
        help="hidden layer widths of each tower (default 64)",
    )
    group.add_argument("--embedding-dim", type=int, default=32, help="default 32")
    group.add_argument(
        "--propensity-weighting",
        action="store_true",
        help="weight examples by 1/propensity (clipped at 20)",
    )
    group.add_argument(
        "--split",
        choices=("user", "time"),
        default="user",
        help="hold out users (default) or the newest events",
    )
    group.add_argument("--holdout", type=float, default=0.2, help="held-out share (default 0.2)")
    group.add_argument(
        "--min-examples",
        type=int,
        default=100,
        help="skip a round with fewer impressed decisions (default 100)",
    )
    group.add_argument(
        "--label",
        choices=("auto", "success", "reward"),
        default="auto",
        help="positive = success kind credited, reward > 0 credited, auto (default: either)",
    )
    group.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    group.add_argument("--version", help="version name (default: UTC time + random suffix)")


def _duration(text: str) -> float:
    from model.training import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _time_ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not epoch ms or ISO 8601: {text!r}") from None


def _run(args: argparse.Namespace) -> int:
    from streams.apps.commands._common import CommandError

    if (args.input is None) == (not args.from_kafka):
        raise CommandError("give exactly one of --input PATH or --from-kafka")
    from model.logs import check_readable, load_column_mapping

    if args.input is not None:
        check_readable(args.input)
    if args.version and args.every:
        raise CommandError("--version names one model; it cannot be combined with --every")
    if args.columns is not None and args.input is None:
        raise CommandError("--columns maps the columns of a CSV --input; give --input PATH")

    # loaded once, before any round: a bad mapping stops the command, not just a round
    args.column_mapping = (
        load_column_mapping(args.columns, log=args.input) if args.columns else None
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = settings_from(args)
    if args.from_kafka:
        from streams.runtime.kafka import require_broker

        require_broker(settings)
    announce = args.announce if args.announce is not None else bool(args.every)
    if not args.every:
        return _round(args, settings, announce, strict=True)
    from streams.apps.training import run_every

    metrics = _serve_metrics(args.metrics_port, settings.metrics_addr)
    run_every(
        args.every,
        lambda: _round(args, settings, announce, strict=False, metrics=metrics),
        iterations=args.iterations,
    )
    return 0


def _serve_metrics(port: int | None, addr: str) -> Any:
    """The trainer's own metrics, so Prometheus sees it up and what its rounds do."""
    if port is None:
        return None
    from prometheus_client import start_http_server

    from streams.runtime.metrics import TrainerMetrics

    metrics = TrainerMetrics()
    start_http_server(port, addr=addr, registry=metrics.registry)
    return metrics


def _round(
    args: argparse.Namespace, settings: Any, announce: bool, *, strict: bool, metrics: Any = None
) -> int:
    from model.attribution import AttributionRule
    from model.catalog import load_catalog
    from model.training import (
        TrainOptions,
        events_in_window,
        read_log_events,
        train_round,
        update_message,
    )
    from model.twotower.train import TrainConfig
    from streams.apps.commands._common import CommandError
    from streams.apps.training import announce as send
    from streams.apps.training import read_topic_events
    from streams.runtime.wiring import engine_config

    found = read_log_events(args.input, args.column_mapping) if args.input else None
    events = events_in_window(
        found if found is not None else read_topic_events(settings),
        since_ms=args.since,
        until_ms=args.until,
        window_seconds=args.window,
    )
    config = TrainConfig(
        objective=args.objective,
        epochs=args.epochs,
        batch_size=args.batch_size,
        hidden=tuple(args.hidden),
        embedding_dim=args.embedding_dim,
        propensity_weighting=args.propensity_weighting,
        seed=args.seed,
    )
    options = TrainOptions(
        config,
        args.split,
        args.holdout,
        args.min_examples,
        args.max_auc_drop,
        args.version,
        args.force,
        skip_unchanged=bool(args.every),
        label=args.label,
    )
    started = time.monotonic()
    result = train_round(
        events,
        load_catalog(settings.catalog_path),
        settings.model_dir,
        options,
        rule=AttributionRule.of(engine_config(settings)),  # the rule the engine serves with
        progress=not args.no_progress,
    )
    summary = {
        "outcome": result.outcome,
        "reason": result.reason,
        "version": result.version,
        "path": str(result.path) if result.path else None,
        "seconds": round(time.monotonic() - started, 2),
        "label": result.label,
        **_headline(result.metrics),
    }
    print(json.dumps(summary), flush=True)
    if metrics is not None:
        metrics.record(result.outcome, result.version, time.time())
    if result.outcome == "published" and announce and result.path is not None:
        send(settings, update_message(result.path, result.metrics or {}))
    if strict and result.outcome != "published":
        raise CommandError(f"no model published: {result.reason}")
    return 0


def _headline(metrics: Any) -> dict[str, Any]:
    if not metrics or not metrics.get("examples"):
        return {}
    return {
        "auc": metrics.get("auc"),
        "log_loss": metrics.get("log_loss"),
        "ece": metrics["calibration"]["ece"],
        "held_out": metrics["examples"],
    }
