"""Feature specification: decision context, behaviour and arm features -> numpy arrays.

A :class:`FeatureSpec` is fitted from data (``fit_spec``), is immutable, and round-trips
through JSON, so the exact encoding a model was trained with travels in its artifact.
Encoding never fails on odd input: unknown context keys are ignored, missing or
non-finite numbers become the training mean plus a ``missing`` indicator, and unseen
categories fall into an ``<other>`` slot (arms too: a new product or strategy is encoded
from its features, with its id in the ``<other>`` slot).

User vector (``user_dim`` columns) = context numbers (value, missing flag) + context
categories (one-hot over ``<missing>``, ``<other>``, vocabulary) + behaviour aggregates
from :class:`state.UserState` (per strategy family and overall: log1p impressions,
log1p conversions, smoothed conversion rate). Arm vector (``arm_dim`` columns) = product
category, expected return, risk level, strategy family, framing, urgency, booleans and,
when ``include_ids``, product and strategy id one-hots.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.catalog import FAMILIES, Arm, Catalog
from state import UserState

__all__ = ["SPEC_FORMAT", "FeatureSpec", "FeatureSpecError", "fit_spec"]

SPEC_FORMAT = 1
MISSING, OTHER = "<missing>", "<other>"
FRAMINGS = ("gain", "loss", "neutral")
_CLIP = 5.0
_PRIOR_RATE, _PRIOR_WEIGHT = 0.1, 2.0  # smoothed CR = (conv + w * rate) / (impr + w)


class FeatureSpecError(ValueError):
    """A serialised spec is malformed or of an unknown format."""


@dataclass(frozen=True)
class FeatureSpec:
    """How to encode users and arms. Build with :func:`fit_spec`, never by hand."""

    numeric: tuple[tuple[str, float, float], ...]  # (key, mean, scale)
    categorical: tuple[tuple[str, tuple[str, ...]], ...]  # (key, vocabulary)
    strategy_family: Mapping[str, str]  # strategy_id -> family (for behaviour aggregates)
    categories: tuple[str, ...]  # product categories
    product_ids: tuple[str, ...]
    strategy_ids: tuple[str, ...]
    return_mean: float = 0.0
    return_scale: float = 1.0
    include_ids: bool = True
    _slots: Mapping[str, Mapping[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        slots = {key: {v: 2 + i for i, v in enumerate(vocab)} for key, vocab in self.categorical}
        object.__setattr__(self, "_slots", slots)

    # -- names ----------------------------------------------------------------------------

    @property
    def user_names(self) -> list[str]:
        names = [n for key, _, _ in self.numeric for n in (key, f"{key}:missing")]
        for key, vocab in self.categorical:
            names += [f"{key}={v}" for v in (MISSING, OTHER, *vocab)]
        for group in (*FAMILIES, "all"):
            base = f"history.{group}"
            names += [f"{base}:log_impressions", f"{base}:log_conversions", f"{base}:cr"]
        return names

    @property
    def arm_names(self) -> list[str]:
        names = [f"category={c}" for c in (OTHER, *self.categories)]
        names += ["expected_return", "risk_level"]
        names += [f"family={f}" for f in (OTHER, *FAMILIES)]
        names += [f"framing={f}" for f in (OTHER, *FRAMINGS)]
        names += ["urgency", "is_default", "social_proof", "gamified", "incentive"]
        if self.include_ids:
            names += [f"product={p}" for p in (OTHER, *self.product_ids)]
            names += [f"strategy={s}" for s in (OTHER, *self.strategy_ids)]
        return names

    @property
    def user_dim(self) -> int:
        return len(self.user_names)

    @property
    def arm_dim(self) -> int:
        return len(self.arm_names)

    def user_groups(self) -> dict[str, list[int]]:
        """Feature name -> its user columns (for permutation importance)."""
        return _groups(self.user_names)

    def arm_groups(self) -> dict[str, list[int]]:
        return _groups(self.arm_names)

    # -- users ----------------------------------------------------------------------------

    def encode_context(self, context: Mapping[str, Any]) -> list[float]:
        out: list[float] = []
        for key, mean, scale in self.numeric:
            value = _as_number(context.get(key))
            if value is None:
                out += [0.0, 1.0]
            else:
                out += [min(max((value - mean) / scale, -_CLIP), _CLIP), 0.0]
        for key, vocab in self.categorical:
            hot = [0.0] * (len(vocab) + 2)
            hot[_category_slot(context.get(key), self._slots[key])] = 1.0
            out += hot
        return out

    def encode_behaviour(self, state: UserState) -> list[float]:
        impressions = dict.fromkeys(FAMILIES, 0.0)
        conversions = dict.fromkeys(FAMILIES, 0.0)
        total_i = total_c = 0.0
        for arm_id, stats in state.arms.items():
            family = self.strategy_family.get(arm_id.partition(":")[2])
            total_i += stats.impressions
            total_c += stats.conversions
            if family in impressions:
                impressions[family] += stats.impressions
                conversions[family] += stats.conversions
        out: list[float] = []
        for n, c in [*((impressions[f], conversions[f]) for f in FAMILIES), (total_i, total_c)]:
            rate = (c + _PRIOR_WEIGHT * _PRIOR_RATE) / (n + _PRIOR_WEIGHT)
            out += [math.log1p(max(n, 0.0)), math.log1p(max(c, 0.0)), rate]
        return out

    def encode_user(self, context: Mapping[str, Any], state: UserState) -> np.ndarray:
        """Shape ``(user_dim,)`` float32."""
        values = self.encode_context(context) + self.encode_behaviour(state)
        return np.asarray(values, dtype=np.float32)

    def encode_users(
        self, contexts: Sequence[Mapping[str, Any]], states: Sequence[UserState]
    ) -> np.ndarray:
        """Shape ``(n, user_dim)`` float32."""
        rows = [
            self.encode_context(c) + self.encode_behaviour(s)
            for c, s in zip(contexts, states, strict=True)
        ]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.user_dim)

    # -- arms -----------------------------------------------------------------------------

    def encode_arm(self, arm: Arm, *, hide_ids: bool = False) -> np.ndarray:
        """Shape ``(arm_dim,)`` float32; ``hide_ids`` encodes it as a never-seen arm."""
        p, s = arm.product, arm.strategy
        out = _one_hot(p.category, self.categories)
        out += [(p.expected_return - self.return_mean) / self.return_scale, (p.risk_level - 3) / 2]
        out += _one_hot(s.family, FAMILIES) + _one_hot(s.framing, FRAMINGS)
        out += [s.urgency / 2, float(s.is_default), float(s.social_proof)]
        out += [float(s.gamified), float(s.incentive)]
        if self.include_ids:
            out += _one_hot(None if hide_ids else p.product_id, self.product_ids)
            out += _one_hot(None if hide_ids else s.strategy_id, self.strategy_ids)
        return np.asarray(out, dtype=np.float32)

    def encode_arms(self, arms: Iterable[Arm], *, hide_ids: bool = False) -> np.ndarray:
        """Shape ``(n, arm_dim)`` float32."""
        rows = [self.encode_arm(a, hide_ids=hide_ids) for a in arms]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.arm_dim)

    # -- serialisation --------------------------------------------------------------------

    def to_json(self) -> str:
        doc = {
            "format": SPEC_FORMAT,
            "numeric": [list(n) for n in self.numeric],
            "categorical": [[k, list(v)] for k, v in self.categorical],
            "strategy_family": dict(self.strategy_family),
            "categories": list(self.categories),
            "product_ids": list(self.product_ids),
            "strategy_ids": list(self.strategy_ids),
            "return_mean": self.return_mean,
            "return_scale": self.return_scale,
            "include_ids": self.include_ids,
        }
        return json.dumps(doc, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        try:
            doc = json.loads(text)
            if doc.get("format") != SPEC_FORMAT:
                raise FeatureSpecError(
                    f"feature spec format {doc.get('format')!r} != {SPEC_FORMAT}"
                )
            return cls(
                numeric=tuple((str(k), float(m), float(s)) for k, m, s in doc["numeric"]),
                categorical=tuple((str(k), tuple(map(str, v))) for k, v in doc["categorical"]),
                strategy_family={str(k): str(v) for k, v in doc["strategy_family"].items()},
                categories=tuple(doc["categories"]),
                product_ids=tuple(doc["product_ids"]),
                strategy_ids=tuple(doc["strategy_ids"]),
                return_mean=float(doc["return_mean"]),
                return_scale=float(doc["return_scale"]),
                include_ids=bool(doc["include_ids"]),
            )
        except FeatureSpecError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FeatureSpecError(f"malformed feature spec: {exc!r}") from None


def fit_spec(
    contexts: Iterable[Mapping[str, Any]],
    catalog: Catalog,
    *,
    max_categories: int = 32,
    min_count: int = 5,
    numeric_share: float = 0.9,
    include_ids: bool = True,
) -> FeatureSpec:
    """Learn the context vocabulary and normalisation from ``contexts`` and the arm
    vocabulary from ``catalog``.

    A key is numeric when at least ``numeric_share`` of its present values are numbers
    (booleans count as 0/1); otherwise categorical, keeping the ``max_categories`` most
    frequent values seen at least ``min_count`` times.
    """
    numbers: dict[str, list[float]] = {}
    strings: dict[str, Counter[str]] = {}
    for context in contexts:
        for key, value in context.items():
            number = _as_number(value)
            if number is not None:
                numbers.setdefault(key, []).append(number)
            elif value is not None:
                strings.setdefault(key, Counter())[str(value)] += 1
    numeric, categorical = [], []
    for key in sorted(numbers.keys() | strings.keys()):
        values, counts = numbers.get(key, []), strings.get(key, Counter())
        if len(values) >= numeric_share * (len(values) + sum(counts.values())):
            array = np.asarray(values)
            numeric.append((key, float(array.mean()), float(array.std()) or 1.0))
        else:
            common = [v for v, n in counts.most_common(max_categories) if n >= min_count]
            categorical.append((key, tuple(sorted(common))))
    return _with_catalog(tuple(numeric), tuple(categorical), catalog, include_ids)


def _with_catalog(
    numeric: tuple[tuple[str, float, float], ...],
    categorical: tuple[tuple[str, tuple[str, ...]], ...],
    catalog: Catalog,
    include_ids: bool,
) -> FeatureSpec:
    returns = np.asarray([a.product.expected_return for a in catalog.arms] or [0.0])
    return FeatureSpec(
        numeric=numeric,
        categorical=categorical,
        strategy_family={a.strategy.strategy_id: a.strategy.family for a in catalog.arms},
        categories=tuple(sorted({a.product.category for a in catalog.arms})),
        product_ids=tuple(sorted({a.product.product_id for a in catalog.arms})),
        strategy_ids=tuple(sorted({a.strategy.strategy_id for a in catalog.arms})),
        return_mean=float(returns.mean()),
        return_scale=float(returns.std()) or 1.0,
        include_ids=include_ids,
    )


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _category_slot(value: Any, slots: Mapping[str, int]) -> int:
    """0 = missing, 1 = other (unseen), 2.. = vocabulary position."""
    if value is None:
        return 0
    return slots.get(str(value), 1)


def _one_hot(value: str | None, vocab: Sequence[str]) -> list[float]:
    """Slot 0 = other/unseen, then the vocabulary."""
    hot = [0.0] * (len(vocab) + 1)
    try:
        hot[1 + list(vocab).index(value)] = 1.0  # type: ignore[arg-type]
    except ValueError:
        hot[0] = 1.0
    return hot


def _groups(names: Sequence[str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        base = name.split("=")[0].split(":")[0]
        groups.setdefault(base, []).append(i)
    return groups
