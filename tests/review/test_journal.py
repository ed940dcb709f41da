"""The decision journal on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from beholder.review.journal import (
    Journal,
    JournalConflict,
    JournalState,
    NothingToUndo,
)
from beholder.store import create_engine

GIVEN = {0: "cat", 1: "dog", 2: "cat", 3: "fox"}


@pytest.fixture
def engine(database_url, tmp_path):
    engine = create_engine(database_url or f"sqlite:///{tmp_path / 'journal.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def journal(engine):
    return Journal(engine)


def record(journal, image_id, action, reviewer="ana", **extra):
    return journal.record(
        image_id=image_id,
        action=action,
        reviewer=reviewer,
        given_label=GIVEN[image_id],
        relpath=f"{GIVEN[image_id]}/{image_id}.png",
        **extra,
    )


def test_record_returns_committed_row(journal, engine):
    before = datetime.now(UTC)
    result = record(journal, 1, "relabel", new_label="cat", note="ears", queue="issues")

    row = result.row
    assert result.created
    assert row["decision_id"] >= 1
    assert row["action"] == "relabel"
    assert row["old_label"] == "dog"
    assert row["new_label"] == "cat"
    assert row["note"] == "ears"
    assert row["queue"] == "issues"
    assert row["created_at"].tzinfo is not None
    assert before <= row["created_at"] <= datetime.now(UTC)
    # A second engine reads the row, so it was committed.
    other = Journal(create_engine(engine.url.render_as_string(hide_password=False)))
    assert other.get(row["decision_id"])["new_label"] == "cat"
    other.engine.dispose()


def test_old_label_follows_earlier_decisions(journal):
    record(journal, 0, "relabel", new_label="dog")
    kept = record(journal, 0, "keep").row
    removed = record(journal, 0, "remove").row

    assert kept["old_label"] == "dog"
    assert kept["new_label"] == "dog"
    assert removed["old_label"] == "dog"
    assert removed["new_label"] == "dog"


def test_undo_walks_back_latest_first(journal):
    first = record(journal, 0, "relabel", new_label="dog").row
    second = record(journal, 0, "relabel", new_label="fox").row
    record(journal, 2, "keep", reviewer="ben")

    undo, undone = journal.undo(reviewer="ana", given_label_of=GIVEN.__getitem__)
    assert undone["decision_id"] == second["decision_id"]
    assert undo.row["undoes"] == second["decision_id"]
    assert undo.row["old_label"] == "fox"
    assert undo.row["new_label"] == "dog"

    undo, undone = journal.undo(reviewer="ana", given_label_of=GIVEN.__getitem__)
    assert undone["decision_id"] == first["decision_id"]
    assert undo.row["new_label"] == "cat"

    with pytest.raises(NothingToUndo, match="ana"):
        journal.undo(reviewer="ana", given_label_of=GIVEN.__getitem__)
    state = journal.state()
    assert 0 not in state.decisions
    assert state.decisions[2]["reviewer"] == "ben"


def test_undo_of_named_decision(journal):
    target = record(journal, 3, "ambiguous").row
    record(journal, 1, "keep")

    undo, undone = journal.undo(
        reviewer="ben",
        decision_id=target["decision_id"],
        given_label_of=GIVEN.__getitem__,
    )

    assert undone["image_id"] == 3
    assert undo.row["reviewer"] == "ben"
    with pytest.raises(JournalConflict, match="already undone"):
        journal.undo(
            reviewer="ana",
            decision_id=target["decision_id"],
            given_label_of=GIVEN.__getitem__,
        )
    with pytest.raises(JournalConflict, match="is an undo"):
        journal.undo(
            reviewer="ana",
            decision_id=undo.row["decision_id"],
            given_label_of=GIVEN.__getitem__,
        )
    with pytest.raises(KeyError):
        journal.undo(reviewer="ana", decision_id=999, given_label_of=GIVEN.__getitem__)


def test_request_id_replay_returns_first_row(journal):
    first = record(journal, 1, "keep", request_id="req-1")
    again = record(journal, 1, "keep", request_id="req-1")

    assert first.created
    assert not again.created
    assert again.row["decision_id"] == first.row["decision_id"]
    assert journal.count() == 1
    with pytest.raises(JournalConflict, match="req-1"):
        record(journal, 2, "keep", request_id="req-1")


def test_undo_replay_undoes_once(journal):
    record(journal, 0, "keep")
    record(journal, 1, "keep")

    first, _ = journal.undo(
        reviewer="ana", request_id="undo-1", given_label_of=GIVEN.__getitem__
    )
    again, undone = journal.undo(
        reviewer="ana", request_id="undo-1", given_label_of=GIVEN.__getitem__
    )

    assert not again.created
    assert again.row["decision_id"] == first.row["decision_id"]
    assert undone["image_id"] == 1
    assert set(journal.state().decisions) == {0}


def test_state_folds_blind_answers_and_undos(journal):
    record(journal, 0, "blind", new_label="dog")
    record(journal, 1, "blind", new_label=None)
    record(journal, 1, "relabel", new_label="fox")
    journal.undo(reviewer="ana", given_label_of=GIVEN.__getitem__)

    state = journal.state()

    assert [row["image_id"] for row in state.blind_answers] == [0, 1]
    assert state.blind_answers[1]["new_label"] is None
    assert state.decisions == {}
    assert state.last_decision_id == 4
    assert len(state.undone) == 1


def test_invalid_writes_raise(journal):
    with pytest.raises(ValueError, match="new label"):
        record(journal, 0, "relabel")
    with pytest.raises(ValueError, match="action"):
        record(journal, 0, "undo")
    assert journal.count() == 0


def test_concurrent_writers_lose_nothing(journal):
    n_threads, per_thread = 8, 25
    errors = []

    def work(worker):
        try:
            for i in range(per_thread):
                image_id = (worker + i) % 4
                record(
                    journal,
                    image_id,
                    "keep",
                    reviewer=f"r{worker}",
                    request_id=f"w{worker}-{i}",
                )
        except Exception as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = journal.rows()
    assert len(rows) == n_threads * per_thread
    assert len({row["decision_id"] for row in rows}) == len(rows)
    expected = {f"w{w}-{i}" for w in range(n_threads) for i in range(per_thread)}
    assert {row["request_id"] for row in rows} == expected


def test_rows_filter_and_order(journal):
    for image_id in (0, 1, 2, 1):
        record(journal, image_id, "keep", reviewer="ana" if image_id else "ben")

    newest = journal.rows(newest_first=True, limit=2)
    of_one = journal.rows(image_ids=[1])
    of_ben = journal.rows(reviewer="ben")

    assert [row["decision_id"] for row in newest] == [4, 3]
    assert [row["decision_id"] for row in of_one] == [2, 4]
    assert [row["image_id"] for row in of_ben] == [0]


def test_fold_ignores_row_order():
    rows = [
        {"decision_id": 2, "image_id": 5, "action": "undo", "undoes": 1},
        {"decision_id": 1, "image_id": 5, "action": "remove", "undoes": None},
        {"decision_id": 3, "image_id": 6, "action": "keep", "undoes": None},
    ]

    state = JournalState.from_rows(rows)

    assert set(state.decisions) == {6}
    assert state.undone == {1}
