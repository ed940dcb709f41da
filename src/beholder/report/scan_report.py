"""The HTML report of ``beholder scan``: issues, duplicates and the file ledger.

The scan has no run store, so :class:`ScanTables` serves the scan's tables
under the names that the audit report's sections read. Both reports then
share one implementation of each section.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from beholder import __version__
from beholder.report import sections
from beholder.report.html import render_page

logger = logging.getLogger(__name__)

SCAN_SUMMARY = """
{% if ledger.flagged %}
<p class="warn"><b>{{ ledger.flagged }} of {{ ledger.given }} files were not
scanned.</b> See <a href="#ledger">the file ledger</a> for each file and the
reason.</p>
{% endif %}
<table class="numbers">
<tr><td>files given</td><td>{{ ledger.given }}</td></tr>
<tr><td>images scanned</td><td>{{ ledger.read }}</td></tr>
<tr><td>files flagged</td><td>{{ ledger.flagged }}</td></tr>
<tr><td>classes</td><td>{{ ledger.n_classes }}</td></tr>
<tr><td>scan time</td><td>{{ "%.1f" | format(seconds) }} s</td></tr>
</table>
<p class="muted">Model-free scan: no embeddings, so near duplicates come from
perceptual hashes alone and there are no outliers. <code>beholder audit</code>
adds both.</p>
{% for note in ledger.notes %}<p class="warn">{{ note }}</p>{% endfor %}
"""


class ScanTables:
    """A scan's tables under the names that :mod:`beholder.report.sections` reads.

    ``images`` must keep every scanned image, so that the ``image_id``
    values of ``image_issues`` and ``duplicates`` find their files.
    """

    def __init__(self, folder: str | Path, **tables: pd.DataFrame):
        self.run_dir = Path(folder)
        self._tables = tables

    def has_table(self, name: str) -> bool:
        return name in self._tables

    def read_table(self, name: str) -> pd.DataFrame:
        return self._tables[name]


def write_scan_report(result, dataset, folder: str | Path, *, flagged=None) -> Path:
    """Render ``report.html`` for a scan into ``folder`` and return its path.

    Parameters
    ----------
    result : ScanResult
        From :func:`beholder.properties.scan_dataset` on ``dataset``.
    dataset : Dataset
        The dataset that was scanned, before any ``flag`` call. Files that
        the scan could not decode are listed in the report's ledger as
        flagged at the stage "scan".
    folder : path
        Where ``report.html`` is written; created when missing.
    flagged : Dataset, optional
        ``dataset.flag(result.failed, stage="scan")``, when the caller has it.
    """
    if flagged is None:
        flagged = dataset.flag(result.failed, stage="scan")
    tables = ScanTables(
        folder,
        images=dataset.images,
        image_issues=result.issues,
        duplicates=result.duplicates,
        ledger=flagged.ledger,
    )
    ledger = flagged.ledger_summary()
    meta = {
        "source": str(dataset.source or dataset.root),
        "layout": dataset.layout,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "beholder_version": __version__,
    }
    summary_html = sections.render(
        SCAN_SUMMARY, ledger=ledger, seconds=result.summary["seconds"]["total"]
    )
    parts = [
        sections.Section("summary", "Summary", summary_html),
        sections.image_issues_section(tables, meta),
        sections.duplicates_section(tables, meta),
        sections.ledger_section(tables, meta),
    ]
    tables.run_dir.mkdir(parents=True, exist_ok=True)
    path = tables.run_dir / "report.html"
    page = render_page(
        "scan", Path(meta["source"]).name, meta, [p for p in parts if p is not None]
    )
    path.write_text(page, encoding="utf-8")
    logger.info("scan report written to %s", path)
    return path
