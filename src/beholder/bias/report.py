"""The bias section of the HTML report, as a self-contained fragment.

Figures are inlined as base64 PNG, so the fragment can go into any page.
Every class name, property name, path and free text is escaped.
"""

from __future__ import annotations

import base64
import html
import logging

import numpy as np
import pandas as pd

from beholder.bias.analysis import BiasResult
from beholder.bias.plots import (
    plot_flip_matrix,
    plot_property_distributions,
    render_probe_examples,
)

logger = logging.getLogger(__name__)


def render_bias_section(
    result: BiasResult,
    *,
    properties: pd.DataFrame | None = None,
    labels=None,
    paths=None,
    max_rows: int = 15,
    max_figures: int = 4,
) -> str:
    """Write the bias findings as an HTML ``<section>``.

    Parameters
    ----------
    result : BiasResult
        From :func:`beholder.bias.analyze_bias`.
    properties, labels : optional
        The inputs of the analysis; with them the section shows the
        distribution of each leading shortcut property per class.
    paths : sequence of str, optional
        Image paths in image order; with them the section shows probed
        images before and after the probes that changed predictions.
    max_rows : int, default 15
        Rows per table.
    max_figures : int, default 4
        Figures per kind.

    Returns
    -------
    str
        An HTML fragment with class ``beholder-bias``.
    """
    parts = [
        '<section class="beholder-bias">',
        "<h2>Shortcuts and augmentation advice</h2>",
        _intro(result),
        _recommendations(result, max_rows),
        _shortcuts(result, max_rows),
    ]
    if properties is not None and labels is not None:
        parts.append(_distributions(result, properties, labels, max_figures))
    parts.append(_probes(result, paths, max_rows, max_figures))
    parts.append(_slices(result, max_rows))
    parts.append(_associations(result, max_rows))
    if result.notes:
        items = "".join(f"<li>{_text(note)}</li>" for note in result.notes)
        parts.append(f"<h3>Notes</h3><ul>{items}</ul>")
    parts.append("</section>")
    return "\n".join(part for part in parts if part)


def _text(value) -> str:
    return html.escape(str(value), quote=True)


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_text(alt)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, columns: dict[str, str], max_rows: int) -> str:
    """Render ``frame``'s ``columns`` (name to header) as an escaped table."""
    if frame.empty:
        return "<p>None.</p>"
    head = "".join(f"<th>{_text(title)}</th>" for title in columns.values())
    body = []
    for row in frame.head(max_rows).to_dict("records"):
        cells = "".join(f"<td>{_format(row.get(name))}</td>" for name in columns)
        body.append(f"<tr>{cells}</tr>")
    more = ""
    if len(frame) > max_rows:
        more = f"<p>{len(frame) - max_rows} more rows are in the run database.</p>"
    return (
        f"<table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{more}"
    )


