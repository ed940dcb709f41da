"""Small JPEG thumbnails as data URIs, so the report is one self-contained file."""

from __future__ import annotations

import base64
import io

from beholder.decode import open_rgb
from beholder.errors import ImageDecodeError


def thumbnail_uri(path: str, *, size: int = 160) -> str | None:
    """Return a ``data:image/jpeg;base64,...`` URI, or None when undecodable."""
    try:
        image = open_rgb(path, draft_size=size)
    except ImageDecodeError:
        return None
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return png_or_jpeg_uri(buffer.getvalue(), "jpeg")


def png_or_jpeg_uri(data: bytes, kind: str = "png") -> str:
    """Wrap image bytes in a data URI."""
    return f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"
