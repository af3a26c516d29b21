"""Where a ``nudge worker``'s time goes, on a real broker: ``py-spy`` attached from outside.

    python -m bench.kafka.profile --requests 40000 --users 10000 [--policy thompson]

Starts its own broker, pre-loads the requests, starts the worker (the default engine
unless ``--engine``), records it with ``py-spy record --format raw`` while it decides them,
then pre-loads one impression and one purchase per decision and records it applying
them. Writes the collapsed stacks (``decide.txt``, ``update.txt``, for flame graphs) to
``--out`` and prints, per phase, the share of all samples in each group of frames
(inclusive; idle threads take no samples) and the top functions by own time. Needs
``py-spy`` (``pip install py-spy``) and ptrace rights.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.kafka import load
from bench.kafka.context import Bench, Names
from bench.kafka.procs import Worker, broker, wait_committed, workers
from bench.kafka.throughput import OUTCOME_KINDS, kind_total

# Inclusive groups, first match wins per sample: (label, substring of a frame).
GROUPS = (
    ("pure step (model.engine)", "model/engine"),
    ("state codec", "state/codec"),
    ("our edge: decode, checks, metrics, emit", "streams/runtime/processor"),
    ("quix: produce", "rowproducer.py"),
    ("quix: checkpoint", "checkpoint"),
    ("quix: state read/write", "quixstreams/state"),
    ("quix: poll and time alignment", "quixstreams/internal_consumer"),
    ("quix: dataframe and context", "quixstreams/"),
)


# py-spy options of the run (``--gil``: only the thread holding the GIL is sampled, so
# threads waiting for it, e.g. the metrics server after a socket write, are not counted)
SPY_OPTIONS: list[str] = []


def _record(pid: int, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--output", str(path),
         "--rate", "250", "--nonblocking", *SPY_OPTIONS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _phase(worker: Worker, expected: int, kinds: tuple[str, ...], out: Path) -> float:
    """Record ``worker`` until it consumed ``expected`` events of ``kinds``; seconds."""
    deadline = time.monotonic() + 60
    while not worker.consumed():
        worker.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError("worker metrics did not come up")
        time.sleep(0.2)
    spy = _record(worker.pid, out)
    started = time.monotonic()
    while kind_total(worker.consumed(), *kinds) < expected:
        worker.check_alive()
        time.sleep(0.2)
    seconds = time.monotonic() - started
    spy.send_signal(signal.SIGINT)
    spy.wait(60)
    return seconds


def summarise(path: Path, top: int = 25) -> str:
    """Group shares (inclusive) and the top functions by own time, of all samples."""
    groups: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        label = next((g for g, needle in GROUPS if any(needle in f for f in frames)), "other")
        groups[label] += count
        if frames:
            own[frames[-1]] += count
    lines = [f"{path.name}: {total} samples"]
    lines += [f"  {100 * n / total:5.1f} %  {label}" for label, n in groups.most_common()]
    lines.append("  top own time:")
    lines += [f"  {100 * n / total:5.1f} %  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--policy", default="thompson")
    parser.add_argument("--engine", default="quix")
    parser.add_argument("--out", type=Path, default=Path("bench/results/profile"))
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL (Python work; native calls that "
        "release it, librdkafka's and RocksDB's, are then not seen)",
    )
    args = parser.parse_args(argv)
    SPY_OPTIONS[:] = ["--gil"] if args.gil else []
    if shutil.which("py-spy") is None:
        print("py-spy not found: pip install py-spy", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="nudge-profile-"))
    try:
        with broker(root / "broker") as bootstrap:
            bench = Bench(bootstrap, root)
            names = bench.names("profile")
            env = bench.env(names, engine=args.engine, policy=args.policy)
            bench.topics(names, args.engine)
            _profile(bench, names, env, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for phase in ("decide", "update"):
        print(summarise(args.out / f"{phase}.txt"))
    return 0


def _profile(bench: Bench, names: Names, env: dict[str, str], args: argparse.Namespace) -> None:
    n, requests_topic = args.requests, names.topic("decision-requests")
    load.produce(bench.bootstrap, requests_topic, load.requests(n, args.users, "p"))
    with workers(lambda _: bench.worker(names, env, "decide"), 1) as (worker,):
        seconds = _phase(worker, n, ("decision-requests",), args.out / "decide.txt")
        print(f"decide: {n} requests in {seconds:.1f} s under py-spy", file=sys.stderr)
        wait_committed(bench.bootstrap, names.app_id, [requests_topic])
    decisions = list(load.decisions_of(bench.bootstrap, names.topic("decisions")))
    impressions, conversions = load.outcomes_for(decisions)
    load.produce(bench.bootstrap, names.topic("impressions"), impressions)
    load.produce(bench.bootstrap, names.topic("conversions"), conversions)
    expected = len(impressions) + len(conversions)
    with workers(lambda _: bench.worker(names, env, "update"), 1) as (worker,):
        seconds = _phase(worker, expected, OUTCOME_KINDS, args.out / "update.txt")
        print(f"update: {expected} outcomes in {seconds:.1f} s under py-spy", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
