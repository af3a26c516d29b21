"""Hot swap of the two-tower model in a running worker.

``install_refresh(app, settings, holder, metrics)``:
1. at once (before the worker consumes): loads the newest valid artifact of
   ``settings.model_dir``, if any, and swaps it in;
2. adds a Faust task that reads every announcement on the ``model-updates`` topic (each
   worker reads the whole topic with its own group-less consumer: every worker must see
   every update), loads the announced artifact in a thread (never on the event loop),
   validates it (checksums, shapes, finite scores for every catalog arm) and swaps the
   engine's scorer with ``EngineHolder.swap`` -- one assignment between two events, so
   every decision is made wholly by the old or wholly by the new model. A failed load
   keeps the old model serving.

Metrics: ``nudge_model_info{version}``, ``nudge_model_trained_timestamp_seconds`` and
``nudge_model_refresh_total{outcome}`` with outcome ``swapped``, ``unchanged`` (already
serving that version), ``failed`` or ``refused`` (an announced path outside the model
directory: whoever can write to the topic must not point workers at any directory).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from model.catalog import Catalog
from model.twotower.artifact import ArtifactError, newest_valid
from model.twotower.scorer import TwoTowerScorer, load_scorer, validate_scorer
from streams.runtime.metrics import Metrics
from streams.runtime.settings import Settings

__all__ = ["REFRESH_OUTCOMES", "ModelRefresher", "RefusedUpdate", "install_refresh"]

log = logging.getLogger(__name__)
REFRESH_OUTCOMES = ("swapped", "unchanged", "failed", "refused")


class RefusedUpdate(ValueError):
    """An announcement naming an artifact outside the configured model directory."""


class ModelRefresher:
    """Loads, validates and swaps models into an ``EngineHolder``; counts every attempt."""

    def __init__(self, settings: Settings, holder: Any, metrics: Metrics) -> None:
        self.settings, self.holder, self.metrics = settings, holder, metrics
        for outcome in REFRESH_OUTCOMES:
            metrics.model_refreshes.labels(outcome)

    @property
    def serving_version(self) -> str:
        return str(self.holder.engine.scorer.version)

    def newest_scorer(self) -> TwoTowerScorer | None:
        """The newest valid artifact of the model directory as a scorer, when it was
        trained after the serving model (blocking: call it off the event loop)."""
        artifact, errors = newest_valid(self.settings.model_dir)
        for error in errors:
            log.warning("skipping broken model artifact: %s", error)
        serving_at = float(getattr(self.holder.engine.scorer, "trained_at", 0.0))
        if artifact is None or artifact.trained_at <= serving_at:
            return None
        try:
            scorer = TwoTowerScorer(artifact, self.holder.engine.catalog)
            validate_scorer(scorer)
        except (ArtifactError, ValueError, KeyError) as exc:
            log.error("model %s not loaded: %s", artifact.version, exc)
            self.metrics.model_refreshes.labels("failed").inc()
            return None
        return scorer

    def load_newest(self) -> bool:
        """Swap in :meth:`newest_scorer` (at startup, before any event is consumed)."""
        scorer = self.newest_scorer()
        if scorer is not None:
            self.swap(scorer, "startup")
        return scorer is not None

    async def apply_update(self, payload: bytes | None) -> str:
        """Handle one ``model-updates`` message on an event loop (the Faust engine): the
        artifact loads in a thread, the swap happens on the loop; returns the outcome."""
        loop = asyncio.get_running_loop()
        return await self._apply(payload, lambda path: loop.run_in_executor(None, self.load, path))

    def apply_update_blocking(self, payload: bytes | None) -> str:
        """Handle one ``model-updates`` message in the calling thread (the maintenance
        thread of the Quix engine, the only thread that swaps engines there)."""

        async def load(path: Path) -> TwoTowerScorer:
            return self.load(path)

        return asyncio.run(self._apply(payload, load))

    async def _apply(self, payload: bytes | None, load: Any) -> str:
        try:
            version, path = _parse_update(payload, self.settings.model_dir)
            if version == self.serving_version:
                outcome = "unchanged"
            else:
                scorer = await load(path)
                if scorer.version != version:
                    raise ArtifactError(f"{path} holds version {scorer.version}, not {version}")
                self.swap(self._current_catalog(scorer), "announced")
                outcome = "swapped"
        except RefusedUpdate as exc:
            log.warning("model update refused, %s keeps serving: %s", self.serving_version, exc)
            outcome = "refused"
        except (ArtifactError, ValueError, OSError) as exc:
            log.error("model update failed, %s keeps serving: %s", self.serving_version, exc)
            outcome = "failed"
        self.metrics.model_refreshes.labels(outcome).inc()
        return outcome

    def load(self, path: Path) -> TwoTowerScorer:
        """Load and validate an artifact against the serving catalog (blocking)."""
        return load_scorer(path, self.holder.engine.catalog)

    def _current_catalog(self, scorer: TwoTowerScorer) -> TwoTowerScorer:
        catalog: Catalog = self.holder.engine.catalog
        if scorer.catalog is not catalog:  # the catalog changed while loading
            scorer = scorer.with_catalog(catalog)
        return scorer

    def swap(self, scorer: TwoTowerScorer, why: str) -> None:
        self.holder.swap(self.holder.engine.with_scorer(scorer), f"model {scorer.version} ({why})")
        self.metrics.model_info.info({"version": scorer.version})
        self.metrics.model_trained_timestamp.set(scorer.trained_at)
        log.info("serving model %s (%s)", scorer.version, why)


def _parse_update(payload: bytes | None, model_dir: Path) -> tuple[str, Path]:
    """``{"version": ..., "path": ...}`` -> (version, artifact directory). A path that
    does not exist here (another machine's mount) falls back to ``model_dir/version``.
    Whichever it is must lie inside ``model_dir`` once symlinks are resolved, else
    :class:`RefusedUpdate`: the topic is not trusted to choose what a worker loads."""
    try:
        message = json.loads(payload or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"model update is not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("version"), str):
        raise ValueError("model update lacks a string 'version'")
    version = message["version"]
    root = Path(model_dir).resolve()
    path = Path(str(message.get("path") or root / version))
    if not path.is_dir():
        path = root / version
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise RefusedUpdate(f"{path} is outside the model directory {root}")
    return version, resolved


def install_refresh(app: Any, settings: Settings, holder: Any, metrics: Metrics) -> ModelRefresher:
    """Load the newest model now and follow ``model-updates`` while ``app`` runs."""
    refresher = ModelRefresher(settings, holder, metrics)
    refresher.load_newest()
    metrics.model_info.info({"version": refresher.serving_version})

    @app.task
    async def follow_model_updates() -> None:
        await _follow(refresher, settings)

    return refresher


async def _follow(refresher: ModelRefresher, settings: Settings) -> None:
    from aiokafka import TopicPartition

    from streams.runtime.kafka import make_aiokafka_consumer

    topic = settings.topic("model-updates")
    consumer = make_aiokafka_consumer(settings, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetch metadata
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or {0}]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)
        # an announcement made between startup and now was missed: look at the disk again
        scorer = await asyncio.get_running_loop().run_in_executor(None, refresher.newest_scorer)
        if scorer is not None:
            refresher.swap(scorer, "found on disk")
        async for message in consumer:
            await refresher.apply_update(message.value)
    finally:
        await consumer.stop()
