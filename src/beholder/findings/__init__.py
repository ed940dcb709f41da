"""Findings: likely label errors, class label quality and confusing class pairs."""

from beholder.findings.class_quality import class_label_quality
from beholder.findings.confusion import confusion_matrix, find_confused_pairs
from beholder.findings.ensemble import combine_probabilities
from beholder.findings.joint import (
    NoiseRates,
    compute_class_thresholds,
    compute_confident_joint,
    estimate_joint,
    estimate_noise_rates,
)
from beholder.findings.knn import KnnConsensus, compute_knn_consensus
from beholder.findings.label_errors import LABEL_ISSUE_METHODS, find_label_issues
from beholder.findings.pruning import PRUNING_METHODS, find_issues_by_pruning
from beholder.findings.scores import (
    SCORE_METHODS,
    compute_label_quality,
    compute_margin,
)

__all__ = [
    "LABEL_ISSUE_METHODS",
    "PRUNING_METHODS",
    "SCORE_METHODS",
    "KnnConsensus",
    "NoiseRates",
    "class_label_quality",
    "combine_probabilities",
    "compute_class_thresholds",
    "compute_confident_joint",
    "compute_knn_consensus",
    "compute_label_quality",
    "compute_margin",
    "confusion_matrix",
    "estimate_joint",
    "estimate_noise_rates",
    "find_confused_pairs",
    "find_issues_by_pruning",
    "find_label_issues",
]
