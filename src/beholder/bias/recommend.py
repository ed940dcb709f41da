"""Augmentation advice: which torchvision ``transforms.v2`` steps take a shortcut away.

Each factor with shortcut evidence gets one recommendation, with parameters
taken from the evidence. A brightness jitter is wide enough to cover the
ratio between the class's median brightness and the rest's. A crop scale
goes down to the class's median content fraction. A hue jitter is as large
as the hue rotation that changed predictions. Without a measured value
(probe evidence only) the parameter is the probe's own strength.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

RECOMMENDATION_COLUMNS = [
    "rank",
    "factor",
    "transform",
    "priority",
    "classes",
    "evidence",
    "score",
    "reason",
    "parameters",
    "spec",
]

# A probe shows that the model reacts to the factor, an association only that
# the data would allow the shortcut; both together rank highest.
PRIORITIES = {"association and probe": "high", "probe": "medium", "association": "low"}
_PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}

# Position of each operation in the assembled pipeline. Resolution and
# framing come first, then the crop to the training size, then colour, blur
# and compression, in the order a photograph picks them up.
_ORDER = {
    "RandomApply:Resize": 0,
    "RandomZoomOut": 1,
    "RandomResizedCrop": 2,
    "ColorJitter": 3,
    "RandomGrayscale": 4,
    "RandomApply:GaussianBlur": 5,
    "JPEG": 6,
}
_DEFAULT_BRIGHTNESS = 0.4
_DEFAULT_CONTRAST = 0.4
_DEFAULT_SATURATION = 0.4
_DEFAULT_GRAYSCALE_P = 0.2


def recommend_augmentations(
    shortcuts: pd.DataFrame,
    *,
    input_size: int = 224,
    properties: pd.DataFrame | None = None,
    labels=None,
) -> pd.DataFrame:
    """Turn shortcut evidence into ranked ``transforms.v2`` steps.

    Parameters
    ----------
    shortcuts : DataFrame
        From :func:`~beholder.bias.shortcuts.find_shortcuts`.
    input_size : int, default 224
        The training crop size, written into crop operations.
    properties, labels : optional
        The property table and class indices; used for shares of boolean
        properties (such as the share of grayscale images per class).

    Returns
    -------
    DataFrame
        One row per factor with evidence (factor ``"other"`` is skipped),
        with the columns of ``RECOMMENDATION_COLUMNS``: ``transform`` is
        code to paste, ``reason`` the evidence, ``parameters`` how the
        parameters were chosen and ``spec`` a JSON list that
        :func:`augmentation_pipeline` assembles. ``transform`` is empty when
        the evidence needs no augmentation, and ``parameters`` gives the reason.
        Sorted by priority (``"high"`` first), then ``score``.
    """
    rows = []
    usable = shortcuts[shortcuts["factor"] != "other"]
    for factor, group in usable.groupby("factor", sort=False):
        rule = _RULES.get(factor)
        if rule is None:
            continue
        group = group.sort_values("score", ascending=False)
        specs, note = rule(group, input_size, properties, labels)
        evidence = _combined_evidence(set(group["evidence"]))
        rows.append(
            {
                "factor": factor,
                "transform": ", ".join(_code(spec) for spec in specs),
                "priority": PRIORITIES[evidence],
                "classes": ", ".join(group["class"].astype(str)),
                "evidence": evidence,
                "score": float(group["score"].max()),
                "reason": " | ".join(group["summary"].astype(str)),
                "parameters": note,
                "spec": json.dumps(specs),
            }
        )
    table = pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS)
    table["order"] = table["priority"].map(_PRIORITY_ORDER)
    table = table.sort_values(["order", "score"], ascending=[True, False])
    table["rank"] = np.arange(1, len(table) + 1)
    return table[RECOMMENDATION_COLUMNS].reset_index(drop=True)


def _combined_evidence(levels: set) -> str:
    """Return the evidence of a factor over its classes' shortcut rows."""
    if "association and probe" in levels or {"association", "probe"} <= levels:
        return "association and probe"
    return "probe" if "probe" in levels else "association"


