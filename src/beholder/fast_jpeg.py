"""Decode plain JPEG files with libjpeg-turbo directly, through simplejpeg.

Pillow parses a JPEG's markers in Python before its C decoder starts, which
costs about as much as decoding a small photograph. For the common case, a
baseline or progressive 8-bit JPEG in gray or YCbCr, this module hands the
bytes straight to libjpeg-turbo through `simplejpeg
<https://gitlab.com/jfolz/simplejpeg>`_ and applies the EXIF orientation
itself. Pillow links the same library, so the pixels are the same (checked
on every image of 15-Scene and SUN-8, and in the tests).

Anything else returns None, and :mod:`beholder.decode` falls back to Pillow,
which also gives the reason a broken file fails. That covers EXIF data this
module does not fully parse, multi-picture files, colour files with an
Adobe segment (it sets the colour transform), CMYK, 12-bit, lossless and
arithmetic-coded JPEGs, and any warning from the decoder, such as a
truncated file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

try:
    import simplejpeg
except ImportError:  # pragma: no cover - simplejpeg is a dependency
    simplejpeg = None

logger = logging.getLogger(__name__)

_SOI = b"\xff\xd8"
# Start-of-frame markers this module decodes: baseline, extended sequential
# and progressive Huffman coding. Other SOF markers (lossless, hierarchical,
# arithmetic coding) go to Pillow.
_PLAIN_FRAMES = {0xC0, 0xC1, 0xC2}
_OTHER_FRAMES = set(range(0xC3, 0xD0)) - {0xC4, 0xC8, 0xCC}
_START_OF_SCAN = 0xDA
_ADOBE = 0xEE
# Markers without a length field.
_STANDALONE = {0x01, *range(0xD0, 0xD9)}
_MODES = {1: "L", 3: "RGB"}
_EXIF = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112
# Sizes in bytes of the TIFF field types, by type code.
_TIFF_TYPE_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
}


@dataclass(frozen=True)
class PlainJpeg:
    """Size, pixel mode and EXIF orientation of a JPEG that :func:`decode` can handle.

    ``width`` and ``height`` are the stored size, before the orientation
    (1 to 8, 1 when the file has none) is applied.
    """

    width: int
    height: int
    mode: str
    orientation: int = 1


def is_available() -> bool:
    """Return True when simplejpeg is installed, so that the fast path can run."""
    return simplejpeg is not None


def read_header(data: bytes) -> PlainJpeg | None:
    """Return the size and mode of a plain JPEG, or None for any other file.

    Walks the markers up to the first scan. A file is plain when it has one
    8-bit frame of 1 or 3 components, coded as baseline, extended or
    progressive Huffman, at most one well-formed EXIF segment and no
    multi-picture segment. An Adobe segment is allowed in gray files only,
    where it changes nothing.
    """
    if simplejpeg is None or not data.startswith(_SOI):
        return None
    frame, adobe, orientation = None, False, None
    position = len(_SOI)
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segment = data[position + 4 : position + 2 + length]
        if length < 2 or _needs_pillow(marker, segment):
            return None
        if marker in _PLAIN_FRAMES:
            if frame is not None:
                return None
            frame = segment
        adobe = adobe or marker == _ADOBE
        if marker == 0xE1 and segment.startswith(_EXIF):
            if orientation is not None:
                return None
            orientation = exif_orientation(segment[len(_EXIF) :])
            if orientation is None:
                return None
        if marker == _START_OF_SCAN:
            header = _frame_header(frame)
            if header is None or (adobe and header.mode != "L"):
                return None
            return replace(header, orientation=orientation or 1)
        position += 2 + length
    return None


def decode(data: bytes, header: PlainJpeg, scale: int, gray: bool) -> np.ndarray | None:
    """Decode a plain JPEG at ``1/scale`` of its size, as Pillow's draft mode does.

    Returns a ``(height, width)`` array for ``gray`` or a ``(height, width,
    3)`` RGB array, 8-bit, turned to the header's EXIF orientation. Returns
    None when libjpeg-turbo reports any problem or the output is not the
    size Pillow would give, so that the caller decodes with Pillow instead.
    """
    width = -(-header.width // scale)
    height = -(-header.height // scale)
    # Asking for the exact output size makes libjpeg-turbo pick the same
    # 1/scale factor as Pillow's draft; at scale 1 no reduction is requested.
    min_size = {"min_width": width, "min_height": height} if scale > 1 else {}
    try:
        pixels = simplejpeg.decode_jpeg(
            data, colorspace="GRAY" if gray else "RGB", strict=True, **min_size
        )
    except ValueError as error:
        logger.debug("simplejpeg could not decode the file: %s", error)
        return None
    if pixels.shape[:2] != (height, width):
        return None
    if gray:
        pixels = pixels[:, :, 0]
    return np.ascontiguousarray(_orient(pixels, header.orientation))


def exif_orientation(tiff: bytes) -> int | None:
    """Return the orientation (1 to 8) from EXIF's TIFF block, 1 when absent.

    Returns None when the first image directory is malformed in any way
    Pillow would warn about (bad byte order, entries past the end, unknown
    field types) or the orientation is not one short from 1 to 8.
    """
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None or len(tiff) < 8 or _unsigned(tiff, 2, 2, order) != 42:
        return None
    start = _unsigned(tiff, 4, 4, order)
    if start + 2 > len(tiff):
        return None
    count = _unsigned(tiff, start, 2, order)
    if start + 2 + 12 * count > len(tiff):
        return None
    orientation = 1
    for entry in range(start + 2, start + 2 + 12 * count, 12):
        tag, kind = (
            _unsigned(tiff, entry, 2, order),
            _unsigned(tiff, entry + 2, 2, order),
        )
        items = _unsigned(tiff, entry + 4, 4, order)
        if kind not in _TIFF_TYPE_SIZES:
            return None
        size = items * _TIFF_TYPE_SIZES[kind]
        if size > 4 and _unsigned(tiff, entry + 8, 4, order) + size > len(tiff):
            return None
        if tag == _ORIENTATION_TAG:
            if kind != 3 or items != 1:
                return None
            orientation = _unsigned(tiff, entry + 8, 2, order)
    return orientation if 1 <= orientation <= 8 else None


def _unsigned(data: bytes, start: int, size: int, order: str) -> int:
    return int.from_bytes(data[start : start + size], order)


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright as EXIF orientation 1 to 8 says (Pillow's exif_transpose)."""
    if orientation in (5, 6, 7, 8):
        # These orientations store the picture on its side.
        pixels = pixels.swapaxes(0, 1)
    flips = {2: (1,), 3: (0, 1), 4: (0,), 6: (1,), 7: (0, 1), 8: (0,)}
    for axis in flips.get(orientation, ()):
        pixels = np.flip(pixels, axis)
    return pixels


def _needs_pillow(marker: int, segment: bytes) -> bool:
    """Return True for a segment that only Pillow handles: MPF or an odd SOF."""
    if marker == 0xE2 and segment.startswith(b"MPF"):
        return True
    return marker in _OTHER_FRAMES


def _frame_header(frame: bytes | None) -> PlainJpeg | None:
    if frame is None or len(frame) < 6 or frame[0] != 8:
        return None
    height = int.from_bytes(frame[1:3], "big")
    width = int.from_bytes(frame[3:5], "big")
    mode = _MODES.get(frame[5])
    if mode is None or width == 0 or height == 0:
        return None
    return PlainJpeg(width=width, height=height, mode=mode)
