"""An incremental contextual model learnt while serving (no torch): the worker's prior
until a trained two-tower is loaded. ``ArmMoments`` gathers per-arm sums from every
applied outcome; ``OnlineLinear.fit`` solves them into a model whose ``prior`` gives
each candidate a Beta prior (mean, strength) for Thompson sampling."""

from model.online.features import ContextEncoder, Numeric
from model.online.linear import OnlineConfig, OnlineLinear, Prior, arm_design
from model.online.moments import ArmMoments

__all__ = [
    "ArmMoments",
    "ContextEncoder",
    "Numeric",
    "OnlineConfig",
    "OnlineLinear",
    "Prior",
    "arm_design",
]
