"""A user's evidence shared along product and strategy: the arm's siblings.

Arm ids are ``product:strategy`` (``model.catalog``). A user's taste has a part per
product and a part per strategy that no user feature reveals; an arm's *siblings* are
the other candidates with its product or its strategy, and what the user did with them
says something about it: a user who converted on product P with strategy S1 is likelier
to convert on P with S2.

``sibling_ratio(impressions, successes, prior_mean, groups, strength)`` gives, per arm
``a``, the factor by which the user's evidence on its siblings moves its prior mean:

    ratio_a = (k + O_P(a)) / (k + E_P(a)) * (k + O_S(a)) / (k + E_S(a))

where ``O_P(a)`` / ``E_P(a)`` are the user's observed successes / the successes the prior
means expected (``impressions_b * prior_mean_b``) summed over the *other* arms ``b`` of
``a``'s product, ``O_S``/``E_S`` likewise over ``a``'s strategy, and ``k`` = ``strength``
pseudo-expected-successes (the Poisson-Gamma posterior mean of a multiplicative user x
group effect with a Gamma(k, k) prior: mean 1, sd ``1 / sqrt(k)``). The arm's own
evidence is left out (leave-one-out), since the policy adds it to the arm's posterior
directly. No evidence on siblings: ratio 1.

Ids without a ``:`` (plain arms) are their own product and share no strategy.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

__all__ = ["SiblingGroups", "sibling_groups", "sibling_ratio"]


class SiblingGroups:
    """Group index per candidate, ``(n,)`` int each, for products and for strategies."""

    __slots__ = ("product", "strategy")

    def __init__(self, product: np.ndarray, strategy: np.ndarray) -> None:
        self.product, self.strategy = product, strategy


_last: list[tuple[Sequence[str], SiblingGroups]] = []  # the last list asked for, by identity


def sibling_groups(candidates: Sequence[str]) -> SiblingGroups:
    """The candidates' product and strategy groups (cached per candidate list; the engine
    passes the catalog's own tuple to most requests, found here without hashing it)."""
    if _last and _last[0][0] is candidates:
        return _last[0][1]
    groups = _groups(tuple(candidates))
    if isinstance(candidates, tuple):  # immutable: safe to recognise by identity
        _last[:] = [(candidates, groups)]
    return groups


@functools.lru_cache(maxsize=256)
def _groups(candidates: tuple[str, ...]) -> SiblingGroups:
    products: dict[str, int] = {}
    strategies: dict[str, int] = {}
    product = np.empty(len(candidates), np.intp)
    strategy = np.empty(len(candidates), np.intp)
    for i, arm_id in enumerate(candidates):
        head, colon, tail = arm_id.rpartition(":")
        if not colon:  # a plain arm: its own product, a strategy of its own
            head, tail = arm_id, f"\0{i}"
        product[i] = products.setdefault(head, len(products))
        strategy[i] = strategies.setdefault(tail, len(strategies))
    return SiblingGroups(product, strategy)


def _leave_one_out(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per arm, the sum of ``values`` over the other arms of its group, ``(n,)``."""
    return np.bincount(group, values)[group] - values


def sibling_ratio(
    impressions: np.ndarray,
    successes: np.ndarray,
    prior_mean: np.ndarray,
    groups: SiblingGroups,
    strength: float,
) -> np.ndarray:
    """The factor each arm's prior mean takes from its siblings' evidence, ``(n,)``."""
    expected = impressions * prior_mean
    ratio = np.ones(len(impressions))
    for group in (groups.product, groups.strategy):
        observed = _leave_one_out(group, successes)
        predicted = _leave_one_out(group, expected)
        # float sums of the others can round a hair below zero
        ratio *= (strength + np.maximum(observed, 0.0)) / (strength + np.maximum(predicted, 0.0))
    return ratio
