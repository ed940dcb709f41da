"""Report: the run's findings as one self-contained HTML page."""

from beholder.report.html import write_report
from beholder.report.scan_report import write_scan_report

__all__ = ["write_report", "write_scan_report"]
