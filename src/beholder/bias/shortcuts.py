"""Shortcut candidates: a class and a factor, with the evidence for each.

Two kinds of evidence are joined per (class, factor):

association
    a property of that factor separates the class from the rest: flagged in
    :func:`~beholder.bias.associations.compute_associations` (significant
    after correction, and a large Cliff's delta).
probe
    the model depends on that factor for the class: under a probe of the
    factor the class's images change prediction more often than other
    classes' images, or other images flip into the class
    (:func:`~beholder.bias.probes.summarize_probes`).

An association alone shows that the data would allow a shortcut. A probe
alone shows that the model reacts to the factor. Both together are the
strongest case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHORTCUT_COLUMNS = [
    "class",
    "class_index",
    "factor",
    "evidence",
    "score",
    "property",
    "cliffs_delta",
    "delta_low",
    "delta_high",
    "median_class",
    "median_rest",
    "association_p_adjusted",
    "is_association",
    "probe",
    "flip_rate",
    "rest_flip_rate",
    "n_probed",
    "n_into",
    "expected_into",
    "probe_p_adjusted",
    "is_probe",
    "summary",
]


def find_shortcuts(
    associations: pd.DataFrame, probe_flips: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Join association and probe evidence per (class, factor).

    Parameters
    ----------
    associations : DataFrame
        From :func:`~beholder.bias.associations.compute_associations`.
    probe_flips : DataFrame, optional
        From :func:`~beholder.bias.probes.summarize_probes`.

    Returns
    -------
    DataFrame
        One row per (class, factor) with any evidence, with the columns of
        ``SHORTCUT_COLUMNS``. ``evidence`` is ``"association and probe"``,
        ``"association"`` or ``"probe"``. ``score``, in ``[0, 2]``, is the
        association's ``|cliffs_delta|`` plus the probe's excess flip share.
        Rows are sorted by ``score``.
    """
    flagged = associations[associations["is_flagged"]]
    best_property = (
        flagged.sort_values("cliffs_delta", key=np.abs, ascending=False)
        .groupby(["class_index", "factor"], sort=False)
        .head(1)
    )
    keys = {
        (r["class"], r["class_index"], r["factor"]): r
        for r in best_property.to_dict("records")
    }
    probe_evidence = _probe_evidence(probe_flips)
    for key in probe_evidence:
        keys.setdefault(key, None)

    rows = []
    for key, association in keys.items():
        rows.append(_shortcut_row(key, association, probe_evidence.get(key)))
    table = pd.DataFrame(rows, columns=SHORTCUT_COLUMNS)
    return table.sort_values("score", ascending=False).reset_index(drop=True)


def _probe_evidence(probe_flips) -> dict:
    """Return the strongest sensitive or attracting probe row per (class, factor)."""
    if probe_flips is None or probe_flips.empty:
        return {}
    hits = probe_flips[probe_flips["is_sensitive"] | probe_flips["is_attracting"]]
    evidence = {}
    for row in hits.to_dict("records"):
        row["strength"] = _probe_strength(row, probe_flips)
        key = (row["class"], row["class_index"], row["factor"])
        if key not in evidence or row["strength"] > evidence[key]["strength"]:
            evidence[key] = row
    return evidence


def _probe_strength(row: dict, probe_flips: pd.DataFrame) -> float:
    """Excess share of flips: away from the class, or into it from the rest."""
    away = row["flip_rate"] - row["rest_flip_rate"] if row["is_sensitive"] else 0.0
    into = 0.0
    if row["is_attracting"]:
        same_probe = probe_flips[probe_flips["probe"] == row["probe"]]
        n_other = same_probe["n"].sum() - row["n"]
        into = (row["n_into"] - row["expected_into"]) / max(n_other, 1)
    return float(min(1.0, max(away, into, 0.0)))


def _shortcut_row(key, association, probe) -> dict:
    class_name, class_index, factor = key
    row = dict.fromkeys(SHORTCUT_COLUMNS)
    row.update({"class": class_name, "class_index": class_index, "factor": factor})
    row["is_association"] = association is not None
    row["is_probe"] = probe is not None

    score, parts = 0.0, []
    if association is not None:
        row.update(
            {
                "property": association["property"],
                "cliffs_delta": association["cliffs_delta"],
                "delta_low": association["delta_low"],
                "delta_high": association["delta_high"],
                "median_class": association["median_class"],
                "median_rest": association["median_rest"],
                "association_p_adjusted": association["p_adjusted"],
            }
        )
        score += abs(association["cliffs_delta"])
        parts.append(_describe_association(association))

    if probe is not None:
        row.update(
            {
                "probe": probe["probe"],
                "flip_rate": probe["flip_rate"],
                "rest_flip_rate": probe["rest_flip_rate"],
                "n_probed": probe["n"],
                "n_into": probe["n_into"],
                "expected_into": probe["expected_into"],
                "probe_p_adjusted": min(probe["p_adjusted"], probe["into_p_adjusted"]),
            }
        )
        score += probe["strength"]
        parts.append(_describe_probe(probe))

    if association is not None and probe is not None:
        row["evidence"] = "association and probe"
    else:
        row["evidence"] = "association" if association is not None else "probe"
    row["score"] = score
    row["summary"] = "; ".join(parts)
    return row


def _describe_association(row: dict) -> str:
    direction = "lower" if row["cliffs_delta"] < 0 else "higher"
    return (
        f"{row['property']} is {direction} in {row['class']} "
        f"(median {row['median_class']:.3g} vs {row['median_rest']:.3g}, "
        f"Cliff's delta {row['cliffs_delta']:+.2f} "
        f"[{row['delta_low']:+.2f}, {row['delta_high']:+.2f}], "
        f"adjusted p {_p_text(row['p_adjusted'])})"
    )


def _p_text(p_value: float) -> str:
    # The normal approximation underflows to 0 for very large effects.
    return "< 1e-300" if p_value == 0 else f"{p_value:.1e}"


def _describe_probe(row: dict) -> str:
    parts = []
    if row["is_sensitive"]:
        parts.append(
            f"{row['probe']} changes the prediction of {row['n_flipped']}/{row['n']} "
            f"{row['class']} images (other classes {row['rest_flip_rate']:.0%})"
        )
    if row["is_attracting"]:
        parts.append(
            f"{row['probe']} moves {row['n_into']} images of other classes into "
            f"{row['class']} (about {row['expected_into']:.1f} expected)"
        )
    return "; ".join(parts)
