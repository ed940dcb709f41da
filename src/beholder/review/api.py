"""The review app's JSON API.

Decisions, blind answers and undos are committed to the journal before the
response is sent: a 2xx response means the row is on disk. Their handlers
are coroutines that await the journal's writer thread, so a burst of
decisions costs no worker threads; the other handlers read the database
and run in FastAPI's thread pool. A request may
carry a ``request_id``; sending the same one again (after a timeout, say)
returns the first row with status 200 instead of writing a second row.
Errors are JSON objects with a ``detail`` message.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from beholder.errors import BeholderError, ImageDecodeError
from beholder.review.agreement import blind_agreement
from beholder.review.journal import (
    DECISIONS,
    MAX_QUEUE_LENGTH,
    MAX_REQUEST_ID_LENGTH,
    MAX_REVIEWER_LENGTH,
    JournalConflict,
    JournalUnavailable,
    NothingToUndo,
    row_to_json,
)
from beholder.review.queues import MAX_SAMPLE_SIZE, QueueNotFound
from beholder.review.thumbs import ALLOWED_SIZES

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
MAX_NOTE_LENGTH = 2000
MAX_HISTORY = 50


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reviewer: str = Field(min_length=1, max_length=MAX_REVIEWER_LENGTH)
    queue: str | None = Field(None, max_length=MAX_QUEUE_LENGTH)
    note: str | None = Field(None, max_length=MAX_NOTE_LENGTH)
    request_id: str | None = Field(None, min_length=1, max_length=MAX_REQUEST_ID_LENGTH)

    @field_validator("note", "queue")
    @classmethod
    def _empty_is_none(cls, value):
        return value or None


class DecisionIn(_Body):
    """A decision on one image; ``label`` is the new class of a relabel."""

    image_id: int = Field(ge=0)
    action: Literal[DECISIONS]  # type: ignore[valid-type]
    label: str | None = Field(None, min_length=1)


class BlindAnswerIn(_Body):
    """A blind answer; ``label`` None means the person cannot tell."""

    image_id: int = Field(ge=0)
    label: str | None = Field(None, min_length=1)


class UndoIn(_Body):
    """An undo of ``decision_id``, or of the reviewer's latest row."""

    decision_id: int | None = Field(None, ge=1)


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["links", "copies"] = "links"


def _context(request: Request):
    return request.app.state.review


def _written(result, payload: dict) -> JSONResponse:
    return JSONResponse(payload, status_code=201 if result.created else 200)


def _check_image(context, image_id: int) -> None:
    if not context.records.has_image(image_id):
        raise HTTPException(
            404,
            f"image {image_id} is not in this run ({context.records.n_images} images).",
        )


def _check_label(context, label: str, *, field: str = "label") -> None:
    if label not in context.records.class_set:
        shown = ", ".join(context.records.classes[:20])
        more = " ..." if len(context.records.classes) > 20 else ""
        raise HTTPException(
            422, f"{field} {label!r} is not a class of this run; classes: {shown}{more}"
        )


@router.get("/health")
def health(request: Request):
    context = _context(request)
    return {
        "status": "ok",
        "n_images": context.records.n_images,
        "n_journal_rows": context.journal.count(),
    }


@router.get("/run")
def run_summary(request: Request):
    context = _context(request)
    records = context.records
    return {
        "run": records.run_dir.name,
        "n_images": records.n_images,
        "classes": records.classes,
        "default_reviewer": context.default_reviewer,
        "tables": sorted(records.optional_tables),
    }


@router.get("/queues")
def list_queues(request: Request):
    context = _context(request)
    state = context.journal.state()
    queues = [queue.summary() for queue in context.catalog.static_queues()]
    queues.append(context.catalog.get("random").summary())
    queues.append(context.catalog.get("relabel", state=state).summary())
    return {"queues": queues}


