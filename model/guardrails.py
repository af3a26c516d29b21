"""Guardrails applied before a policy chooses: pure functions of (config, state, request).

- **Cool-down**: no nudge for ``cooldown_seconds`` after the user's last purchase
  (``UserState.last_purchase_ms``); reason ``"cooldown"``.
- **Frequency cap**: at most ``max_nudges`` nudges in any rolling ``window_seconds``
  (``UserState.nudges_ms``, the times of decisions that showed an arm); reason
  ``"frequency_cap"``.
- **Eligibility** (suitability and exclusion rules), per arm; when no candidate is left
  the reason is ``"no_eligible_arm"``.

Suitability: an arm is offered only if its product's ``risk_level`` (1 safest .. 5) is at
most the user's risk tolerance, read from ``context["risk_tolerance"]``:
- a number is on the same 1..5 scale and compared directly (``risk_level <= tolerance``);
- a string is mapped by ``risk_levels`` (default ``very_low`` 1, ``low`` 2, ``medium`` 3,
  ``high`` 4, ``very_high`` 5; case-insensitive);
- missing or unrecognised: ``unknown_risk_tolerance`` (default 1, the safest products
  only, as a bank's suitability rules require; ``None`` disables the check for them).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from model.catalog import Arm, Catalog
from state import UserState

__all__ = [
    "DEFAULT_RISK_LEVELS",
    "ExclusionRule",
    "GuardrailConfigError",
    "Guardrails",
    "Screening",
    "eligible_arms",
    "risk_tolerance",
    "screen",
    "user_block",
]

DEFAULT_RISK_LEVELS: Mapping[str, int] = {
    "very_low": 1,
    "low": 2,
    "medium": 3,
    "high": 4,
    "very_high": 5,
}
_NUMBERS = (int, float)  # a tuple: ``int | float`` would build a union on every call
_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class GuardrailConfigError(ValueError):
    """Guardrail settings are out of range or malformed."""


@dataclass(frozen=True)
class ExclusionRule:
    """Never offer the matching arms to users whose ``context[feature] <op> value`` holds.

    Example: ``ExclusionRule("age", "<", 19, categories={"credit"})``. ``op`` is one of
    ``< <= > >= == !=`` or ``"missing"`` (the feature is absent). A user whose feature
    is missing or not comparable is not matched by a comparison rule.
    """

    feature: str
    op: str
    value: float | str | None = None
    categories: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()
    families: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.op not in _OPS and self.op != "missing":
            raise GuardrailConfigError(f"rule op must be one of {[*_OPS, 'missing']}")
        if not (self.categories or self.products or self.families):
            raise GuardrailConfigError(f"rule on {self.feature!r} excludes nothing")
        for name in ("categories", "products", "families"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))

    def applies_to(self, features: Mapping[str, Any]) -> bool:
        if self.op == "missing":
            return features.get(self.feature) is None
        try:
            return bool(_OPS[self.op](features[self.feature], self.value))
        except (KeyError, TypeError):
            return False

    def excludes(self, arm: Arm) -> bool:
        return (
            arm.product.category in self.categories
            or arm.product.product_id in self.products
            or arm.strategy.family in self.families
        )


@dataclass(frozen=True)
class Guardrails:
    """Guardrail settings; all times in seconds. ``None`` disables a limit."""

    max_nudges: int | None = None
    window_seconds: float = 24 * 3600.0
    cooldown_seconds: float | None = None
    suitability: bool = True
    risk_levels: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RISK_LEVELS))
    unknown_risk_tolerance: int | None = 1
    exclusions: tuple[ExclusionRule, ...] = ()

    def __post_init__(self) -> None:
        if self.max_nudges is not None and self.max_nudges < 0:
            raise GuardrailConfigError(f"max_nudges must be >= 0, got {self.max_nudges}")
        if not self.window_seconds > 0:
            raise GuardrailConfigError(f"window_seconds must be > 0, got {self.window_seconds}")
        if self.cooldown_seconds is not None and not self.cooldown_seconds >= 0:
            raise GuardrailConfigError("cooldown_seconds must be >= 0")
        levels = {str(k).lower(): v for k, v in self.risk_levels.items()}
        if not all(isinstance(v, int) and 1 <= v <= 5 for v in levels.values()):
            raise GuardrailConfigError(f"risk_levels must map names to 1..5, got {levels}")
        object.__setattr__(self, "risk_levels", levels)
        object.__setattr__(self, "exclusions", tuple(self.exclusions))

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> Guardrails:
        """Build from plain settings, e.g. ``{"max_nudges": 3, "exclusions": [{"feature":
        "age", "op": "<", "value": 19, "categories": ["credit"]}]}``."""
        params = dict(params)
        rules = tuple(ExclusionRule(**rule) for rule in params.pop("exclusions", ()))
        try:
            return cls(**params, exclusions=rules)
        except TypeError as exc:
            raise GuardrailConfigError(f"bad guardrail settings: {exc}") from None


class Screening(msgspec.Struct, frozen=True):  # per decision: cheaper than a dataclass
    """The candidates left after the guardrails, or the reason no nudge may be shown."""

    candidates: tuple[str, ...]
    reason: str | None = None


def user_block(guardrails: Guardrails, state: UserState, now_ms: int) -> str | None:
    """``"cooldown"``, ``"frequency_cap"`` or None (the user may be nudged at ``now_ms``)."""
    cooldown = guardrails.cooldown_seconds
    last = state.last_purchase_ms
    if cooldown is not None and last is not None and now_ms - last < cooldown * 1000:
        return "cooldown"
    if guardrails.max_nudges is not None:
        since_ms = now_ms - guardrails.window_seconds * 1000
        recent = sum(1 for t in state.nudges_ms if t > since_ms)
        if recent >= guardrails.max_nudges:
            return "frequency_cap"
    return None


def risk_tolerance(guardrails: Guardrails, features: Mapping[str, Any]) -> float | None:
    """The user's tolerance on the 1..5 product risk scale, or None for no limit."""
    value = features.get("risk_tolerance")
    if isinstance(value, bool):
        value = None
    if isinstance(value, _NUMBERS) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in guardrails.risk_levels:
        return float(guardrails.risk_levels[value.strip().lower()])
    return guardrails.unknown_risk_tolerance


def eligible_arms(
    guardrails: Guardrails,
    catalog: Catalog,
    candidates: Sequence[str],
    features: Mapping[str, Any],
) -> tuple[str, ...]:
    """The candidates this user may be offered, in their original order."""
    limit = risk_tolerance(guardrails, features) if guardrails.suitability else None
    exclusions = guardrails.exclusions  # most deployments have none: skip the comprehension
    rules = [r for r in exclusions if r.applies_to(features)] if exclusions else []
    if not rules:  # the hot path: only suitability, one comparison per arm
        if limit is None:
            return tuple(candidates)
        return catalog.within_risk(candidates, limit)

    def allowed(arm: Arm) -> bool:
        if limit is not None and arm.product.risk_level > limit:
            return False
        return not any(rule.excludes(arm) for rule in rules)

    return tuple(a for a in candidates if allowed(catalog.arm(a)))


def screen(
    guardrails: Guardrails,
    catalog: Catalog,
    state: UserState,
    features: Mapping[str, Any],
    candidates: Sequence[str],
    now_ms: int,
) -> Screening:
    """Apply every guardrail; an empty ``candidates`` result always carries a reason."""
    blocked = user_block(guardrails, state, now_ms)
    if blocked is not None:
        return Screening((), blocked)
    eligible = eligible_arms(guardrails, catalog, candidates, features)
    return Screening(eligible, None if eligible else "no_eligible_arm")
