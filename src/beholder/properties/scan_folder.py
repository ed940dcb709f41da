"""Write the scan folder in one step: tables, file ledger and report.

Everything goes into a staging folder beside the output folder first, which
replaces the output folder only when complete. A scan that is interrupted
or fails therefore leaves an earlier scan folder as it was, and two scans
into one folder never mix their files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from beholder.store.folders import make_staging_folder, swap_in


def write_scan_folder(result, dataset, out: str | Path, *, flagged=None) -> Path:
    """Write ``result`` and ``dataset``'s ledger and report to ``out``; return it.

    Parameters
    ----------
    result : ScanResult
        From :func:`beholder.properties.scan_dataset` on ``dataset``.
    dataset : Dataset
        The dataset that was scanned. Files that the scan could not decode
        are flagged in the written ledger at the stage "scan".
    out : path
        The scan folder, checked beforehand with
        :func:`beholder.store.folders.check_output_folder`.
    flagged : Dataset, optional
        ``dataset.flag(result.failed, stage="scan")``, when the caller has it.
    """
    from beholder.report.scan_report import write_scan_report

    out = Path(out)
    staging = make_staging_folder(out)
    if flagged is None:
        flagged = dataset.flag(result.failed, stage="scan")
    try:
        result.write(staging, ledger=flagged.ledger)
        write_scan_report(result, dataset, staging, flagged=flagged)
        swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