@router.get("/queues/{queue_id}")
def get_queue(
    request: Request,
    queue_id: str,
    seed: int | None = Query(None, ge=0, le=2**32 - 1),
    n: int | None = Query(None, ge=1, le=MAX_SAMPLE_SIZE),
    blind: bool = False,
):
    """Return a queue's items; ``blind`` leaves out why each image is there."""
    context = _context(request)
    state = context.journal.state() if queue_id == "relabel" else None
    try:
        queue = context.catalog.get(queue_id, state=state, seed=seed, n=n)
    except QueueNotFound:
        raise HTTPException(404, f"queue {queue_id!r} does not exist.") from None
    payload = queue.summary()
    payload["params"] = queue.params
    if blind:
        payload["title"] = "Blind review"
        payload["description"] = "Labels and model predictions are hidden."
        payload["items"] = [{"image_id": i} for i in queue.image_ids]
    else:
        payload["items"] = queue.items()
    return payload


@router.get("/images/{image_id}")
def image_detail(
    request: Request,
    image_id: int,
    blind: bool = False,
    reviewer: str | None = Query(None, max_length=MAX_REVIEWER_LENGTH),
):
    """Return what a review step shows about one image.

    In blind mode only the reviewer's own blind answer is returned: the
    file name, the given label and the model's guess stay hidden, because
    a class folder in the file name would give the label away.
    """
    context = _context(request)
    _check_image(context, image_id)
    history = context.journal.rows(image_ids=[image_id])
    if blind:
        answers = [
            row
            for row in history
            if row["action"] == "blind"
            and row["reviewer"] == reviewer
            and not _undone(row, history)
        ]
        answer = answers[-1]["new_label"] if answers else None
        return {
            "image_id": image_id,
            "blind": True,
            "answer": answer,
            "answered": bool(answers),
        }
    return image_record(context, image_id, history)


def image_record(context, image_id: int, history: list[dict]) -> dict:
    """Return the full (not blind) record of one image with its history."""
    records = context.records
    given = records.given_label(image_id)
    issue = records.issue(image_id)
    suggested = issue["suggested"] if issue else None
    current = _current(history)
    neighbours = records.disagreeing_neighbours(image_id)
    split = records.images.at[image_id, "split"]
    return {
        "image_id": image_id,
        "relpath": records.relpath(image_id),
        "split": None if _missing(split) else str(split),
        "given": given,
        "label": current["new_label"] if current else given,
        "predicted": records.predicted(image_id),
        "confidence": _number(records.images.at[image_id, "confidence"]),
        "issue": issue,
        "probabilities": records.top_probabilities(image_id),
        "neighbours": [
            {"image_id": i, "label": records.given_label(i)} for i in neighbours
        ],
        "examples": {
            "given": records.examples.get(given, []),
            "suggested": records.examples.get(suggested, []) if suggested else [],
        },
        "current": row_to_json(current) if current else None,
        "history": [row_to_json(row) for row in history[-MAX_HISTORY:]],
    }


@router.get("/images/{image_id}/thumb")
def thumbnail(request: Request, image_id: int, size: int = 384):
    context = _context(request)
    _check_image(context, image_id)
    if size not in ALLOWED_SIZES:
        raise HTTPException(422, f"size must be one of {ALLOWED_SIZES}, got {size}.")
    records = context.records
    key = records.content_hash(image_id) or f"id{image_id}"
    try:
        data = context.thumbs.get(records.image_path(image_id), key=key, size=size)
    except ImageDecodeError as error:
        logger.warning("thumbnail of image %d failed: %s", image_id, error.reason)
        raise HTTPException(
            404, f"image {image_id} could not be decoded: {error.reason}."
        ) from None
    headers = {"Cache-Control": "private, max-age=3600", "ETag": f'"{key}-{size}"'}
    return Response(data, media_type="image/jpeg", headers=headers)


@router.get("/decisions")
def list_decisions(
    request: Request,
    image_id: int | None = Query(None, ge=0),
    reviewer: str | None = Query(None, max_length=MAX_REVIEWER_LENGTH),
    limit: int = Query(200, ge=1, le=10_000),
):
    """Return journal rows, newest first."""
    journal = _context(request).journal
    image_ids = None if image_id is None else [image_id]
    rows = journal.rows(
        image_ids=image_ids, reviewer=reviewer, newest_first=True, limit=limit
    )
    return {"decisions": [row_to_json(row) for row in rows]}


