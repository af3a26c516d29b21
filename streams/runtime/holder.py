"""The engine in service, swappable between two events."""

from __future__ import annotations

from dataclasses import dataclass, field

from model.engine import Engine

__all__ = ["EngineHolder"]

_SWAPS_KEPT = 100


@dataclass
class EngineHolder:
    """The engine in service. Replacing ``engine`` is one attribute assignment, and every
    event reads ``engine`` once, so a swap (new model, new catalog, pooled statistics) is
    atomic for every event, whichever thread makes it. Only one thread swaps (the worker's
    maintenance thread or the Faust event loop), so read-modify-write swaps never race."""

    engine: Engine
    swaps: list[str] = field(default_factory=list)

    def swap(self, engine: Engine, why: str) -> None:
        self.engine = engine
        self.swaps.append(why)
        del self.swaps[:-_SWAPS_KEPT]  # a long-running worker keeps only the recent ones
