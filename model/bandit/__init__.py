"""Bandit policies: pure, numpy only, every one behind ``Policy.choose``."""

from model.bandit.base import Choice, Policy, PolicyConfigError, PolicyContext
from model.bandit.draws import Draws, HashDraws
from model.bandit.epsilon_greedy import EpsilonGreedy
from model.bandit.estimates import posterior_means
from model.bandit.factory import DEFAULT_POLICY, POLICIES, build_policy
from model.bandit.randomized_slice import SLICE_POLICY_NAME, RandomizedSlice
from model.bandit.rule_based import RuleBased
from model.bandit.thompson import ThompsonSampling
from model.bandit.ucb import UCB1, UCBModel
from model.bandit.uniform import Uniform

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "SLICE_POLICY_NAME",
    "UCB1",
    "Choice",
    "Draws",
    "EpsilonGreedy",
    "HashDraws",
    "Policy",
    "PolicyConfigError",
    "PolicyContext",
    "RandomizedSlice",
    "RuleBased",
    "ThompsonSampling",
    "UCBModel",
    "Uniform",
    "build_policy",
    "posterior_means",
]
