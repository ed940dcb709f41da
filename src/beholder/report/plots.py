"""Figures for the report, rendered to PNG bytes with matplotlib's Agg backend."""

from __future__ import annotations

import io

import numpy as np


def confusion_matrix_png(matrix: np.ndarray, classes: list[str]) -> bytes:
    """Draw the row-normalised confusion matrix with counts in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = min(4 + 0.45 * n, 30)
    figure, axes = plt.subplots(figsize=(size, size * 0.9), dpi=100)
    axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(n), classes, rotation=90, fontsize=8)
    axes.set_yticks(range(n), classes, fontsize=8)
    axes.set_xlabel("predicted (out-of-sample)")
    axes.set_ylabel("given label")
    if n <= 40:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    colour = "white" if rates[i, j] > 0.5 else "black"
                    axes.text(
                        j,
                        i,
                        int(matrix[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color=colour,
                    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
