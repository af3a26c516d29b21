"""Build a policy from its name and parameters (settings, CLI flags, config files)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from model.bandit.base import Policy, PolicyConfigError
from model.bandit.epsilon_greedy import EpsilonGreedy

__all__ = ["POLICIES", "build_policy"]

POLICIES: Mapping[str, Callable[..., Policy]] = {
    "epsilon-greedy": EpsilonGreedy,
}


def build_policy(name: str, params: Mapping[str, Any] | None = None) -> Policy:
    """``build_policy("epsilon-greedy", {"epsilon": 0.05})``; unknown names or parameters
    raise :class:`PolicyConfigError` with the accepted choices."""
    try:
        factory = POLICIES[name]
    except KeyError:
        raise PolicyConfigError(f"unknown policy {name!r}; choose from {sorted(POLICIES)}") from None
    try:
        return factory(**dict(params or {}))
    except TypeError as exc:
        raise PolicyConfigError(f"bad parameters for policy {name!r}: {exc}") from None
