"""The ``beholder scan`` command: a quick model-free pass over a dataset.

Add it to the Typer app with ``register_scan_command(app)``.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from beholder.errors import BeholderError

# Issue columns shown in the printed summary, in this order.
_SHOWN = [
    "dark",
    "overexposed",
    "blurry",
    "low_information",
    "grayscale",
    "odd_aspect_ratio",
    "odd_size",
    "exact_duplicate",
    "near_duplicate",
    "split_leakage",
    "label_conflict",
]


def scan(
    data_dir: Path = typer.Argument(
        ..., help="Class folders, split folders or a manifest (.csv, .jsonl)."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Folder for properties, issues, duplicates, clusters and the file "
        "ledger (Parquet and CSV), summary.json and report.html; default "
        "runs/<dataset name>-scan.",
    ),
    jobs: int = typer.Option(
        -1, "--jobs", "-j", help="Worker processes; -1 uses every CPU."
    ),
    max_hash_distance: int = typer.Option(
        6,
        min=0,
        max=16,
        help="Largest perceptual-hash distance (bits of 64) for near duplicates.",
    ),
    progress: bool = typer.Option(
        True, "--progress/--no-progress", help="Draw progress bars on stderr."
    ),
):
    """Scan a dataset without a model: image properties, issues, duplicates, leakage."""
    from beholder.ingest import load_dataset
    from beholder.properties.scan import is_scan_folder, scan_dataset
    from beholder.properties.scan_folder import write_scan_folder
    from beholder.store.folders import check_output_folder

    console = Console(stderr=True)
    stdout = Console()
    out = out or Path("runs") / f"{data_dir.expanduser().resolve().name}-scan"
    try:
        dataset = load_dataset(data_dir)
        out = check_output_folder(
            out, dataset.root, is_earlier_output=is_scan_folder, kind="scan folder"
        )
        with _progress(progress, console) as bars:
            result = scan_dataset(
                dataset, n_jobs=jobs, progress=bars, max_hash_distance=max_hash_distance
            )
        flagged = dataset.flag(result.failed, stage="scan")
        out = write_scan_folder(result, dataset, out, flagged=flagged)
    except (BeholderError, ValueError, OSError) as error:
        console.print(
            f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=2) from None
    _print_summary(stdout, result, flagged.ledger_summary(), out, out / "report.html")


def register_scan_command(app: typer.Typer) -> None:
    """Add the ``scan`` command to ``app``."""
    app.command("scan")(scan)


def _progress(enabled: bool, console: Console):
    if not enabled:
        return nullcontext(None)
    from beholder.cli_progress import RichProgress

    return RichProgress(console)


def _print_summary(stdout: Console, result, ledger: dict, out: Path, report) -> None:
    summary = result.summary
    seconds = summary["seconds"]["total"]
    stdout.print(
        f"Scanned [bold]{summary['n_images']}[/] images in {seconds:.1f} s "
        f"({summary['images_per_second']:.0f} images/s); "
        f"{summary['n_failed']} could not be decoded."
    )
    stdout.print(
        f"Files given: {ledger['given']}, measured: {ledger['read']}, "
        f"flagged: {ledger['flagged']}"
        + (" (reasons in ledger.csv)." if ledger["flagged"] else ".")
    )
    for note in ledger["notes"]:
        stdout.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    table = Table(title="Issues")
    table.add_column("issue")
    table.add_column("images", justify="right")
    table.add_column("example")
    for name in _SHOWN:
        column = f"is_{name}"
        if column not in result.issues:
            continue
        flagged = result.issues[result.issues[column].fillna(False).astype(bool)]
        example = ""
        if len(flagged):
            worst = flagged.sort_values(f"{name}_score", ascending=False).iloc[0]
            example = escape(str(worst["relpath"]))
        table.add_row(name.replace("_", " "), str(len(flagged)), example)
    stdout.print(table)

    duplicates = summary["duplicates"]
    stdout.print(
        f"Duplicates: {duplicates['n_exact_pairs']} exact and "
        f"{duplicates['n_near_pairs']} near pairs in {duplicates['n_clusters']} "
        f"clusters. Pairs across splits: {duplicates['n_leakage_pairs']}; "
        f"with conflicting labels: {duplicates['n_label_conflict_pairs']}."
    )
    stdout.print(f"Tables: [bold]{escape(str(out))}[/]", highlight=False)
    stdout.print(f"Report: [bold]{escape(str(report))}[/]", highlight=False)
