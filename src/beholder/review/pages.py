"""The review app's HTML pages, rendered with Jinja2 autoescaping.

Every label, file name and table cell reaches a page through a template
variable (escaped) or as JSON inside a ``<script type="application/json">``
block (Jinja's ``tojson`` escapes ``<``, ``>``, ``&`` and quotes), never
through string building.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from beholder.review.agreement import blind_agreement
from beholder.review.app import PACKAGE_DIR
from beholder.review.journal import row_to_json
from beholder.review.queues import MAX_SAMPLE_SIZE, QueueNotFound

router = APIRouter()
MAX_GRID_ITEMS = 300
MAX_TABLE_ROWS = 500
MAX_JOURNAL_ROWS = 200

templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(PACKAGE_DIR / "templates"),
        autoescape=select_autoescape(["html"]),
    )
)


def _render(request: Request, template: str, **context):
    review = request.app.state.review
    context.setdefault("run_name", review.records.run_dir.name)
    context.setdefault("default_reviewer", review.default_reviewer)
    response = templates.TemplateResponse(request, template, context)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/", include_in_schema=False)
def index(request: Request):
    review = request.app.state.review
    state = review.journal.state()
    catalog = review.catalog
    reviewed = set(state.decisions)

    def row(queue):
        summary = queue.summary()
        summary["n_reviewed"] = len(reviewed.intersection(queue.image_ids))
        return summary

    static = [row(queue) for queue in catalog.static_queues()]
    sections = {
        "issues": [q for q in static if q["kind"] == "issues"],
        "pairs": [q for q in static if q["kind"] == "pair"],
        "sampled": [
            row(catalog.get("random")),
            row(catalog.get("relabel", state=state)),
        ],
    }
    counts = {}
    for decision in state.decisions.values():
        counts[decision["action"]] = counts.get(decision["action"], 0) + 1
    return _render(
        request,
        "index.html",
        records=review.records,
        sections=sections,
        tables=_table_summaries(catalog),
        counts=counts,
        n_blind=len(state.blind_answers),
        n_reviewed=len(reviewed),
    )


@router.get("/queues/{queue_id}", include_in_schema=False)
def queue_page(
    request: Request,
    queue_id: str,
    seed: int | None = Query(None, ge=0, le=2**32 - 1),
    n: int | None = Query(None, ge=1, le=MAX_SAMPLE_SIZE),
):
    review = request.app.state.review
    state = review.journal.state()
    try:
        queue = review.catalog.get(queue_id, state=state, seed=seed, n=n)
    except QueueNotFound:
        raise HTTPException(404, f"queue {queue_id!r} does not exist.") from None
    position = {image_id: index for index, image_id in enumerate(queue.image_ids)}
    records = review.records
    groups = []
    for title, ids in queue.groups:
        cells = []
        for image_id in ids[:MAX_GRID_ITEMS]:
            decision = state.decisions.get(image_id)
            cells.append(
                {
                    "image_id": image_id,
                    "index": position.get(image_id, 0),
                    "label": records.given_label(image_id),
                    "predicted": records.predicted(image_id),
                    "status": decision["action"] if decision else None,
                    "new_label": decision["new_label"] if decision else None,
                }
            )
        groups.append({"title": title, "cells": cells, "n_items": len(ids)})
    return _render(
        request,
        "queue.html",
        queue=queue,
        groups=groups,
        query=_query(queue.params),
        max_items=MAX_GRID_ITEMS,
    )


@router.get("/review/{queue_id}", include_in_schema=False)
def review_page(
    request: Request,
    queue_id: str,
    mode: str = Query("review", pattern="^(review|blind)$"),
    i: int = Query(0, ge=0),
    seed: int | None = Query(None, ge=0, le=2**32 - 1),
    n: int | None = Query(None, ge=1, le=MAX_SAMPLE_SIZE),
):
    review = request.app.state.review
    params = {
        key: value for key, value in (("seed", seed), ("n", n)) if value is not None
    }
    boot = {
        "queue_id": queue_id,
        "mode": mode,
        "index": i,
        "params": params,
        "classes": review.records.classes,
        "default_reviewer": review.default_reviewer,
    }
    return _render(request, "review.html", boot=boot, mode=mode, queue_id=queue_id)


@router.get("/agreement", include_in_schema=False)
def agreement_page(request: Request):
    review = request.app.state.review
    stats = blind_agreement(review.records, review.journal.state())
    return _render(request, "agreement.html", stats=stats)


@router.get("/journal", include_in_schema=False)
def journal_page(request: Request):
    review = request.app.state.review
    rows = review.journal.rows(newest_first=True, limit=MAX_JOURNAL_ROWS)
    return _render(
        request,
        "journal.html",
        rows=[row_to_json(row) for row in rows],
        n_rows=review.journal.count(),
        limit=MAX_JOURNAL_ROWS,
    )


@router.get("/tables/{name}", include_in_schema=False)
def table_page(request: Request, name: str):
    review = request.app.state.review
    entries = review.catalog.tables.get(name)
    if entries is None:
        raise HTTPException(404, f"this run has no table {name!r} to show.")
    columns = []
    for entry in entries:
        for column in entry["row"]:
            if column not in columns:
                columns.append(column)
    rows = [
        {
            "cells": [_cell(entry["row"].get(column)) for column in columns],
            "queue": entry["queue"].summary() if entry["queue"] else None,
        }
        for entry in entries[:MAX_TABLE_ROWS]
    ]
    return _render(
        request,
        "table.html",
        name=name,
        columns=columns,
        rows=rows,
        n_rows=len(entries),
        limit=MAX_TABLE_ROWS,
    )


def _table_summaries(catalog) -> list[dict]:
    summaries = []
    for name, entries in catalog.tables.items():
        n_queues = sum(1 for entry in entries if entry["queue"] is not None)
        summaries.append({"name": name, "n_rows": len(entries), "n_queues": n_queues})
    return summaries


def _query(params: dict) -> str:
    from urllib.parse import urlencode

    return ("?" + urlencode(params)) if params else ""


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(_cell(item) for item in value[:20])
        return shown + (" ..." if len(value) > 20 else "")
    return str(value)
