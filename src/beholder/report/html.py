"""Assemble the self-contained HTML report of a run."""

from __future__ import annotations

import logging
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from beholder.report import sections

logger = logging.getLogger(__name__)


def write_report(store, *, n_suspects: int | None = None) -> Path:
    """Render ``report.html`` in the run folder and return its path."""
    meta = store.read_meta()
    n_suspects = n_suspects or meta["config"].get("n_report_suspects", 40)
    parts = [
        sections.summary_section(store, meta),
        sections.suspects_section(store, meta, n_suspects=n_suspects),
        sections.unflagged_section(store, meta),
        sections.pairs_section(store, meta),
        sections.confusion_section(store, meta),
        sections.bias_section(store, meta),
        sections.image_issues_section(store, meta),
        sections.duplicates_section(store, meta),
        sections.ledger_section(store, meta),
    ]
    parts = [part for part in parts if part is not None]
    page = render_page("audit", Path(meta["source"]).name, meta, parts)
    path = store.run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    logger.info("report written to %s", path)
    return path


def render_page(kind: str, title: str, meta: dict, parts: list) -> str:
    """Render the report page around its sections.

    ``kind`` is the command that made it ("audit" or "scan"), shown in the
    heading. ``meta`` needs ``source``, ``layout``, ``created`` and
    ``beholder_version``.
    """
    environment = Environment(
        loader=PackageLoader("beholder.report", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    template = environment.get_template("report.html")
    return template.render(kind=kind, title=title, meta=meta, sections=parts)
