"""Fixtures for the review app: synthetic runs, databases and live servers."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from beholder.review.synthetic import write_synthetic_run

POSTGRES_ENV = "BEHOLDER_TEST_POSTGRES_URL"
NASTY_LABEL = '<script>alert("label")</script>'
NASTY_FILE = "x'\"<img src=x onerror=alert(1)>.png"
CLASSES = ("three", "five", "eight", "nine")
NASTY_CLASSES = ("three", "five", 'eight "8"', NASTY_LABEL)


@pytest.fixture(scope="session")
def template_run(tmp_path_factory) -> Path:
    """A 40-image synthetic run with plain class names, built once."""
    folder = tmp_path_factory.mktemp("template") / "run"
    return write_synthetic_run(folder, n_images=40, classes=CLASSES, seed=1)


@pytest.fixture(scope="session")
def nasty_template_run(tmp_path_factory) -> Path:
    """A synthetic run whose labels and one file name hold HTML and quotes."""
    folder = tmp_path_factory.mktemp("nasty") / "run"
    return write_synthetic_run(
        folder,
        n_images=24,
        classes=NASTY_CLASSES,
        odd_file_name=NASTY_FILE,
        splits=True,
        seed=2,
    )


@pytest.fixture
def run_dir(template_run, tmp_path) -> Path:
    """A fresh copy of the template run (its images stay in the template)."""
    target = tmp_path / "run"
    shutil.copytree(template_run, target, ignore=shutil.ignore_patterns("data"))
    return target


@pytest.fixture
def nasty_run_dir(nasty_template_run, tmp_path) -> Path:
    target = tmp_path / "nasty"
    shutil.copytree(nasty_template_run, target, ignore=shutil.ignore_patterns("data"))
    return target


@pytest.fixture
def postgres_url():
    """URL of a fresh PostgreSQL database, dropped after the test."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"{POSTGRES_ENV} is not set; start a local server with "
            f'export {POSTGRES_ENV}="$(bash .ci/postgres.sh)" to run the '
            "PostgreSQL store tests"
        )
    name = f"beholder_review_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    test_url = sa.engine.make_url(url).set(database=name)
    yield test_url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request):
    """None (the run's SQLite file) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The review app served by uvicorn in a thread on a free loopback port."""

    def __init__(self, app, *, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        wait_until_up(self.url)
        return self

    def __exit__(self, *exc_info):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_until_up(url: str, *, timeout: float = 20.0, headers=None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/api/health", headers=headers, timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"review server at {url} did not start in {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def live_app():
    """Return a function that serves an app in a thread; stopped after the test."""
    servers = []

    def start(app) -> LiveServer:
        server = LiveServer(app).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
