"""Beholder: look at an image-classification dataset the way a model does.

The library is organised by pipeline stage; see ``docs/architecture.md``.
Heavy dependencies (torch, timm, the web stack) load only in the modules
that use them, so ``import beholder`` stays fast.
"""

from beholder.errors import (
    BackboneError,
    BeholderError,
    DatasetError,
    ImageDecodeError,
    PredictionsError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "BackboneError",
    "BeholderError",
    "DatasetError",
    "ImageDecodeError",
    "PredictionsError",
    "StoreError",
    "__version__",
]
