"""Per-image properties, issue checks, duplicates and outliers.

The main entry points:

- :func:`scan_dataset`: the model-free pass behind ``beholder scan``.
- :func:`compute_properties`: the property table alone (columns listed in
  :mod:`beholder.properties.measure`), which the bias analysis reads.
- :func:`run_checks`: issue checks on a property table.
- :func:`find_duplicates`: exact and near duplicates, split leakage and label
  conflicts, optionally with embeddings.
- :func:`find_outliers`: images far from every class in embedding space.
"""

from beholder.properties.checks import (
    IssueCheck,
    available_checks,
    get_check,
    register_check,
    run_checks,
)
from beholder.properties.duplicates import DuplicateResult, find_duplicates
from beholder.properties.measure import NUMERIC_COLUMNS, PROPERTY_COLUMNS
from beholder.properties.outliers import find_outliers
from beholder.properties.scan import ScanResult, scan_dataset
from beholder.properties.table import compute_properties

__all__ = [
    "NUMERIC_COLUMNS",
    "PROPERTY_COLUMNS",
    "DuplicateResult",
    "IssueCheck",
    "ScanResult",
    "available_checks",
    "compute_properties",
    "find_duplicates",
    "find_outliers",
    "get_check",
    "register_check",
    "run_checks",
    "scan_dataset",
]
