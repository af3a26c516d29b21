"""The arms an evaluation indexes: a catalog's ``product:strategy`` arms, or a log's own ids.

A real export names its arms as it likes (item ``14``, not ``index_fund:social_proof``).
Evaluation works with whatever ids the log holds: from a catalog (products give the
per-product lift), from a list given by the user, or derived from the log itself.
Arms of the log outside the chosen set are an error by default (:func:`split_known`),
naming how many rounds and which ids, since leaving them out biases IPS.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from model.catalog import Catalog

__all__ = [
    "ArmSpace",
    "UnknownArmsError",
    "arm_space",
    "natural_order",
    "split_known",
    "split_known_codes",
]

_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


class UnknownArmsError(ValueError):
    """The log shows arms the evaluation does not know."""


@dataclass(frozen=True)
class ArmSpace:
    """``arm_ids`` in column order; ``item_of_arm`` (n_arms,) indexes ``product_ids``.
    ``structured``: the arms are a catalog's ``product:strategy`` (products are items with
    several strategies each); plain ids are each their own item. ``source`` says where
    the arms came from, for the report."""

    arm_ids: tuple[str, ...]
    item_of_arm: np.ndarray
    product_ids: tuple[str, ...]
    structured: bool
    source: str

    @classmethod
    def from_catalog(cls, catalog: Catalog, source: str = "catalog") -> ArmSpace:
        products = tuple(dict.fromkeys(a.product.product_id for a in catalog.arms))
        index = {p: i for i, p in enumerate(products)}
        items = np.array([index[a.product.product_id] for a in catalog.arms], np.int64)
        return cls(catalog.arm_ids, items, products, True, source)

    @classmethod
    def plain(cls, arm_ids: Iterable[str], source: str) -> ArmSpace:
        ids = tuple(dict.fromkeys(str(a) for a in arm_ids))
        if not ids:
            raise ValueError("no arms given")
        return cls(ids, np.arange(len(ids), dtype=np.int64), ids, False, source)

    @classmethod
    def derived(cls, arm_ids: Iterable[str]) -> ArmSpace:
        """The distinct ids seen in a log, in natural order (``2`` before ``10``)."""
        ids = natural_order(set(arm_ids))
        if ids and all(":" in a for a in ids):  # product:strategy, as our own logs
            products = tuple(dict.fromkeys(a.split(":", 1)[0] for a in ids))
            where = {p: i for i, p in enumerate(products)}
            items = np.array([where[a.split(":", 1)[0]] for a in ids], np.int64)
            return cls(tuple(ids), items, products, True, "derived from the log")
        return cls.plain(ids, "derived from the log")

    @property
    def n_arms(self) -> int:
        return len(self.arm_ids)


def arm_space(arms: ArmSpace | Catalog | Sequence[str] | None, seen: Iterable[str]) -> ArmSpace:
    """The arms an evaluation indexes: ``arms`` (a catalog, plain ids), else the ids
    ``seen`` in the log."""
    if arms is None:
        return ArmSpace.derived(seen)
    if isinstance(arms, ArmSpace):
        return arms
    if isinstance(arms, Catalog):
        return ArmSpace.from_catalog(arms)
    return ArmSpace.plain(arms, "given")


def natural_order(ids: Iterable[str]) -> list[str]:
    """Numbers by value first, then the rest as text."""

    def key(arm: str) -> tuple[int, float, str]:
        return (0, float(arm), arm) if _NUMBER.fullmatch(arm) else (1, 0.0, arm)

    return sorted(ids, key=key)


def split_known(
    arm_ids: Sequence[str], space: ArmSpace, *, drop_unknown: bool
) -> tuple[np.ndarray, np.ndarray, Counter[str]]:
    """``(keep (n,) bool, action (n,) int64, dropped arm -> rounds)`` of logged rounds.

    An arm outside ``space`` is an :class:`UnknownArmsError` with counts and examples,
    unless ``drop_unknown``; then its rounds are left out and counted in ``dropped``."""
    index = {a: i for i, a in enumerate(space.arm_ids)}
    action = np.fromiter((index.get(a, -1) for a in arm_ids), np.int64, len(arm_ids))
    keep = action >= 0
    dropped: Counter[str] = Counter(a for a, k in zip(arm_ids, keep, strict=True) if not k)
    if dropped and not drop_unknown:
        raise UnknownArmsError(_unknown_message(dropped, len(arm_ids), space))
    if not keep.any():
        raise UnknownArmsError(_unknown_message(dropped, len(arm_ids), space))
    return keep, action[keep], dropped


def split_known_codes(
    table: Sequence[str], codes: np.ndarray, space: ArmSpace, *, drop_unknown: bool
) -> tuple[np.ndarray, np.ndarray, Counter[str]]:
    """:func:`split_known` of the arm ids ``table[codes]`` (``codes`` (n,) int), with
    the same result and the same error, counting distinct ids instead of rows."""
    index = {a: i for i, a in enumerate(space.arm_ids)}
    action = np.array([index.get(a, -1) for a in table], np.int64)[codes]
    keep = action >= 0
    unknown, first, counts = np.unique(codes[~keep], return_index=True, return_counts=True)
    dropped: Counter[str] = Counter()
    for k in np.argsort(first, kind="stable").tolist():  # in order of first appearance
        dropped[table[unknown[k]]] = int(counts[k])
    if dropped and not drop_unknown:
        raise UnknownArmsError(_unknown_message(dropped, len(codes), space))
    if not keep.any():
        raise UnknownArmsError(_unknown_message(dropped, len(codes), space))
    return keep, action[keep], dropped


def _unknown_message(dropped: Counter[str], total: int, space: ArmSpace) -> str:
    seen = ", ".join(repr(a) for a, _ in dropped.most_common(5))
    more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
    known = ", ".join(repr(a) for a in space.arm_ids[:3])
    return (
        f"{sum(dropped.values())} of {total} logged decisions show {len(dropped)} arm(s) "
        f"not in the arms ({space.source}: {known}, ...): {seen}{more}. Leaving them out "
        "biases IPS: give the arms they use (--catalog, or --arms-from-log to take the "
        "log's own ids), or --drop-unknown-arms to leave those rounds out on purpose"
    )
