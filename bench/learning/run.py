"""One benchmark run: for each catalog and seed, a world; references, the cold lineup,
then the history, the two-tower trained on it and the history lineup; results per
policy per seed (aggregated by ``report``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.learning.harness import reference_choices, run_learner, score_choices
from bench.learning.history import draw_history, examples_of, train_two_tower
from bench.learning.lineup import cold_lineup, history_lineup
from bench.learning.world import World, build_world
from bench.timing import note

__all__ = ["Sizes", "run_catalog"]


@dataclass(frozen=True)
class Sizes:
    n_users: int = 5_000
    n_rounds: int = 50_000
    history_rounds: int = 100_000
    history_users: int = 10_000
    seeds: tuple[int, ...] = (0, 1, 2)
    batch: int = 32


def _run(world: World, name: str, factory: Any, results: dict[str, list[dict[str, Any]]]) -> None:
    began = time.perf_counter()
    learner = factory()
    setup = time.perf_counter() - began
    measured = run_learner(world, learner)
    measured["setup_seconds"] = round(setup, 2)
    results.setdefault(name, []).append(measured)
    seconds = time.perf_counter() - began
    note(f"  {name}: {measured['pct_ceiling']:.1f} % of ceiling ({seconds:.0f} s)")


def run_catalog(
    n_arms: int, sizes: Sizes, peers: tuple[str, ...], history: bool = True
) -> dict[str, Any]:
    """``{"results": {policy: [per seed]}, "groups": {policy: "reference"|"cold"|"history"}}``."""
    results: dict[str, list[dict[str, Any]]] = {}
    groups: dict[str, str] = {}
    for seed in sizes.seeds:
        note(f"{n_arms} arms, seed {seed}")
        world = build_world(seed, n_arms, sizes.n_users, sizes.n_rounds)
        for name, arms in reference_choices(world).items():
            results.setdefault(name, []).append(
                score_choices(world, arms) | {"us_per_decision": 0.0}
            )
            groups[name] = "reference"
        for name, factory in cold_lineup(world, peers):
            _run(world, name, factory, results)
            groups[name] = "cold"
        if not history:
            continue
        past = draw_history(world, sizes.history_rounds, sizes.history_users)
        scorer = train_two_tower(examples_of(past), world.env.catalog, seed=seed)
        for name, factory in history_lineup(world, past, scorer, peers):
            _run(world, name, factory, results)
            groups[name] = "history"
    return {"results": results, "groups": groups}
