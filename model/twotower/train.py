"""The training loop (torch): pointwise, item-wise pairwise, or both.

Objectives (``TrainConfig.objective``):
- ``pointwise``: BCE on every logged exposure (optionally inverse-propensity weighted).
- ``pairwise``: the item-wise ranking loss on randomized exposures only; the scale of
  its logits is arbitrary, so a Platt calibration ``p = sigmoid(a * logit + b)`` is fitted
  afterwards on the randomized exposures.
- ``both``: BCE on every exposure plus ``pairwise_weight`` times the pairwise loss.

Arm id dropout: with probability ``id_dropout`` an example's arm is encoded with its ids
masked, so the ``<other>`` id slot learns what an unseen arm of those features is worth
(cold start from features alone).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from model.twotower.dataset import EncodedExamples
from model.twotower.losses import (
    itemwise_pairwise,
    pointwise_bce,
    propensity_weights,
    sample_itemwise_pairs,
)
from model.twotower.network import NetworkConfig, TwoTower, export_weights

__all__ = ["OBJECTIVES", "TrainConfig", "TrainedModel", "fit_platt", "train"]

OBJECTIVES = ("pointwise", "pairwise", "both")


@dataclass(frozen=True)
class TrainConfig:
    objective: str = "pointwise"
    epochs: int = 5
    batch_size: int = 512
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    hidden: tuple[int, ...] = (64,)
    embedding_dim: int = 32
    propensity_weighting: bool = False
    max_propensity_weight: float = 20.0
    pairs_per_example: float = 4.0  # pairwise: pairs drawn per randomized exposure per epoch
    pairwise_weight: float = 1.0
    id_dropout: float = 0.1
    seed: int = 0
    threads: int | None = 1  # small towers gain nothing from intra-op threads; None = torch default

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        if not 0.0 <= self.id_dropout <= 1.0:
            raise ValueError("id_dropout must be in [0, 1]")
        if self.learning_rate <= 0:
            raise ValueError("learning_rate must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hidden": list(self.hidden)}


@dataclass
class TrainedModel:
    """Exported numpy weights plus how to turn logits into probabilities."""

    weights: dict[str, np.ndarray]
    network: NetworkConfig
    config: TrainConfig
    calibration: tuple[float, float] = (1.0, 0.0)  # p = sigmoid(a * logit + b)
    history: list[dict[str, float]] = field(default_factory=list)
    examples_per_second: float = 0.0


def train(data: EncodedExamples, config: TrainConfig, *, progress: bool = False) -> TrainedModel:
    """Fit a two-tower model on ``data``; deterministic for a given ``config.seed``."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    network = NetworkConfig(
        data.users.shape[1], data.arms.shape[1], config.hidden, config.embedding_dim
    )
    model = TwoTower(network)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    tensors = _Tensors.of(data, config)
    history, seen, seconds = [], 0, 0.0
    bar = tqdm(range(config.epochs), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        started = _now()
        loss, count = _epoch(model, optimizer, tensors, data, config, rng)
        seconds += _now() - started
        seen += count
        history.append({"epoch": float(epoch + 1), "loss": loss})
        bar.set_postfix(loss=f"{loss:.4f}")
    model.eval()
    calibration = (1.0, 0.0)
    if config.objective == "pairwise":
        calibration = _platt_on_randomized(model, tensors, data)
    return TrainedModel(
        export_weights(model), network, config, calibration, history, seen / max(seconds, 1e-9)
    )


@dataclass(frozen=True)
class _Tensors:
    users: torch.Tensor
    arms: torch.Tensor
    arms_hidden: torch.Tensor
    arm_index: torch.Tensor
    labels: torch.Tensor
    weights: torch.Tensor | None

    @classmethod
    def of(cls, data: EncodedExamples, config: TrainConfig) -> _Tensors:
        weights = None
        if config.propensity_weighting:
            weights = torch.from_numpy(
                propensity_weights(data.propensity, config.max_propensity_weight)
            )
        return cls(
            torch.from_numpy(data.users),
            torch.from_numpy(data.arms),
            torch.from_numpy(data.arms_hidden),
            torch.from_numpy(data.arm_index),
            torch.from_numpy(data.labels),
            weights,
        )

    def arm_rows(self, index: torch.Tensor, hide: torch.Tensor | None) -> torch.Tensor:
        rows = self.arms[self.arm_index[index]]
        if hide is None:
            return rows
        hidden = self.arms_hidden[self.arm_index[index]]
        return torch.where(hide[:, None], hidden, rows)

    def logits(self, model: TwoTower, index: torch.Tensor, dropout: float) -> torch.Tensor:
        hide = torch.rand(len(index)) < dropout if dropout > 0 else None
        return model(self.users[index], self.arm_rows(index, hide))


def _epoch(
    model: TwoTower,
    optimizer: torch.optim.Optimizer,
    t: _Tensors,
    data: EncodedExamples,
    config: TrainConfig,
    rng: np.random.Generator,
) -> tuple[float, int]:
    """One pass; returns (mean loss, examples processed)."""
    model.train()
    point = np.arange(len(data)) if config.objective != "pairwise" else np.zeros(0, np.int64)
    point = rng.permutation(point)
    better, worse = _pairs(data, config, rng)
    batches = max(
        math.ceil(len(point) / config.batch_size), math.ceil(len(better) / config.batch_size), 1
    )
    total, seen = 0.0, 0
    for b in range(batches):
        loss = _batch_loss(
            model,
            t,
            config,
            _slice(point, b, batches),
            _slice(better, b, batches),
            _slice(worse, b, batches),
        )
        if loss is None:
            continue
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += float(loss.detach())
        seen += config.batch_size
    return total / batches, min(seen, len(point) + 2 * len(better))


def _slice(index: np.ndarray, b: int, batches: int) -> torch.Tensor:
    size = math.ceil(len(index) / batches)
    return torch.from_numpy(index[b * size : (b + 1) * size])


def _batch_loss(
    model: TwoTower,
    t: _Tensors,
    config: TrainConfig,
    point: torch.Tensor,
    better: torch.Tensor,
    worse: torch.Tensor,
) -> torch.Tensor | None:
    loss: torch.Tensor | None = None
    if len(point):
        weights = t.weights[point] if t.weights is not None else None
        loss = pointwise_bce(t.logits(model, point, config.id_dropout), t.labels[point], weights)
    if len(better):
        pair_weights = None
        if t.weights is not None:
            pair_weights = t.weights[better] * t.weights[worse]
        pairwise = itemwise_pairwise(
            t.logits(model, better, config.id_dropout),
            t.logits(model, worse, config.id_dropout),
            pair_weights,
        )
        pairwise = config.pairwise_weight * pairwise
        loss = pairwise if loss is None else loss + pairwise
    return loss


def _pairs(
    data: EncodedExamples, config: TrainConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    if config.objective == "pointwise":
        empty = np.zeros(0, np.int64)
        return empty, empty
    slice_ = np.flatnonzero(data.randomized)
    count = round(config.pairs_per_example * len(slice_))
    i, j = sample_itemwise_pairs(
        data.product[slice_], data.strategy[slice_], data.labels[slice_], count, rng
    )
    return slice_[i], slice_[j]


def _platt_on_randomized(
    model: TwoTower, t: _Tensors, data: EncodedExamples
) -> tuple[float, float]:
    index = np.flatnonzero(data.randomized)
    if len(index) == 0:
        return (1.0, 0.0)
    with torch.no_grad():
        logits = t.logits(model, torch.from_numpy(index), 0.0).numpy()
    return fit_platt(logits, data.labels[index])


def fit_platt(logits: np.ndarray, labels: np.ndarray, steps: int = 50) -> tuple[float, float]:
    """``(a, b)`` minimising log loss of ``sigmoid(a * logit + b)`` (Newton's method, with a
    small ridge); ``a`` is kept positive so the ranking is never reversed."""
    x = np.stack([np.asarray(logits, np.float64), np.ones(len(logits))], axis=1)
    y = np.asarray(labels, np.float64)
    theta = np.array([1.0, 0.0])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ theta)))
        grad = x.T @ (p - y) + 1e-3 * theta
        hess = (x * (p * (1 - p))[:, None]).T @ x + 1e-3 * np.eye(2)
        theta = theta - np.linalg.solve(hess, grad)
    a, b = float(theta[0]), float(theta[1])
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        rate = float(np.clip(y.mean(), 1e-4, 1 - 1e-4))
        return (1e-6, math.log(rate / (1 - rate)))
    return (a, b)


def _now() -> float:
    import time

    return time.perf_counter()
