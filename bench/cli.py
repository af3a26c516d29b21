"""``python -m bench``: arguments, the sections to run, one JSON object on stdout."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.cli_kafka import KAFKA_HELP, add_kafka_arguments, run_kafka
from bench.evaluation import N_BOOTSTRAP, TARGET_EVENTS_PER_SECOND, bench_evaluation
from bench.logs import bench_csv_read
from bench.processor import bench_processor
from bench.replay import REPLAY_POLICIES, bench_replay
from bench.step import STEP_POLICIES, bench_outcomes, bench_step, bench_step_evidence
from bench.timing import THREAD_VARIABLES, note

__all__ = ["ALL_SECTIONS", "SECTIONS", "main", "parse_args", "run"]

SECTIONS = ("step", "outcomes", "edge", "replay", "evaluation", "logs")  # default: no broker needed
ALL_SECTIONS = (*SECTIONS, "kafka")  # kafka starts a broker; chosen with --only

HELP = f"""\
Throughput of nudgeflow's hot paths, each against a baseline measured in the same run
(these machines are noisy: compare ratios between machines, not rates). Prints one JSON
object on stdout; progress goes to stderr.

sections (--only):
  step        decision requests/s through the pure step with an in-memory store, per
              policy ({", ".join(STEP_POLICIES)}), new users; thompson and epsilon-greedy also
              for users with evidence (3 nudges each, shown, 1 in 4 bought); baseline
              msgspec decode + plain dict update
  outcomes    impressions/s through the pure step
  edge        the worker's per-event code without Kafka (EventProcessor: decode, checks,
              load, step, store, pooled statistics, metrics, outputs) on a dict store, for
              requests (--events) and their impressions + purchases; baseline the pure
              loop alone (decode + load/step/store) on the same messages: our edge's cost
  replay      log events/s of a simulator log (requests, decisions, impressions,
              conversions; --events requests) replayed as `nudge replay --offline` does,
              for {", ".join(REPLAY_POLICIES)}; baseline msgspec decode + plain dict update
  evaluation  logged rounds/s through the off-policy estimators as `nudge evaluate` runs
              them (logging mean, replay, IPS, SNIPS, DR, each with a {N_BOOTSTRAP}-resample
              bootstrap interval) on one core: BLAS/OpenMP threads 1, process pinned to one
              CPU; target {TARGET_EVENTS_PER_SECOND:,} rounds/s for the whole set; baselines
              numpy.mean and a textbook index bootstrap of the mean
  logs        rows/s of an impression-level CSV export (--rounds/5 rows, 90 columns)
              read to events through its column mapping; baseline events/s of the
              JSONL reader on a simulator log, in the same run
{KAFKA_HELP}
Every figure is the median of --repeats runs.
"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events",
        type=_positive,
        default=5_000,
        help="requests for step and replay, impressions for outcomes (5000)",
    )
    parser.add_argument(
        "--rounds", type=_positive, default=100_000, help="evaluation: test rounds (100000)"
    )
    parser.add_argument(
        "--bootstrap",
        type=_positive,
        default=N_BOOTSTRAP,
        help=f"evaluation: bootstrap resamples per interval ({N_BOOTSTRAP}, evaluate's default)",
    )
    parser.add_argument(
        "--arms",
        type=_positive,
        default=None,
        help="step and outcomes: a generated catalog of this many arms (default: the shipped 81)",
    )
    parser.add_argument("--repeats", type=_positive, default=3, help="runs per figure (3)")
    parser.add_argument(
        "--only",
        type=_sections,
        default=SECTIONS,
        metavar="LIST",
        help=f"comma-separated sections to run, from {','.join(ALL_SECTIONS)} "
        f"(default {','.join(SECTIONS)})",
    )
    add_kafka_arguments(parser)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the JSON here")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _sections(text: str) -> tuple[str, ...]:
    chosen = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = sorted(set(chosen) - set(ALL_SECTIONS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(ALL_SECTIONS)}"
        )
    return tuple(s for s in ALL_SECTIONS if s in chosen)


def _step(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for policy in STEP_POLICIES:
        try:
            report[policy] = bench_step(policy, args.events, args.repeats, args.arms)
        except Exception as exc:  # noqa: BLE001 - a missing policy is reported, not fatal
            report[policy] = {"error": str(exc)}
    for policy in ("thompson", "epsilon-greedy"):  # users of a running service
        report[f"{policy}-with-evidence"] = bench_step_evidence(
            policy, args.events, args.repeats, args.arms
        )
    return report


RUNNERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "step": _step,
    "outcomes": lambda a: bench_outcomes(a.events, a.repeats, a.arms),
    "edge": lambda a: {
        policy: bench_processor(policy, a.events, max(1, a.events // 4), a.repeats)
        for policy in ("thompson", "epsilon-greedy")
    },
    "replay": lambda a: bench_replay(a.events, a.repeats),
    "evaluation": lambda a: bench_evaluation(a.rounds, a.repeats, a.bootstrap),
    "logs": lambda a: bench_csv_read(a.rounds // 5, a.repeats, Path(".nudge/bench")),
    "kafka": run_kafka,
}


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "thread_variables": {name: os.environ.get(name) for name in THREAD_VARIABLES},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The report of the chosen sections (see ``HELP``)."""
    report: dict[str, Any] = {
        "machine": _machine(),
        "events": args.events,
        "rounds": args.rounds,
        "repeats": args.repeats,
    }
    for section in args.only:
        note(f"{section} ...")
        started = time.perf_counter()
        report[section] = RUNNERS[section](args)
        note(f"{section} done in {time.perf_counter() - started:.1f} s")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    text = json.dumps(run(args), indent=2)
    print(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
        note(f"wrote {args.json}")
    return 0