def _format(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
            return f"{value:.2e}"
        return f"{value:.3g}"
    return _text(value)


def _intro(result: BiasResult) -> str:
    n_flagged = 0
    if len(result.associations):
        n_flagged = int(result.associations["is_flagged"].sum())
    probed = (
        f"{result.probe_images['image_id'].nunique()} images were changed by "
        f"{len(result.parameters.get('probes', []))} probes and re-predicted."
        if len(result.probe_images)
        else "No probes ran."
    )
    return (
        "<p>A shortcut is a property that tells the classes apart without the "
        "scene: lighting, colour, framing. "
        f"{n_flagged} (class, property) pairs differ with a large effect after "
        f"correction for {len(result.associations)} tests. {_text(probed)}</p>"
    )


def _recommendations(result: BiasResult, max_rows: int) -> str:
    display = result.recommendations.copy()
    display["reason"] = [_first_parts(text, 3) for text in display["reason"]]
    table = _table(
        display,
        {
            "rank": "rank",
            "transform": "augmentation",
            "priority": "priority",
            "factor": "factor",
            "classes": "classes",
            "evidence": "evidence",
            "reason": "why",
            "parameters": "parameters",
        },
        max_rows,
    )
    return (
        "<h3>Recommended augmentations</h3>"
        "<p>Evidence from a probe means the model's predictions change with the "
        "factor; an association alone means the data would allow the shortcut.</p>"
        f"{table}<p>As one training pipeline:</p>"
        f"<pre><code>{_text(result.pipeline)}</code></pre>"
    )


def _first_parts(text: str, n_parts: int) -> str:
    """Keep the first ``n_parts`` of a " | "-joined reason and count the rest."""
    parts = str(text).split(" | ")
    if len(parts) <= n_parts:
        return str(text)
    return " | ".join(parts[:n_parts]) + f" | and {len(parts) - n_parts} more classes"


def _shortcuts(result: BiasResult, max_rows: int) -> str:
    return "<h3>Shortcut candidates</h3>" + _table(
        result.shortcuts,
        {
            "class": "class",
            "factor": "factor",
            "evidence": "evidence",
            "score": "score",
            "summary": "evidence in numbers",
        },
        max_rows,
    )


def _distributions(result, properties, labels, max_figures) -> str:
    rows = result.shortcuts[result.shortcuts["is_association"].astype(bool)]
    figures, seen = [], set()
    for row in rows.to_dict("records"):
        name = row["property"]
        if name in seen or name not in properties.columns:
            continue
        seen.add(name)
        png = plot_property_distributions(
            properties, labels, result.classes, name, highlight=row["class"]
        )
        figures.append(_image(png, f"{name} by class"))
        if len(figures) >= max_figures:
            break
    if not figures:
        return ""
    return "<h3>Property distributions</h3>" + "".join(figures)


def _probes(result, paths, max_rows, max_figures) -> str:
    flips = result.probe_flips
    if flips is None or flips.empty:
        return "<h3>Counterfactual probes</h3><p>No probes ran.</p>"
    overall = (
        flips.groupby("probe", sort=False)
        .apply(lambda g: g["n_flipped"].sum() / g["n"].sum(), include_groups=False)
        .rename("flip_rate")
        .reset_index()
    )
    hits = flips[flips["is_sensitive"] | flips["is_attracting"]]
    parts = [
        "<h3>Counterfactual probes</h3>",
        "<p>Share of probed images whose prediction changed, per probe:</p>",
        _table(overall, {"probe": "probe", "flip_rate": "changed"}, 50),
        "<p>Classes that react to a probe more than the others:</p>",
        _table(
            hits,
            {
                "class": "class",
                "probe": "probe",
                "n_flipped": "changed",
                "n": "probed",
                "rest_flip_rate": "other classes",
                "top_target": "mostly to",
                "n_into": "moved in",
                "expected_into": "expected",
                "p_adjusted": "adj. p (away)",
                "into_p_adjusted": "adj. p (into)",
            },
            max_rows,
        ),
    ]
    for probe in list(dict.fromkeys(hits["probe"]))[:max_figures]:
        png = plot_flip_matrix(result.flip_matrices, result.classes, probe)
        parts.append(_image(png, f"flip matrix of {probe}"))
    if paths is not None and len(hits):
        parts.append(_examples(result, hits, paths))
    return "".join(parts)


def _examples(result, hits, paths) -> str:
    """Before/after sheet of up to four probed images of the leading class."""
    first = hits.sort_values("p_adjusted").iloc[0]
    images = result.probe_images
    chosen = images[
        (images["label"] == first["class_index"]) & (images["probe"] == first["probe"])
    ]["image_id"].head(4)
    probes = list(dict.fromkeys(hits["probe"]))
    try:
        png = render_probe_examples([paths[i] for i in chosen], probes)
    except (OSError, ValueError) as error:
        logger.warning("probe example sheet failed: %s", error)
        return ""
    caption = f"Images of {first['class']} before and after the probes above"
    figure = _image(png, caption)
    return f"<figure>{figure}<figcaption>{_text(caption)}</figcaption></figure>"


def _slices(result, max_rows) -> str:
    slices = result.slices
    if len(slices):
        slices = slices[slices["is_significant"].astype(bool)]
    columns = {
        "description": "slice",
        "error_low": "error low",
        "error_high": "error high",
        "error_ratio": "ratio",
        "p_adjusted": "adj. p",
    }
    return "<h3>Error slices</h3>" + _table(slices, columns, max_rows)


def _associations(result, max_rows) -> str:
    table = result.associations
    if len(table):
        table = table[table["rank_in_class"] == 1]
    return "<h3>Strongest property per class</h3>" + _table(
        table,
        {
            "class": "class",
            "property": "property",
            "median_class": "class median",
            "median_rest": "rest median",
            "cliffs_delta": "Cliff's delta",
            "delta_low": "low",
            "delta_high": "high",
            "p_adjusted": "adj. p",
            "is_flagged": "flagged",
        },
        max_rows,
    )
