"""The ``beholder review`` command."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import httpx
from typer.testing import CliRunner

from beholder.cli import app as cli_app

from .conftest import wait_until_up


def test_review_refuses_open_bind_without_token(run_dir):
    result = CliRunner().invoke(cli_app, ["review", str(run_dir), "--host", "0.0.0.0"])

    assert result.exit_code == 2
    assert "--token" in result.output


def test_review_refuses_non_run_folder(tmp_path):
    result = CliRunner().invoke(cli_app, ["review", str(tmp_path)])

    assert result.exit_code == 2
    assert "not a beholder run folder" in result.output


def test_review_refuses_busy_port(run_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            cli_app, ["review", str(run_dir), "--port", str(port)]
        )

    assert result.exit_code == 2
    assert "cannot listen" in result.output


def test_review_prints_address_and_serves(run_dir):
    command = [sys.executable, "-m", "beholder.cli", "review", str(run_dir)]
    command += ["--port", "0", "--token", "tok-123"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=tok-123", line)
        assert match, line
        url = match.group(1).rstrip("/")
        wait_until_up(url, headers={"Authorization": "Bearer tok-123"})
        without = httpx.get(url + "/api/health")
        with_token = httpx.get(url + "/?token=tok-123", follow_redirects=True)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
        server.stdout.close()

    assert without.status_code == 401
    assert with_token.status_code == 200
    assert "Queues" in with_token.text
    assert server.returncode == 0
