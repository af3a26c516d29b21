"""Thompson sampling with a Beta prior centred on the model's prediction (the default).

Per candidate arm ``a`` the posterior is ``Beta(alpha_a, beta_a)`` with

    alpha_a = s * mu_a + w_a * r_a + successes_a
    beta_a  = s * (1 - mu_a) + w_a * (1 - r_a) + (impressions_a - successes_a)

- ``mu_a``: the prior mean. With a trained model it is the predicted conversion
  probability (clipped to [1e-3, 1 - 1e-3]). Until a model is loaded
  (``context.model_loaded`` False) it is the arm's population rate, smoothed toward the
  placeholder score with ``s`` pseudo-impressions, so the prior comes from population
  statistics. ``s`` is ``prior_strength`` (pseudo-impressions), or per arm
  ``context.prior_strength`` when the scores come with their own uncertainty.
- ``w_a * r_a``: pooled population evidence (only with a model; without one the
  population already is the prior): ``r_a`` is the population rate and
  ``w_a = min(population_weight * population_impressions_a, population_max)``
  pseudo-impressions, so a huge population never swamps the user's own evidence.
- ``successes_a``/``impressions_a``: the user's own evidence (``target`` picks
  conversions or multi-objective reward, see ``model.bandit.estimates``).
- sibling evidence (``sibling_strength`` ``k`` > 0, with the candidates' ids): the prior
  mean is multiplied by what the user did with the arm's *siblings*, the other arms of
  its product and of its strategy (``model.bandit.siblings``: ``(k + observed) / (k +
  expected)`` per group, leave-one-out), so a conversion on P:S1 raises P:S2 and Q:S1.

Draws (``sharpness`` ``c`` >= 1): the race is run on ``Beta(c alpha_a, c beta_a)``, the
same means with ``1 / sqrt(c)`` of the spread (a tempered posterior). A user sees about
ten decisions among 81 or more arms, and a posterior that is honest about a new user's
taste spreads its draws over dozens of arms, so plain Thompson (``c`` = 1) spends most
of those ten decisions exploring arms whose lessons it has no time to use. ``c`` keeps
the ranking of the means and the arms' relative uncertainty, and sets how far the draws
stray from the best mean for that horizon.

Propensity (documented method, quadrature). ``q_a``, the probability that arm ``a``'s
posterior draw is the largest, is computed by numerical integration
(``model.bandit.beta_race``: error below 0.01 against 400,000-draw Monte Carlo in the
tests, about 2e-5 at most against a converged reference; about 0.3-0.4 ms per decision
over 81 arms on a 2-core machine). The policy draws the served arm from
``p = floor / n + (1 - floor) * q`` with one uniform from the seeded ``rng``. Drawing
from the exact win probabilities has the same law as Thompson's "sample every
posterior, take the argmax", and the reported propensity ``p[a]`` is the exact
probability with which the served arm was drawn, so importance weights are exact and
every eligible arm has at least ``floor / n``. The prior mean is kept in [0.001, 0.95]
and the prior strength at least 1, the domain where the quadrature is checked.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from model.bandit.base import (
    Choice,
    PolicyConfigError,
    PolicyContext,
    check_inputs,
    mix_uniform,
    reduce_max,
    sample_cumulative,
)
from model.bandit.beta_race import prepare, win_probabilities
from model.bandit.draws import Draws
from model.bandit.estimates import ArmArrays, check_target, evidence
from model.bandit.siblings import sibling_groups, sibling_ratio
from state import ArmStats

__all__ = ["ThompsonSampling"]

_LOW, _HIGH = 1e-3, 0.95  # prior mean range: positive shapes, checked quadrature domain
_EVIDENCE_FREE_KEPT = 1024  # memoised races of users without evidence (score vectors)


def _clip_mean(mean: np.ndarray) -> np.ndarray:
    """``np.clip(mean, _LOW, _HIGH)`` as two ufuncs (np.clip's wrappers cost more)."""
    return np.minimum(np.maximum(mean, _LOW), _HIGH)


@dataclass(frozen=True)
class ThompsonSampling:
    """Beta-Bernoulli Thompson sampling; see the module docstring for the exact model."""

    prior_strength: float = 10.0
    population_weight: float = 0.0
    population_max: float = 100.0
    floor: float = 0.01
    target: str = "conversions"
    sibling_strength: float = 0.0
    sharpness: float = 1.0
    name: str = "thompson"

    def __post_init__(self) -> None:
        if not self.prior_strength >= 1:
            raise PolicyConfigError(f"prior_strength must be >= 1, got {self.prior_strength}")
        if not 0.0 <= self.population_weight <= 1.0:
            raise PolicyConfigError(
                f"population_weight must be in [0, 1], got {self.population_weight}"
            )
        if not self.population_max >= 0:
            raise PolicyConfigError(f"population_max must be >= 0, got {self.population_max}")
        if not 0.0 < self.floor <= 1.0:
            raise PolicyConfigError(f"floor must be in (0, 1], got {self.floor}")
        check_target(self.target)
        if not self.sibling_strength >= 0:
            raise PolicyConfigError(
                f"sibling_strength must be >= 0 (0: off), got {self.sibling_strength}"
            )
        if not 1.0 <= self.sharpness <= 1e3:
            raise PolicyConfigError(f"sharpness must be in [1, 1000], got {self.sharpness}")
        prepare()  # the race's compiled kernel, now rather than at the first decision

    def posterior(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        context: PolicyContext | None = None,
        candidates: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(alpha, beta)`` of every candidate's Beta posterior, each of shape ``(n,)``.

        ``candidates`` (the arm ids) are needed only to share evidence among siblings."""
        context = context or PolicyContext()
        prior_mean, pooled = self._prior(scores, context)
        seen = not isinstance(stats, ArmArrays) or stats.seen  # else all counts are zero
        if seen:
            impressions, successes = evidence(stats, self.target)
            if self.sibling_strength > 0 and candidates is not None:
                ratio = sibling_ratio(
                    impressions,
                    successes,
                    prior_mean,
                    sibling_groups(candidates),
                    self.sibling_strength,
                )
                prior_mean = _clip_mean(prior_mean * ratio)
        strength = self.prior_strength if context.prior_strength is None else context.prior_strength
        alpha = strength * prior_mean
        beta = strength * (1 - prior_mean)
        if pooled is not None:  # without pooled evidence its terms are zeros: skip them
            pooled_n, pooled_rate = pooled
            alpha += pooled_n * pooled_rate
            beta += pooled_n * (1 - pooled_rate)
        if seen:
            alpha += successes
            beta += impressions - successes
        return alpha, beta

    def _prior(
        self, scores: np.ndarray, context: PolicyContext
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
        """``(prior mean, (pooled pseudo-impressions, pooled rate) or None)``, shapes ``(n,)``."""
        if context.population is None:
            return _clip_mean(scores), None
        pop_n, pop_successes = evidence(context.population, self.target)
        if not context.model_loaded:
            rate = (pop_successes + self.prior_strength * scores) / (pop_n + self.prior_strength)
            return _clip_mean(rate), None
        pooled_n = np.minimum(self.population_weight * pop_n, self.population_max)
        zeros = np.zeros(len(scores))
        pooled_rate = np.divide(pop_successes, pop_n, out=zeros, where=pop_n > 0)
        return _clip_mean(scores), (pooled_n, pooled_rate)

    def probabilities(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> np.ndarray:
        return self._distribution(stats, scores, candidates, context).p.copy()

    def choose(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> Choice:
        race = self._distribution(stats, scores, candidates, context)
        index = sample_cumulative(race.p, race.cumulative, rng)
        explored = not race.best[index]
        return Choice(index=index, propensity=float(race.p[index]), explored=explored)

    def _distribution(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        context: PolicyContext | None,
    ) -> _Race:
        """The distribution ``choose`` draws from (what ``probabilities`` returns)."""
        scores = check_inputs(stats, scores, candidates)
        unseen = isinstance(stats, ArmArrays) and not stats.seen
        if unseen and (
            context is None or (context.population is None and context.prior_strength is None)
        ):  # the scores alone decide (and the policy's own prior strength)
            return _evidence_free(self, scores.tobytes())
        return self._race(stats, scores, context, candidates)

    def _race(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        context: PolicyContext | None,
        candidates: Sequence[str] | None = None,
    ) -> _Race:
        alpha, beta = self.posterior(stats, scores, context, candidates)
        c = self.sharpness
        wins = (
            win_probabilities(alpha, beta) if c == 1.0 else win_probabilities(c * alpha, c * beta)
        )
        p = mix_uniform(wins, self.floor)
        means = alpha / (alpha + beta)
        return _Race(p, p.cumsum(), means == reduce_max(means))


class _Race(NamedTuple):
    """What ``choose`` draws from, shapes ``(n,)``: ``p``, its cumulative sums and
    whether each arm has the largest posterior mean (not chosen there: explored)."""

    p: np.ndarray
    cumulative: np.ndarray
    best: np.ndarray


@functools.lru_cache(maxsize=_EVIDENCE_FREE_KEPT)
def _evidence_free(policy: ThompsonSampling, scores: bytes) -> _Race:
    """The race of a user without evidence and without pooled statistics: a function of
    the policy and the scores alone (the same for every new user of a constant scorer,
    and for new users with the same context under a model), so it is computed once.
    The arrays are shared: read-only."""
    values = np.frombuffer(scores)
    zeros = np.zeros(len(values))
    race = policy._race(ArmArrays(zeros, zeros, zeros, seen=False), values, None)
    for array in race:
        array.flags.writeable = False
    return race
