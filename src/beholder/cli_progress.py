"""A rich progress bar that implements :class:`beholder.progress.Progress`."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    """One bar per stage, drawn on ``console``; use as a context manager."""

    def __init__(self, console: Console):
        self._bars = Progress(
            TextColumn("[bold]{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = None

    def __enter__(self):
        self._bars.start()
        return self

    def __exit__(self, *exc_info):
        self._finish_current()
        self._bars.stop()

    def stage(self, name: str, total: int | None = None) -> None:
        self._finish_current()
        self._task = self._bars.add_task(name, total=total)

    def advance(self, steps: int = 1) -> None:
        if self._task is not None:
            self._bars.advance(self._task, steps)

    def _finish_current(self) -> None:
        if self._task is not None:
            task = self._bars.tasks[self._task]
            if task.total is not None:
                self._bars.update(self._task, completed=task.total)
