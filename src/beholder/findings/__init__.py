"""Findings: likely label errors and confusing class pairs."""

from beholder.findings.confusion import confusion_matrix, find_confused_pairs
from beholder.findings.label_errors import find_label_issues

__all__ = ["confusion_matrix", "find_confused_pairs", "find_label_issues"]
