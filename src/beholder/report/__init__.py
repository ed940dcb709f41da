"""Report: the run's findings as one self-contained HTML page."""

from beholder.report.html import write_report

__all__ = ["write_report"]
