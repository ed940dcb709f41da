"""Audit wall time and peak memory by stage, and embedding throughput.

Runs, each in its own process so that peak memory (max RSS) is per job:

1. a plain single-process loop: PIL decode, resize to 224x224, batches of
   64, timm forward pass of the default backbone (the baseline);
2. beholder's ``embed_images`` on the same files, cache off;
3. ``beholder audit`` cold (empty cache), with per-stage timings;
4. ``beholder audit`` again on the same data (embedding and probe caches warm).

Usage: python benchmarks/audit_stages.py [DATA_DIR] [--limit N]
Prints a Markdown table and writes benchmarks/results/audit_stages.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "scene15"


def plain_loop(paths: list[str]) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from beholder.embed import load_backbone

    model = load_backbone().model
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(paths), 64):
            batch = []
            for path in paths[first : first + 64]:
                image = Image.open(path).convert("RGB").resize((224, 224))
                batch.append(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)
            tensor = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2)
            model(tensor)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "images_per_s": len(paths) / seconds}


def beholder_embed(paths: list[str]) -> dict:
    from beholder.embed import embed_images, load_backbone

    backbone = load_backbone()
    start = time.perf_counter()
    embed_images(paths, backbone, cache_dir=None)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "images_per_s": len(paths) / seconds}


def audit(data: str, out: str) -> dict:
    from beholder.audit import run_audit

    start = time.perf_counter()
    result = run_audit(data, out)
    return {
        "seconds": time.perf_counter() - start,
        "stages_s": result.timings,
        "accuracy": result.summary["accuracy"],
        "n_images": result.summary["n_images"],
    }


def run_child(job: str, *args: str, env: dict | None = None) -> dict:
    """Run one job in a fresh interpreter; return its result and peak RSS."""
    command = [sys.executable, __file__, "--job", job, *args]
    start = time.perf_counter()
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, env=env
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start
    return result


def list_images(data: Path, limit: int | None) -> list[str]:
    from beholder.ingest import load_dataset

    paths = load_dataset(data).images["path"].tolist()
    return paths[:limit] if limit else paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--job", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--paths-file", default=None)
    args = parser.parse_args()

    if args.job:
        return _child(args)

    data = Path(args.data)
    paths = list_images(data, args.limit)
    with tempfile.TemporaryDirectory() as scratch:
        paths_file = Path(scratch) / "paths.json"
        paths_file.write_text(json.dumps(paths))
        env = {**os.environ, "BEHOLDER_CACHE_DIR": str(Path(scratch) / "cache")}
        results = {
            "plain_loop": run_child("plain", "--paths-file", str(paths_file)),
            "beholder_embed": run_child("embed", "--paths-file", str(paths_file)),
            "audit_cold": run_child(
                "audit", str(data), "--out", f"{scratch}/run", env=env
            ),
            "audit_warm": run_child(
                "audit", str(data), "--out", f"{scratch}/run2", env=env
            ),
        }
    results["machine"] = {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_after": os.getloadavg(),
    }
    results["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["data"] = str(data)
    results["n_images"] = len(paths)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "audit_stages.json").write_text(json.dumps(results, indent=2))
    print_table(results)


def _child(args) -> None:
    if args.job in ("plain", "embed"):
        paths = json.loads(Path(args.paths_file).read_text())
        result = plain_loop(paths) if args.job == "plain" else beholder_embed(paths)
    else:
        result = audit(args.data, args.out)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def print_table(results: dict) -> None:
    print(f"{results['n_images']} images from {results['data']}, {results['date']}")
    print("| job | wall s | images/s | peak RSS MB |")
    print("|---|---|---|---|")
    for job in ("plain_loop", "beholder_embed", "audit_cold", "audit_warm"):
        r = results[job]
        rate = r.get("images_per_s")
        rate_text = f"{rate:.1f}" if rate else ""
        print(
            f"| {job} | {r['process_s']:.1f} | {rate_text} | {r['peak_rss_mb']:.0f} |"
        )
    for job in ("audit_cold", "audit_warm"):
        stages = ", ".join(f"{k} {v:.1f}" for k, v in results[job]["stages_s"].items())
        print(f"{job} stages (s): {stages}")


if __name__ == "__main__":
    main()
