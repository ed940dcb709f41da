"""Load test of the review app: concurrent reviewers posting decisions.

Builds a synthetic run of ``--n-images`` images (tables only, no image
files), starts ``beholder review`` on a free loopback port in a subprocess,
and lets ``--reviewers`` concurrent clients post ``--decisions`` decisions
each. A reviewer waits ``--think-ms`` (default 500 ms, a fast keyboard
reviewer) between a response and its next decision. With ``--think-ms 0``
reviewers post back to back, which measures the server at saturation. Every fifth
request of a reviewer is an undo or a blind answer, the rest are keep,
relabel, ambiguous and remove decisions on random images. Afterwards the
journal is read straight from the database, and every request the server
acknowledged (2xx) must be there exactly once.

Usage::

    python benchmarks/review_load.py               # 20 reviewers x 100, 100,000 images
    python benchmarks/review_load.py --think-ms 0     # back to back: saturation
    python benchmarks/review_load.py --reviewers 5 --decisions 50 --n-images 2000

Prints one JSON object with the latency percentiles (milliseconds, measured
by the client from send to full response), throughput, the machine and the
number of lost decisions. Exits 1 when a decision is lost or the 95th
percentile exceeds ``--p95-limit-ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from beholder.review.journal import journal_table
from beholder.review.synthetic import write_synthetic_run
from beholder.store import create_engine

N_CLASSES = 50


def main(argv=None) -> int:
    args = _parse(argv)
    work = Path(tempfile.mkdtemp(prefix="review-load-"))
    run_dir = args.run_dir or work / "run"
    try:
        if not (Path(run_dir) / "run.json").is_file():
            started = time.perf_counter()
            write_synthetic_run(
                run_dir,
                n_images=args.n_images,
                classes=[f"class_{i:02d}" for i in range(N_CLASSES)],
                with_images=False,
                seed=args.seed,
            )
            print(
                f"built a synthetic run of {args.n_images} images in "
                f"{time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
        port = _free_port()
        server = _start_server(run_dir, port, args.database_url)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, server)
            run = httpx.get(url + "/api/run", timeout=10).json()
            results = asyncio.run(_load(port, run, args, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)
        report = _report(results, run_dir, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))
    failed = report["lost"] > 0 or report["errors"] > 0
    failed = failed or report["latency_ms"]["p95"] > args.p95_limit_ms
    return 1 if failed else 0


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=100_000)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=100, help="per reviewer")
    parser.add_argument(
        "--think-ms", type=float, default=500.0, help="pause in ms after each response"
    )
    parser.add_argument(
        "--warmup", type=int, default=5, help="untimed posts per reviewer"
    )
    parser.add_argument("--p95-limit-ms", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", type=Path, help="reuse or create this run folder")
    parser.add_argument(
        "--database-url", help="journal database; default the run's SQLite"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(run_dir, port, database_url):
    command = [
        sys.executable, "-m", "beholder.cli", "review", str(run_dir),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    if database_url:
        command += ["--database-url", database_url]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def _cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time of process ``pid`` (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_up(url, server, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"review server exited with code {server.returncode}")
        try:
            if httpx.get(url + "/api/health", timeout=2).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"review server at {url} did not start in {timeout} s")


async def _load(port, run, args, server_pid):
    classes, n_images = run["classes"], run["n_images"]
    warm = [
        _reviewer(port, i, args.warmup, classes, n_images, args, timed=False)
        for i in range(args.reviewers)
    ]
    warm_results = await asyncio.gather(*warm)

    server_cpu = _cpu_seconds(server_pid)
    client_cpu = time.process_time()
    started = time.perf_counter()
    tasks = [
        _reviewer(port, i, args.decisions, classes, n_images, args, timed=True)
        for i in range(args.reviewers)
    ]
    timed = await asyncio.gather(*tasks)
    return {
        "warmup": warm_results,
        "timed": timed,
        "elapsed_s": time.perf_counter() - started,
        "server_cpu_s": _cpu_seconds(server_pid) - server_cpu,
        "client_cpu_s": time.process_time() - client_cpu,
    }


class _Connection:
    """One keep-alive HTTP/1.1 connection, like one reviewer's browser tab.

    A few lines of asyncio instead of an HTTP client library: the client
    shares the CPUs with the server, and httpx spent about 3.7 ms of CPU per
    request here, more than the server itself.
    """

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def post_json(self, path: str, body: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port
            )
        data = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        try:
            self.writer.write(head.encode() + data)
            await self.writer.drain()
            status = int((await self.reader.readline()).split()[1])
            length = None
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise ConnectionError("response without Content-Length")
            return status, await self.reader.readexactly(length)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _reviewer(port, index, n_posts, classes, n_images, args, *, timed):
    rng = random.Random(args.seed * 1000 + index + (0 if timed else 500))
    reviewer = f"load-{index:02d}"
    connection = _Connection(port)
    acknowledged, latencies, errors = [], [], []
    for step in range(n_posts):
        path, body = _next_request(rng, step, reviewer, classes, n_images)
        body["request_id"] = uuid.uuid4().hex
        started = time.perf_counter()
        try:
            status, text = await connection.post_json(path, body)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as error:
            errors.append(repr(error))
            continue
        latencies.append(time.perf_counter() - started)
        if 200 <= status < 300:
            acknowledged.append(body["request_id"])
        elif status == 409 and path == "/api/undo":
            pass  # nothing left to undo for this reviewer: a valid response
        else:
            errors.append(f"{status}: {text[:200]!r}")
        if args.think_ms:
            await asyncio.sleep(args.think_ms / 1000)
    connection.close()
    return {"acknowledged": acknowledged, "latencies": latencies, "errors": errors}


def _next_request(rng, step, reviewer, classes, n_images):
    image_id = rng.randrange(n_images)
    if step % 10 == 4:
        return "/api/undo", {"reviewer": reviewer}
    if step % 10 == 9:
        label = rng.choice(classes + [None])
        return "/api/blind", {
            "image_id": image_id,
            "label": label,
            "reviewer": reviewer,
        }
    action = rng.choice(["keep", "keep", "relabel", "ambiguous", "remove"])
    body = {
        "image_id": image_id,
        "action": action,
        "reviewer": reviewer,
        "queue": "load",
    }
    if action == "relabel":
        body["label"] = rng.choice(classes)
    return "/api/decisions", body


def _report(results, run_dir, args):
    timed = results["timed"]
    latencies = np.array([x for r in timed for x in r["latencies"]]) * 1000
    acknowledged = [x for r in results["warmup"] + timed for x in r["acknowledged"]]
    errors = [x for r in results["warmup"] + timed for x in r["errors"]]

    url = args.database_url or f"sqlite:///{Path(run_dir).resolve() / 'beholder.db'}"
    counts = {}
    for request_id in _stored_request_ids(url):
        counts[request_id] = counts.get(request_id, 0) + 1
    lost = sum(1 for request_id in acknowledged if counts.get(request_id, 0) == 0)
    duplicated = sum(1 for n in counts.values() if n > 1)

    n_timed = max(int(latencies.size), 1)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "n_images": args.n_images,
        "reviewers": args.reviewers,
        "requests_timed": int(latencies.size),
        "think_ms": args.think_ms,
        "elapsed_s": round(results["elapsed_s"], 2),
        "requests_per_s": round(latencies.size / results["elapsed_s"], 1),
        "latency_ms": {
            name: round(float(np.percentile(latencies, q)), 1)
            for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
        },
        "server_cpu_ms_per_request": round(1000 * results["server_cpu_s"] / n_timed, 2),
        "client_cpu_ms_per_request": round(1000 * results["client_cpu_s"] / n_timed, 2),
        "acknowledged": len(acknowledged),
        "lost": lost,
        "duplicated": duplicated,
        "errors": len(errors),
        "first_errors": errors[:3],
        "database": "sqlite" if url.startswith("sqlite") else url.split(":", 1)[0],
    }


def _stored_request_ids(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(journal_table.c.request_id)).scalars()
        stored = [value for value in stored if value is not None]
    engine.dispose()
    return stored


def _machine() -> dict:
    model = ""
    try:
        lscpu = subprocess.run(
            ["lscpu"], check=False, capture_output=True, text=True
        ).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    sys.exit(main())
