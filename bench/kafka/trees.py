"""Worker throughput of two source trees, alternated on one broker: a change's cost.

    git worktree add /tmp/before <commit>
    python -m bench.kafka.trees --tree before=/tmp/before --tree now=. --engine faust

Each round runs every tree in turn (so the slow drifts of a shared machine hit all of
them alike): a fresh ``nudge worker`` from that tree's sources (``PYTHONPATH``, working
directory) on its own topics decides ``--requests`` requests, then applies one impression
and one purchase per decision (``bench.kafka.throughput.worker_run``, the ``kafka``
section's method). The trees share this process's virtual environment. Prints one line
per run and the medians; writes the JSON to ``bench/results/trees-*.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.kafka.procs import broker

RESULTS = Path(__file__).resolve().parents[1] / "results"


def parse_tree(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` -> (name, absolute path of a source tree holding ``streams/``)."""
    name, sep, path = text.partition("=")
    tree = Path(path).resolve()
    if not sep or not name or not (tree / "streams" / "apps" / "cli.py").is_file():
        raise argparse.ArgumentTypeError(f"--tree wants NAME=PATH of a nudgeflow tree: {text!r}")
    return name, tree


def one_run(
    bootstrap: str, engine: str, policy: str, requests: int, users: int, serial: int
) -> dict[str, Any]:
    """In a child started from the tree: one ``worker_run`` (its names start at ``serial``)."""
    from bench.kafka.context import Bench
    from bench.kafka.throughput import Case, worker_run

    bench = Bench(bootstrap, Path(tempfile.mkdtemp(prefix="nudge-trees-")), 4)
    bench._serial = iter(range(serial, serial + 1_000))  # type: ignore[assignment]
    run = worker_run(bench, engine, Case("81", policy), requests, users)
    return {
        "decisions_per_second": run["decisions_per_second"],
        "state_updates_per_second": run["state_updates_per_second"],
        "decided": run["counts"]["decide_phase"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.kafka.trees", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--tree",
        action="append",
        type=parse_tree,
        required=True,
        help="NAME=PATH of a source tree (twice or more)",
    )
    parser.add_argument("--engine", default="quix", choices=("quix", "faust"))
    parser.add_argument("--policy", default="thompson")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=6_000)
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--child", nargs=2, metavar=("BOOTSTRAP", "SERIAL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)  # fmt: skip
    if args.child:
        bootstrap, serial = args.child
        run = one_run(bootstrap, args.engine, args.policy, args.requests, args.users, int(serial))
        print(json.dumps(run))
        return 0
    if len(args.tree) < 2:
        parser.error("give two trees or more")
    runs: list[dict[str, Any]] = []
    with broker(Path(tempfile.mkdtemp(prefix="nudge-trees-broker-")) / "broker") as bootstrap:
        for round_ in range(args.rounds):
            for name, tree in args.tree:
                serial = 1_000 * len(runs)
                command = [
                    # this file, run as a script: the tree measured may not have it
                    sys.executable, str(Path(__file__).resolve()), "--tree", f"{name}={tree}",
                    "--engine", args.engine, "--policy", args.policy,
                    "--requests", str(args.requests), "--users", str(args.users),
                    "--child", bootstrap, str(serial),
                ]  # fmt: skip
                env = {**os.environ, "PYTHONPATH": str(tree)}
                done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True)
                if done.returncode != 0:
                    print(done.stderr[-2000:], file=sys.stderr)
                    return 1
                run = {"round": round_, "tree": name} | json.loads(done.stdout.splitlines()[-1])
                runs.append(run)
                print(
                    f"round {round_ + 1} {name}: {run['decisions_per_second']:,.0f} decisions/s, "
                    f"{run['state_updates_per_second']:,.0f} state updates/s",
                    flush=True,
                )
    medians = {
        name: {
            key: statistics.median(r[key] for r in runs if r["tree"] == name)
            for key in ("decisions_per_second", "state_updates_per_second")
        }
        for name, _ in args.tree
    }
    for name, figures in medians.items():
        print(f"median {name}: {figures['decisions_per_second']:,.0f} decisions/s, "
              f"{figures['state_updates_per_second']:,.0f} state updates/s")  # fmt: skip
    report = {
        "trees": {name: str(tree) for name, tree in args.tree},
        "engine": args.engine,
        "policy": args.policy,
        "requests": args.requests,
        "users": args.users,
        "runs": runs,
        "medians": medians,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"trees-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
