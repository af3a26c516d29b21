"""Serving: the two-tower model in numpy (no torch at serving time, DESIGN §5).

:class:`TwoTowerScorer` implements :class:`model.scoring.Scorer`. Arm embeddings of the
catalog are computed once when the scorer is built; a request costs one user-tower pass
and one (k, d) @ (d,) product. An arm the catalog does not know but whose id names a
known product and strategy (``product:strategy``) is embedded from its features on first
use; anything else gets the training base rate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.catalog import Arm, Catalog
from model.features import FeatureSpec
from model.twotower.artifact import Artifact, ArtifactError, load_artifact
from state import UserState

__all__ = ["NumpyTower", "TwoTowerScorer", "load_scorer", "validate_scorer"]

_ROWS_CACHE = 1024  # distinct candidate lists remembered
_LAYER = re.compile(r"^(user|arm)_tower\.(\d+)\.(weight|bias)$")


@dataclass(frozen=True)
class NumpyTower:
    """An MLP: ``layers`` of (weight (in, out), bias (out,)), ReLU between layers."""

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    @classmethod
    def from_weights(cls, weights: Mapping[str, np.ndarray], tower: str) -> NumpyTower:
        found: dict[int, dict[str, np.ndarray]] = {}
        for name, array in weights.items():
            match = _LAYER.match(name)
            if match and match.group(1) == tower:
                found.setdefault(int(match.group(2)), {})[match.group(3)] = array
        if not found or any(set(p) != {"weight", "bias"} for p in found.values()):
            raise ArtifactError(f"{tower} tower weights incomplete")
        layers = tuple(
            (np.ascontiguousarray(found[i]["weight"].T), found[i]["bias"]) for i in sorted(found)
        )
        for (w, _), (w_next, _) in zip(layers, layers[1:], strict=False):
            if w.shape[1] != w_next.shape[0]:
                raise ArtifactError(f"{tower} tower layer sizes do not chain")
        return cls(layers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x`` (..., in) -> (..., out)."""
        last = len(self.layers) - 1
        for i, (weight, bias) in enumerate(self.layers):
            x = x @ weight + bias
            if i < last:
                x = np.maximum(x, 0.0)
        return x


class TwoTowerScorer:
    """Scores arms for one user with exported weights; see the module docstring."""

    def __init__(self, artifact: Artifact, catalog: Catalog) -> None:
        self.artifact = artifact
        self.catalog = catalog
        self.spec: FeatureSpec = artifact.spec
        self.user_tower = NumpyTower.from_weights(artifact.weights, "user")
        self.arm_tower = NumpyTower.from_weights(artifact.weights, "arm")
        self.bias = float(np.asarray(artifact.weights["bias"]).reshape(-1)[0])
        self.slope, self.intercept = (float(v) for v in artifact.model["calibration"])
        self.base_rate = float(artifact.model.get("base_rate", 0.1))
        self._row = {arm_id: i for i, arm_id in enumerate(catalog.arm_ids)}
        self._embeddings = self.arm_tower(self.spec.encode_arms(catalog.arms)).astype(np.float32)
        self._products = {a.product.product_id: a.product for a in catalog.arms}
        self._strategies = {a.strategy.strategy_id: a.strategy for a in catalog.arms}
        self._rows_cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray | None]] = {}

    @property
    def version(self) -> str:
        return self.artifact.version

    @property
    def trained_at(self) -> float:
        return self.artifact.trained_at

    def with_catalog(self, catalog: Catalog) -> TwoTowerScorer:
        return TwoTowerScorer(self.artifact, catalog)

    def score(
        self, context: Mapping[str, Any], state: UserState, arm_ids: Sequence[str]
    ) -> np.ndarray:
        """Conversion probabilities, shape ``(len(arm_ids),)``."""
        user = self.user_tower(self.spec.encode_user(context, state))
        rows, missing = self._rows(arm_ids)
        probs = _sigmoid(self.slope * (self._embeddings[rows] @ user + self.bias) + self.intercept)
        return probs if missing is None else np.where(missing, self.base_rate, probs)

    def _rows(self, arm_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Embedding rows of ``arm_ids`` and a mask of arms that cannot be scored (None
        when all can); cached per candidate list, which repeats from request to request."""
        key = tuple(arm_ids)
        hit = self._rows_cache.get(key)
        if hit is None:
            rows = [self._row.get(a, -1) for a in key]
            rows = [r if r >= 0 else self._add_arm(a) for r, a in zip(rows, key, strict=True)]
            missing = np.asarray([r < 0 for r in rows], dtype=bool)
            hit = (np.asarray(rows, dtype=np.intp), missing if missing.any() else None)
            if len(self._rows_cache) < _ROWS_CACHE:
                self._rows_cache[key] = hit
        return hit

    def logits(self, users: np.ndarray, arms: np.ndarray) -> np.ndarray:
        """Calibrated logits of aligned rows: ``users`` (n, user_dim), ``arms`` (n, arm_dim)."""
        raw = (self.user_tower(users) * self.arm_tower(arms)).sum(-1) + self.bias
        return self.slope * raw + self.intercept

    def probabilities(self, users: np.ndarray, arms: np.ndarray) -> np.ndarray:
        return _sigmoid(self.logits(users, arms))

    def _add_arm(self, arm_id: str) -> int:
        """Embed an arm outside the catalog from its features; -1 when it cannot be."""
        product_id, _, strategy_id = arm_id.partition(":")
        product, strategy = self._products.get(product_id), self._strategies.get(strategy_id)
        if product is None or strategy is None:
            return -1
        embedding = self.arm_tower(self.spec.encode_arm(Arm(product, strategy)))
        self._embeddings = np.vstack([self._embeddings, embedding[None, :].astype(np.float32)])
        self._row[arm_id] = len(self._embeddings) - 1
        return self._row[arm_id]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0)))


def validate_scorer(scorer: TwoTowerScorer) -> None:
    """Sanity check before serving: finite probabilities in [0, 1] for every catalog arm,
    for an empty context and state. Raises :class:`ArtifactError`."""
    probs = scorer.score({}, UserState(), scorer.catalog.arm_ids)
    if probs.shape != (len(scorer.catalog),) or not np.isfinite(probs).all():
        raise ArtifactError(f"model {scorer.version} gives non-finite scores")
    if (probs < 0).any() or (probs > 1).any():
        raise ArtifactError(f"model {scorer.version} gives scores outside [0, 1]")


def load_scorer(path: str | Path, catalog: Catalog) -> TwoTowerScorer:
    """Load, verify and sanity-check the artifact at ``path`` for ``catalog``.
    Raises :class:`ArtifactError` with a clear message on any problem."""
    try:
        scorer = TwoTowerScorer(load_artifact(path), catalog)
    except ArtifactError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"artifact {path}: incompatible ({exc!r})") from None
    validate_scorer(scorer)
    return scorer
