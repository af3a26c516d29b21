"""Bandit policies: pure, numpy only, every one behind ``Policy.choose``."""

from model.bandit.base import Choice, Policy, PolicyConfigError
from model.bandit.epsilon_greedy import EpsilonGreedy, posterior_means

__all__ = ["Choice", "EpsilonGreedy", "Policy", "PolicyConfigError", "posterior_means"]