@router.post("/decisions", status_code=201)
async def post_decision(request: Request, body: DecisionIn):
    """Commit a decision; 201 with the row, or 200 for a replayed request_id."""
    context = _context(request)
    _check_image(context, body.image_id)
    if body.action == "relabel":
        if body.label is None:
            raise HTTPException(422, "action 'relabel' needs 'label', the new class.")
        _check_label(context, body.label)
    elif body.label is not None:
        raise HTTPException(
            422, f"'label' is only for action 'relabel', not {body.action!r}."
        )
    return await _record(context, body, body.action)


@router.post("/blind", status_code=201)
async def post_blind_answer(request: Request, body: BlindAnswerIn):
    """Commit a blind answer (``label`` None: cannot tell)."""
    context = _context(request)
    _check_image(context, body.image_id)
    if body.label is not None:
        _check_label(context, body.label)
    return await _record(context, body, "blind")


async def _record(context, body, action: str):
    """Commit one journal row for ``body`` and build the 201 or replay response."""
    records = context.records
    try:
        result = await context.journal.record_async(
            image_id=body.image_id,
            action=action,
            reviewer=body.reviewer,
            given_label=records.given_label(body.image_id),
            new_label=body.label,
            model_label=records.predicted(body.image_id),
            relpath=records.relpath(body.image_id),
            queue=body.queue,
            note=body.note,
            request_id=body.request_id,
        )
    except JournalConflict as error:
        raise HTTPException(409, str(error)) from None
    except JournalUnavailable as error:
        raise HTTPException(503, str(error)) from None
    return _written(result, {"decision": row_to_json(result.row)})


@router.post("/undo", status_code=201)
async def post_undo(request: Request, body: UndoIn):
    """Commit an undo of ``decision_id``, or of the reviewer's latest row."""
    context = _context(request)
    try:
        result, undone = await context.journal.undo_async(
            reviewer=body.reviewer,
            given_label_of=context.records.given_label,
            decision_id=body.decision_id,
            queue=body.queue,
            note=body.note,
            request_id=body.request_id,
        )
    except (NothingToUndo, JournalConflict) as error:
        raise HTTPException(409, str(error)) from None
    except JournalUnavailable as error:
        raise HTTPException(503, str(error)) from None
    except KeyError:
        raise HTTPException(
            404, f"decision {body.decision_id} is not in the journal."
        ) from None
    payload = {"decision": row_to_json(result.row), "undone": row_to_json(undone)}
    return _written(result, payload)


@router.get("/agreement")
def agreement(request: Request):
    """Return how often blind answers, the model and the given labels agree."""
    context = _context(request)
    return blind_agreement(context.records, context.journal.state())


@router.post("/export")
def post_export(request: Request, body: ExportIn):
    """Export the reviewed dataset to ``RUN_DIR/export``."""
    from beholder.review.export import export_reviewed

    context = _context(request)
    out = context.store.run_dir / "export"
    try:
        result = export_reviewed(context.records, context.journal, out, mode=body.mode)
    except BeholderError as error:
        logger.warning("export to %s failed: %s", out, error)
        raise HTTPException(409, str(error)) from None
    return result.as_dict()


async def validation_error_handler(request: Request, error) -> JSONResponse:
    """Respond to invalid requests with 422 and one readable ``detail`` line."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        problems.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    errors = [
        {
            "loc": list(item.get("loc", ())),
            "msg": item.get("msg"),
            "type": item.get("type"),
        }
        for item in error.errors()
    ]
    return JSONResponse(
        {"detail": "; ".join(problems), "errors": errors}, status_code=422
    )


def _current(history: list[dict]) -> dict | None:
    undone = {row["undoes"] for row in history if row["action"] == "undo"}
    active = [
        row
        for row in history
        if row["action"] in DECISIONS and row["decision_id"] not in undone
    ]
    return active[-1] if active else None


def _undone(row: dict, history: list[dict]) -> bool:
    return any(other["undoes"] == row["decision_id"] for other in history)


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else round(number, 4)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
