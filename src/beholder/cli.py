"""The ``beholder`` command line: a thin layer over the library.

Library errors become one red line with the fix and exit code 2; progress
bars go to stderr and ``--no-progress`` turns them off.
"""

from __future__ import annotations

import logging
import unicodedata
from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from beholder.errors import BeholderError

app = typer.Typer(
    help="Look at an image-classification dataset the way a model does, and fix it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
stdout = Console()


def _progress(enabled: bool):
    if not enabled:
        return nullcontext(None)
    from beholder.cli_progress import RichProgress

    return RichProgress(console)


def _fail(error: Exception) -> None:
    console.print(
        f"[bold red]error:[/] {_escape(str(error))}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(code=2)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# Line and paragraph separators and bidirectional overrides, which would
# break a table row or reorder the text around them in a terminal.
_LAYOUT_CHARACTERS = {"\u2028", "\u2029", *map(chr, range(0x202A, 0x202F))}
_LAYOUT_CHARACTERS |= set(map(chr, range(0x2066, 0x206A)))


def _printable(text) -> str:
    """Escape Rich markup and show control characters as Python escapes (``\\n``).

    Class names, file names and reasons come from the dataset, so a newline
    in a folder name must not split a table row.
    """
    shown = "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) == "Cc" or char in _LAYOUT_CHARACTERS
        else char
        for char in str(text)
    )
    return _escape(shown)


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each stage."),
):
    """Configure logging for every command."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def audit(
    data_dir: Path = typer.Argument(
        ..., help="Class folders, split folders or a manifest (.csv, .jsonl)."
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Run folder to write; default runs/<dataset name>."
    ),
    layout: Optional[str] = typer.Option(
        None,
        help="Dataset layout: folders, split-folders, split-lists or manifest; "
        "default: detected.",
    ),
    split: Optional[str] = typer.Option(
        None, help="Audit only this split (train, val, test or a folder name)."
    ),
    path_column: Optional[str] = typer.Option(
        None, help="Manifest column with image paths; default: detected."
    ),
    label_column: Optional[str] = typer.Option(
        None, help="Manifest column with class names; default: detected."
    ),
    split_column: Optional[str] = typer.Option(
        None, help="Manifest column with split names; optional."
    ),
    id_column: Optional[str] = typer.Option(
        None, help="Manifest column with image ids; optional."
    ),
    backbone: str = typer.Option(
        "efficientnet_lite0", help="timm model name or checkpoint file."
    ),
    weights: Optional[Path] = typer.Option(
        None, help="Local weight file for --backbone."
    ),
    allow_download: bool = typer.Option(
        False, help="Let timm download weights from the Hugging Face hub."
    ),
    predictions: Optional[Path] = typer.Option(
        None,
        help="Your own out-of-sample probabilities (CSV, Parquet or .npy) instead of the linear probe.",
    ),
    from_logits: bool = typer.Option(
        False,
        "--from-logits",
        help="The --predictions file contains logits: apply a softmax per row.",
    ),
    folds: int = typer.Option(
        5, min=2, help="Cross-validation folds of the linear probe."
    ),
    seed: int = typer.Option(
        0, min=0, max=2**32 - 1, help="Seed for folds and solvers; stored in the run."
    ),
    batch_size: int = typer.Option(64, min=1, help="Images per forward pass."),
    workers: int = typer.Option(
        0, min=0, help="Decoding processes beside the model's."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Do not read or write the embedding cache."
    ),
    scan: bool = typer.Option(
        True, "--scan/--no-scan", help="Measure image properties and find duplicates."
    ),
    bias: bool = typer.Option(
        True,
        "--bias/--no-bias",
        help="Look for shortcuts and run counterfactual probes (needs --scan).",
    ),
    probes_per_class: int = typer.Option(
        10, min=0, help="Images per class changed by each counterfactual probe."
    ),
    database_url: Optional[str] = typer.Option(
        None, help="SQLAlchemy URL for records; default RUN_DIR/beholder.db."
    ),
    progress: bool = typer.Option(
        True, "--progress/--no-progress", help="Draw progress bars on stderr."
    ),
):
    """Audit a dataset: label errors, confusing pairs, report."""
    from beholder.audit import AuditConfig, run_audit

    out = out or Path("runs") / data_dir.expanduser().resolve().name
    config = AuditConfig(
        layout=layout,
        split=split,
        path_column=path_column,
        label_column=label_column,
        split_column=split_column,
        id_column=id_column,
        backbone=backbone,
        weights=str(weights) if weights else None,
        allow_download=allow_download,
        n_folds=folds,
        seed=seed,
        batch_size=batch_size,
        num_workers=workers,
        cache_dir="" if no_cache else None,
        predictions=str(predictions) if predictions else None,
        from_logits=from_logits,
        database_url=database_url,
        scan=scan,
        bias=bias,
        n_probe_per_class=probes_per_class,
    )
    try:
        with _progress(progress) as bars:
            result = run_audit(data_dir, out, config, progress=bars)
    except BeholderError as error:
        _fail(error)
    _print_summary(result)


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def _print_summary(result) -> None:
    from beholder.store import RunStore

    summary = result.summary
    ledger = summary["ledger"]
    stdout.print(
        f"[bold]{ledger['read']}[/] images read, [bold]{ledger['flagged']}[/] "
        f"{_plural(ledger['flagged'], 'file')} flagged of {ledger['given']} given; "
        f"{summary['n_classes']} classes."
    )
    for reason, count in ledger["flagged_by_reason"].items():
        stdout.print(f"  flagged: {count} × {_printable(reason)}")
    stdout.print(
        f"Out-of-sample accuracy [bold]{summary['accuracy']:.3f}[/] "
        f"({_escape(summary['prediction_source'])})."
    )
    for note in summary["notes"]:
        stdout.print(f"[yellow]note:[/] {_printable(note)}")

    store = RunStore.open(result.run_dir)
    stdout.print(_suspects_table(store, summary["n_label_issues"]))

    pairs = Table(title="Most-confused class pairs")
    for column in ("class A", "class B", "A as B", "B as A", "overlap"):
        pairs.add_column(column)
    for pair in store.read_table("class_pairs").head(5).itertuples():
        pairs.add_row(
            _printable(pair.class_a),
            _printable(pair.class_b),
            str(pair.n_a_as_b),
            str(pair.n_b_as_a),
            f"{100 * pair.overlap:.1f}%",
        )
    stdout.print(pairs)
    duplicates = summary.get("scan", {}).get("duplicates")
    if duplicates:
        stdout.print(
            f"Duplicates: {duplicates['n_exact_pairs']} exact and "
            f"{duplicates['n_near_pairs']} near pairs in "
            f"{duplicates['n_clusters']} clusters. Pairs across splits: "
            f"{duplicates['n_leakage_pairs']}; with conflicting labels: "
            f"{duplicates['n_label_conflict_pairs']}."
        )
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    stdout.print(f"Stages: {timings}")
    stdout.print(f"Report: [bold]{result.report_path}[/]")


def _suspects_table(store, n_flagged: int, *, n_rows: int = 10) -> Table:
    """Build the table of the top flagged label issues (``is_label_issue``)."""
    issues = store.read_table("label_issues")
    flagged = issues[issues["is_label_issue"].astype(bool)]
    top = flagged.sort_values("rank").head(n_rows)
    images = store.read_table("images").set_index("image_id")
    if not len(flagged):
        caption = "No image is flagged as a label issue."
    elif len(flagged) > len(top):
        caption = (
            f"Showing {len(top)} of {len(flagged)}. All are in label_issues.parquet "
            "in the run folder (column is_label_issue)."
        )
    else:
        caption = None
    table = Table(
        title=f"Top suspected label errors ({n_flagged} in all)", caption=caption
    )
    for column in ("rank", "image", "given", "suggested", "score"):
        table.add_column(column)
    for row in top.itertuples():
        image = images.loc[row.image_id]
        table.add_row(
            str(row.rank),
            _printable(image.relpath),
            _printable(image.label),
            _printable(row.suggested),
            f"{row.label_issue_score:.2f}",
        )
    return table


@app.command()
def demo(
    out: Path = typer.Option(
        Path("runs/demo"), "--out", "-o", help="Run folder to write."
    ),
    data_dir: Path = typer.Option(
        Path("runs/digits"), help="Where the digit PNGs are written."
    ),
    progress: bool = typer.Option(
        True, "--progress/--no-progress", help="Draw progress bars on stderr."
    ),
):
    """Audit scikit-learn's handwritten digits, written out as PNG class folders."""
    from beholder.audit import run_audit
    from beholder.demo import write_digits

    written = write_digits(data_dir)
    stdout.print(f"Wrote {written} digit images to {data_dir}")
    try:
        with _progress(progress) as bars:
            result = run_audit(data_dir, out, progress=bars)
    except BeholderError as error:
        _fail(error)
    _print_summary(result)


