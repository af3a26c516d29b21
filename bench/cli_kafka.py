"""The ``kafka`` section's arguments, its run, and where its results go: the JSON to
``bench/results/kafka-<timestamp>.json`` (and stdout), the table to stderr and, with
``--update-readme``, into ``bench/README.md``."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from bench.kafka.section import KafkaSizes, bench_kafka
from bench.kafka.targets import markdown_table
from bench.timing import note

__all__ = ["KAFKA_HELP", "add_kafka_arguments", "no_nan", "run_kafka", "update_readme"]

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
BEGIN, END = "<!-- kafka-table:begin -->", "<!-- kafka-table:end -->"
_D = KafkaSizes()

KAFKA_HELP = """\
  kafka       `nudge worker` against a broker the section starts itself (see
              bench/README.md), per engine (--engines): decisions/s and state updates/s
              (thompson and epsilon-greedy on 81 arms, thompson on 200), timed from
              outside between 10 % and 90 % of the events; latency p50/p95/p99/max at
              fixed rates; 2 workers vs 1; RSS at --rss-users users. Baselines in the
              same run: bare consume+decode, + produce, Quix Streams' bare stateful job
              in the same topology, the broker's echo round trip, an empty worker's RSS
"""


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("kafka section")
    group.add_argument("--engines", default="quix,faust", help="worker engines (quix,faust)")
    group.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    group.add_argument(
        "--kafka-requests",
        type=int,
        default=_D.requests,
        help=f"requests per Quix throughput run ({_D.requests})",
    )
    group.add_argument(
        "--faust-requests",
        type=int,
        default=_D.faust_requests,
        help=f"requests per Faust throughput run: it is 5-9x slower ({_D.faust_requests})",
    )
    group.add_argument(
        "--worker-repeats",
        type=int,
        default=_D.worker_repeats,
        help=f"runs of the headline worker case ({_D.worker_repeats})",
    )
    group.add_argument(
        "--baseline-events",
        type=int,
        default=_D.baseline_events,
        help=f"events per topic for the baselines ({_D.baseline_events})",
    )
    group.add_argument(
        "--kafka-users",
        type=int,
        default=_D.users,
        help=f"users those requests are spread over ({_D.users})",
    )
    group.add_argument(
        "--rss-users",
        type=int,
        default=_D.rss_users,
        help=f"users in state for the RSS figure ({_D.rss_users})",
    )
    group.add_argument(
        "--faust-rss-users",
        type=int,
        default=_D.faust_rss_users,
        help="users in state for the Faust engine's RSS figure: its recovery is slow "
        f"({_D.faust_rss_users})",
    )
    group.add_argument(
        "--latency-seconds",
        type=float,
        default=_D.latency_seconds,
        help=f"seconds per latency figure ({_D.latency_seconds:g})",
    )
    group.add_argument("--work-dir", type=Path, help="broker and state here (default: a temp dir)")
    group.add_argument(
        "--update-readme", action="store_true", help="rewrite the table in bench/README.md"
    )


def sizes_from(args: argparse.Namespace) -> KafkaSizes:
    if args.quick:
        return KafkaSizes.quick()
    return KafkaSizes(
        requests=args.kafka_requests,
        users=args.kafka_users,
        worker_repeats=args.worker_repeats,
        baseline_events=args.baseline_events,
        repeats=args.repeats,
        latency_seconds=args.latency_seconds,
        rss_users=args.rss_users,
        faust_rss_users=args.faust_rss_users,
        faust_requests=args.faust_requests,
    )


def no_nan(doc: Any) -> Any:
    """NaN or infinity (a figure not measured) as null, so the JSON is standard."""
    if isinstance(doc, float) and not math.isfinite(doc):
        return None
    if isinstance(doc, dict):
        return {k: no_nan(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [no_nan(v) for v in doc]
    return doc


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so workers and the broker are stopped either way."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_kafka(args: argparse.Namespace) -> dict[str, Any]:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    with sigterm_as_interrupt():
        report = no_nan(bench_kafka(engines, sizes_from(args), args.work_dir))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"kafka-{stamp}.json"
    machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
    path.write_text(json.dumps({"machine": machine, "kafka": report}, indent=2) + "\n")
    note(f"kafka: wrote {path}")
    table = markdown_table(report)
    note("kafka table:\n" + table)
    if args.update_readme:
        update_readme(README, table, stamp)
        note(f"kafka: table written into {README}")
    return report


def update_readme(readme: Path, table: str, stamp: str) -> None:
    """Replace what lies between the table markers (append them when missing)."""
    text = readme.read_text() if readme.exists() else ""
    block = f"{BEGIN}\nMeasured {stamp}:\n\n{table}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text)
