"""Relative mean conversion-rate lift per item, and the split-half optimal lower bound.

As the source post defines them, on randomized ("attribute shuffle") data: an *item* is a
product, its *attributes* are the strategies it can be shown with (its arms). A policy's
conversion rate on item ``i`` is the observed rate of the rounds of item ``i`` whose
logged arm is the one the policy would have shown (replay per item, unbiased on uniform
data). The relative mean CR lift of a target over a baseline is
``mean_i CR_i(target) / mean_i CR_i(baseline) - 1`` over items where both are defined;
it is only meaningful averaged over many items, as each item's rate is noisy.

Arguments shared by every function, all shape ``(n,)`` over logged rounds:
``reward`` (1.0 purchase / 0.0), ``action`` (logged arm index), ``item`` (the logged
arm's product index); policies are given as the arm they would show in each round,
``(n,)``, among the arms of that round's item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Lift", "best_within_item", "item_rates", "relative_mean_cr_lift", "split_half_bound"]


@dataclass(frozen=True)
class Lift:
    """``lift`` (relative, 0.05 = +5 %) of ``target_cr`` over ``baseline_cr``, both
    ``(n_items,)`` per-item rates (NaN where undefined); ``items`` counts items used."""

    lift: float
    target_mean_cr: float
    baseline_mean_cr: float
    target_cr: np.ndarray
    baseline_cr: np.ndarray
    items: int


def item_rates(
    reward: np.ndarray, action: np.ndarray, item: np.ndarray, chosen: np.ndarray, n_items: int
) -> np.ndarray:
    """Per-item observed rate of the rounds where ``action == chosen``, ``(n_items,)``."""
    match = action == chosen
    shown = np.bincount(item[match], minlength=n_items).astype(np.float64)
    converted = np.bincount(item[match], weights=reward[match], minlength=n_items)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(shown > 0, converted / shown, np.nan)


def _lift(target_cr: np.ndarray, baseline_cr: np.ndarray) -> Lift:
    both = np.isfinite(target_cr) & np.isfinite(baseline_cr)
    t, b = float(target_cr[both].mean()), float(baseline_cr[both].mean())
    lift = t / b - 1.0 if b > 0 else float("nan")
    return Lift(lift, t, b, target_cr, baseline_cr, int(both.sum()))


def relative_mean_cr_lift(
    reward: np.ndarray,
    action: np.ndarray,
    item: np.ndarray,
    target: np.ndarray,
    baseline: np.ndarray,
    n_items: int,
) -> Lift:
    """Lift of the ``target`` choices over the ``baseline`` (e.g. the human/rule) choices.
    ``target=action`` gives the random policy's lift (the cost of exploration)."""
    return _lift(
        item_rates(reward, action, item, target, n_items),
        item_rates(reward, action, item, baseline, n_items),
    )


def split_half_bound(
    reward: np.ndarray,
    action: np.ndarray,
    item: np.ndarray,
    baseline: np.ndarray,
    n_items: int,
    n_arms: int,
    rng: np.random.Generator,
) -> Lift:
    """The post's estimate of the optimal lower bound: split the rounds at random into two
    halves, choose each item's best arm by its observed rate on one half, measure that
    arm's rate on the other half; the baseline is measured on that half too. Picking and
    measuring on different halves removes the maximisation bias of "best observed rate";
    the noisy pick makes it a lower bound of the best non-personalised policy."""
    half = rng.random(len(reward)) < 0.5
    shown = np.bincount(action[half], minlength=n_arms).astype(np.float64)
    converted = np.bincount(action[half], weights=reward[half], minlength=n_arms)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(shown > 0, converted / shown, -np.inf)
    item_of_arm = np.full(n_arms, -1)
    item_of_arm[action] = item
    best = np.full(n_items, -1)
    for i in np.unique(item):
        arms = np.flatnonzero(item_of_arm == i)
        best[i] = arms[np.argmax(rate[arms])]
    other = ~half
    return _lift(
        item_rates(reward[other], action[other], item[other], best[item[other]], n_items),
        item_rates(reward[other], action[other], item[other], baseline[other], n_items),
    )


def best_within_item(
    predicted: np.ndarray, item_of_arm: np.ndarray, item: np.ndarray
) -> np.ndarray:
    """Per round, the arm of that round's item with the highest ``predicted`` reward.

    predicted: ``(n, n_arms)``; item_of_arm: ``(n_arms,)``; item: ``(n,)``. Returns ``(n,)``.
    """
    masked = np.where(item_of_arm[None, :] == item[:, None], predicted, -np.inf)
    return masked.argmax(1)
