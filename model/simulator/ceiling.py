"""The features-only ceiling: what the best policy that sees only the observed features
can reach, computed from the ground truth.

Given a user's observed features ``x``, arm ``a``'s true logit (``model.simulator.truth``)
is ``m_a(x) + e_a`` where ``m_a(x)`` uses what the features predict of the latent traits
(:meth:`Population.latent_means`) and ``e_a`` is normal with mean 0 and variance

    s_a^2 = sd_susc^2 + (0.8 sd_loss loss_a)^2 + (sd_urg urgency_a / 2)^2 + 2 idiosyncrasy^2

(the unpredicted susceptibility of the arm's family, loss aversion if loss-framed,
urgency sensitivity, and the user x strategy and user x product terms). So
``E[p(u, a) | x] = E[sigmoid(m_a + s_a Z)]``, computed by Gauss-Hermite quadrature
(:data:`NODES` nodes, exact to about 1e-7 here). The ceiling policy shows each user
``argmax_a E[p(u, a) | x]`` among the eligible arms; its value is the true ``p`` of
that arm. No policy that sees only ``x`` (and no per-user evidence) can do better.
"""

from __future__ import annotations

import numpy as np

from model.simulator.population import LATENT_SD
from model.simulator.truth import Truth, sigmoid

__all__ = ["NODES", "expected_given_features", "latent_sd"]

NODES = 24


def latent_sd(truth: Truth, arms: np.ndarray) -> np.ndarray:
    """``s_a``, the sd of the part of arm ``a``'s logit features cannot predict, ``(m,)``."""
    traits = truth.arms.traits[arms].astype(np.float64)
    var = (
        LATENT_SD["susceptibility"] ** 2
        + (0.8 * LATENT_SD["loss_aversion"] * traits[:, 8]) ** 2
        + (LATENT_SD["urgency_sensitivity"] * traits[:, 9]) ** 2
        + 2 * truth.params.idiosyncrasy**2
    )
    return np.sqrt(var)


def _mean_logits(truth: Truth, users: np.ndarray, arms: np.ndarray) -> np.ndarray:
    """``m_a(x_u)``, shape ``(n, m)``: the logit with every latent trait at its prediction."""
    pop, table = truth.population, truth.arms
    taste = truth.taste(users)
    susceptibility, loss, urgency = pop.latent_means(users)
    taste[:, 4:8] = susceptibility
    taste[:, 8] = 0.8 * loss
    taste[:, 9] = urgency
    out = taste @ table.traits[arms].T + truth.bias[arms]
    gap = table.risk_level[arms][None, :] - pop.risk_tolerance[users][:, None]
    return out - truth.params.risk_penalty * np.maximum(gap.astype(np.float32), 0)


def expected_given_features(truth: Truth, users: np.ndarray, arms: np.ndarray) -> np.ndarray:
    """``E[p(u, a) | observed features of u]`` for every user x arm, shape ``(n, m)``."""
    nodes, weights = np.polynomial.hermite.hermgauss(NODES)
    mean = _mean_logits(truth, users, arms).astype(np.float64)
    spread = latent_sd(truth, arms)[None, :] * np.sqrt(2.0)
    total = np.zeros_like(mean)
    for node, weight in zip(nodes, weights, strict=True):
        total += weight * sigmoid(mean + spread * node)
    return total / np.sqrt(np.pi)