def augmentation_pipeline(
    recommendations: pd.DataFrame,
    *,
    input_size: int = 224,
    crop_pct: float = 0.875,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    min_priority: str = "medium",
) -> str:
    """Assemble the recommended steps into one ``v2.Compose`` to paste.

    Recommendations of ``min_priority`` or higher (``"high"``, ``"medium"``
    or ``"low"``) become steps; steps of the same operation are merged (the
    wider jitter, the smaller crop scale). The others are listed as
    commented-out lines, so the reader sees them and can switch them on.
    Without a crop step the pipeline resizes and centre-crops as the
    evaluation transform does.
    """
    if min_priority not in _PRIORITY_ORDER:
        raise ValueError(
            f"min_priority must be one of {list(_PRIORITY_ORDER)}, "
            f"got {min_priority!r}."
        )
    included = (
        recommendations["priority"].map(_PRIORITY_ORDER)
        <= _PRIORITY_ORDER[min_priority]
    )
    merged: dict[str, dict] = {}
    for text in recommendations.loc[included, "spec"]:
        for spec in json.loads(text):
            _merge(merged, spec)
    ordered = sorted(merged.values(), key=lambda spec: _ORDER[_key(spec)])
    lines = [_code(spec) for spec in ordered]
    if "RandomResizedCrop" not in merged:
        # Resize and centre-crop as timm's eval transform does, after the
        # steps that change framing and before the photometric ones.
        resize = math.floor(input_size / crop_pct)
        at = sum(
            1 for spec in ordered if _ORDER[_key(spec)] < _ORDER["RandomResizedCrop"]
        )
        lines[at:at] = [f"v2.Resize({resize})", f"v2.CenterCrop({input_size})"]
    lines += _commented_out(
        recommendations[~included], has_crop="RandomResizedCrop" in merged
    )
    mean_text = ", ".join(f"{value:.3f}" for value in mean)
    std_text = ", ".join(f"{value:.3f}" for value in std)
    lines += [
        "v2.ToImage()",
        "v2.ToDtype(torch.float32, scale=True)",
        f"v2.Normalize(mean=[{mean_text}], std=[{std_text}])",
    ]
    body = "".join(
        f"    {line}\n" if line.startswith("#") else f"    {line},\n" for line in lines
    )
    return (
        "import torch\n"
        "from torchvision.transforms import v2\n\n"
        f"train_transform = v2.Compose([\n{body}])\n"
    )


def _commented_out(recommendations: pd.DataFrame, *, has_crop: bool) -> list[str]:
    """Comment lines for recommendations left out of the pipeline."""
    lines = []
    for row in recommendations.to_dict("records"):
        specs = json.loads(row["spec"])
        if not specs:
            continue
        lines.append(
            f"# {row['priority']} priority, {row['evidence']} evidence "
            f"({row['classes']}):"
        )
        for spec in specs:
            line = f"# {_code(spec)},"
            if spec["op"] == "RandomResizedCrop" and not has_crop:
                line += "  (in place of Resize and CenterCrop)"
            lines.append(line)
    return lines


def _key(spec: dict) -> str:
    if spec["op"] == "RandomApply":
        return f"RandomApply:{spec['inner']['op']}"
    return spec["op"]


def _merge(merged: dict, spec: dict) -> None:
    key = _key(spec)
    if key not in merged:
        merged[key] = json.loads(json.dumps(spec))
        return
    current = merged[key]
    if spec["op"] == "ColorJitter":
        for name, value in spec["args"].items():
            current["args"][name] = max(current["args"].get(name, 0), value)
    elif spec["op"] == "RandomResizedCrop":
        low = min(current["args"]["scale"][0], spec["args"]["scale"][0])
        current["args"]["scale"] = [low, 1.0]
        if "ratio" in spec["args"]:
            ratio = current["args"].get("ratio", spec["args"]["ratio"])
            current["args"]["ratio"] = [
                min(ratio[0], spec["args"]["ratio"][0]),
                max(ratio[1], spec["args"]["ratio"][1]),
            ]
    elif spec["op"] in ("RandomGrayscale", "RandomZoomOut", "RandomApply"):
        current["args"]["p"] = max(current["args"]["p"], spec["args"]["p"])


_JITTER_ORDER = ("brightness", "contrast", "saturation", "hue")


