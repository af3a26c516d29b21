"""The arm catalog: products x behavioural strategies, with their features.

An arm's id is ``"<product_id>:<strategy_id>"``. The catalog is an immutable value;
a catalog change at run time builds a new one and swaps it in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "FAMILIES",
    "Arm",
    "Catalog",
    "CatalogError",
    "Product",
    "Strategy",
    "load_catalog",
]

FAMILIES = ("decision_structure", "decision_information", "decision_assistance", "social_appeal")


_KEPT_LIMITS = 64  # risk limits whose eligible active arms are kept per catalog


class CatalogError(ValueError):
    """The catalog file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Product:
    product_id: str
    category: str
    expected_return: float
    risk_level: int  # 1 (safest) .. 5
    min_amount: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.risk_level <= 5:
            raise CatalogError(f"{self.product_id}: risk_level must be 1..5, got {self.risk_level}")


@dataclass(frozen=True)
class Strategy:
    strategy_id: str
    family: str
    framing: str = "neutral"  # gain | loss | neutral
    urgency: int = 0  # 0 none .. 2 high
    is_default: bool = False
    social_proof: bool = False
    gamified: bool = False
    incentive: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise CatalogError(f"{self.strategy_id}: family must be one of {FAMILIES}")


@dataclass(frozen=True)
class Arm:
    product: Product
    strategy: Strategy

    @property
    def arm_id(self) -> str:
        return f"{self.product.product_id}:{self.strategy.strategy_id}"


@dataclass(frozen=True)
class Catalog:
    """Arms in a fixed order (index = column of score arrays). Retired arms are kept
    (their statistics stay meaningful) but never offered."""

    arms: tuple[Arm, ...]
    retired: frozenset[str] = frozenset()
    version: int = 1
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _arm_ids: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _active_ids: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _risk: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _active_within: dict[float, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {arm.arm_id: i for i, arm in enumerate(self.arms)}
        if len(index) != len(self.arms):
            raise CatalogError("duplicate arm ids in catalog")
        unknown = self.retired - index.keys()
        if unknown:
            raise CatalogError(f"retired arms not in catalog: {sorted(unknown)}")
        # Computed once: the worker asks for these on every decision.
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_arm_ids", tuple(index))
        active = tuple(a for a in index if a not in self.retired)
        object.__setattr__(self, "_active_ids", active)
        object.__setattr__(self, "_risk", {a: self.arm(a).product.risk_level for a in index})
        object.__setattr__(self, "_active_within", {})

    def __contains__(self, arm_id: object) -> bool:
        return arm_id in self._index

    def __len__(self) -> int:
        return len(self.arms)

    def arm(self, arm_id: str) -> Arm:
        return self.arms[self._index[arm_id]]

    def index(self, arm_id: str) -> int:
        return self._index[arm_id]

    @property
    def arm_ids(self) -> tuple[str, ...]:
        return self._arm_ids

    @property
    def active_ids(self) -> tuple[str, ...]:
        return self._active_ids

    def within_risk(self, candidates: Sequence[str], max_risk: float) -> tuple[str, ...]:
        """The candidates whose product's risk level is at most ``max_risk``, in order.

        For the active arms (every request without its own candidates) the answer is
        kept per limit (a handful in practice; risk levels are integers 1..5, so limits
        with the same integer part share one tuple)."""
        if candidates is self._active_ids:
            kept = self._active_within.get(max_risk)
            if kept is not None:
                return kept
            return self._active_within_risk(max_risk)
        risk = self._risk
        return tuple(a for a in candidates if risk[a] <= max_risk)

    def _active_within_risk(self, max_risk: float) -> tuple[str, ...]:
        if not math.isfinite(max_risk):
            return self.within_risk(list(self._active_ids), max_risk)
        level = min(max(math.floor(max_risk), 0), 5)
        kept = self._active_within.get(level)
        if kept is None:
            kept = self.within_risk(list(self._active_ids), level)
        if len(self._active_within) >= _KEPT_LIMITS:
            self._active_within.clear()  # odd limits sent by requests: keep memory bounded
        self._active_within[level] = self._active_within[max_risk] = kept
        return kept

    def unknown(self, arm_ids: Iterable[str]) -> list[str]:
        return [a for a in arm_ids if a not in self._index]

    def with_arms(self, arms: Iterable[Arm]) -> Catalog:
        """A new catalog with ``arms`` appended (run-time catalog change)."""
        return Catalog((*self.arms, *arms), self.retired, self.version + 1)

    def with_retired(self, arm_ids: Iterable[str]) -> Catalog:
        return Catalog(self.arms, self.retired | frozenset(arm_ids), self.version + 1)


def _build(doc: Mapping[str, Any]) -> Catalog:
    try:
        products = {p["product_id"]: Product(**p) for p in doc["products"]}
        strategies = {s["strategy_id"]: Strategy(**s) for s in doc["strategies"]}
        pairs = doc.get("arms", "all")
        if pairs == "all":
            arms = [Arm(p, s) for p in products.values() for s in strategies.values()]
        else:
            arms = [Arm(products[p], strategies[s]) for p, s in (a.split(":", 1) for a in pairs)]
        return Catalog(tuple(arms), frozenset(doc.get("retired", [])), int(doc.get("version", 1)))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CatalogError):
            raise
        raise CatalogError(f"invalid catalog: {exc!r}") from exc


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load a catalog JSON file; ``None`` loads the catalog shipped with nudgeflow."""
    try:
        if path is None:
            text = resources.files("model").joinpath("data/catalog.json").read_text()
        else:
            text = Path(path).read_text()
        return _build(json.loads(text))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(f"cannot read catalog {path or '(built-in)'}: {exc}") from exc
