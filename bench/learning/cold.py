"""``python -m bench.learning.cold``: the cold-start part of the learning benchmark alone.

No history, no model: the worker's cold start (the default policy with the online
model, ``bench.learning.online``), the default policy on pooled statistics only, and
the peers online (mabwiser LinUCB, VW squarecb), in the same worlds as ``python -m
bench learning`` (same users, same reward draws), for a quicker look at issue 13's
cold-start target: the online row at or above the better of LinUCB and VW online by
the last 20 % of rounds. Writes ``bench/results/learning_cold.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # the figures are for one core, as bench learning's

from bench.learning.harness import run_learner  # noqa: E402
from bench.learning.lineup import ONLINE, cold_lineup  # noqa: E402
from bench.learning.report import summarise, table  # noqa: E402
from bench.learning.world import build_world  # noqa: E402
from bench.timing import note  # noqa: E402

__all__ = ["main"]

ROWS = {
    "online": ONLINE,
    "pooled": "thompson cold (pooled stats)",
    "linucb": "mabwiser LinUCB online",
    "vw": "VW squarecb online",
}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.learning.cold", description=__doc__)
    p.add_argument("--arms", type=int, nargs="+", default=[81, 200])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--users", type=int, default=5_000)
    p.add_argument("--rounds", type=int, default=50_000)
    p.add_argument("--rows", default=",".join(ROWS), help=",".join(ROWS))
    p.add_argument("--json", type=Path, default=Path("bench/results/learning_cold.json"))
    args = p.parse_args(argv)
    wanted = [ROWS[r] for r in args.rows.split(",")]
    report: dict[str, Any] = {}
    for n_arms in args.arms:
        results: dict[str, list[dict[str, Any]]] = {}
        for seed in args.seeds:
            world = build_world(seed, n_arms, args.users, args.rounds)
            lineup = dict(cold_lineup(world, ("vw", "linucb")))
            for name in wanted:
                results.setdefault(name, []).append(run_learner(world, lineup[name]()))
                note(f"{n_arms} arms, seed {seed}, {name}: {results[name][-1]['pct_ceiling']:.1f}")
        summary = summarise(results)
        print(table(f"\n{n_arms} arms, cold", summary, dict.fromkeys(summary, "cold")))
        report[f"{n_arms} arms"] = summary
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
