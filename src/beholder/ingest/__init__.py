"""Ingest: turn a dataset on disk into a :class:`Dataset` and its file ledger.

Layouts (the ``layout`` argument of :func:`load_dataset`):

``folders``
    ``root/CLASS/image.jpg``
``split-folders``
    ``root/SPLIT/CLASS/image.jpg`` with split names such as train, val, test
``split-lists``
    ``root/Images/CLASS/image.jpg`` with ``TrainImages.txt``-style lists
``manifest``
    a ``.csv``/``.tsv`` or ``.jsonl``/``.ndjson`` file with path and label
    columns

Ingest reads the layout only. :func:`beholder.ingest.verify.verify_images`
then decodes every image, and ``Dataset.flag`` records the failures.
"""

from __future__ import annotations

import logging
from pathlib import Path

from beholder.errors import DatasetError
from beholder.ingest.dataset import Dataset, reason_group
from beholder.ingest.folders import load_folders
from beholder.ingest.manifest import MANIFEST_SUFFIXES, load_manifest
from beholder.ingest.names import canonical_split
from beholder.ingest.splitlists import (
    SPLIT_LIST_PATTERN,
    find_split_lists,
    is_split_list_layout,
    load_split_lists,
)

logger = logging.getLogger(__name__)

__all__ = ["LAYOUTS", "Dataset", "load_dataset"]

LAYOUTS = ("folders", "split-folders", "split-lists", "manifest")


def load_dataset(
    source: str | Path,
    *,
    layout: str | None = None,
    split: str | None = None,
    path_column: str | None = None,
    label_column: str | None = None,
    split_column: str | None = None,
    id_column: str | None = None,
) -> Dataset:
    """Read a dataset from class folders, split folders, split lists or a manifest.

    Parameters
    ----------
    source : str or Path
        A folder, or a manifest file.
    layout : {"folders", "split-folders", "split-lists", "manifest"}, optional
        The layout to read, instead of the one detected: a folder with an
        ``Images/`` folder and split lists is ``split-lists``, another folder
        is ``folders`` or ``split-folders`` by its top-level folder names, and
        a file is a ``manifest``.
    split : str, optional
        Keep only this split. Names match without regard to case and through
        common variants (``"val"`` selects a ``validation/`` folder).
    path_column, label_column, split_column, id_column : str, optional
        Manifest column names; see :func:`beholder.ingest.manifest.load_manifest`.

    Returns
    -------
    Dataset
        The images with string labels, and a ledger with one row per file.

    Raises
    ------
    DatasetError
        When the source is missing, empty, has no usable image, is in an
        unknown layout, or ``split`` names a split that does not exist.
    """
    path = Path(source).expanduser()
    columns = {
        "path_column": path_column,
        "label_column": label_column,
        "split_column": split_column,
        "id_column": id_column,
    }
    layout = _resolve_layout(path, layout)
    if layout != "manifest" and any(columns.values()):
        passed = ", ".join(name for name, value in columns.items() if value)
        raise DatasetError(
            f"{passed} apply to manifests only, and {path} is read as layout "
            f"'{layout}'. Remove them or give a .csv or .jsonl manifest."
        )

    if layout == "manifest":
        dataset = load_manifest(path, **columns)
    elif layout == "split-lists":
        dataset = load_split_lists(path)
    else:
        dataset = load_folders(path, layout=layout if layout != "auto" else None)
        if layout == "auto":
            _check_unread_split_lists(dataset, path)

    if split is not None:
        dataset = _select_split(dataset, split)
    _require_images(dataset)
    summary = dataset.ledger_summary()
    logger.info(
        "read %s as %s: %d files given, %d read, %d flagged, %d classes",
        dataset.source,
        dataset.layout,
        summary["given"],
        summary["read"],
        summary["flagged"],
        summary["n_classes"],
    )
    return dataset


