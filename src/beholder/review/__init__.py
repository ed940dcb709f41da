"""Review web app, decision journal and export of the reviewed dataset.

``beholder review RUN_DIR`` serves :func:`create_app`; ``beholder export
RUN_DIR`` calls :func:`export_run`. The web stack (FastAPI, uvicorn) is
imported only when an app is created.
"""

from beholder.review.export import ExportError, ExportResult, export_run
from beholder.review.journal import Journal


def create_app(*args, **kwargs):
    """Create the review app; see :func:`beholder.review.app.create_app`."""
    from beholder.review.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["ExportError", "ExportResult", "Journal", "create_app", "export_run"]
