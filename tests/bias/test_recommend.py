import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from beholder.bias.recommend import augmentation_pipeline, recommend_augmentations
from beholder.bias.shortcuts import SHORTCUT_COLUMNS


def _shortcut(**values):
    row = dict.fromkeys(SHORTCUT_COLUMNS)
    row.update(
        {
            "class_index": 0,
            "score": 0.8,
            "summary": "evidence",
            "is_association": True,
            "is_probe": False,
            "evidence": "association",
        }
    )
    row.update(values)
    return row


def _recommend(rows, **kwargs):
    return recommend_augmentations(
        pd.DataFrame(rows, columns=SHORTCUT_COLUMNS), **kwargs
    )


def test_dark_class_gets_brightness_jitter_sized_by_ratio():
    table = _recommend(
        [
            _shortcut(
                **{"class": "bar"},
                factor="brightness",
                property="brightness",
                median_class=0.2,
                median_rest=0.5,
            )
        ]
    )
    row = table.iloc[0]
    assert row["transform"] == "v2.ColorJitter(brightness=0.6)"
    assert row["priority"] == "low"
    assert "x0.40" in row["parameters"]


def test_probe_evidence_raises_priority():
    rows = [
        _shortcut(
            **{"class": "sky"},
            factor="sharpness",
            property="sharpness",
            median_class=200,
            median_rest=1500,
            score=0.9,
        ),
        _shortcut(
            **{"class": "bar"},
            factor="brightness",
            property="brightness",
            median_class=0.2,
            median_rest=0.5,
            score=0.7,
            evidence="association and probe",
            probe="brightness_up",
            is_probe=True,
        ),
    ]
    table = _recommend(rows)
    assert list(table["factor"]) == ["brightness", "sharpness"]
    assert list(table["priority"]) == ["high", "low"]
    assert list(table["rank"]) == [1, 2]


def test_small_class_gets_crop_and_zoom_out():
    table = _recommend(
        [
            _shortcut(
                **{"class": "auditorium"},
                factor="scale",
                property="content_fraction",
                median_class=0.3,
                median_rest=1.0,
            )
        ],
        input_size=192,
    )
    transform = table.iloc[0]["transform"]
    assert "v2.RandomResizedCrop(192, scale=(0.3, 1))" in transform
    assert "v2.RandomZoomOut(fill=0, side_range=(1, 1.8), p=0.3)" in transform


def test_zoom_probe_alone_uses_probe_strength():
    table = _recommend(
        [
            _shortcut(
                **{"class": "desert"},
                factor="scale",
                evidence="probe",
                is_association=False,
                probe="zoom_out",
                is_probe=True,
            )
        ]
    )
    assert "scale=(0.25, 1)" in table.iloc[0]["transform"]
    assert table.iloc[0]["priority"] == "medium"


def test_grayscale_class_gets_random_grayscale_from_share():
    labels = np.array([0] * 10 + [1] * 30)
    properties = pd.DataFrame({"is_grayscale": [True] * 8 + [False] * 2 + [False] * 30})
    table = _recommend(
        [
            _shortcut(
                **{"class": "old"},
                factor="colour",
                property="is_grayscale",
                median_class=1.0,
                median_rest=0.0,
            )
        ],
        properties=properties,
        labels=labels,
    )
    # 80% of the class and 0% of the rest are gray: p is half the gap.
    assert table.iloc[0]["transform"] == "v2.RandomGrayscale(p=0.4)"


def test_hue_rotation_probe_gives_hue_jitter():
    table = _recommend(
        [
            _shortcut(
                **{"class": "kitchen"},
                factor="colour",
                evidence="probe",
                is_association=False,
                probe="hue_rotate",
                is_probe=True,
            )
        ]
    )
    assert table.iloc[0]["transform"] == "v2.ColorJitter(hue=0.17)"


def test_tint_association_gives_hue_jitter():
    table = _recommend(
        [
            _shortcut(
                **{"class": "kitchen"},
                factor="colour",
                property="hue_6",
                median_class=0.3,
                median_rest=0.01,
            )
        ]
    )
    assert "hue=0.1" in table.iloc[0]["transform"]


def test_blur_and_jpeg():
    table = _recommend(
        [
            _shortcut(
                **{"class": "sky"},
                factor="sharpness",
                property="sharpness",
                median_class=200,
                median_rest=1500,
            ),
            _shortcut(
                **{"class": "web"},
                factor="compression",
                evidence="probe",
                is_association=False,
                probe="jpeg",
                is_probe=True,
            ),
        ]
    ).set_index("factor")
    assert table.loc["sharpness", "transform"] == (
        "v2.RandomApply([v2.GaussianBlur(kernel_size=13, sigma=(0.1, 2.2))], p=0.3)"
    )
    assert table.loc["compression", "transform"] == "v2.JPEG(quality=(10, 100))"


