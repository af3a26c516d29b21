"""Fit, evaluate and write one model version: examples in, artifact directory out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.catalog import Catalog
from model.features import FeatureSpec, fit_spec
from model.scoring import Scorer
from model.twotower.artifact import Artifact, check_version, write_artifact
from model.twotower.dataset import Example, data_range, encode_examples
from model.twotower.evaluation import evaluate, permutation_importance
from model.twotower.report import render_report
from model.twotower.scorer import TwoTowerScorer
from model.twotower.train import TrainConfig, TrainedModel, train

__all__ = ["FitResult", "evaluate_scorer", "fit", "judged_examples", "new_version", "write"]

JUDGED_RANDOMIZED = "randomized"  # metrics["judged_on"]: held-out randomized exposures only
JUDGED_ALL = "all"  # no randomized exposure held out: every held-out example


@dataclass(frozen=True)
class FitResult:
    artifact: Artifact  # in memory (path "<unsaved>") until written
    trained: TrainedModel
    metrics: dict[str, Any]


def new_version(now: float | None = None) -> str:
    """Sortable by time: ``20250101T120000Z-1a2b3c``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def fit(
    train_examples: Sequence[Example],
    holdout: Sequence[Example],
    catalog: Catalog,
    config: TrainConfig,
    *,
    version: str | None = None,
    split: str = "user",
    threshold: float = 0.5,
    progress: bool = False,
) -> FitResult:
    """Fit a spec and a model on ``train_examples``; evaluate on ``holdout`` (on its
    randomized exposures only when it has any: see :func:`judged_examples`)."""
    if not train_examples:
        raise ValueError("no training examples (no impressed decisions in the data)")
    spec = fit_spec([e.context for e in train_examples], catalog)
    data = encode_examples(list(train_examples), spec, catalog)
    if len(data) == 0:
        raise ValueError("no training example shows an arm of the catalog")
    trained = train(data, config, progress=progress)
    artifact = _in_memory(
        trained, spec, data_range(list(train_examples)), version or new_version(), data
    )
    scorer = TwoTowerScorer(artifact, catalog)
    metrics = _metrics(scorer, spec, list(holdout), catalog, threshold)
    metrics["objective"], metrics["split"] = config.objective, split
    metrics["examples_per_second"], metrics["history"] = (
        trained.examples_per_second,
        trained.history,
    )
    return FitResult(_replace_metrics(artifact, metrics), trained, metrics)


def write(result: FitResult, model_dir: Path) -> Path:
    """Publish ``result`` as ``<model_dir>/<version>``; returns the directory."""
    a = result.artifact
    return write_artifact(
        model_dir, a.version, weights=a.weights, model=a.model, spec=a.spec, data=a.data,
        metrics=a.metrics, extras=render_report(a.version, a.metrics, a.data),
    )  # fmt: skip


def judged_examples(holdout: Sequence[Example]) -> tuple[list[Example], str]:
    """The held-out examples a model is judged on, and which (``JUDGED_*``).

    Targeted (confounded) exposures inherit the logging policy's bias: a model fooled by
    it looks well calibrated and ranks well on more of the same (the source post's trap).
    So when the held-out data has randomized exposures, only those judge the model."""
    randomized = [e for e in holdout if e.randomized]
    if randomized:
        return randomized, JUDGED_RANDOMIZED
    return list(holdout), JUDGED_ALL


def evaluate_scorer(
    scorer: Scorer, examples: Sequence[Example], threshold: float = 0.5
) -> dict[str, Any]:
    """Metrics of any scorer (e.g. the one serving now) on raw examples, one call each."""
    probs = np.asarray([scorer.score(e.context, e.state, [e.arm_id])[0] for e in examples], float)
    labels = np.asarray([e.label for e in examples], float)
    return evaluate(labels, probs, threshold)


def _in_memory(
    trained: TrainedModel, spec: FeatureSpec, data: dict[str, Any], version: str, encoded: Any
) -> Artifact:
    trained_at = time.time()
    model: dict[str, Any] = {
        "version": check_version(version),
        "trained_at": trained_at,
        "network": trained.network.to_dict(),
        "train": trained.config.to_dict(),
        "calibration": list(trained.calibration),
        "base_rate": float(np.mean(encoded.labels)),
    }
    return Artifact(Path("<unsaved>"), version, trained_at, trained.weights, spec, model, {}, data)


def _replace_metrics(artifact: Artifact, metrics: dict[str, Any]) -> Artifact:
    from dataclasses import replace

    return replace(artifact, metrics=metrics)


def _metrics(
    scorer: TwoTowerScorer,
    spec: FeatureSpec,
    holdout: list[Example],
    catalog: Catalog,
    threshold: float,
) -> dict[str, Any]:
    judged, judged_on = judged_examples(holdout)
    data = encode_examples(judged, spec, catalog)
    if len(data) == 0:
        return {"examples": 0, "note": "no held-out examples"}
    arms = data.arms[data.arm_index]
    metrics = evaluate(data.labels, scorer.probabilities(data.users, arms), threshold)
    metrics["judged_on"], metrics["held_out"] = judged_on, len(holdout)
    groups = {n: ("user", c) for n, c in spec.user_groups().items()}
    groups.update({n: ("arm", c) for n, c in spec.arm_groups().items()})
    metrics["importance"] = permutation_importance(
        scorer.probabilities, data.users, arms, data.labels, groups, np.random.default_rng(0)
    )
    return metrics
