"""Offline evaluation: off-policy estimators, CR lift and its split-half bound, A/B tests.

Pure numpy; no torch, Kafka or metrics. Argument names follow OBP (``reward, action,
pscore, action_dist``; shapes in :mod:`model.evaluation.estimators`). The pipeline of
``nudge evaluate`` (one meta-evaluator over a list of estimators) is
:mod:`model.evaluation.pipeline`.
"""

from model.evaluation.abtest import ABResult, two_proportion_ztest
from model.evaluation.arms import ArmSpace, UnknownArmsError
from model.evaluation.estimators import (
    Estimate,
    bootstrap_ratio,
    estimate_dr,
    estimate_ips,
    estimate_replay,
    estimate_snips,
)
from model.evaluation.feedback import (
    DecisionRows,
    LoggedFeedback,
    feedback_from_events,
    feedback_from_rows,
)
from model.evaluation.lift import (
    Lift,
    best_within_item,
    item_rates,
    relative_mean_cr_lift,
    split_half_bound,
)
from model.evaluation.pipeline import (
    ESTIMATORS,
    OffPolicyConfig,
    OffPolicyEvaluation,
    OffPolicyResult,
    evaluate_target,
)
from model.evaluation.reward_model import SegmentRateModel
from model.evaluation.targets import (
    greedy_action_dist,
    logging_action_dist,
    read_action_file,
)

__all__ = [
    "ESTIMATORS",
    "OffPolicyConfig",
    "OffPolicyEvaluation",
    "OffPolicyResult",
    "evaluate_target",
    "ABResult",
    "ArmSpace",
    "DecisionRows",
    "UnknownArmsError",
    "feedback_from_rows",
    "logging_action_dist",
    "read_action_file",
    "Estimate",
    "Lift",
    "LoggedFeedback",
    "SegmentRateModel",
    "best_within_item",
    "bootstrap_ratio",
    "estimate_dr",
    "estimate_ips",
    "estimate_replay",
    "estimate_snips",
    "feedback_from_events",
    "greedy_action_dist",
    "item_rates",
    "relative_mean_cr_lift",
    "split_half_bound",
    "two_proportion_ztest",
]
