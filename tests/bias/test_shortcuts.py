import numpy as np
import pandas as pd
import pytest

from beholder.bias.shortcuts import find_shortcuts


def _associations(rows):
    base = {
        "delta_low": -0.9,
        "delta_high": -0.7,
        "p_adjusted": 1e-6,
        "median_class": 0.2,
        "median_rest": 0.5,
    }
    return pd.DataFrame([{**base, **row} for row in rows])


def _flips(rows):
    base = {
        "n": 10,
        "n_flipped": 0,
        "flip_rate": 0.0,
        "rest_flip_rate": 0.05,
        "p_adjusted": 1.0,
        "into_p_adjusted": 1.0,
        "is_sensitive": False,
        "is_attracting": False,
        "n_into": 0,
        "expected_into": 0.0,
    }
    return pd.DataFrame([{**base, **row} for row in rows])


ASSOCIATIONS = _associations(
    [
        {
            "class": "bar",
            "class_index": 0,
            "property": "brightness",
            "factor": "brightness",
            "cliffs_delta": -0.8,
            "is_flagged": True,
        },
        {
            "class": "bar",
            "class_index": 0,
            "property": "brightness_p05",
            "factor": "brightness",
            "cliffs_delta": -0.6,
            "is_flagged": True,
        },
        {
            "class": "kitchen",
            "class_index": 1,
            "property": "hue_6",
            "factor": "colour",
            "cliffs_delta": 0.7,
            "is_flagged": True,
        },
        {
            "class": "kitchen",
            "class_index": 1,
            "property": "contrast",
            "factor": "contrast",
            "cliffs_delta": 0.3,
            "is_flagged": False,
        },
    ]
)


def test_association_and_probe_are_joined():
    flips = _flips(
        [
            {
                "class": "bar",
                "class_index": 0,
                "probe": "brightness_up",
                "factor": "brightness",
                "n_flipped": 8,
                "flip_rate": 0.8,
                "p_adjusted": 1e-4,
                "is_sensitive": True,
            },
        ]
    )
    table = find_shortcuts(ASSOCIATIONS, flips).set_index(["class", "factor"])
    row = table.loc[("bar", "brightness")]
    assert row["evidence"] == "association and probe"
    assert row["property"] == "brightness"
    assert row["probe"] == "brightness_up"
    assert row["score"] == pytest.approx(0.8 + 0.75)
    assert "8/10 bar images" in row["summary"]


def test_association_only_and_probe_only():
    flips = _flips(
        [
            {
                "class": "airport",
                "class_index": 2,
                "probe": "zoom_out",
                "factor": "scale",
                "n_into": 15,
                "expected_into": 4.0,
                "into_p_adjusted": 1e-4,
                "is_attracting": True,
            },
            {
                "class": "bar",
                "class_index": 0,
                "probe": "zoom_out",
                "factor": "scale",
                "n": 60,
            },
        ]
    )
    table = find_shortcuts(ASSOCIATIONS, flips).set_index(["class", "factor"])
    assert table.loc[("kitchen", "colour"), "evidence"] == "association"
    assert table.loc[("airport", "scale"), "evidence"] == "probe"
    # (15 - 4) extra images among the 60 probed images of other classes.
    assert table.loc[("airport", "scale"), "score"] == pytest.approx(11 / 60)
    assert ("kitchen", "contrast") not in table.index


def test_sorted_by_score_without_probes():
    table = find_shortcuts(ASSOCIATIONS, None)
    assert list(table["class"]) == ["bar", "kitchen"]
    assert np.all(np.diff(table["score"]) <= 0)
    assert (table["evidence"] == "association").all()
