"""The two-tower network (torch): user tower and arm tower into one embedding space.

``logit = <user_tower(u), arm_tower(a)> + bias``; the predicted conversion probability is
``sigmoid(logit)``. The scalar ``bias`` is a constant folded into the dot product (an
extra embedding coordinate fixed to 1 on the arm side); pairwise losses ignore it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["NetworkConfig", "TwoTower", "export_weights"]


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the towers. ``hidden`` lists hidden layer widths (ReLU between layers)."""

    user_dim: int
    arm_dim: int
    hidden: tuple[int, ...] = (64,)
    embedding_dim: int = 32

    def __post_init__(self) -> None:
        if self.user_dim < 1 or self.arm_dim < 1 or self.embedding_dim < 1:
            raise ValueError(f"all sizes must be >= 1: {self}")
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be >= 1: {self.hidden}")

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "hidden": list(self.hidden)}


def _tower(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class TwoTower(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.user_tower = _tower(config.user_dim, config.hidden, config.embedding_dim)
        self.arm_tower = _tower(config.arm_dim, config.hidden, config.embedding_dim)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, users: torch.Tensor, arms: torch.Tensor) -> torch.Tensor:
        """``users`` (B, user_dim), ``arms`` (B, arm_dim) -> logits (B,)."""
        return (self.user_tower(users) * self.arm_tower(arms)).sum(-1) + self.bias

    def score_matrix(self, users: torch.Tensor, arms: torch.Tensor) -> torch.Tensor:
        """``users`` (B, user_dim), ``arms`` (N, arm_dim) -> logits (B, N)."""
        return self.user_tower(users) @ self.arm_tower(arms).T + self.bias


def export_weights(model: TwoTower) -> dict[str, np.ndarray]:
    """Float32 numpy copies of every parameter, keyed like the state dict
    (``user_tower.0.weight``, ..., ``bias``): what the numpy scorer serves from."""
    return {
        name: tensor.detach().cpu().numpy().astype(np.float32, copy=True)
        for name, tensor in model.state_dict().items()
    }
