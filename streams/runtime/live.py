"""Run-time changes to the engine in service: pooled arm statistics and the catalog.

Both are swapped into the :class:`~streams.runtime.faust_worker.EngineHolder` between events, like a
new model. Pooled statistics are this worker's own (the users of its partitions); they
start empty after a restart and serve only as a prior (Thompson's prior until a model is
loaded, and optional pooled evidence after), so a partial view is acceptable.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from model.catalog import CatalogError, load_catalog
from state import ArmStats, UserState
from streams.runtime.settings import Settings

__all__ = ["CatalogWatch", "PopulationTally", "install_catalog_watch", "install_population"]

log = logging.getLogger(__name__)


class PopulationTally:
    """Arm statistics summed over users, fed with each applied event's change (plain
    numbers per arm while counting; :meth:`snapshot` makes them :class:`ArmStats`)."""

    _NONE = ArmStats()

    def __init__(self) -> None:
        # arm -> [impressions, conversions, reward_sum, last_seen_ms]
        self._arms: dict[str, list[float]] = {}
        self.changed = False

    def add_change(self, arm_id: str, before: UserState, after: UserState) -> None:
        """Add what one event changed in ``arm_id``'s statistics of one user."""
        old = before.arms.get(arm_id, self._NONE)
        new = after.arms.get(arm_id, self._NONE)
        total = self._arms.get(arm_id)
        if total is None:
            total = self._arms[arm_id] = [0.0, 0.0, 0.0, 0]
        total[0] += new.impressions - old.impressions
        total[1] += new.conversions - old.conversions
        total[2] += new.reward_sum - old.reward_sum
        if new.last_seen_ms > total[3]:
            total[3] = new.last_seen_ms
        self.changed = True

    def snapshot(self) -> dict[str, ArmStats]:
        self.changed = False
        return {
            arm: ArmStats(
                impressions=total[0],
                conversions=total[1],
                reward_sum=total[2],
                last_seen_ms=int(total[3]),
            )
            for arm, total in self._arms.items()
        }


def install_population(
    app: Any, holder: Any, tally: PopulationTally, interval_seconds: float = 5.0
) -> None:
    """Every ``interval_seconds``, serve the newest pooled statistics."""

    @app.timer(interval=interval_seconds)
    async def publish_population() -> None:
        if tally.changed:
            holder.engine = holder.engine.with_population(tally.snapshot())


class CatalogWatch:
    """Reloads the catalog file when it changes; a bad file keeps the old catalog."""

    def __init__(self, path: Path, holder: Any, metrics: Any) -> None:
        self.path, self.holder, self.metrics = path, holder, metrics
        self.mtime = self._mtime()

    def _mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def check(self) -> str:
        """``"unchanged"``, ``"swapped"`` or ``"failed"``."""
        mtime = self._mtime()
        if mtime == self.mtime:
            return "unchanged"
        self.mtime = mtime
        try:
            catalog = load_catalog(self.path)
        except CatalogError as exc:
            log.error("catalog reload refused, the old catalog keeps serving: %s", exc)
            self.metrics.catalog_reloads.labels("failed").inc()
            return "failed"
        engine = self.holder.engine.with_catalog(catalog)
        if hasattr(engine.scorer, "with_catalog"):
            engine = engine.with_scorer(engine.scorer.with_catalog(catalog))
        self.holder.swap(engine, f"catalog v{catalog.version} ({len(catalog.active_ids)} active)")
        self.metrics.catalog_reloads.labels("swapped").inc()
        return "swapped"


def install_catalog_watch(
    app: Any, settings: Settings, holder: Any, metrics: Any, interval_seconds: float = 5.0
) -> CatalogWatch | None:
    """Watch ``settings.catalog_path`` (nothing to watch with the built-in catalog)."""
    if settings.catalog_path is None:
        return None
    watch = CatalogWatch(Path(settings.catalog_path), holder, metrics)

    @app.timer(interval=interval_seconds)
    async def reload_catalog() -> None:
        watch.check()

    return watch
