"""The review web app: a FastAPI factory over one run folder.

``create_app`` reads the run's tables once, opens (or creates) the decision
journal in the run's database and serves the HTML pages (``pages.py``) and
the JSON API (``api.py``). Image files are reached only through an
``image_id`` looked up in the run's ``images`` table, so no request can
name a path.
"""

from __future__ import annotations

import getpass
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from beholder.errors import StoreError
from beholder.review.journal import Journal
from beholder.review.queues import QueueCatalog
from beholder.review.records import ReviewRecords
from beholder.review.thumbs import ThumbnailCache
from beholder.store import RunStore

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
# FastAPI's native OpenTelemetry hooks add work to every request; the app
# exports no telemetry, so all of them are off.
NO_TELEMETRY = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


@dataclass
class ReviewContext:
    """State shared by every request handler of one app."""

    store: RunStore
    records: ReviewRecords
    journal: Journal
    catalog: QueueCatalog
    thumbs: ThumbnailCache
    default_reviewer: str
    token: str | None


def open_run(
    run_dir: str | Path, *, database_url: str | None = None
) -> tuple[RunStore, ReviewRecords, Journal]:
    """Open a run folder, its tables and its journal.

    The database is ``database_url`` when given, else the URL the audit
    recorded in ``run.json``, else the run's SQLite file.

    Raises
    ------
    StoreError
        When ``run_dir`` is not a run folder or lacks a table, or when its
        journal was written against another audit of the folder.
    """
    store = RunStore.open(run_dir)
    recorded = (store.read_meta().get("config") or {}).get("database_url")
    url = database_url or recorded
    if url:
        store = RunStore.open(run_dir, database_url=url)
    records = ReviewRecords.load(store)
    journal = Journal(store.engine)
    try:
        records.check_journal(journal.rows())
    except StoreError:
        journal.close()
        store.close()
        raise
    return store, records, journal


def create_app(
    run_dir: str | Path,
    *,
    database_url: str | None = None,
    token: str | None = None,
    thumbs_dir: str | Path | None = None,
):
    """Create the review app for run folder ``run_dir``.

    Parameters
    ----------
    run_dir : path
        A folder written by ``beholder audit``.
    database_url : str, optional
        SQLAlchemy URL of the run's database; see :func:`open_run`.
    token : str, optional
        Shared secret every request must carry. Without one, only requests
        whose ``Host`` is a loopback name are served.
    thumbs_dir : path, optional
        Thumbnail cache folder; default ``RUN_DIR/thumbs``.
    """
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.staticfiles import StaticFiles

    from beholder.review import api, pages
    from beholder.review.security import AccessMiddleware

    store, records, journal = open_run(run_dir, database_url=database_url)
    seed = int((records.meta.get("config") or {}).get("seed") or 0)
    context = ReviewContext(
        store=store,
        records=records,
        journal=journal,
        catalog=QueueCatalog(records, default_seed=seed),
        thumbs=ThumbnailCache(thumbs_dir or store.run_dir / "thumbs"),
        default_reviewer=_default_reviewer(),
        token=token,
    )

    @asynccontextmanager
    async def lifespan(_app):
        logger.info("review app for %s started", store.run_dir)
        yield
        journal.close()
        store.close()
        logger.info("review app for %s stopped", store.run_dir)

    app = FastAPI(
        title="beholder review",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        telemetry=NO_TELEMETRY,
    )
    app.state.review = context
    app.add_exception_handler(RequestValidationError, api.validation_error_handler)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    app.add_middleware(AccessMiddleware, token=token)
    return app


def _default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"
