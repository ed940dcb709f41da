import numpy as np
import pandas as pd
import pytest

from beholder.errors import PredictionsError
from beholder.predict.external import load_predictions

CLASSES = ["cat", "dog", "fox"]
PROBABILITIES = np.array(
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2]]
)


def images_table():
    return pd.DataFrame(
        {
            "image_id": [0, 1, 2, 3],
            "relpath": ["cat/a.jpg", "dog/b.jpg", "fox/c.jpg", "cat/d.jpg"],
            "path": ["/d/cat/a.jpg", "/d/dog/b.jpg", "/d/fox/c.jpg", "/d/cat/d.jpg"],
        }
    )


def write_csv(tmp_path, frame, name="predictions.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_csv_in_image_order(tmp_path):
    path = write_csv(tmp_path, pd.DataFrame(PROBABILITIES, columns=CLASSES))
    loaded = load_predictions(path, CLASSES, 4)
    np.testing.assert_allclose(loaded, PROBABILITIES)


def test_columns_reordered_to_classes(tmp_path):
    frame = pd.DataFrame(PROBABILITIES, columns=CLASSES)[["fox", "cat", "dog"]]
    loaded = load_predictions(write_csv(tmp_path, frame), CLASSES, 4)
    np.testing.assert_allclose(loaded, PROBABILITIES)


def test_rows_aligned_by_relpath(tmp_path):
    frame = pd.DataFrame(PROBABILITIES, columns=CLASSES)
    frame.insert(0, "relpath", images_table()["relpath"])
    shuffled = frame.iloc[[2, 0, 3, 1]]
    loaded = load_predictions(
        write_csv(tmp_path, shuffled), CLASSES, 4, images=images_table()
    )
    np.testing.assert_allclose(loaded, PROBABILITIES)


def test_rows_aligned_by_image_id_parquet(tmp_path):
    frame = pd.DataFrame(PROBABILITIES, columns=CLASSES)
    frame.insert(0, "image_id", [0, 1, 2, 3])
    path = tmp_path / "predictions.parquet"
    frame.iloc[::-1].to_parquet(path)
    np.testing.assert_allclose(load_predictions(path, CLASSES, 4), PROBABILITIES)


def test_npy_with_class_list(tmp_path):
    path = tmp_path / "predictions.npy"
    np.save(path, PROBABILITIES[:, [1, 0, 2]])
    loaded = load_predictions(path, CLASSES, 4, class_list=["dog", "cat", "fox"])
    np.testing.assert_allclose(loaded, PROBABILITIES)


def test_rounded_rows_renormalised(tmp_path):
    rounded = PROBABILITIES.copy()
    rounded[0] = [0.7004, 0.2, 0.1]
    loaded = load_predictions(
        write_csv(tmp_path, pd.DataFrame(rounded, columns=CLASSES)), CLASSES, 4
    )
    np.testing.assert_allclose(loaded.sum(axis=1), 1.0)


def test_logits_with_from_logits(tmp_path):
    logits = np.log(PROBABILITIES) + 3.0
    path = write_csv(tmp_path, pd.DataFrame(logits, columns=CLASSES))
    loaded = load_predictions(path, CLASSES, 4, from_logits=True)
    np.testing.assert_allclose(loaded, PROBABILITIES)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.log(PROBABILITIES), "look like logits.*from_logits=True"),
        (PROBABILITIES * 0.5, r"4 rows do not sum to one \(row 0 sums to 0.5"),
    ],
)
def test_values_not_probabilities_rejected(tmp_path, values, message):
    path = write_csv(tmp_path, pd.DataFrame(values, columns=CLASSES))
    with pytest.raises(PredictionsError, match=message):
        load_predictions(path, CLASSES, 4)


def test_nan_rejected_with_position(tmp_path):
    values = PROBABILITIES.copy()
    values[2, 1] = np.nan
    path = write_csv(tmp_path, pd.DataFrame(values, columns=CLASSES))
    with pytest.raises(PredictionsError, match="row 2, class 'dog' is nan"):
        load_predictions(path, CLASSES, 4)


def test_missing_and_extra_columns_named(tmp_path):
    frame = pd.DataFrame(PROBABILITIES, columns=["cat", "dog", "wolf"])
    path = write_csv(tmp_path, frame)
    with pytest.raises(PredictionsError) as error:
        load_predictions(path, CLASSES, 4)
    assert "missing classes ['fox']" in str(error.value)
    assert "unknown columns ['wolf']" in str(error.value)
    assert str(path) in str(error.value)


def test_non_numeric_column_rejected(tmp_path):
    frame = pd.DataFrame(PROBABILITIES, columns=CLASSES)
    frame["label"] = ["cat", "dog", "fox", "cat"]
    with pytest.raises(PredictionsError, match=r"columns \['label'\] are not numeric"):
        load_predictions(write_csv(tmp_path, frame), CLASSES, 4)


def test_row_count_mismatch_rejected(tmp_path):
    path = write_csv(tmp_path, pd.DataFrame(PROBABILITIES[:3], columns=CLASSES))
    with pytest.raises(PredictionsError, match="has 3 rows but the dataset has 4"):
        load_predictions(path, CLASSES, 4)


