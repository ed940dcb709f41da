"""Shortcuts a model may learn: property/class associations, error slices,
counterfactual probes and augmentation advice.

The entry point is :func:`analyze_bias`; each step is also usable alone.
"""

from beholder.bias.analysis import BiasResult, analyze_bias
from beholder.bias.associations import compute_associations, compute_predictability
from beholder.bias.probes import flip_matrices, run_probes, summarize_probes
from beholder.bias.recommend import augmentation_pipeline, recommend_augmentations
from beholder.properties.framing import compute_content_fractions, measure_content_fraction
from beholder.bias.shortcuts import find_shortcuts
from beholder.bias.slices import find_error_slices
from beholder.bias.transforms import DEFAULT_PROBES, Probe

__all__ = [
    "DEFAULT_PROBES",
    "BiasResult",
    "Probe",
    "analyze_bias",
    "augmentation_pipeline",
    "compute_associations",
    "compute_content_fractions",
    "compute_predictability",
    "find_error_slices",
    "find_shortcuts",
    "flip_matrices",
    "measure_content_fraction",
    "recommend_augmentations",
    "run_probes",
    "summarize_probes",
]
