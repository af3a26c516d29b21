"""Build a policy from its name and parameters (settings, CLI flags, config files).

Registered names and their parameters (all optional unless noted):

- ``thompson`` (the default): prior_strength=10, population_weight=0, population_max=100,
  floor=0.01, target="conversions" | "reward", and, as served
  (:data:`THOMPSON_DEFAULTS`; the class's own defaults are textbook Thompson:
  sharpness=1, sibling_strength=0), sharpness=300 and sibling_strength=20. With ``c`` =
  300 the draws race ``Beta(300 alpha, 300 beta)``: a user has about ten decisions among
  81+ arms, too few to use what exploring teaches; k = 20 moves each arm's prior by the
  user's evidence on its product and strategy. The learning benchmark (``python -m bench
  learning``, the two-tower trained on 100k past rounds, 50k rounds, seeds 0 1 2)
  measured 99.1-102.8 % of the features-only ceiling on 81 arms against 70.6 % for
  c = 1 (seed 0); the README has the full table.
- ``epsilon-greedy``: epsilon=0.1, prior_strength=2, target.
- ``ucb1``: exploration=1, floor=0, target. Unfit for serving (it tries every arm a user
  has not seen before using any score): a reference, see ``model.bandit.ucb``.
- ``ucb-model``: exploration=1, prior_strength=10, floor=0, target.
- ``uniform``: no parameters.
- ``rule-based``: rules (required, segment -> arm id), segment_key="segment", default.
- ``randomized-slice``: share=0.02, policy="thompson" (the inner policy's name),
  params={} (the inner policy's parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from model.bandit.base import Policy, PolicyConfigError
from model.bandit.epsilon_greedy import EpsilonGreedy
from model.bandit.randomized_slice import RandomizedSlice
from model.bandit.rule_based import RuleBased
from model.bandit.thompson import ThompsonSampling
from model.bandit.ucb import UCB1, UCBModel
from model.bandit.uniform import Uniform

__all__ = ["DEFAULT_POLICY", "POLICIES", "THOMPSON_DEFAULTS", "build_policy"]

DEFAULT_POLICY = "thompson"
# what ``build_policy("thompson")`` adds to the class's defaults (see the module docstring)
THOMPSON_DEFAULTS: Mapping[str, Any] = {"sharpness": 300.0, "sibling_strength": 20.0}


def _thompson(**params: Any) -> ThompsonSampling:
    return ThompsonSampling(**{**THOMPSON_DEFAULTS, **params})


def _randomized_slice(
    share: float = 0.02, policy: str = DEFAULT_POLICY, params: Mapping[str, Any] | None = None
) -> RandomizedSlice:
    if policy == "randomized-slice":
        raise PolicyConfigError("randomized-slice cannot wrap itself")
    return RandomizedSlice(build_policy(policy, params), share=share)


POLICIES: Mapping[str, Callable[..., Policy]] = {
    "thompson": _thompson,
    "epsilon-greedy": EpsilonGreedy,
    "ucb1": UCB1,
    "ucb-model": UCBModel,
    "uniform": Uniform,
    "rule-based": RuleBased,
    "randomized-slice": _randomized_slice,
}


def build_policy(name: str, params: Mapping[str, Any] | None = None) -> Policy:
    """``build_policy("epsilon-greedy", {"epsilon": 0.05})``; unknown names or parameters
    raise :class:`PolicyConfigError` with the accepted choices."""
    try:
        factory = POLICIES[name]
    except KeyError:
        choices = sorted(POLICIES)
        raise PolicyConfigError(f"unknown policy {name!r}; choose from {choices}") from None
    params = dict(params or {})
    if "name" in params:
        raise PolicyConfigError(f"bad parameters for policy {name!r}: 'name' is fixed")
    try:
        return factory(**params)
    except TypeError as exc:
        raise PolicyConfigError(f"bad parameters for policy {name!r}: {exc}") from None
