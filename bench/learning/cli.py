"""``python -m bench learning``: how well each policy learns, against VW and mabwiser.

Default: 5,000 users, 50,000 rounds (about 10 per user), seeds 0 1 2, the 81-arm catalog
and a 200-arm one, each policy cold (no history, no model) and given 100,000 uniform
past rounds of other users (nudgeflow: a two-tower trained on them; the peers: the same
rounds). Prints a table per catalog, writes JSON and a cumulative-regret plot.
``--quick``: a few minutes (1 seed, 81 arms, 2,000 users, 20,000 rounds, 50,000 past rounds).
Cells (catalog, seed, policy) run in ``--jobs`` processes (default: every core); the
two-tower of each (catalog, seed, history) is trained once and cached under
``.nudge/bench-cache`` (``--no-cache`` retrains).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.learning.confounding import bench_confounding
from bench.learning.lineup import PEERS
from bench.learning.peers import peer_versions
from bench.learning.report import plot_regret, summarise, table
from bench.learning.run import Sizes, plan, run_cells
from bench.learning.timing import engine_timing
from bench.timing import note

__all__ = ["main", "parse_args"]

RESULTS = Path("bench/results")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench learning",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 81 arms, small")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds (0 1 2)")
    p.add_argument("--arms", type=int, nargs="+", help="catalog sizes (81 200)")
    p.add_argument("--rounds", type=int, help="online rounds per run (50000)")
    p.add_argument("--users", type=int, help="users (5000)")
    p.add_argument("--history", type=int, help="past uniform rounds (100000)")
    p.add_argument("--peers", default=",".join(PEERS), help="vw,linucb,lints or 'none'")
    p.add_argument("--no-install", action="store_true", help="never pip install the peers")
    p.add_argument("--skip-confounding", action="store_true")
    p.add_argument("--skip-timing", action="store_true", help="no engine timing")
    p.add_argument("--no-history", action="store_true", help="the cold lineup only")
    p.add_argument("--only", help="run only policies whose name contains one of these (a,b)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (cores)")
    p.add_argument("--no-cache", action="store_true", help="retrain the two-towers")
    p.add_argument("--json", type=Path, default=RESULTS / "learning.json")
    p.add_argument("--plot", type=Path, default=RESULTS / "learning_regret.png")
    return p.parse_args(argv)


def sizes_of(args: argparse.Namespace) -> Sizes:
    base = Sizes(2_000, 20_000, 50_000, 5_000, (0,)) if args.quick else Sizes()
    return Sizes(
        n_users=args.users or base.n_users,
        n_rounds=args.rounds or base.n_rounds,
        history_rounds=args.history or base.history_rounds,
        history_users=max(base.history_users, (args.history or 0) // 10),
        seeds=tuple(args.seeds) if args.seeds else base.seeds,
    )


def ensure_peers(wanted: tuple[str, ...], install: bool) -> tuple[str, ...]:
    """The peers that can run; installs the ``bench`` extra's packages when missing."""
    modules = {"vw": "vowpalwabbit", "linucb": "mabwiser", "lints": "mabwiser"}
    missing = sorted({modules[p] for p in wanted if importlib.util.find_spec(modules[p]) is None})
    if missing and install:
        note(f"installing the bench extra's peers: {' '.join(missing)}")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=False)
        importlib.invalidate_caches()
    usable = tuple(p for p in wanted if importlib.util.find_spec(modules[p]) is not None)
    for p in sorted(set(wanted) - set(usable)):
        note(f"peer {p} unavailable ({modules[p]} not installed): left out")
    return usable


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_of(args)
    arms = tuple(args.arms or ((81,) if args.quick else (81, 200)))
    wanted = () if args.peers == "none" else tuple(p for p in args.peers.split(",") if p)
    peers = ensure_peers(wanted, not args.no_install)
    began = time.perf_counter()
    report: dict[str, Any] = {
        "sizes": sizes.__dict__,
        "jobs": args.jobs,
        "peers": peer_versions(),
        "catalogs": {},
    }
    wanted_names = tuple(w for w in (args.only or "").split(",") if w)
    cells = plan(
        arms,
        sizes,
        peers,
        history=not args.no_history,
        only=lambda name: not wanted_names or any(w in name for w in wanted_names),
    )
    note(f"{len(cells)} cells on {args.jobs} processes")
    measured = run_cells(cells, sizes, peers, args.jobs, cache=not args.no_cache)
    for n in arms:
        mine = {name: e for (k, name), e in measured.items() if k == n}
        results = {
            name: [e["results"][s] for s in sorted(e["results"])] for name, e in mine.items()
        }
        groups = {name: e["group"] for name, e in mine.items()}
        summary = summarise(results)
        report["catalogs"][f"{n} arms"] = {"summary": summary, "groups": groups}
        title = f"\n{n} arms ({len(sizes.seeds)} seeds, {sizes.n_rounds} rounds)"
        print(table(title, summary, groups), flush=True)
    if not args.skip_timing:
        report["engine_us_per_decision"] = engine_timing(sizes, 500 if args.quick else 2_000)
    if not args.skip_confounding:
        report["confounding"] = bench_confounding(sizes)
        print("\nconfounding trap:", json.dumps(report["confounding"]["summary"], indent=1))
    report["seconds"] = round(time.perf_counter() - began, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    plot_regret(report["catalogs"], sizes.n_rounds, args.plot)
    note(f"wrote {args.json} and {args.plot} in {report['seconds']:.0f} s")
    return 0
