"""Arm traits as arrays (one row per catalog arm) and large synthetic catalogs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.catalog import FAMILIES, Arm, Catalog, Product, Strategy

__all__ = ["CATEGORIES", "ArmTable", "arm_table", "synthetic_catalog"]

CATEGORIES = ("savings", "investment", "insurance", "credit")


@dataclass(frozen=True)
class ArmTable:
    """Per-arm arrays aligned with ``catalog.arms`` (``m`` arms).

    ``product`` / ``strategy`` int32 ``(m,)``: index of the arm's product / strategy in
    ``product_ids`` / ``strategy_ids``; ``category`` and ``family`` int8 ``(m,)``: index into
    :data:`CATEGORIES` / ``FAMILIES``; ``risk_level`` int8 ``(m,)``; ``traits`` float32
    ``(m, 10)``: the arm's side of the bilinear response (see ``model.simulator.truth``).
    """

    arm_ids: tuple[str, ...]
    product_ids: tuple[str, ...]
    strategy_ids: tuple[str, ...]
    product: np.ndarray
    strategy: np.ndarray
    category: np.ndarray
    family: np.ndarray
    risk_level: np.ndarray
    expected_return: np.ndarray
    traits: np.ndarray

    def __len__(self) -> int:
        return len(self.arm_ids)


def _category(product: Product) -> int:
    return CATEGORIES.index(product.category) if product.category in CATEGORIES else 0


def arm_table(catalog: Catalog) -> ArmTable:
    """Arrays of ``catalog``'s arms (retired ones included, so indexes match the catalog)."""
    arms = catalog.arms
    product_ids = tuple(dict.fromkeys(a.product.product_id for a in arms))
    strategy_ids = tuple(dict.fromkeys(a.strategy.strategy_id for a in arms))
    category = np.array([_category(a.product) for a in arms], np.int8)
    family = np.array([FAMILIES.index(a.strategy.family) for a in arms], np.int8)
    traits = np.zeros((len(arms), 10), np.float32)
    traits[np.arange(len(arms)), category] = 1.0
    traits[np.arange(len(arms)), 4 + family] = 1.0
    traits[:, 8] = [a.strategy.framing == "loss" for a in arms]
    traits[:, 9] = [a.strategy.urgency / 2 for a in arms]
    return ArmTable(
        arm_ids=catalog.arm_ids,
        product_ids=product_ids,
        strategy_ids=strategy_ids,
        product=np.array([product_ids.index(a.product.product_id) for a in arms], np.int32),
        strategy=np.array([strategy_ids.index(a.strategy.strategy_id) for a in arms], np.int32),
        category=category,
        family=family,
        risk_level=np.array([a.product.risk_level for a in arms], np.int8),
        expected_return=np.array([a.product.expected_return for a in arms], np.float32),
        traits=traits,
    )


def synthetic_catalog(n_products: int, n_strategies: int, seed: int = 0) -> Catalog:
    """``n_products x n_strategies`` arms with varied categories, risks and strategies,
    e.g. ``synthetic_catalog(40, 25)`` for 1,000 arms."""
    if n_products < 1 or n_strategies < 1:
        raise ValueError("n_products and n_strategies must be >= 1")
    rng = np.random.default_rng(seed)
    products = [
        Product(
            product_id=f"p{i:04d}",
            category=CATEGORIES[i % 4],
            expected_return=round(float(rng.uniform(0, 0.12)), 4),
            risk_level=int(rng.integers(1, 6)),
        )
        for i in range(n_products)
    ]
    strategies = [
        Strategy(
            strategy_id=f"s{j:03d}",
            family=FAMILIES[j % 4],
            framing=("neutral", "gain", "loss")[int(rng.integers(3))],
            urgency=int(rng.integers(3)),
            is_default=j % 4 == 0,
            social_proof=j % 4 == 3,
            gamified=j % 4 == 2 and bool(rng.random() < 0.5),
            incentive=j % 4 == 2,
        )
        for j in range(n_strategies)
    ]
    return Catalog(tuple(Arm(p, s) for p in products for s in strategies))
