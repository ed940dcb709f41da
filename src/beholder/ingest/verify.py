"""Decode-check every image of a dataset before the expensive stages run."""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from beholder.decode import decode_image
from beholder.errors import ImageDecodeError
from beholder.ingest.dataset import Dataset
from beholder.progress import NullProgress, Progress

logger = logging.getLogger(__name__)

NOTE_COLUMNS = [
    "relpath",
    "format",
    "mode",
    "width",
    "height",
    "is_animated",
    "exif_transposed",
    "scaled_to_8bit",
    "alpha_composited",
    "extension_mismatch",
    "notes",
]

# Images per task sent to a worker process: large enough that process
# overhead is small next to decoding, small enough to keep progress moving.
_CHUNK = 64


def verify_images(
    dataset: Dataset,
    *,
    draft_size: int = 64,
    n_jobs: int = 1,
    progress: Progress | None = None,
) -> tuple[dict[str, str], pd.DataFrame]:
    """Decode every image once and return the failures and per-image notes.

    JPEGs are decoded in draft mode (shorter side at least ``draft_size``),
    which still reads all of the compressed data, so truncation is found at
    a fraction of the cost of a full decode.

    Parameters
    ----------
    dataset : Dataset
        From :func:`beholder.ingest.load_dataset`.
    draft_size : int, default 64
        Minimum shorter side for JPEG draft decoding.
    n_jobs : int, default 1
        Worker processes. Threads are not used because decoding catches
        warnings, which is not thread-safe.
    progress : Progress, optional
        Receives one ``advance`` per image.

    Returns
    -------
    failures : dict
        ``relpath`` to a reason (see :data:`beholder.decode.REASONS`), ready
        for ``dataset.flag(failures, stage="decode")``.
    notes : DataFrame
        One row per decoded image, in image order, with the columns of
        :data:`NOTE_COLUMNS`: the detected format, the file's own mode, the
        full size after EXIF orientation, what the conversion did, and
        ``notes``, the same facts as a ``"; "``-separated sentence list
        (``""`` when nothing was done).
    """
    progress = progress or NullProgress()
    paths = dataset.images["path"].tolist()
    relpaths = dataset.images["relpath"].tolist()
    progress.stage("verify", len(paths))

    failures: dict[str, str] = {}
    rows = []
    results = _check_all(paths, draft_size, n_jobs, progress)
    for relpath, (reason, row) in zip(relpaths, results, strict=True):
        if reason is not None:
            failures[relpath] = reason
        else:
            rows.append({"relpath": relpath, **row})
    notes = pd.DataFrame(rows, columns=NOTE_COLUMNS)
    logger.info(
        "verified %d images: %d failed to decode, %d with notes",
        len(paths),
        len(failures),
        int((notes["notes"] != "").sum()),
    )
    return failures, notes


def check_image(path: str, draft_size: int = 64) -> tuple[str | None, dict]:
    """Decode one file and return ``(reason, {})`` on failure or ``(None, facts)``."""
    try:
        decoded = decode_image(path, draft_size=draft_size)
    except ImageDecodeError as error:
        logger.debug("%s", error)
        return error.reason, {}
    return None, {
        "format": decoded.format,
        "mode": decoded.mode,
        "width": decoded.width,
        "height": decoded.height,
        "is_animated": decoded.is_animated,
        "exif_transposed": decoded.exif_transposed,
        "scaled_to_8bit": decoded.scaled_to_8bit,
        "alpha_composited": decoded.alpha_composited,
        "extension_mismatch": decoded.extension_mismatch,
        "notes": "; ".join(decoded.notes),
    }


def _check_all(paths: list[str], draft_size: int, n_jobs: int, progress: Progress):
    if n_jobs <= 1 or len(paths) <= _CHUNK:
        for path in paths:
            result = check_image(path, draft_size)
            progress.advance(1)
            yield result
        return

    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    # "spawn" starts clean interpreters, so workers inherit no threads or
    # locks from the caller (fork is unsafe once torch has started threads).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
        for results in pool.map(_check_chunk, chunks, [draft_size] * len(chunks)):
            progress.advance(len(results))
            yield from results


def _check_chunk(paths: list[str], draft_size: int) -> list[tuple[str | None, dict]]:
    return [check_image(path, draft_size) for path in paths]
