import numpy as np
import pandas as pd
import pytest

from beholder.findings import class_label_quality, estimate_joint

CLASSES = ["a", "b"]
PROBABILITIES = np.array(
    [[0.95, 0.05], [0.9, 0.1], [0.15, 0.85], [0.3, 0.7], [0.05, 0.95]]
)
LABELS = np.array([0, 0, 0, 1, 1])


def test_known_answer():
    # The estimated joint is [[2/5, 1/5], [0, 2/5]].
    quality = class_label_quality(PROBABILITIES, LABELS, CLASSES).set_index("class")
    assert quality.loc["a", "n_given"] == 3
    assert quality.loc["a", "label_quality"] == pytest.approx(2 / 3)
    assert quality.loc["a", "estimated_noise_rate"] == pytest.approx(1 / 3)
    assert quality.loc["a", "top_confused_with"] == "b"
    assert quality.loc["a", "top_confused_share"] == pytest.approx(1 / 3)
    assert quality.loc["b", "label_quality"] == pytest.approx(1.0)
    assert quality.loc["b", "estimated_missed_rate"] == pytest.approx(1 / 3)
    assert quality.loc["b", "n_estimated_true"] == pytest.approx(3.0)
    assert pd.isna(quality.loc["b", "top_confused_with"])


def test_sorted_worst_first():
    quality = class_label_quality(PROBABILITIES, LABELS, CLASSES)
    assert list(quality["class"]) == ["a", "b"]


def test_flags_counted_per_class():
    flags = np.array([False, False, True, True, False])
    quality = class_label_quality(
        PROBABILITIES, LABELS, CLASSES, is_label_issue=flags
    ).set_index("class")
    assert quality.loc["a", "n_flagged"] == 1
    assert quality.loc["b", "n_flagged"] == 1


def test_given_joint_is_used():
    joint = estimate_joint(PROBABILITIES, LABELS)
    same = class_label_quality(PROBABILITIES, LABELS, CLASSES, joint=joint)
    computed = class_label_quality(PROBABILITIES, LABELS, CLASSES)
    np.testing.assert_allclose(same["label_quality"], computed["label_quality"])


def test_class_count_checked():
    with pytest.raises(ValueError, match="classes has 3 names"):
        class_label_quality(PROBABILITIES, LABELS, ["a", "b", "c"])