def test_other_factor_gets_no_advice():
    table = _recommend(
        [
            _shortcut(
                **{"class": "x"},
                factor="other",
                property="entropy",
                median_class=6.0,
                median_rest=7.0,
            )
        ]
    )
    assert table.empty


def test_pipeline_runs_and_merges():
    rows = [
        _shortcut(
            **{"class": "bar"},
            factor="brightness",
            property="brightness",
            median_class=0.2,
            median_rest=0.5,
            evidence="association and probe",
        ),
        _shortcut(
            **{"class": "kitchen"},
            factor="colour",
            evidence="probe",
            is_association=False,
            probe="hue_rotate",
            is_probe=True,
        ),
        _shortcut(
            **{"class": "auditorium"},
            factor="scale",
            evidence="probe",
            is_association=False,
            probe="zoom_out",
            is_probe=True,
        ),
        _shortcut(
            **{"class": "sky"},
            factor="sharpness",
            property="sharpness",
            median_class=200,
            median_rest=1500,
        ),
    ]
    table = _recommend(rows, input_size=96)
    source = augmentation_pipeline(table, input_size=96)
    assert "v2.ColorJitter(brightness=0.6, hue=0.17)" in source
    # Association only, so below "medium": listed as a comment, not a step.
    assert "    # v2.RandomApply([v2.GaussianBlur(" in source
    assert "    v2.RandomApply([v2.GaussianBlur(" not in source
    assert source.index("RandomZoomOut") < source.index("RandomResizedCrop")
    assert source.index("RandomResizedCrop") < source.index("ColorJitter")

    namespace = {}
    exec(source, namespace)  # noqa: S102 - the pipeline is source text to paste
    image = Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)
    )
    tensor = namespace["train_transform"](image)
    assert tuple(tensor.shape) == (3, 96, 96)

    with_low = augmentation_pipeline(table, input_size=96, min_priority="low")
    assert "    v2.RandomApply([v2.GaussianBlur(" in with_low
    assert "# " not in with_low


def test_pipeline_without_crop_resizes_like_eval():
    table = _recommend(
        [
            _shortcut(
                **{"class": "bar"},
                factor="brightness",
                property="brightness",
                median_class=0.2,
                median_rest=0.5,
            )
        ]
    )
    source = augmentation_pipeline(
        table, input_size=224, crop_pct=0.875, min_priority="low"
    )
    assert "v2.Resize(256)" in source
    assert "v2.CenterCrop(224)" in source
    namespace = {}
    exec(source, namespace)  # noqa: S102 - the pipeline is source text to paste
    image = Image.new("RGB", (300, 260), (30, 60, 90))
    assert tuple(namespace["train_transform"](image).shape) == (3, 224, 224)


def test_spec_is_json():
    table = _recommend(
        [
            _shortcut(
                **{"class": "bar"},
                factor="brightness",
                property="brightness",
                median_class=0.2,
                median_rest=0.5,
            )
        ]
    )
    assert json.loads(table.iloc[0]["spec"]) == [
        {"op": "ColorJitter", "args": {"brightness": 0.6}}
    ]


def test_bad_priority_raises():
    with pytest.raises(ValueError, match="min_priority must be one of"):
        augmentation_pipeline(_recommend([]), min_priority="urgent")


def test_large_images_need_no_resolution_advice():
    table = _recommend(
        [
            _shortcut(
                **{"class": "suburb"},
                factor="resolution",
                property="width",
                median_class=330,
                median_rest=256,
            )
        ]
    )
    row = table.iloc[0]
    assert row["transform"] == ""
    assert row["parameters"].startswith("none:")
    assert json.loads(row["spec"]) == []


def test_small_images_get_downscale():
    table = _recommend(
        [
            _shortcut(
                **{"class": "thumbs"},
                factor="resolution",
                property="height",
                median_class=120,
                median_rest=480,
            )
        ]
    )
    assert table.iloc[0]["transform"] == "v2.RandomApply([v2.Resize(120)], p=0.3)"


def test_aspect_ratio_sets_crop_ratio():
    table = _recommend(
        [
            _shortcut(
                **{"class": "office"},
                factor="resolution",
                property="aspect_ratio",
                median_class=1.43,
                median_rest=1.0,
            )
        ]
    )
    assert table.iloc[0]["transform"] == (
        "v2.RandomResizedCrop(224, scale=(0.35, 1), ratio=(0.75, 1.43))"
    )
