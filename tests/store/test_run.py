import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy

from beholder.errors import StoreError
from beholder.store import RunStore


def test_table_round_trip_keeps_lists(tmp_path):
    store = RunStore(tmp_path / "run")
    frame = pd.DataFrame({"image_id": [0, 1], "neighbours": [[1, 2], [0]]})

    store.write_table("issues", frame)
    back = store.read_table("issues")

    assert back["neighbours"].map(list).tolist() == [[1, 2], [0]]
    with store.engine.connect() as connection:
        stored = (
            connection.execute(
                sqlalchemy.text("SELECT neighbours FROM issues ORDER BY image_id")
            )
            .scalars()
            .all()
        )
    assert [json.loads(v) for v in stored] == [[1, 2], [0]]


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = RunStore(tmp_path / "run")

    with store.engine.connect() as connection:
        mode = connection.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar()

    assert mode == "wal"


def test_arrays_and_meta_round_trip(tmp_path):
    store = RunStore(tmp_path / "run")
    array = np.arange(6, dtype=np.float32).reshape(2, 3)

    store.write_array("probabilities", array)
    store.write_meta({"seed": 3, "classes": ["a", "b"]})

    np.testing.assert_array_equal(store.read_array("probabilities"), array)
    assert store.read_meta() == {"seed": 3, "classes": ["a", "b"]}


def test_open_rejects_folder_without_run(tmp_path):
    with pytest.raises(StoreError, match="not a beholder run folder"):
        RunStore.open(tmp_path)


def test_missing_table_is_named(tmp_path):
    store = RunStore(tmp_path / "run")

    with pytest.raises(StoreError, match="Table 'nothing' is not in run"):
        store.read_table("nothing")
