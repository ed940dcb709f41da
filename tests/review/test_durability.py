"""No acknowledged decision is lost, under concurrency or when the server dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx
import sqlalchemy as sa

from beholder.review.app import create_app
from beholder.review.journal import journal_table
from beholder.store import create_engine

from .conftest import free_port, wait_until_up


def stored_request_ids(run_dir, database_url) -> list[str]:
    engine = create_engine(database_url or f"sqlite:///{run_dir / 'beholder.db'}")
    with engine.connect() as connection:
        ids = connection.execute(sa.select(journal_table.c.request_id)).scalars().all()
    engine.dispose()
    return [request_id for request_id in ids if request_id is not None]


def post_loop(url, reviewer, n_posts, acknowledged, failures, stop=None):
    """Post decisions one after another; record the request ids acknowledged (2xx)."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for step in range(n_posts):
            if stop is not None and stop.is_set():
                return
            request_id = uuid.uuid4().hex
            if step % 7 == 6:
                path, body = "/api/undo", {"reviewer": reviewer}
            else:
                action = ("keep", "ambiguous", "remove")[step % 3]
                path = "/api/decisions"
                body = {"image_id": step % 40, "action": action, "reviewer": reviewer}
            body["request_id"] = request_id
            try:
                response = client.post(path, json=body)
            except httpx.TransportError as error:
                failures.append(repr(error))
                if stop is not None:
                    return
                continue
            if response.is_success:
                acknowledged.append(request_id)
            elif response.status_code != 409:
                failures.append(f"{response.status_code} {response.text}")


def test_concurrent_reviewers_lose_nothing(run_dir, database_url, live_app):
    server = live_app(create_app(run_dir, database_url=database_url))
    acknowledged, failures = [], []
    threads = [
        threading.Thread(
            target=post_loop, args=(server.url, f"r{i}", 20, acknowledged, failures)
        )
        for i in range(10)
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = stored_request_ids(run_dir, database_url)
    assert failures == []
    assert len(acknowledged) == 200
    assert set(acknowledged) <= set(stored)
    assert len(stored) == len(set(stored))


def test_sigkill_loses_no_acknowledged_decision(run_dir, database_url, tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "beholder.cli", "review", str(run_dir)]
    command += ["--port", str(port)]
    if database_url:
        command += ["--database-url", database_url]
    url = f"http://127.0.0.1:{port}"
    acknowledged, failures = [], []
    stop = threading.Event()
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(url)
            threads = [
                threading.Thread(
                    target=post_loop,
                    args=(url, f"r{i}", 10_000, acknowledged, failures, stop),
                )
                for i in range(4)
            ]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 30
            while len(acknowledged) < 60 and time.monotonic() < deadline:
                time.sleep(0.005)
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
            stop.set()
            for thread in threads:
                thread.join(timeout=15)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()

    assert server.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 60
    stored = set(stored_request_ids(run_dir, database_url))
    lost = [request_id for request_id in acknowledged if request_id not in stored]
    assert lost == []
    if database_url is None:
        engine = create_engine(f"sqlite:///{run_dir / 'beholder.db'}")
        with engine.connect() as connection:
            check = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
        engine.dispose()
        assert check == "ok"

    # The killed server's run opens again with every row in place.
    restarted = create_app(run_dir, database_url=database_url)
    journal = restarted.state.review.journal
    assert journal.count() >= len(acknowledged)
    journal.close()
    restarted.state.review.store.close()
