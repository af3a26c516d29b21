"""The user features the online model reads: a fixed encoding of the request context.

Unlike the two-tower's :class:`model.features.FeatureSpec`, nothing here is fitted: the
online model starts before any data exists, so each numeric key has a documented centre
and scale (``log`` first for skewed amounts), each categorical key a vocabulary. Unknown
keys are ignored; a missing or non-numeric value encodes as the centre (0), an unknown
category as all zeros. The first column is a constant 1 (the intercept).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DEFAULT_CATEGORICAL", "DEFAULT_NUMERIC", "ContextEncoder", "Numeric"]

_CLIP = 4.0


@dataclass(frozen=True)
class Numeric:
    """``(value or log(value) - centre) / scale``, clipped to [-4, 4]."""

    key: str
    centre: float
    scale: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"{self.key}: scale must be > 0")

    def encode(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return 0.0
        if not math.isfinite(value) or (self.log and value <= 0):
            return 0.0
        x = math.log(value) if self.log else float(value)
        return min(max((x - self.centre) / self.scale, -_CLIP), _CLIP)


# the contract's documented context keys (``DESIGN.md`` section 3), at retail-bank scales
DEFAULT_NUMERIC = (
    Numeric("age", 42.0, 13.0),
    Numeric("income", math.log(38_000.0), 0.5, log=True),
    Numeric("risk_tolerance", 3.0, 1.1),
    Numeric("phone_active_time", math.log(150.0), 0.5, log=True),
    Numeric("risky_investment", 0.0, 1.0),
)
DEFAULT_CATEGORICAL: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("region", ("seoul", "gyeonggi", "busan", "incheon", "daegu", "other")),
)


@dataclass(frozen=True)
class ContextEncoder:
    """Context mapping -> ``(dim,)`` float64: ``[1, numerics..., one-hots...]``."""

    numeric: tuple[Numeric, ...] = DEFAULT_NUMERIC
    categorical: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_CATEGORICAL

    @property
    def dim(self) -> int:
        return 1 + len(self.numeric) + sum(len(vocab) for _, vocab in self.categorical)

    def encode(self, context: Mapping[str, Any]) -> np.ndarray:
        values = [1.0] + [n.encode(context.get(n.key)) for n in self.numeric]
        for key, vocab in self.categorical:
            hot = [0.0] * len(vocab)
            value = context.get(key)
            if value in vocab:
                hot[vocab.index(value)] = 1.0
            values += hot
        return np.asarray(values)