@app.command()
def review(
    run_dir: Path = typer.Argument(..., help="Run folder written by beholder audit."),
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on; a non-loopback address needs --token."
    ),
    port: int = typer.Option(
        8765, min=0, max=65535, help="TCP port to listen on; 0 picks a free port."
    ),
    token: Optional[str] = typer.Option(
        None,
        envvar="BEHOLDER_REVIEW_TOKEN",
        help="Secret every request must carry: open the printed address once "
        "(it sets a cookie) or send 'Authorization: Bearer TOKEN'.",
    ),
    database_url: Optional[str] = typer.Option(
        None,
        help="SQLAlchemy URL of the run's database; default the URL in run.json, "
        "else RUN_DIR/beholder.db.",
    ),
):
    """Review a run in the browser; every decision is committed to the journal."""
    from beholder.review.server import serve

    def announce(url: str) -> None:
        shown = f"{url}?token={token}" if token else url
        stdout.print(
            f"Review app: [bold]{_escape(shown)}[/] (Ctrl+C stops it)",
            highlight=False,
            soft_wrap=True,
        )
        stdout.file.flush()

    try:
        serve(
            run_dir,
            host=host,
            port=port,
            token=token,
            database_url=database_url,
            on_ready=announce,
        )
    except BeholderError as error:
        _fail(error)


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="Run folder written by beholder audit."),
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        "-o",
        help="Folder to write; default RUN_DIR/export. An earlier export there "
        "is replaced.",
    ),
    mode: str = typer.Option(
        "links", help="'links' (symlinks to the dataset's files) or 'copies'."
    ),
    database_url: Optional[str] = typer.Option(
        None,
        help="SQLAlchemy URL of the run's database; default the URL in run.json, "
        "else RUN_DIR/beholder.db.",
    ),
):
    """Export the reviewed dataset: manifest, class folders and decision journal."""
    from beholder.review.export import MODES, export_run

    if mode not in MODES:
        _fail(ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}."))
    try:
        result = export_run(run_dir, out, mode=mode, database_url=database_url)
    except BeholderError as error:
        _fail(error)
    counts = ", ".join(f"{action} {n}" for action, n in result.counts.items())
    stdout.print(
        f"Exported [bold]{result.n_images}[/] images ({result.n_removed} removed) "
        f"to {_escape(str(result.out_dir))}",
        highlight=False,
    )
    stdout.print(f"  by action: {_escape(counts)}", highlight=False)
    stdout.print(
        "  manifest.csv, manifest.parquet, removed.csv, journal.csv, images/",
        highlight=False,
    )


def _register_scan() -> None:
    from beholder.properties.cli_scan import register_scan_command

    register_scan_command(app)


_register_scan()


if __name__ == "__main__":  # pragma: no cover
    app()
