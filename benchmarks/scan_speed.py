"""Throughput and peak memory of beholder's scan and CleanVision, side by side.

Each measurement runs one tool on one dataset in a fresh Python process, so
neither tool profits from the other's imports or file cache warm-up beyond
what the operating system shares. The runs alternate between the tools,
``--repeats`` times, and the median is reported, because the machine may be
shared and its load drifts. Every run records the 1-minute load average
before it starts.

What is timed, inside the worker process and after its imports:

- beholder: ``load_dataset`` and ``scan_dataset`` (properties, all issue
  checks, exact and near duplicates);
- CleanVision: ``Imagelab(data_path=...)`` and ``find_issues()`` with its
  default issue types (the same checks, plus its duplicate search).

Peak memory is the largest sum of resident memory over the worker and all
its child processes, sampled every 20 ms with psutil. CPU seconds are the
user and system time, over the timed part, of the worker and of the
processes it started and waited for. On a shared machine they vary less
than the wall-clock time.

Usage::

    python benchmarks/scan_speed.py --repeats 3 --json speed.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
TOOLS = ("beholder", "cleanvision")


def run_worker(tool: str, folder: Path, n_jobs: int | None) -> dict:
    """Time one tool on one dataset folder in this process; return the counts.

    Imports happen before the clock starts, for both tools.
    """
    if tool == "beholder":
        from beholder.ingest import load_dataset
        from beholder.properties import scan_dataset

        start, cpu_start = time.perf_counter(), _cpu_seconds()
        dataset = load_dataset(folder)
        result = scan_dataset(dataset, n_jobs=n_jobs)
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
        n_images = dataset.n_images
        found = result.summary["issue_counts"]
    else:
        from cleanvision import Imagelab

        start, cpu_start = time.perf_counter(), _cpu_seconds()
        lab = Imagelab(data_path=str(folder), verbose=False)
        lab.find_issues(n_jobs=n_jobs, verbose=False)
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
        n_images = len(lab.issues)
        found = {
            column[3:-6]: int(lab.issues[column].sum())
            for column in lab.issues.columns
            if column.startswith("is_") and column.endswith("_issue")
        }
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "n_images": n_images,
        "issue_counts": found,
    }


def _cpu_seconds() -> float:
    """User and system time of this process and the children it has waited for."""
    total = 0.0
    for target in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(target)
        total += usage.ru_utime + usage.ru_stime
    return total


def measure(tool: str, folder: Path, n_jobs: int | None) -> dict:
    """Run the worker in a child process, sampling its memory; return the record."""
    import psutil

    command = [sys.executable, __file__, "--worker", tool, str(folder)]
    if n_jobs is not None:
        command += ["--n-jobs", str(n_jobs)]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    process = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss(process))
        time.sleep(0.02)
    output, errors = child.communicate()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(
            f"{tool} on {folder} failed with exit code {child.returncode}:\n{errors}"
        )
    record = json.loads(output.strip().splitlines()[-1])
    record.update(
        tool=tool,
        dataset=folder.name,
        process_seconds=wall,
        images_per_second=record["n_images"] / record["seconds"],
        peak_rss_mib=peak / 2**20,
        load_before=load_before,
    )
    return record


def _tree_rss(process) -> int:
    import psutil

    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def machine() -> dict:
    """CPU model and count, load and date, for the record."""
    model = platform.processor() or "unknown"
    try:
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "cpu": model,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "load_average": os.getloadavg(),
    }


def summarise(records: list[dict]) -> list[dict]:
    """Median seconds, throughput and peak memory per dataset and tool."""
    rows = []
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        medians = {}
        for tool in TOOLS:
            runs = [r for r in records if r["dataset"] == dataset and r["tool"] == tool]
            if not runs:
                continue
            seconds = statistics.median(r["seconds"] for r in runs)
            medians[tool] = seconds
            rows.append(
                {
                    "dataset": dataset,
                    "tool": tool,
                    "n_images": runs[0]["n_images"],
                    "runs": len(runs),
                    "median_seconds": seconds,
                    "images_per_second": runs[0]["n_images"] / seconds,
                    "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                    "median_cpu_seconds": statistics.median(
                        r["cpu_seconds"] for r in runs
                    ),
                    "load_before": [round(r["load_before"], 2) for r in runs],
                }
            )
        if len(medians) == 2:
            cpu = {row["tool"]: row["median_cpu_seconds"] for row in rows[-2:]}
            for row in rows[-2:]:
                row["speedup"] = medians["cleanvision"] / medians["beholder"]
                row["cpu_ratio"] = cpu["cleanvision"] / cpu["beholder"]
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--datasets", nargs="+", default=["scene15", "sun8"])
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--n-jobs", type=int, default=None, help="workers for both tools"
    )
    parser.add_argument("--json", type=Path, help="also write every run as JSON")
    parser.add_argument(
        "--worker", nargs=2, metavar=("TOOL", "FOLDER"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)

    if args.worker:
        tool, folder = args.worker
        print(json.dumps(run_worker(tool, Path(folder), args.n_jobs)))
        return 0

    info = machine()
    records = []
    for repeat in range(args.repeats):
        for dataset in args.datasets:
            # Alternate which tool goes first so drift in load favours neither.
            tools = args.tools if repeat % 2 == 0 else list(reversed(args.tools))
            for tool in tools:
                record = measure(tool, args.data / dataset, args.n_jobs)
                records.append(record)
                print(
                    f"{dataset:8s} {tool:11s} {record['seconds']:7.2f} s "
                    f"{record['images_per_second']:7.0f} images/s "
                    f"cpu {record['cpu_seconds']:6.1f} s "
                    f"peak {record['peak_rss_mib']:6.0f} MiB "
                    f"load {record['load_before']:.2f}",
                    file=sys.stderr,
                )
    rows = summarise(records)
    print(json.dumps(info))
    _print_table(rows)
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "runs": records, "summary": rows}, indent=2)
        )
    return 0


def _print_table(rows: list[dict]) -> None:
    print(
        "| dataset | tool | images | median s | images/s | speed-up | CPU s | "
        "CPU ratio | peak MiB | load before each run |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        speedup = f"{row['speedup']:.1f}x" if "speedup" in row else ""
        cpu_ratio = f"{row['cpu_ratio']:.1f}x" if "cpu_ratio" in row else ""
        print(
            f"| {row['dataset']} | {row['tool']} | {row['n_images']} | "
            f"{row['median_seconds']:.2f} | {row['images_per_second']:.0f} | "
            f"{speedup} | "
            f"{row['median_cpu_seconds']:.1f} | {cpu_ratio} | "
            f"{row['peak_rss_mib']:.0f} | {', '.join(map(str, row['load_before']))} |"
        )


if __name__ == "__main__":
    sys.exit(main())
