"""Queues built from optional tables, and the blind-agreement figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from beholder.review.agreement import blind_agreement
from beholder.review.app import create_app, open_run
from beholder.review.journal import JournalState
from beholder.store import RunStore


@pytest.fixture
def images(run_dir):
    return RunStore.open(run_dir).read_table("images")


def add_tables(run_dir, images):
    store = RunStore.open(run_dir)
    brightness = np.linspace(0.0, 1.0, len(images))
    store.write_table(
        "properties",
        pd.DataFrame({"image_id": images["image_id"], "brightness": brightness}),
    )
    store.write_table(
        "bias_slices",
        pd.DataFrame(
            {
                "kind": ["class", "property", "class x property"],
                "class": ["five", None, "three"],
                "property": [None, "brightness", "brightness"],
                "bin": [None, "Q4/4", "Q1/4"],
                "bin_low": [np.nan, 0.75, 0.0],
                "bin_high": [np.nan, 1.0, 0.25],
                "error_rate": [0.2, 0.1, 0.3],
                "description": [
                    "class five: 20% wrong",
                    "bright images",
                    "dark threes",
                ],
            }
        ),
    )
    store.write_table(
        "duplicates",
        pd.DataFrame({"cluster_id": [7, 7, 9, 9, 9], "image_id": [0, 4, 1, 2, 3]}),
    )
    store.close()
    return brightness


def test_bias_slices_become_queues(run_dir, images):
    brightness = add_tables(run_dir, images)

    with TestClient(create_app(run_dir), base_url="http://127.0.0.1") as client:
        queues = {q["queue_id"]: q for q in client.get("/api/queues").json()["queues"]}
        by_class = client.get("/api/queues/bias_slices-0").json()
        bright = client.get("/api/queues/bias_slices-1").json()
        dark_threes = client.get("/api/queues/bias_slices-2").json()
        page = client.get("/tables/bias_slices")

    fives = images[images["label"] == "five"]
    assert {item["image_id"] for item in by_class["items"]} == set(fives["image_id"])
    first = by_class["items"][0]["image_id"]
    wrong = fives[fives["predicted"] != fives["label"]]["image_id"]
    if len(wrong):
        assert first in set(wrong)
    expected_bright = set(images["image_id"][brightness >= 0.75])
    assert {item["image_id"] for item in bright["items"]} == expected_bright
    dark = images[(brightness < 0.25) & (images["label"] == "three")]
    assert {item["image_id"] for item in dark_threes["items"]} == set(dark["image_id"])
    assert queues["bias_slices-0"]["title"] == "class five: 20% wrong"
    assert page.status_code == 200
    assert "dark threes" in page.text
    assert 'href="/review/bias_slices-2"' in page.text


def test_duplicate_groups_become_queues(run_dir, images):
    add_tables(run_dir, images)

    with TestClient(create_app(run_dir), base_url="http://127.0.0.1") as client:
        first = client.get("/api/queues/duplicates-0").json()
        second = client.get("/api/queues/duplicates-1").json()
        index = client.get("/").text

    assert [item["image_id"] for item in first["items"]] == [0, 4]
    assert [item["image_id"] for item in second["items"]] == [1, 2, 3]
    assert 'href="/tables/duplicates"' in index
    assert 'href="/tables/bias_slices"' in index


def test_list_column_table_from_database_only(run_dir):
    # A table only in the database (no Parquet file), with a JSON list column.
    store = RunStore.open(run_dir)
    frame = pd.DataFrame({"name": ["pair a", "pair b"], "image_ids": ["[5, 6]", "[]"]})
    frame.to_sql("duplicate_clusters", store.engine, index=False)
    store.close()

    with TestClient(create_app(run_dir), base_url="http://127.0.0.1") as client:
        queues = {q["queue_id"]: q for q in client.get("/api/queues").json()["queues"]}
        items = client.get("/api/queues/duplicates-0").json()["items"]

    assert queues["duplicates-0"]["title"] == "pair a"
    assert queues["duplicates-1"]["n_items"] == 0
    assert [item["image_id"] for item in items] == [5, 6]


def test_table_without_image_ids_is_shown_only(run_dir):
    store = RunStore.open(run_dir)
    store.write_table("bias_slices", pd.DataFrame({"note": ["<b>odd</b>"], "n": [3]}))
    store.close()

    with TestClient(create_app(run_dir), base_url="http://127.0.0.1") as client:
        queues = client.get("/api/queues").json()["queues"]
        page = client.get("/tables/bias_slices").text

    assert not [q for q in queues if q["kind"] == "bias_slices"]
    assert "&lt;b&gt;odd&lt;/b&gt;" in page
    assert "/review/bias_slices" not in page


def blind_row(decision_id, image_id, answer):
    return {
        "decision_id": decision_id,
        "image_id": image_id,
        "action": "blind",
        "new_label": answer,
        "undoes": None,
        "reviewer": "ana",
    }


def test_agreement_counts_per_class_and_pair(run_dir):
    store, records, journal = open_run(run_dir)
    journal.close()
    store.close()
    agree = [
        i
        for i in range(records.n_images)
        if records.given_label(i) == records.predicted(i)
    ]
    a, b = agree[0], agree[1]
    other = next(c for c in records.classes if c != records.given_label(b))
    rows = [blind_row(1, a, records.given_label(a)), blind_row(2, b, other)]
    rows.append(blind_row(3, a, None))
    rows.append({**blind_row(4, b, None), "action": "undo", "undoes": 3})

    stats = blind_agreement(records, JournalState.from_rows(rows))

    overall = stats["overall"]
    assert overall["n_answers"] == 2
    assert overall["n_cant_tell"] == 0
    assert overall["person_given"] == {"count": 1, "rate": 0.5}
    assert overall["all_agree"] == {"count": 1, "rate": 0.5}
    per_class = {row["class"]: row for row in stats["per_class"]}
    assert per_class[records.given_label(b)]["person_given"]["count"] == 0
    pair = stats["per_pair"][0]
    assert {pair["class_a"], pair["class_b"]} == {records.given_label(b), other}
    assert pair["person_a_for_b"] + pair["person_b_for_a"] == 1


def test_agreement_of_empty_journal(run_dir):
    store, records, journal = open_run(run_dir)
    journal.close()
    store.close()

    stats = blind_agreement(records, JournalState.from_rows([]))

    assert stats["overall"]["n_answers"] == 0
    assert stats["overall"]["person_model"]["rate"] is None
    assert stats["per_class"] == []
    assert stats["per_pair"] == []
