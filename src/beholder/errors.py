"""Exceptions raised by beholder.

    BeholderError
    ├── DatasetError        the input as a whole is unusable (empty folder, bad manifest)
    ├── ImageDecodeError    one file could not be decoded; the run records it and goes on
    ├── BackboneError       the backbone or its weights could not be loaded
    ├── PredictionsError    imported predictions do not fit the dataset
    └── StoreError          the run folder or its database is missing or inconsistent
"""


class BeholderError(Exception):
    """Base class of every error that beholder raises on purpose."""


class DatasetError(BeholderError, ValueError):
    """The dataset as a whole cannot be used; the message names the path and the fix."""


class ImageDecodeError(BeholderError):
    """One image could not be decoded.

    ``reason`` is a short, stable phrase (such as ``"truncated file"``) that the
    file ledger stores and the report groups by.
    """

    def __init__(self, path, reason: str, detail: str = ""):
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        message = f"{self.path}: {reason}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class BackboneError(BeholderError, RuntimeError):
    """The backbone could not be created or its weights could not be loaded."""


class PredictionsError(BeholderError, ValueError):
    """Imported predictions do not match the dataset or are not probabilities."""


class StoreError(BeholderError, RuntimeError):
    """The run folder or its database is missing or does not match this version."""
