"""Ingest: turn a dataset on disk into a :class:`Dataset` and its file ledger."""

from __future__ import annotations

from pathlib import Path

from beholder.errors import DatasetError
from beholder.ingest.dataset import Dataset
from beholder.ingest.folders import load_folders

__all__ = ["Dataset", "load_dataset"]


def load_dataset(source: str | Path) -> Dataset:
    """Read a dataset from class folders, split folders or a manifest.

    Parameters
    ----------
    source : str or Path
        A folder of class folders (``root/CLASS/img``), of split folders
        (``root/train/CLASS/img``), or a manifest file.

    Returns
    -------
    Dataset
        The images with string labels, and a ledger with one row per file.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return load_folders(path)
    if path.exists():
        raise DatasetError(
            f"{path} is not a folder, and manifests of type '{path.suffix}' are "
            "not supported. Give a folder of class folders."
        )
    raise DatasetError(f"{path} does not exist. Check the dataset path.")