def _code(spec: dict) -> str:
    """Write one spec as ``v2.Op(...)`` source text."""
    if spec["op"] == "RandomApply":
        inner = _code(spec["inner"])
        return f"v2.RandomApply([{inner}], p={_number(spec['args']['p'])})"
    positional = [_number(value) for value in spec.get("positional", [])]
    args = spec["args"]
    if spec["op"] == "ColorJitter":
        args = {name: args[name] for name in _JITTER_ORDER if name in args}
    keywords = [f"{name}={_value(value)}" for name, value in args.items()]
    return f"v2.{spec['op']}({', '.join(positional + keywords)})"


def _value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_number(item) for item in value) + ")"
    return _number(value)


def _number(value) -> str:
    if isinstance(value, (bool, int)):
        return str(value)
    return f"{value:.3g}"


def _round_to(value: float, step: float) -> float:
    return round(round(value / step) * step, 4)


def _ratio_strength(group, default: float, needles=None) -> tuple[float, str]:
    """Jitter strength that covers the median ratio of the strongest association."""
    candidates = group[group["is_association"]]
    if needles:
        candidates = candidates[
            candidates["property"].str.lower().str.contains("|".join(needles))
        ]
    for row in candidates.to_dict("records"):
        inside, rest = row["median_class"], row["median_rest"]
        if inside > 0 and rest > 0:
            ratio = inside / rest
            strength = float(np.clip(_round_to(abs(1 - ratio), 0.05), 0.2, 0.8))
            note = (
                f"{strength} covers the x{ratio:.2f} median {row['property']} of "
                f"{row['class']} relative to the rest (clipped to 0.2..0.8)"
            )
            return strength, note
    return default, f"{default}: a common strength; no measured ratio to size it"


def _brightness(group, input_size, properties, labels):
    strength, note = _ratio_strength(group, _DEFAULT_BRIGHTNESS)
    return [{"op": "ColorJitter", "args": {"brightness": strength}}], note


def _contrast(group, input_size, properties, labels):
    strength, note = _ratio_strength(group, _DEFAULT_CONTRAST)
    return [{"op": "ColorJitter", "args": {"contrast": strength}}], note


def _colour(group, input_size, properties, labels):
    specs, notes = [], []
    names = group["property"].fillna("").str.lower()
    probes = set(group["probe"].dropna())
    jitter = {}

    gray_rows = group[names.str.contains("gray|grey")]
    if len(gray_rows) or "grayscale" in probes:
        p, note = _grayscale_p(gray_rows, properties, labels)
        specs.append({"op": "RandomGrayscale", "args": {"p": p}})
        notes.append(note)
    if names.str.contains("satur|colourful|colorful|chroma").any():
        strength, note = _ratio_strength(
            group, _DEFAULT_SATURATION, ("satur", "colourful", "colorful", "chroma")
        )
        jitter["saturation"] = strength
        notes.append(f"saturation {note}")
    hue_words = "hue|tint|_rg|_yb|mean_r|mean_g|mean_b|red|green|blue"
    cast_probes = {"hue_rotate", "colour_cast_warm", "colour_cast_cool"}
    if names.str.contains(hue_words).any() or probes & cast_probes:
        # A 60-degree hue rotation changed predictions: jitter at least that far.
        hue = 60 / 360 if "hue_rotate" in probes else 0.1
        jitter["hue"] = round(hue, 2)
        notes.append(
            f"hue {jitter['hue']}: "
            + (
                "the probe's 60-degree rotation"
                if "hue_rotate" in probes
                else "a tenth of the hue circle, the common default"
            )
        )
    if not specs and not jitter:
        jitter["saturation"] = _DEFAULT_SATURATION
        notes.append(f"saturation {_DEFAULT_SATURATION}: a common strength")
    if jitter:
        specs.insert(0, {"op": "ColorJitter", "args": jitter})
    return specs, "; ".join(notes)


def _grayscale_p(gray_rows, properties, labels) -> tuple[float, str]:
    if properties is not None and labels is not None and len(gray_rows):
        row = gray_rows.iloc[0]
        column = properties[row["property"]].astype(float).to_numpy()
        inside = np.asarray(labels) == row["class_index"]
        gap = abs(np.nanmean(column[inside]) - np.nanmean(column[~inside]))
        p = float(np.clip(_round_to(gap / 2, 0.05), 0.1, 0.5))
        return p, (
            f"p={p}: half the gap in grayscale share between {row['class']} and "
            f"the rest ({gap:.0%}), clipped to 0.1..0.5"
        )
    return _DEFAULT_GRAYSCALE_P, f"p={_DEFAULT_GRAYSCALE_P}: a common default"