def test_unknown_relpath_rejected(tmp_path):
    frame = pd.DataFrame(PROBABILITIES, columns=CLASSES)
    frame.insert(0, "relpath", ["cat/a.jpg", "dog/b.jpg", "fox/zzz.jpg", "cat/d.jpg"])
    with pytest.raises(PredictionsError, match=r"not in the dataset, e.g. \['fox/zzz"):
        load_predictions(write_csv(tmp_path, frame), CLASSES, 4, images=images_table())


def test_relpath_without_images_table_rejected(tmp_path):
    frame = pd.DataFrame(PROBABILITIES, columns=CLASSES)
    frame.insert(0, "relpath", images_table()["relpath"])
    with pytest.raises(PredictionsError, match="pass images=dataset.images"):
        load_predictions(write_csv(tmp_path, frame), CLASSES, 4)


def test_repeated_and_missing_image_ids_rejected(tmp_path):
    frame = pd.DataFrame(PROBABILITIES, columns=CLASSES)
    frame.insert(0, "image_id", [0, 1, 1, 3])
    path = write_csv(tmp_path, frame)
    with pytest.raises(PredictionsError, match=r"images \[1\] have more than one row"):
        load_predictions(path, CLASSES, 4)
    frame = frame.iloc[[0, 1, 3]]
    path = write_csv(tmp_path, frame)
    with pytest.raises(PredictionsError, match=r"1 of 4 images have no row.*\[2\]"):
        load_predictions(path, CLASSES, 4)


def test_image_id_outside_range_rejected(tmp_path):
    frame = pd.DataFrame(PROBABILITIES, columns=CLASSES)
    frame.insert(0, "image_id", [0, 1, 2, 9])
    with pytest.raises(PredictionsError, match="image_id 9 is outside 0..3"):
        load_predictions(write_csv(tmp_path, frame), CLASSES, 4)


def test_npy_without_class_list_uses_class_order(tmp_path):
    path = tmp_path / "predictions.npy"
    np.save(path, PROBABILITIES)

    loaded = load_predictions(path, CLASSES, 4)

    np.testing.assert_allclose(loaded, PROBABILITIES)


def test_npy_without_class_list_wrong_width(tmp_path):
    path = tmp_path / "predictions.npy"
    np.save(path, PROBABILITIES[:, :2])
    with pytest.raises(PredictionsError, match="2 columns but there are 3 classes"):
        load_predictions(path, CLASSES, 4)


def test_npy_wrong_class_list_length_rejected(tmp_path):
    path = tmp_path / "predictions.npy"
    np.save(path, PROBABILITIES)
    with pytest.raises(PredictionsError, match="3 columns but there are 2 classes"):
        load_predictions(path, CLASSES, 4, class_list=["cat", "dog"])


def test_npy_one_dimensional_rejected(tmp_path):
    path = tmp_path / "predictions.npy"
    np.save(path, PROBABILITIES[:, 0])
    with pytest.raises(PredictionsError, match="expected a 2-D array"):
        load_predictions(path, CLASSES, 4, class_list=CLASSES)


def test_class_list_with_table_rejected(tmp_path):
    path = write_csv(tmp_path, pd.DataFrame(PROBABILITIES, columns=CLASSES))
    with pytest.raises(PredictionsError, match="class_list is only for .npy"):
        load_predictions(path, CLASSES, 4, class_list=CLASSES)


def test_missing_file_and_unknown_format_rejected(tmp_path):
    with pytest.raises(PredictionsError, match="not found"):
        load_predictions(tmp_path / "absent.csv", CLASSES, 4)
    other = tmp_path / "predictions.json"
    other.write_text("{}")
    with pytest.raises(PredictionsError, match="unsupported predictions format '.json'"):
        load_predictions(other, CLASSES, 4)


def test_unreadable_csv_rejected(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_bytes(b"")
    with pytest.raises(PredictionsError, match="could not read the table"):
        load_predictions(path, CLASSES, 4)


def test_one_hot_rows_warn(tmp_path):
    one_hot = np.eye(3)[[0, 1, 2, 0]]
    path = write_csv(tmp_path, pd.DataFrame(one_hot, columns=CLASSES))
    with pytest.warns(UserWarning, match="near one-hot.*hide label errors"):
        load_predictions(path, CLASSES, 4)


def test_accuracy_above_probe_warns(tmp_path):
    path = write_csv(tmp_path, pd.DataFrame(PROBABILITIES, columns=CLASSES))
    labels = PROBABILITIES.argmax(axis=1)
    with pytest.warns(UserWarning, match="agree with the given labels on 1.000.*0.800"):
        load_predictions(path, CLASSES, 4, labels=labels, reference_accuracy=0.8)


def test_accuracy_close_to_probe_does_not_warn(tmp_path):
    path = write_csv(tmp_path, pd.DataFrame(PROBABILITIES, columns=CLASSES))
    labels = PROBABILITIES.argmax(axis=1)
    loaded = load_predictions(path, CLASSES, 4, labels=labels, reference_accuracy=0.98)
    assert loaded.shape == (4, 3)