def _resolve_layout(path: Path, layout: str | None) -> str:
    """Return the layout to read ``path`` with; "auto" lets folders detect splits."""
    if layout is not None and layout not in LAYOUTS:
        raise DatasetError(
            f"layout={layout!r} is not a known layout; use one of {', '.join(LAYOUTS)}."
        )
    if not path.exists():
        raise DatasetError(f"{path} does not exist. Check the dataset path.")

    if path.is_dir():
        if layout == "manifest":
            raise DatasetError(
                f"{path} is a folder; layout='manifest' needs a .csv or .jsonl file."
            )
        if layout is not None:
            return layout
        return "split-lists" if is_split_list_layout(path) else "auto"

    if layout not in (None, "manifest"):
        raise DatasetError(
            f"{path} is a file; layout={layout!r} needs a folder. Give the folder "
            "above the class folders, or use layout='manifest'."
        )
    if path.suffix.lower() in MANIFEST_SUFFIXES:
        return "manifest"
    if SPLIT_LIST_PATTERN.match(path.name):
        raise DatasetError(
            f"{path} is a split list. Give the folder that contains it and the "
            "Images/ folder, and beholder reads every split list there."
        )
    raise DatasetError(
        f"{path} is not a folder, and '{path.suffix}' is not a manifest type "
        f"({', '.join(MANIFEST_SUFFIXES)}). Give a folder of class folders or a "
        "manifest."
    )


def _check_unread_split_lists(dataset: Dataset, root: Path) -> None:
    """Explain split lists at ``root`` that were not read because ``Images/`` is missing.

    Raises a DatasetError when the class-folder reading found no usable image,
    because then the lists were most likely meant (MIT Indoor-67 unpacked
    without its image archive). Otherwise adds a note to ``dataset``.
    """
    images_dir, lists = find_split_lists(root)
    if images_dir is not None or not lists:
        return
    names = ", ".join(p.name for p in lists)
    layout = (
        "The split-list layout reads each list entry CLASS/FILE as "
        f"{root / 'Images'}/CLASS/FILE."
    )
    if not dataset.n_images:
        raise DatasetError(
            f"{root} contains split lists ({names}) but no Images/ folder. "
            f"{layout} Create the Images/ folder there and move or extract the "
            "class folders into it (for MIT Indoor-67, unpack the image archive "
            "beside the lists)."
        )
    note = (
        f"split lists ({names}) were not read because {root} has no Images/ "
        f"folder, so the class folders were read without splits. {layout} "
        "Move the class folders into Images/ to use the lists."
    )
    dataset.add_notes([note])


def _select_split(dataset: Dataset, split: str) -> Dataset:
    splits = dataset.splits
    if not splits:
        raise DatasetError(
            f"split={split!r} was given, but {dataset.source} (layout "
            f"'{dataset.layout}') has no splits. Omit split=."
        )
    if split in splits:
        return dataset.select_split(split)
    matches = [
        name for name in splits if canonical_split(name) == canonical_split(split)
    ]
    if len(matches) == 1:
        return dataset.select_split(matches[0])
    split_names = ", ".join(f"'{name}'" for name in splits)
    if matches:
        raise DatasetError(
            f"split={split!r} matches several splits ({split_names}); give one of them "
            "exactly."
        )
    raise DatasetError(
        f"split={split!r} does not exist in {dataset.source}. The splits are {split_names}."
    )


def _require_images(dataset: Dataset) -> None:
    if dataset.n_images:
        return
    flagged = dataset.ledger["reason"].dropna().map(reason_group).value_counts()
    reasons = ", ".join(
        f"{reason} ({count})" for reason, count in flagged.head(5).items()
    )
    example = dataset.ledger["relpath"].iloc[0] if len(dataset.ledger) else "none"
    raise DatasetError(
        f"{dataset.source} has no usable image: all {len(dataset.ledger)} files "
        f"were flagged ({reasons}). The first is '{example}'. Fix or replace "
        "these files, or point beholder at the right folder."
    )
