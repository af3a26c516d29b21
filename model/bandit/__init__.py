"""Bandit policies: pure, numpy only, every one behind ``Policy.choose``."""

from model.bandit.base import Choice, Policy, PolicyConfigError
from model.bandit.epsilon_greedy import EpsilonGreedy, posterior_means
from model.bandit.factory import POLICIES, build_policy

__all__ = ["POLICIES", "build_policy", "Choice", "EpsilonGreedy", "Policy", "PolicyConfigError", "posterior_means"]