def _scale(group, input_size, properties, labels):
    # Only a content fraction (share of the frame the picture fills) sizes
    # the crop; other framing properties fall back to the probes' strength.
    rows = group[group["is_association"] & (group["property"] == "content_fraction")]
    fraction = None
    for row in rows.to_dict("records"):
        fraction = min(row["median_class"], row["median_rest"])
        source = (
            f"the smaller median {row['property']} ({fraction:.2f}) of "
            f"{row['class']} and the rest"
        )
        break
    if fraction is None or not fraction > 0:
        # The zoom probes shrink or crop to half of each side: a quarter of the area.
        fraction = 0.25
        source = "the zoom probes' quarter of the area"
    scale = float(np.clip(round(fraction, 2), 0.08, 0.9))
    side = round(1 / math.sqrt(scale), 1)
    specs = [
        {
            "op": "RandomZoomOut",
            "args": {"fill": 0, "side_range": [1.0, side], "p": 0.3},
        },
        {
            "op": "RandomResizedCrop",
            "positional": [input_size],
            "args": {"scale": [scale, 1.0]},
        },
    ]
    note = (
        f"crop scale down to {scale} and zoom-out up to x{side} per side follow "
        f"{source}"
    )
    return specs, note


def _resolution(group, input_size, properties, labels):
    rows = group[group["is_association"]].to_dict("records")
    skipped = []
    for row in rows:
        name = row["property"].lower()
        small = min(row["median_class"], row["median_rest"])
        if ("width" in name or "height" in name) and small > 0:
            if small >= input_size:
                # The eval resize brings every image down to the input size,
                # so this difference never reaches the model.
                skipped.append(f"{row['property']} of {row['class']}")
                continue
            side = round(small)
            spec = {
                "op": "RandomApply",
                "inner": {"op": "Resize", "positional": [side], "args": {}},
                "args": {"p": 0.3},
            }
            return [spec], (
                f"downscale to {side} px, the smaller median {row['property']} of "
                f"{row['class']} and the rest, so both classes share its softness"
            )
        if "aspect" in name:
            low = min(row["median_class"], row["median_rest"], 0.75)
            high = max(row["median_class"], row["median_rest"], 4 / 3)
            spec = {
                "op": "RandomResizedCrop",
                "positional": [input_size],
                "args": {
                    "scale": [0.35, 1.0],
                    "ratio": [round(low, 2), round(high, 2)],
                },
            }
            return [spec], (
                f"crop aspect ratios from {low:.2f} to {high:.2f} span the medians "
                f"of {row['class']} and the rest"
            )
    if skipped:
        return [], (
            f"none: the medians of {', '.join(skipped)} are at least the input size "
            f"({input_size} px), so the resize to it removes the difference"
        )
    spec = {
        "op": "RandomApply",
        "inner": {"op": "Resize", "positional": [input_size // 2], "args": {}},
        "args": {"p": 0.3},
    }
    return [spec], "downscale to half the input size: a common strength"


def _sharpness(group, input_size, properties, labels):
    # The blur probe's sigma is 1% of the shorter side, so at the input size.
    sigma = round(0.01 * input_size, 1)
    kernel = int(6 * sigma) | 1
    spec = {
        "op": "RandomApply",
        "inner": {
            "op": "GaussianBlur",
            "args": {"kernel_size": kernel, "sigma": [0.1, sigma]},
        },
        "args": {"p": 0.3},
    }
    return [
        spec
    ], f"sigma up to {sigma} px, the blur probe's strength at {input_size} px"


def _compression(group, input_size, properties, labels):
    quality = 10 if "jpeg" in set(group["probe"].dropna()) else 30
    spec = {"op": "JPEG", "args": {"quality": [quality, 100]}}
    note = f"quality down to {quality}: " + (
        "the JPEG probe's quality" if quality == 10 else "a common lower bound"
    )
    return [spec], note


_RULES = {
    "brightness": _brightness,
    "contrast": _contrast,
    "colour": _colour,
    "scale": _scale,
    "resolution": _resolution,
    "sharpness": _sharpness,
    "compression": _compression,
}
