"""Fixtures for the attack tests: a tiny backbone and a CLI runner over it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from beholder.cli import app


@pytest.fixture
def run_cli(tiny_backbone_file):
    """Return a function that runs ``beholder audit`` with the tiny backbone."""
    runner = CliRunner()

    def run(*args: str):
        # The defaults come first, so that a test's own --backbone wins. The
        # property scan and bias analysis are off because they take most of
        # the time and no attack test looks at their output.
        command = [
            "audit",
            "--no-progress",
            "--no-scan",
            "--no-bias",
            "--backbone",
            str(tiny_backbone_file),
            "--folds",
            "3",
            *map(str, args),
        ]
        return runner.invoke(app, command)

    return run
