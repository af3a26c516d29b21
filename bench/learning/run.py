"""One benchmark run, cut into cells run in parallel processes.

A cell is one (catalog, seed, policy): it rebuilds its world (cheap, deterministic), and,
for the history lineup, the history and the two-tower trained on it, which is trained
once per (catalog, seed, history size) and cached on disk (``CACHE``), so the cells of
a seed share it and a rerun skips training. The references (oracle, features-only
ceiling) are computed in the parent. Results per policy per seed (aggregated by
``report``), in the order of the lineup, whatever order the cells finish in.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench.learning.harness import reference_choices, run_learner, score_choices
from bench.learning.history import History, draw_history, examples_of, train_two_tower
from bench.learning.lineup import cold_lineup, history_lineup
from bench.learning.world import World, build_world
from bench.timing import note

__all__ = ["CACHE", "Cell", "Sizes", "plan", "run_cells"]

CACHE = Path(".nudge/bench-cache")
CACHE_VERSION = "1"  # bump when the history or the training pipeline changes


@dataclass(frozen=True)
class Sizes:
    n_users: int = 5_000
    n_rounds: int = 50_000
    history_rounds: int = 100_000
    history_users: int = 10_000
    seeds: tuple[int, ...] = (0, 1, 2)
    batch: int = 32


@dataclass(frozen=True)
class Cell:
    n_arms: int
    seed: int
    group: str  # "cold" | "history"
    name: str


@functools.lru_cache(maxsize=4)
def _world(seed: int, n_arms: int, n_users: int, n_rounds: int) -> World:
    return build_world(seed, n_arms, n_users, n_rounds)


@functools.lru_cache(maxsize=4)
def _history(seed: int, n_arms: int, sizes: Sizes) -> History:
    world = _world(seed, n_arms, sizes.n_users, sizes.n_rounds)
    return draw_history(world, sizes.history_rounds, sizes.history_users)


def _cache_path(seed: int, n_arms: int, sizes: Sizes) -> Path:
    key = f"v{CACHE_VERSION}-{n_arms}-{seed}-{sizes.history_rounds}-{sizes.history_users}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return CACHE / f"twotower-{n_arms}arms-seed{seed}-{sizes.history_rounds}-{digest}.pkl"


def trained_scorer(seed: int, n_arms: int, sizes: Sizes, cache: bool = True) -> Any:
    """The two-tower fitted on the (catalog, seed) history, from the cache when there."""
    path = _cache_path(seed, n_arms, sizes)
    if cache and path.exists():
        return pickle.loads(path.read_bytes())
    past = _history(seed, n_arms, sizes)
    world = _world(seed, n_arms, sizes.n_users, sizes.n_rounds)
    began = time.perf_counter()
    scorer = train_two_tower(examples_of(past), world.env.catalog, seed=seed)
    note(
        f"  trained the two-tower: {n_arms} arms, seed {seed} ({time.perf_counter() - began:.0f} s)"
    )
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(scorer))
        partial.replace(path)  # atomic: a concurrent reader sees all or nothing
    return scorer


def _lineup(cell: Cell, sizes: Sizes, peers: tuple[str, ...], cache: bool) -> list[Any]:
    world = _world(cell.seed, cell.n_arms, sizes.n_users, sizes.n_rounds)
    if cell.group == "cold":
        return cold_lineup(world, peers)
    past = _history(cell.seed, cell.n_arms, sizes)
    scorer = functools.partial(trained_scorer, cell.seed, cell.n_arms, sizes, cache)
    return history_lineup(world, past, scorer, peers)


def names(group: str, peers: tuple[str, ...]) -> list[str]:
    """The policy names of a lineup (its factories are not built)."""
    world = _world(0, 81, 2, 1)
    if group == "cold":
        return [name for name, _ in cold_lineup(world, peers)]
    return [name for name, _ in history_lineup(world, None, _no_scorer, peers)]


def _no_scorer() -> Any:
    raise AssertionError("only the names of this lineup are read")


def plan(
    arms: Iterable[int],
    sizes: Sizes,
    peers: tuple[str, ...],
    history: bool = True,
    only: Callable[[str], bool] = lambda name: True,
) -> list[Cell]:
    groups = ("history", "cold") if history else ("cold",)
    return [
        Cell(n, seed, group, name)
        for n in arms
        for seed in sizes.seeds
        for group in groups
        for name in names(group, peers)
        if only(name)
    ]


def run_cell(cell: Cell, sizes: Sizes, peers: tuple[str, ...], cache: bool) -> dict[str, Any]:
    """One policy on one world: its measures (``harness.run_learner``) and timings."""
    began = time.perf_counter()
    factory = dict(_lineup(cell, sizes, peers, cache))[cell.name]
    learner = factory()
    setup = time.perf_counter() - began
    measured = run_learner(_world(cell.seed, cell.n_arms, sizes.n_users, sizes.n_rounds), learner)
    measured["setup_seconds"] = round(setup, 2)
    measured["seconds"] = round(time.perf_counter() - began, 2)
    return measured


def _train(key: tuple[int, int], sizes: Sizes, cache: bool) -> None:
    trained_scorer(key[1], key[0], sizes, cache)


def _limit_threads() -> None:
    """One BLAS / torch thread per process: the cells, not the threads, fill the cores."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def run_cells(
    cells: list[Cell], sizes: Sizes, peers: tuple[str, ...], jobs: int, cache: bool = True
) -> dict[tuple[int, str], dict[str, Any]]:
    """``{(n_arms, policy): {"results": [per seed], "group": ...}}`` plus the references
    under their own names; cells run on ``jobs`` processes (1: in this process)."""
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for n, seed in sorted({(c.n_arms, c.seed) for c in cells}):
        world = _world(seed, n, sizes.n_users, sizes.n_rounds)
        for name, arms in reference_choices(world).items():
            entry = out.setdefault((n, name), {"group": "reference", "results": {}})
            entry["results"][seed] = score_choices(world, arms) | {"us_per_decision": 0.0}
    trainings = sorted({(c.n_arms, c.seed) for c in cells if c.group == "history"})
    measured: dict[Cell, dict[str, Any]] = {}
    if jobs <= 1:
        for key in trainings:
            _train(key, sizes, cache)
        for cell in cells:
            measured[cell] = run_cell(cell, sizes, peers, cache)
            _noted(cell, measured[cell])
    else:
        _limit_threads()
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            list(pool.map(_train, trainings, [sizes] * len(trainings), [cache] * len(trainings)))
            futures = {
                pool.submit(run_cell, c, sizes, peers, cache): c for c in _longest_first(cells)
            }
            for future in as_completed(futures):
                cell = futures[future]
                measured[cell] = future.result()
                _noted(cell, measured[cell])
    for cell in cells:  # lineup order, seeds ascending
        entry = out.setdefault((cell.n_arms, cell.name), {"group": cell.group, "results": {}})
        entry["results"][cell.seed] = measured[cell]
    return out


def _noted(cell: Cell, measured: dict[str, Any]) -> None:
    note(
        f"  {cell.n_arms} arms, seed {cell.seed}, {cell.name}: "
        f"{measured['pct_ceiling']:.1f} % of ceiling ({measured['seconds']:.0f} s)"
    )


def _longest_first(cells: list[Cell]) -> list[Cell]:
    """Slow learners (VW, pooled Thompson) and big catalogs first: the pool ends evenly."""

    def cost(cell: Cell) -> float:
        slow = 4.0 if ("VW" in cell.name or "cold" in cell.name) else 1.0
        return slow * cell.n_arms

    return sorted(cells, key=cost, reverse=True)
