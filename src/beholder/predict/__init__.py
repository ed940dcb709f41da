"""Prediction: out-of-sample class probabilities for every image."""

from beholder.predict.probe import (
    CrossValResult,
    assign_folds,
    cross_val_probabilities,
    fit_probe,
)

__all__ = ["CrossValResult", "assign_folds", "cross_val_probabilities", "fit_probe"]
