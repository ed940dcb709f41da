"""Figures of the bias analysis as PNG bytes, for the HTML report.

Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas, never
through ``pyplot``, so no global state or display is touched.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from beholder.bias.transforms import Probe, probes_by_name
from beholder.decode import open_rgb
from beholder.errors import ImageDecodeError

_HIGHLIGHT = "#d1495b"
_NEUTRAL = "#8fa7bf"


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def plot_property_distributions(
    properties: pd.DataFrame,
    labels,
    classes,
    property_name: str,
    *,
    highlight: str | None = None,
) -> bytes:
    """Draw one box per class of ``property_name``, ``highlight`` in red.

    Returns
    -------
    bytes
        A PNG image.
    """
    if property_name not in properties.columns:
        raise ValueError(
            f"property {property_name!r} is not a column of properties; "
            f"columns are {list(properties.columns)}."
        )
    values = properties[property_name].astype(float).to_numpy()
    labels = np.asarray(labels)
    groups, names = [], []
    for index, name in enumerate(classes):
        column = values[(labels == index) & np.isfinite(values)]
        if len(column):
            groups.append(column)
            names.append(str(name))

    figure = _new_figure(6.0, 0.3 * len(names) + 1.2)
    axes = figure.subplots()
    boxes = axes.boxplot(
        groups, orientation="horizontal", patch_artist=True, showfliers=False
    )
    for name, patch in zip(names, boxes["boxes"]):
        patch.set_facecolor(_HIGHLIGHT if name == highlight else _NEUTRAL)
    axes.set_yticks(range(1, len(names) + 1), names)
    axes.invert_yaxis()
    axes.set_xlabel(property_name)
    axes.set_title(f"{property_name} by class (boxes: quartiles, whiskers: 1.5 IQR)")
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def plot_flip_matrix(flip_matrices: pd.DataFrame, classes, probe: str) -> bytes:
    """Draw a heatmap of each class's predictions after ``probe``, as row shares.

    ``flip_matrices`` is the long table of
    :func:`~beholder.bias.probes.flip_matrices`; the numbers in the cells are
    image counts.
    """
    part = flip_matrices[flip_matrices["probe"] == probe]
    if part.empty:
        raise ValueError(
            f"No rows for probe {probe!r}; probes in the table: "
            f"{sorted(flip_matrices['probe'].unique())}."
        )
    names = [str(name) for name in classes]
    position = {name: i for i, name in enumerate(names)}
    counts = np.zeros((len(names), len(names)))
    for row in part.to_dict("records"):
        counts[position[row["class"]], position[row["predicted"]]] += row["n_images"]
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)

    size = 0.45 * len(names) + 2
    figure = _new_figure(size + 1, size)
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            if counts[i, j]:
                colour = "white" if shares[i, j] > 0.6 else "black"
                axes.text(
                    j,
                    i,
                    f"{int(counts[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color=colour,
                )
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("prediction after the probe")
    axes.set_ylabel("label")
    axes.set_title(f"Predictions after {probe}")
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of the class")
    return _png(figure)


def render_probe_examples(
    paths,
    probes=None,
    *,
    thumbnail_size: int = 112,
) -> bytes:
    """Lay out each image as it is and after each probe, one image per row.

    Parameters
    ----------
    paths : sequence of str
        The images to show, one row each.
    probes : sequence of Probe or names, optional
        Columns after the original; all default probes when None.

    Returns
    -------
    bytes
        A PNG image; rows whose file cannot be decoded are left blank.
    """
    if probes is None:
        probes = probes_by_name(None)
    else:
        probes = tuple(
            p if isinstance(p, Probe) else probes_by_name([p])[0] for p in probes
        )
    header = 18
    columns = ["original"] + [probe.name for probe in probes]
    sheet = Image.new(
        "RGB",
        (thumbnail_size * len(columns), header + thumbnail_size * len(paths)),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    for number, name in enumerate(columns):
        draw.text((number * thumbnail_size + 3, 3), name[:18], fill="black")
    for row, path in enumerate(paths):
        try:
            image = open_rgb(path, draft_size=2 * thumbnail_size)
        except ImageDecodeError:
            continue
        variants = [image] + [probe.apply(image) for probe in probes]
        for number, variant in enumerate(variants):
            tile = variant.copy()
            tile.thumbnail((thumbnail_size - 4, thumbnail_size - 4))
            sheet.paste(
                tile, (number * thumbnail_size + 2, header + row * thumbnail_size + 2)
            )
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()
