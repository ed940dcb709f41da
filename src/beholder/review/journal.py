"""The decision journal: every review step as one committed row.

The journal is append-only. A decision (keep, relabel, ambiguous, remove),
a blind answer and an undo are each one row of table ``review_journal``,
and an undo names the row it reverses in ``undoes``. The state of an image
is the latest decision that no undo names, so the full history stays in the
table and every export can be recomputed from it.

Each write commits before the call returns, so a caller that acknowledges a
request after :meth:`Journal.record` returns never acknowledges a lost row.
The same code runs on SQLite (WAL mode, ``synchronous=FULL``) and
PostgreSQL through SQLAlchemy Core.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from beholder.review.writer import GroupCommitWriter, WriterStopped

logger = logging.getLogger(__name__)

TABLE_NAME = "review_journal"
DECISIONS = ("keep", "relabel", "ambiguous", "remove")
BLIND = "blind"
UNDO = "undo"
ACTIONS = DECISIONS + (BLIND, UNDO)
MAX_REVIEWER_LENGTH = 100
MAX_REQUEST_ID_LENGTH = 64
MAX_QUEUE_LENGTH = 200

metadata = sa.MetaData()

journal_table = sa.Table(
    TABLE_NAME,
    metadata,
    sa.Column("decision_id", sa.Integer, primary_key=True, autoincrement=True),
    # Client-chosen id that makes a retried request return the first row.
    sa.Column("request_id", sa.String(MAX_REQUEST_ID_LENGTH), unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reviewer", sa.String(MAX_REVIEWER_LENGTH), nullable=False),
    sa.Column("image_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("relpath", sa.Text),
    sa.Column("queue", sa.String(MAX_QUEUE_LENGTH)),
    sa.Column("action", sa.String(16), nullable=False),
    # Label of the image before and after this row. A blind answer keeps the
    # label and stores the person's class in new_label; a removal keeps it too.
    sa.Column("old_label", sa.Text),
    sa.Column("new_label", sa.Text),
    sa.Column("model_label", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column(
        "undoes",
        sa.Integer,
        sa.ForeignKey(f"{TABLE_NAME}.decision_id"),
        unique=True,
    ),
    sa.CheckConstraint(
        "action IN (" + ", ".join(f"'{name}'" for name in ACTIONS) + ")",
        name="ck_review_journal_action",
    ),
    sa.Index("ix_review_journal_reviewer", "reviewer", "decision_id"),
)

COLUMNS = tuple(column.name for column in journal_table.columns)


def read_image_references(engine) -> list[dict]:
    """Return ``decision_id``, ``image_id`` and ``relpath`` of every journal row.

    Returns an empty list when the database has no journal table, and never
    creates one.
    """
    if not sa.inspect(engine).has_table(TABLE_NAME):
        return []
    columns = [journal_table.c.decision_id, journal_table.c.image_id]
    query = sa.select(*columns, journal_table.c.relpath).order_by(columns[0])
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def find_mismatched_rows(rows: Iterable[dict], relpath_of: Callable) -> list[dict]:
    """Return the rows whose image this run does not have under the same path.

    ``relpath_of(image_id)`` returns the run's relative path of an image, or
    None when the run has no such image. A row that recorded no ``relpath``
    matches any image with its ``image_id``.
    """
    mismatched = []
    for row in rows:
        current = relpath_of(int(row["image_id"]))
        recorded = row.get("relpath")
        if current is None or (recorded is not None and recorded != current):
            mismatched.append(row)
    return mismatched


class JournalError(Exception):
    """A journal write that cannot be done as requested."""


class NothingToUndo(JournalError):
    """The reviewer has no decision left that an undo could reverse."""


class JournalConflict(JournalError):
    """The request contradicts the journal (replayed id, already undone)."""


class JournalUnavailable(JournalError):
    """The journal could not commit in time, or is closed."""


@dataclass(frozen=True)
class WriteResult:
    """A journal row after a write, and whether this call inserted it."""

    row: dict
    created: bool


class Journal:
    """Append decisions to ``review_journal`` and read them back.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The run's database. The table is created when missing.
    """

    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine
        metadata.create_all(engine, checkfirst=True)
        # Writes of this process go through one thread that commits queued
        # writes together (see beholder.review.writer).
        self._writer = GroupCommitWriter(
            engine, rejections=(JournalError, KeyError, ValueError)
        )

    def close(self) -> None:
        """Commit queued writes and stop the writer thread."""
        self._writer.close()

    def record(self, **fields) -> WriteResult:
        """Commit one decision or blind answer and return its row.

        Takes the keyword arguments of :meth:`record_write`.
        """
        return self._submit(self.record_write(**fields))

    async def record_async(self, **fields) -> WriteResult:
        """Await :meth:`record`'s commit without blocking the event loop."""
        return await self._submit_async(self.record_write(**fields))

    def undo(self, **fields) -> tuple[WriteResult, dict]:
        """Commit an undo row; return it with the row it reverses.

        Takes the keyword arguments of :meth:`undo_write`.
        """
        return self._submit(self.undo_write(**fields))

    async def undo_async(self, **fields) -> tuple[WriteResult, dict]:
        """Await :meth:`undo`'s commit without blocking the event loop."""
        return await self._submit_async(self.undo_write(**fields))

    def record_write(
        self,
        *,
        image_id: int,
        action: str,
        reviewer: str,
        given_label: str,
        new_label: str | None = None,
        model_label: str | None = None,
        relpath: str | None = None,
        queue: str | None = None,
        note: str | None = None,
        request_id: str | None = None,
    ):
        """Check a decision or blind answer and return the function that writes it.

        ``given_label`` is the dataset's label of the image. The row's
        ``old_label`` is the label after the image's latest active decision,
        or ``given_label`` when there is none. For ``relabel`` and ``blind``,
        ``new_label`` is the class chosen, and the other decisions keep the
        label. A ``request_id`` already in the journal returns that row
        unchanged.

        Raises
        ------
        ValueError
            For an unknown action or a relabel without ``new_label``, here.
        JournalConflict
            From :meth:`record`, when ``request_id`` was used for another
            image or action.
        """
        if action not in DECISIONS and action != BLIND:
            raise ValueError(
                f"action must be one of {DECISIONS + (BLIND,)}, got {action!r}."
            )
        if action == "relabel" and not new_label:
            raise ValueError("a relabel needs the new label.")

        expect = {"image_id": image_id, "action": action}

        def write(connection):
            replay = _replayed(connection, request_id, expect)
            if replay is not None:
                return replay
            # NOTE: writes of one process are serialised by its writer thread.
            # Two server processes on one database can both read the same
            # old_label for one image; decision_id order still decides.
            current = _active_decision(connection, image_id)
            old_label = current["new_label"] if current else given_label
            if action in ("relabel", BLIND):
                label_after = new_label
            else:
                label_after = old_label
            values = {
                "request_id": request_id,
                "created_at": _now(),
                "reviewer": reviewer,
                "image_id": image_id,
                "relpath": relpath,
                "queue": queue,
                "action": action,
                "old_label": old_label,
                "new_label": label_after,
                "model_label": model_label,
                "note": note,
                "undoes": None,
            }
            return WriteResult(row=_insert(connection, values), created=True)

        return write

    def undo_write(
        self,
        *,
        reviewer: str,
        given_label_of: Callable[[int], str],
        decision_id: int | None = None,
        queue: str | None = None,
        note: str | None = None,
        request_id: str | None = None,
    ):
        """Return the function that writes an undo row, returning it and its target.

        Without ``decision_id`` the reviewer's latest row that is not an undo
        and not yet undone is reversed. ``given_label_of(image_id)`` returns
        the dataset's label, which the image falls back to when no decision
        is left.

        The write function, run by :meth:`undo`, raises the errors below.

        Raises
        ------
        NothingToUndo
            When the reviewer has nothing left to undo.
        JournalConflict
            When ``decision_id`` is an undo row, was undone already, or
            ``request_id`` was used for another request.
        KeyError
            When ``decision_id`` is not in the journal.
        """

        def write(connection):
            # A replayed undo is looked up first: running it again could
            # reverse another decision or find nothing left to undo.
            replay = _replayed(connection, request_id, {"action": UNDO})
            if replay is not None:
                return replay, _get(connection, replay.row["undoes"])
            target = _undo_target(connection, reviewer, decision_id)
            image_id = target["image_id"]
            current = _active_decision(connection, image_id)
            given = given_label_of(image_id)
            label_before = current["new_label"] if current else given
            previous = _active_decision(connection, image_id, excluding=target)
            label_after = previous["new_label"] if previous else given
            values = {
                "request_id": request_id,
                "created_at": _now(),
                "reviewer": reviewer,
                "image_id": image_id,
                "relpath": target["relpath"],
                "queue": queue,
                "action": UNDO,
                "old_label": label_before,
                "new_label": label_after,
                "model_label": target["model_label"],
                "note": note,
                "undoes": target["decision_id"],
            }
            row = _insert(connection, values)
            return WriteResult(row=row, created=True), target

        return write

    def get(self, decision_id: int) -> dict | None:
        """Return row ``decision_id``, or None."""
        with self.engine.connect() as connection:
            return _get(connection, decision_id)

    def rows(
        self,
        *,
        image_ids: Iterable[int] | None = None,
        reviewer: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[dict]:
        """Return journal rows, oldest first unless ``newest_first``."""
        query = sa.select(journal_table)
        if reviewer is not None:
            query = query.where(journal_table.c.reviewer == reviewer)
        order = journal_table.c.decision_id
        query = query.order_by(order.desc() if newest_first else order)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            if image_ids is None:
                result = connection.execute(query).mappings().all()
                return [_plain_row(row) for row in result]
            ids = sorted({int(i) for i in image_ids})
            found = []
            # Chunks keep the IN list under SQLite's bound-parameter limit.
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                where = query.where(journal_table.c.image_id.in_(chunk))
                found += [_plain_row(r) for r in connection.execute(where).mappings()]
        found.sort(key=lambda row: row["decision_id"], reverse=newest_first)
        return found[:limit] if limit is not None else found

    def count(self) -> int:
        with self.engine.connect() as connection:
            query = sa.select(sa.func.count()).select_from(journal_table)
            return int(connection.execute(query).scalar_one())

    def state(self, image_ids: Iterable[int] | None = None) -> JournalState:
        """Fold the journal (or the rows of ``image_ids``) into per-image state."""
        return JournalState.from_rows(self.rows(image_ids=image_ids))

    def _submit(self, write):
        with _translated_errors():
            return self._writer.submit(write)

    async def _submit_async(self, write):
        with _translated_errors():
            return await self._writer.submit_async(write)


@dataclass
class JournalState:
    """The journal folded into what is true now.

    Attributes
    ----------
    decisions : dict of int to dict
        For each reviewed image, its latest decision row that no undo names.
    blind_answers : list of dict
        Every blind-answer row that no undo names, oldest first.
    undone : set of int
        Ids of the rows that an undo names.
    last_decision_id : int
        Highest row id folded in, 0 for an empty journal.
    """

    decisions: dict
    blind_answers: list
    undone: set
    last_decision_id: int

    @classmethod
    def from_rows(cls, rows: Iterable[dict]) -> JournalState:
        """Fold ``rows`` in ``decision_id`` order."""
        rows = sorted(rows, key=lambda row: row["decision_id"])
        undone = {row["undoes"] for row in rows if row["action"] == UNDO}
        decisions: dict = {}
        blind_answers = []
        for row in rows:
            if row["decision_id"] in undone:
                continue
            if row["action"] in DECISIONS:
                decisions[row["image_id"]] = row
            elif row["action"] == BLIND:
                blind_answers.append(row)
        last = rows[-1]["decision_id"] if rows else 0
        return cls(
            decisions=decisions,
            blind_answers=blind_answers,
            undone=undone,
            last_decision_id=last,
        )


# Statements are built once with bound parameters, so SQLAlchemy compiles
# each one once; building them per call cost about 1 ms a write.
_undo_rows = journal_table.alias("undo_rows")
_not_undone = ~sa.exists().where(_undo_rows.c.undoes == journal_table.c.decision_id)
_newest_first = journal_table.c.decision_id.desc()
_SELECT_BY_REQUEST = sa.select(journal_table).where(
    journal_table.c.request_id == sa.bindparam("request_id")
)
_SELECT_BY_ID = sa.select(journal_table).where(
    journal_table.c.decision_id == sa.bindparam("decision_id")
)
_SELECT_UNDO_OF = sa.select(journal_table.c.decision_id).where(
    journal_table.c.undoes == sa.bindparam("decision_id")
)
_SELECT_ACTIVE = (
    sa.select(journal_table)
    .where(journal_table.c.image_id == sa.bindparam("image_id"))
    .where(journal_table.c.action.in_(DECISIONS))
    .where(journal_table.c.decision_id != sa.bindparam("excluded"))
    .where(_not_undone)
    .order_by(_newest_first)
    .limit(1)
)
_SELECT_LATEST_OF_REVIEWER = (
    sa.select(journal_table)
    .where(journal_table.c.reviewer == sa.bindparam("reviewer"))
    .where(journal_table.c.action != UNDO)
    .where(_not_undone)
    .order_by(_newest_first)
    .limit(1)
)
_INSERT = journal_table.insert()


def _first(connection, statement, **params) -> dict | None:
    row = connection.execute(statement, params).mappings().first()
    return _plain_row(row) if row else None


@contextmanager
def _translated_errors():
    try:
        yield
    except WriterStopped as error:
        raise JournalUnavailable(str(error)) from None
    except sa.exc.IntegrityError:
        # Another process committed a clashing row (the same request_id for
        # another request, or an undo of the same decision).
        raise JournalConflict(
            "a concurrent request changed the same decision; reload and retry."
        ) from None


def _replayed(connection, request_id: str | None, expect: dict):
    """Return the row of an earlier request with ``request_id``, or None."""
    if request_id is None:
        return None
    row = _first(connection, _SELECT_BY_REQUEST, request_id=request_id)
    if row is None:
        return None
    for key, value in expect.items():
        if row[key] != value:
            raise JournalConflict(
                f"request_id {request_id!r} was already used for decision "
                f"{row['decision_id']} ({row['action']} of image "
                f"{row['image_id']}); send a new request_id."
            )
    return WriteResult(row=row, created=False)


def _get(connection, decision_id: int) -> dict | None:
    return _first(connection, _SELECT_BY_ID, decision_id=decision_id)


def _active_decision(connection, image_id: int, *, excluding: dict | None = None):
    """Return the image's latest decision row that no undo names, or None."""
    excluded = excluding["decision_id"] if excluding is not None else 0
    return _first(connection, _SELECT_ACTIVE, image_id=image_id, excluded=excluded)


def _undo_target(connection, reviewer: str, decision_id: int | None) -> dict:
    if decision_id is None:
        row = _first(connection, _SELECT_LATEST_OF_REVIEWER, reviewer=reviewer)
        if row is None:
            raise NothingToUndo(f"reviewer {reviewer!r} has no decision left to undo.")
        return row

    row = _get(connection, decision_id)
    if row is None:
        raise KeyError(decision_id)
    if row["action"] == UNDO:
        raise JournalConflict(
            f"decision {decision_id} is an undo; undo the decision itself instead."
        )
    undone_by = connection.execute(
        _SELECT_UNDO_OF, {"decision_id": decision_id}
    ).scalar()
    if undone_by is not None:
        raise JournalConflict(
            f"decision {decision_id} was already undone by decision {undone_by}."
        )
    return row


def _insert(connection, values: dict) -> dict:
    result = connection.execute(_INSERT, values)
    row = dict(values)
    row["decision_id"] = int(result.inserted_primary_key[0])
    return _plain_row(row)


def _now() -> datetime:
    return datetime.now(UTC)


def _plain_row(row) -> dict:
    """Return a row as a dict with ``created_at`` as aware UTC datetime."""
    plain = {name: row[name] for name in COLUMNS}
    created = plain["created_at"]
    if isinstance(created, datetime):
        if created.tzinfo is None:
            # SQLite stores no time zone; the journal writes UTC only.
            created = created.replace(tzinfo=UTC)
        plain["created_at"] = created.astimezone(UTC)
    return plain


def row_to_json(row: dict) -> dict:
    """Return a journal row with ``created_at`` as ISO 8601 text."""
    result = dict(row)
    created = result.get("created_at")
    if isinstance(created, datetime):
        result["created_at"] = created.isoformat(timespec="microseconds")
    return result
