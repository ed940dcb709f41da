"""Build the property table of many images; see ``measure`` for its columns."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from beholder.progress import NullProgress, Progress
from beholder.properties.measure import PROPERTY_COLUMNS, measure_images
from beholder.properties.parallel import map_chunks

logger = logging.getLogger(__name__)


def compute_properties(
    paths: Sequence[str],
    *,
    n_jobs: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Measure every image in ``paths``, in worker processes.

    Parameters
    ----------
    paths : sequence of str
        Image files; row ``i`` of the result describes ``paths[i]``.
    n_jobs : int, optional
        Worker processes; ``None`` or ``-1`` uses every available CPU, ``1``
        runs in this process.
    progress : Progress, optional
        Receives the stage "scan" and an ``advance`` per finished chunk of files.

    Returns
    -------
    pandas.DataFrame
        One row per path with the columns of
        :data:`beholder.properties.measure.PROPERTY_COLUMNS`. Files that
        cannot be decoded keep their row, with NaN values and the reason in
        ``decode_error``.
    """
    progress = progress or NullProgress()
    paths = [str(path) for path in paths]
    progress.stage("scan", len(paths))
    chunks = map_chunks(measure_images, paths, n_jobs=n_jobs, progress=progress)
    table = pd.concat(chunks, ignore_index=True) if chunks else measure_images([])
    table.insert(0, "image_id", np.arange(len(table), dtype=np.int64))
    n_failed = int(table["decode_error"].notna().sum())
    if n_failed:
        logger.info("%d of %d images could not be decoded", n_failed, len(paths))
    return table[PROPERTY_COLUMNS]
