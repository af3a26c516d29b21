"""The two-tower model: features -> towers -> dot product -> conversion probability.

Torch is imported only by the training modules (``network``, ``losses``, ``train``,
``pipeline``); serving (``scorer``, ``artifact``) is numpy, so a worker never loads torch.
"""

from model.twotower.artifact import Artifact, ArtifactError, load_artifact, newest_valid
from model.twotower.scorer import TwoTowerScorer, load_scorer, validate_scorer

__all__ = [
    "Artifact",
    "ArtifactError",
    "TwoTowerScorer",
    "load_artifact",
    "load_scorer",
    "newest_valid",
    "validate_scorer",
]
