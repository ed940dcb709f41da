"""Progress reporting that the library emits and the CLI draws.

Library functions take a ``progress`` argument and call ``stage(name, total)``
then ``advance(n)``; the default does nothing. The CLI passes a rich-based
implementation, which ``--no-progress`` turns off.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def stage(self, name: str, total: int | None = None) -> None:
        """Start a new stage of ``total`` steps (``None`` when unknown)."""

    def advance(self, steps: int = 1) -> None:
        """Record that ``steps`` more steps of the current stage are done."""


class NullProgress:
    """Progress that reports nothing."""

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass
