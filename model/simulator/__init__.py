"""A simulated bank with known ground truth: customers, arms, ``p(user, arm)``, logs.

Pure numpy (no torch, no Kafka). Reproducible from a seed; sized for 1,000,000 users and
1,000 arms: per-user arrays are O(users), users x arms matrices are only built per batch.

API (users: index ``0..n_users-1`` or id ``"u0000042"``; arms: catalog index or arm id;
every method takes a scalar or a 1-d sequence)::

    env = Environment.build(n_users, catalog=None, seed=0, params=None)   # catalog=None: built-in
    env.n_users, env.n_arms, env.arm_ids, env.catalog
    env.user_id(index) -> str;  env.user_index(users) -> (n,) int64;  env.arm_index(arms)
    env.context(user) -> dict  # the decision-request context: age, income, region,
                               # risk_tolerance, risky_investment, phone_active_time, segment
    env.segment(user) -> str
    env.conversion_probability(users, arms) -> (n,)   # pairwise, true P(purchase)
    env.conversion_matrix(users, arms=None) -> (n, m) # every user x arm (call per batch)
    env.best_arm(users, arms=None) -> (best arm index (n,), its probability (n,))
    env.draw_outcome(rng, users, arms) -> (n,) bool   # Bernoulli purchases
    env.mean_by_arm(users=None) -> (n_arms,)          # population-average probability per arm
    env.policy_value(users, action_dist) -> float     # true value of a distribution (n, n_arms)

    policy = build_logging_policy("rule" | "uniform" | "confounded", epsilon=0.0)
    policy.action_dist(env, users) -> (n, n_arms);  policy.choose(env, users, rng)
    rounds = simulate_rounds(env, policy, n_requests, seed=0, days=7.0)   # arrays per decision
    events = rounds_to_events(env, rounds)            # iterator of LogEvent, time-ordered
    traffic = Traffic(env, seed)    # typed requests and outcomes one at a time (traffic.py)
    # model.simulator.abtest: rule-based vs nudgeflow on simulated users (prepare, run_offline)
    synthetic_catalog(n_products, n_strategies, seed=0)  # e.g. 40 x 25 = 1,000 arms

The conversion function is documented in :mod:`model.simulator.truth`, the population in
:mod:`model.simulator.population`.
"""

from model.simulator.arms import ArmTable, arm_table, synthetic_catalog
from model.simulator.environment import Environment
from model.simulator.history import Rounds, rounds_to_events, simulate_rounds
from model.simulator.logging_policies import (
    LOGGING_POLICIES,
    ConfoundedLogging,
    LoggingPolicy,
    RuleLogging,
    UniformLogging,
    build_logging_policy,
    default_rules,
)
from model.simulator.population import Population, generate_population
from model.simulator.traffic import Traffic
from model.simulator.truth import Truth, TruthParams

__all__ = [
    "LOGGING_POLICIES",
    "ArmTable",
    "ConfoundedLogging",
    "Environment",
    "LoggingPolicy",
    "Population",
    "Rounds",
    "RuleLogging",
    "Traffic",
    "Truth",
    "TruthParams",
    "UniformLogging",
    "arm_table",
    "build_logging_policy",
    "default_rules",
    "generate_population",
    "rounds_to_events",
    "simulate_rounds",
    "synthetic_catalog",
]
