"""Load class probabilities that another model produced for the dataset.

Accepted files:

- CSV or Parquet with one column per class, named as the class, and
  optionally one id column (``image_id``, ``relpath`` or ``path``) that names
  which image each row is. Without an id column, row ``i`` is image ``i``.
- A NumPy ``.npy`` array of shape (n_images, n_classes) in image order.
  Its columns are the classes named in ``class_list``, or without it the
  classes in beholder's index order (names sorted as strings).

The predictions must be out-of-sample (from cross-validation or a model
that never trained on these images). In-sample predictions have memorised
the given labels, wrong ones included, so they hide label errors. That
cannot be proven from the file, but two signs are checked and warned about:
near-one-hot rows nearly everywhere, and an accuracy against the given
labels near 1.0 while beholder's own cross-validated probe scores lower.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from beholder.errors import PredictionsError

logger = logging.getLogger(__name__)

ID_COLUMNS = ("image_id", "relpath", "path")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
# Rows may miss one by this much (CSV rounding, float32); they are renormalised.
SUM_TOLERANCE = 1e-3
# A row whose top probability reaches this is counted as one-hot.
ONE_HOT_PROBABILITY = 0.999
# Warn when at least this share of rows is one-hot.
ONE_HOT_SHARE = 0.95
# Warn when the accuracy on the given labels reaches this...
SUSPICIOUS_ACCURACY = 0.99
# ...and beats the probe's cross-validated accuracy by at least this much.
ACCURACY_GAP = 0.05


def load_predictions(
    path,
    classes,
    n_images: int,
    *,
    class_list=None,
    images: pd.DataFrame | None = None,
    labels=None,
    reference_accuracy: float | None = None,
    from_logits: bool = False,
) -> np.ndarray:
    """Read predictions from a file and align them with the dataset.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.parquet`` (or ``.pq``) or ``.npy`` file.
    classes : sequence of str
        The dataset's class names in index order; the result's columns
        follow this order whatever the file's order.
    n_images : int
        Number of images in the dataset; the result has this many rows.
    class_list : sequence of str, optional
        Class name of each column of a ``.npy`` array; defaults to
        ``classes``. Rejected for tables, whose header names the classes.
    images : DataFrame, optional
        The dataset's images table (columns ``image_id``, ``relpath``,
        ``path``); needed when the file aligns rows by ``relpath`` or
        ``path``.
    labels : array-like of shape (n_images,), optional
        Given class indices, for the in-sample check.
    reference_accuracy : float, optional
        Cross-validated accuracy of beholder's own probe, for the in-sample
        check.
    from_logits : bool, default False
        Apply a softmax to each row; for files that hold logits.

    Returns
    -------
    ndarray of shape (n_images, n_classes)
        Row ``i`` is image ``i``; each row sums to one.

    Raises
    ------
    PredictionsError
        The file is missing or unreadable, its columns do not match the
        classes, its rows do not match the images, or its values are not
        probabilities. The message names the file, the value and the fix.

    Warns
    -----
    UserWarning
        The predictions look in-sample (see the module docstring).
    """
    path = Path(path)
    classes = [str(c) for c in classes]
    if not path.is_file():
        raise PredictionsError(
            f"{path}: predictions file not found; pass the path of a .csv, "
            ".parquet or .npy file."
        )

    suffix = path.suffix.lower()
    if suffix == ".npy":
        if class_list is None:
            # Without names, columns follow beholder's class index order:
            # class names sorted as strings, as run.json lists them.
            class_list = classes
            logger.info("%s: columns taken in class index order %s", path, classes)
        values, columns, row_ids, id_column = _read_array(path, class_list)
    elif suffix in TABLE_SUFFIXES:
        if class_list is not None:
            raise PredictionsError(
                f"{path}: class_list is only for .npy arrays; a {suffix} file "
                "names its classes in its header. Drop class_list."
            )
        values, columns, row_ids, id_column = _read_table(path, suffix)
    else:
        raise PredictionsError(
            f"{path}: unsupported predictions format {suffix or '(no suffix)'!r}; "
            "use .csv, .parquet or .npy."
        )

    values = _order_columns(path, values, columns, classes)
    values = _align_rows(path, values, row_ids, id_column, n_images, images)
    probabilities = _to_probabilities(
        path, values, columns=classes, from_logits=from_logits
    )
    _warn_if_in_sample(path, probabilities, labels, reference_accuracy)
    logger.info(
        "loaded predictions %s: %d images x %d classes", path, n_images, len(classes)
    )
    return probabilities


def _read_array(path, class_list):
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise PredictionsError(
            f"{path}: could not read the array ({error}); save it with "
            "numpy.save as a numeric 2-D array."
        ) from error
    if values.ndim != 2:
        raise PredictionsError(
            f"{path}: expected a 2-D array (n_images, n_classes), got shape "
            f"{values.shape}."
        )
    if not np.issubdtype(values.dtype, np.number):
        raise PredictionsError(
            f"{path}: expected numbers, got dtype {values.dtype}; save a float array."
        )
    columns = [str(c) for c in class_list]
    if len(columns) != values.shape[1]:
        raise PredictionsError(
            f"{path}: the array has {values.shape[1]} columns but there are "
            f"{len(columns)} classes; give one column per class, in the order "
            "of class_list (by default the sorted class names)."
        )
    return values.astype(np.float64), columns, None, None


def _read_table(path, suffix):
    try:
        if suffix == ".csv":
            table = pd.read_csv(path)
        else:
            table = pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise PredictionsError(
            f"{path}: could not read the table ({error}); write a header row of "
            "class names and one row per image."
        ) from error

    table.columns = [str(c) for c in table.columns]
    present = [c for c in ID_COLUMNS if c in table.columns]
    id_column = present[0] if present else None
    if len(present) > 1:
        logger.info(
            "%s: aligning rows by %s; ignoring %s", path, id_column, present[1:]
        )
    row_ids = table[id_column].to_numpy() if id_column else None
    class_table = table.drop(columns=present)

    duplicated = class_table.columns[class_table.columns.duplicated()].tolist()
    if duplicated:
        raise PredictionsError(
            f"{path}: class columns {duplicated} appear more than once; keep one "
            "column per class."
        )
    non_numeric = [
        c
        for c in class_table.columns
        if not pd.api.types.is_numeric_dtype(class_table[c])
    ]
    if non_numeric:
        raise PredictionsError(
            f"{path}: columns {non_numeric[:5]} are not numeric. Every column "
            f"other than an id column ({', '.join(ID_COLUMNS)}) must be a class "
            "probability; drop the others."
        )
    values = class_table.to_numpy(dtype=np.float64)
    return values, class_table.columns.tolist(), row_ids, id_column


def _order_columns(path, values, columns, classes):
    missing = [c for c in classes if c not in columns]
    extra = [c for c in columns if c not in classes]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing classes {missing[:10]}")
        if extra:
            parts.append(f"unknown columns {extra[:10]}")
        raise PredictionsError(
            f"{path}: columns do not match the dataset's classes: "
            f"{'; '.join(parts)}. The dataset's classes are {classes}; name one "
            "column per class exactly as its folder or label."
        )
    return values[:, [columns.index(c) for c in classes]]


def _align_rows(path, values, row_ids, id_column, n_images, images):
    if id_column is None:
        if len(values) != n_images:
            raise PredictionsError(
                f"{path}: has {len(values)} rows but the dataset has {n_images} "
                "images. Give one row per image in image_id order, or add an "
                f"id column ({', '.join(ID_COLUMNS)})."
            )
        return values

    if id_column == "image_id":
        positions = _positions_from_ids(path, row_ids, n_images)
    else:
        if images is None or id_column not in images.columns:
            raise PredictionsError(
                f"{path}: rows are identified by {id_column!r}, which needs the "
                "dataset's images table to align; pass images=dataset.images."
            )
        lookup = {str(key): i for key, i in zip(images[id_column], images["image_id"])}
        keys = [str(key) for key in row_ids]
        unknown = [key for key in keys if key not in lookup]
        if unknown:
            raise PredictionsError(
                f"{path}: {len(unknown)} {id_column} values are not in the "
                f"dataset, e.g. {unknown[:3]}; use the dataset's {id_column} "
                "values as listed in the images table."
            )
        positions = np.array([lookup[key] for key in keys], dtype=np.int64)

    counts = np.bincount(positions, minlength=n_images)
    if (counts > 1).any():
        repeated = np.flatnonzero(counts > 1)
        raise PredictionsError(
            f"{path}: images {repeated[:5].tolist()} have more than one row "
            f"({id_column} repeated); keep one row per image."
        )
    if (counts == 0).any():
        absent = np.flatnonzero(counts == 0)
        raise PredictionsError(
            f"{path}: {len(absent)} of {n_images} images have no row, e.g. "
            f"image_id {absent[:5].tolist()}; predict every image of the dataset."
        )
    aligned = np.empty_like(values)
    aligned[positions] = values
    return aligned


def _positions_from_ids(path, row_ids, n_images):
    try:
        positions = np.asarray(row_ids).astype(np.int64)
    except (TypeError, ValueError) as error:
        raise PredictionsError(
            f"{path}: image_id must hold integers 0..{n_images - 1} ({error})."
        ) from error
    if not np.array_equal(positions, np.asarray(row_ids, dtype=np.float64)):
        raise PredictionsError(
            f"{path}: image_id must hold whole numbers 0..{n_images - 1}."
        )
    outside = positions[(positions < 0) | (positions >= n_images)]
    if len(outside):
        raise PredictionsError(
            f"{path}: image_id {outside[0]} is outside 0..{n_images - 1}, the "
            "dataset's image ids."
        )
    return positions


def _to_probabilities(path, values, *, columns, from_logits):
    if not np.isfinite(values).all():
        row, column = np.argwhere(~np.isfinite(values))[0]
        raise PredictionsError(
            f"{path}: row {row}, class {columns[column]!r} is {values[row, column]}; "
            "every value must be a finite number."
        )
    if from_logits:
        shifted = values - values.max(axis=1, keepdims=True)
        exponentials = np.exp(shifted)
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    sums = values.sum(axis=1)
    outside = (values < 0) | (values > 1)
    if outside.any():
        row, column = np.argwhere(outside)[0]
        raise PredictionsError(
            f"{path}: row {row}, class {columns[column]!r} is "
            f"{values[row, column]:.4g}, outside [0, 1]: these look like logits "
            "or raw scores. Pass from_logits=True (beholder audit "
            "--from-logits) to apply a softmax per row."
        )
    off = np.abs(sums - 1.0) > SUM_TOLERANCE
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise PredictionsError(
            f"{path}: {int(off.sum())} rows do not sum to one (row {row} sums to "
            f"{sums[row]:.4g}; tolerance {SUM_TOLERANCE}). Write softmax "
            "probabilities over exactly the dataset's classes; for logits pass "
            "from_logits=True, and for other non-negative scores divide each row "
            "by its sum."
        )
    return values / sums[:, np.newaxis]


def _warn_if_in_sample(path, probabilities, labels, reference_accuracy):
    one_hot_share = float((probabilities.max(axis=1) >= ONE_HOT_PROBABILITY).mean())
    if one_hot_share >= ONE_HOT_SHARE:
        warnings.warn(
            f"{path}: {one_hot_share:.0%} of rows are near one-hot (top probability "
            f">= {ONE_HOT_PROBABILITY}). Predictions from a model that trained on "
            "these images look like this and hide label errors; use out-of-sample "
            "predictions from cross-validation.",
            UserWarning,
            stacklevel=3,
        )
    if labels is None:
        return
    labels = np.asarray(labels)
    if labels.shape != (len(probabilities),):
        raise PredictionsError(
            f"{path}: labels has shape {labels.shape}, expected "
            f"({len(probabilities)},)."
        )
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    if reference_accuracy is None:
        suspicious = accuracy >= 1.0 - 1e-9 and len(labels) >= 100
        comparison = ""
    else:
        suspicious = (
            accuracy >= SUSPICIOUS_ACCURACY
            and accuracy - reference_accuracy >= ACCURACY_GAP
        )
        comparison = (
            f" while beholder's cross-validated probe reaches {reference_accuracy:.3f}"
        )
    if suspicious:
        warnings.warn(
            f"{path}: the predictions agree with the given labels on {accuracy:.3f} "
            f"of images{comparison}. They look in-sample: a model that trained on "
            "these labels repeats their errors and hides them. Use predictions "
            "from cross-validation.",
            UserWarning,
            stacklevel=3,
        )
