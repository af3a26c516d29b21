"""The arm catalog: products x behavioural strategies, with their features.

An arm's id is ``"<product_id>:<strategy_id>"``, or, for an arm of another system known
by its id alone (an item of an exported log: ``"40"``), that id: a *plain* arm, listed
under ``"items"`` in the catalog file. A plain arm has neutral features (product =
the id, category ``item``, expected return 0; strategy ``item`` of no family), so a
model tells plain arms apart by their id only; its risk level is 1, the lowest: an item
of another system carries no product risk, so suitability rules never hide it. The
catalog is an immutable value; a catalog change at run time builds a new one and swaps
it in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
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
    "catalog_doc",
    "load_catalog",
    "plain_arm",
    "with_plain_arms",
]

FAMILIES = ("decision_structure", "decision_information", "decision_assistance", "social_appeal")
NO_FAMILY = "none"  # a plain arm's strategy: no behavioural family


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
        if self.family not in FAMILIES and self.family != NO_FAMILY:
            raise CatalogError(f"{self.strategy_id}: family must be one of {FAMILIES}")


@dataclass(frozen=True)
class Arm:
    product: Product
    strategy: Strategy
    plain_id: str | None = None  # an arm known by this id alone (see the module docstring)

    @property
    def arm_id(self) -> str:
        if self.plain_id is not None:
            return self.plain_id
        return f"{self.product.product_id}:{self.strategy.strategy_id}"


_ITEM = Strategy("item", NO_FAMILY)


def plain_arm(arm_id: str) -> Arm:
    """The arm of another system's id, with neutral features."""
    if not arm_id or len(arm_id) > 256:
        raise CatalogError(f"an arm id is 1 to 256 characters, not {arm_id!r}")
    return Arm(Product(arm_id, "item", 0.0, 1), _ITEM, arm_id)


def with_plain_arms(catalog: Catalog, arm_ids: Iterable[str]) -> Catalog:
    """``catalog`` with a plain arm for each id of ``arm_ids`` it lacks that is not a
    ``product:strategy`` id (those name arms of a catalog; they are left out)."""
    new = [a for a in dict.fromkeys(arm_ids) if a not in catalog and ":" not in a]
    return catalog.with_arms(plain_arm(a) for a in new) if new else catalog


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
        products = {p["product_id"]: Product(**p) for p in doc.get("products", [])}
        strategies = {s["strategy_id"]: Strategy(**s) for s in doc.get("strategies", [])}
        if "products" not in doc and "items" not in doc:
            raise CatalogError("invalid catalog: no products and no items")
        pairs = doc.get("arms", "all")
        if pairs == "all":
            arms = [Arm(p, s) for p in products.values() for s in strategies.values()]
        else:
            arms = [Arm(products[p], strategies[s]) for p, s in (a.split(":", 1) for a in pairs)]
        arms += [plain_arm(str(a)) for a in doc.get("items", [])]
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


def catalog_doc(catalog: Catalog) -> dict[str, Any]:
    """The JSON form of ``catalog`` (``load_catalog`` reads it back)."""
    structured = [a for a in catalog.arms if a.plain_id is None]
    products = {a.product.product_id: asdict(a.product) for a in structured}
    strategies = {a.strategy.strategy_id: asdict(a.strategy) for a in structured}
    doc: dict[str, Any] = {"version": catalog.version}
    if structured:
        doc |= {
            "products": list(products.values()),
            "strategies": list(strategies.values()),
            "arms": [a.arm_id for a in structured],
        }
    doc["items"] = [a.arm_id for a in catalog.arms if a.plain_id is not None]
    if catalog.retired:
        doc["retired"] = sorted(catalog.retired)
    return doc
