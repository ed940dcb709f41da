"""Decode plain JPEG files with libjpeg-turbo directly, through simplejpeg.

Pillow parses a JPEG's markers in Python before its C decoder starts, which
costs about as much as decoding a small photograph. For the common case, a
baseline or progressive 8-bit JPEG in gray or YCbCr, this module hands the
bytes straight to libjpeg-turbo through `simplejpeg
<https://gitlab.com/jfolz/simplejpeg>`_ and applies the EXIF orientation
itself. Pillow's wheels link libjpeg-turbo too (3.2.0 in Pillow 13.0.0,
3.1.2 in simplejpeg 1.9.0), and the pixels were the same on every image of
15-Scene and SUN-8 and in the tests.

Anything else returns None, and :mod:`beholder.decode` falls back to Pillow,
which also gives the reason a broken file fails. Pillow decodes files with
metadata that it warns or fails about, an orientation only in XMP, or
several pictures (MPO). It also decodes colour files with an Adobe segment
(which sets the colour transform), CMYK, 8-bit lossless and arithmetic-coded
JPEGs, and draft sizes that libjpeg-turbo would reach by another scale.
Pillow 13 cannot open 12-bit or 16-bit JPEGs, which are then reported as
unsupported. Any other warning from libjpeg-turbo sends the file to Pillow
too, but data that ends early raises :class:`TruncatedJpegError`.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, JpegImagePlugin

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
_START_OF_SCAN = 0xDA
# Segments allowed before the first scan: frames, Huffman and quantization
# tables, restart interval, APPn and comments. Any other marker, and any
# byte between segments other than a fill byte, sends the file to Pillow.
_SEGMENT_MARKERS = {*_PLAIN_FRAMES, 0xC4, 0xDB, 0xDD, _START_OF_SCAN, 0xFE}
_SEGMENT_MARKERS |= set(range(0xE0, 0xF0))
_MODES = {1: "L", 3: "RGB"}
# Draft decodes whose shorter side would be smaller are left to Pillow.
MIN_SCALED_SIDE = 8
_ORIENTATION_TAG = 0x0112


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
    """Return the size, mode and orientation of a plain JPEG, or None otherwise.

    Walks the markers up to the first scan as Pillow's JPEG plugin does, and
    hands every APPn segment to that plugin's own handler, so that metadata
    Pillow cannot parse sends the file to Pillow too. In a plain file the
    markers follow each other with nothing between them but fill bytes.
    It has one 8-bit frame of 1 or 3 components, coded as baseline,
    extended or progressive Huffman, and Pillow reads its EXIF block
    without a warning. Files with a multi-picture segment, an Adobe segment
    in colour, or an XMP orientation that EXIF lacks are not plain.
    """
    if simplejpeg is None or not data.startswith(_SOI):
        return None
    segments = _Segments(data)
    frame = None
    position = len(_SOI)
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker not in _SEGMENT_MARKERS:
            return None
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2 or position + 2 + length > len(data):
            return None
        if marker in _PLAIN_FRAMES:
            if frame is not None:
                return None
            frame = data[position + 4 : position + 2 + length]
        elif 0xE0 <= marker <= 0xEF and not segments.read_app(marker, position):
            return None
        if marker == _START_OF_SCAN:
            header = _frame_header(frame)
            if header is None:
                return None
            return segments.finish(header)
        position += 2 + length
    return None


class _Segments:
    """APPn segments read by Pillow's own handler, on a stand-in for its image.

    Pillow's ``JpegImagePlugin.APP`` reads from ``fp`` and fills ``info``,
    ``app``, ``applist`` and ``icclist``, and its dpi reader calls
    ``getexif``. Calling them keeps Pillow's exact rules: a segment or an
    EXIF block they fail on (a JFIF or Adobe segment too short to hold its
    fields, a malformed Photoshop block, a resolution of the wrong type)
    fails here too. NOTE: both are Pillow internals (checked with Pillow
    13.0.0). If they change, the calls fail and every file goes to Pillow.
    """

    def __init__(self, data: bytes):
        self.fp = io.BytesIO(data)
        self.info: dict = {}
        self.app: dict = {}
        self.applist: list = []
        self.icclist: list = []

    def read_app(self, marker: int, position: int) -> bool:
        """Run Pillow's handler on the segment at ``position``; False if it fails."""
        self.fp.seek(position + 2)
        try:
            JpegImagePlugin.APP(self, 0xFF00 | marker)
        except Exception:  # noqa: BLE001 - whatever Pillow fails on goes to Pillow
            return False
        return True

    def finish(self, header: PlainJpeg) -> PlainJpeg | None:
        """Return ``header`` with its orientation, or None when Pillow must decode."""
        if "mp" in self.info or not self._icc_readable():
            return None
        if "adobe" in self.info and header.mode != "L":
            return None
        orientation = self._orientation()
        if orientation is None:
            return None
        return replace(header, orientation=orientation)

    def getexif(self) -> Image.Exif:
        """The EXIF block as Pillow loads it, for Pillow's dpi reader."""
        return self._exif

    def _icc_readable(self) -> bool:
        # Pillow sorts the ICC fragments and reads the count from the first.
        return not self.icclist or len(min(self.icclist)) > 13

    def _orientation(self) -> int | None:
        """Return the EXIF orientation Pillow would apply (1 to 8), or None.

        Runs what Pillow runs on the EXIF block while opening a JPEG (its dpi
        reader, when the JFIF segment gave no dpi), then reads the
        orientation as ``Image.getexif`` does. Returns None when that warns
        or fails, or gives a value outside 0 to 8, so that the Pillow path
        records the note.
        """
        self._exif = Image.Exif()
        if "exif" not in self.info:
            return _upright_unless_xmp(self.info)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                self._exif.load(self.info["exif"])
                JpegImagePlugin.JpegImageFile._read_dpi_from_exif(self)
                value = self._exif.get(_ORIENTATION_TAG)
            except Exception:  # noqa: BLE001 - any trouble sends the file to Pillow
                return None
        if value is None:
            return _upright_unless_xmp(self.info)
        if value == 0:
            return 1  # 0 is outside EXIF's range but many cameras write it
        if isinstance(value, int) and 1 <= value <= 8:
            return value
        return None


def _upright_unless_xmp(info: dict) -> int | None:
    """Return 1 for a file without EXIF orientation, or None if XMP may give one."""
    if b"tiff:Orientation" in info.get("xmp", b""):
        return None  # Pillow would read the orientation from XMP
    return 1


class TruncatedJpegError(ValueError):
    """libjpeg-turbo found that a JPEG's compressed data ends early."""


def decode(data: bytes, header: PlainJpeg, scale: int, gray: bool) -> np.ndarray | None:
    """Decode a plain JPEG at ``1/scale`` of its size, as Pillow's draft mode does.

    Returns a ``(height, width)`` array for ``gray`` or a ``(height, width,
    3)`` RGB array, 8-bit, turned to the header's EXIF orientation. Raises
    :class:`TruncatedJpegError` when the compressed data ends early, even
    where an end-of-image marker closes the file, which Pillow decodes with
    gray in place of the missing rows and no error. Returns None when
    libjpeg-turbo reports any other problem or the output is not the size
    Pillow would give, so that the caller decodes with Pillow instead.
    """
    width = -(-header.width // scale)
    height = -(-header.height // scale)
    if not _scale_is_unique(header, scale):
        return None
    # Asking for the exact output size makes libjpeg-turbo pick the same
    # 1/scale factor as Pillow's draft; at scale 1 no reduction is requested.
    min_size = {"min_width": width, "min_height": height} if scale > 1 else {}
    try:
        pixels = simplejpeg.decode_jpeg(
            data, colorspace="GRAY" if gray else "RGB", strict=True, **min_size
        )
    except ValueError as error:
        if "premature end" in str(error).lower():
            raise TruncatedJpegError(str(error)) from None
        logger.debug("simplejpeg could not decode the file: %s", error)
        return None
    if pixels.shape[:2] != (height, width):
        return None
    if gray:
        pixels = pixels[:, :, 0]
    return np.ascontiguousarray(_orient(pixels, header.orientation))


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright for EXIF orientation 1 to 8, as Pillow's exif_transpose does."""
    if orientation in (5, 6, 7, 8):
        # These orientations store the picture on its side.
        pixels = pixels.swapaxes(0, 1)
    flips = {2: (1,), 3: (0, 1), 4: (0,), 6: (1,), 7: (0, 1), 8: (0,)}
    for axis in flips.get(orientation, ()):
        pixels = np.flip(pixels, axis)
    return pixels


def _scale_is_unique(header: PlainJpeg, scale: int) -> bool:
    """Return whether libjpeg-turbo gives Pillow's draft output at ``1/scale``.

    libjpeg-turbo scales by ``m/8`` and simplejpeg takes the smallest ``m``
    whose output is at least the size requested, so for tiny images a
    smaller ``m`` can round up to the same size. Scaled outputs under
    :data:`MIN_SCALED_SIDE` pixels also differed from Pillow's in tests
    (5 by 5 pixels at 1/4), so they are left to Pillow as well.
    """
    if scale == 1:
        return True
    if min(header.width, header.height) < MIN_SCALED_SIDE * scale:
        return False
    eighths = 8 // scale
    smaller = eighths - 1
    sides = (header.width, header.height)
    return smaller == 0 or any(
        -(-side * smaller // 8) < -(-side // scale) for side in sides
    )


def _frame_header(frame: bytes | None) -> PlainJpeg | None:
    if frame is None or len(frame) < 6 or frame[0] != 8:
        return None
    height = int.from_bytes(frame[1:3], "big")
    width = int.from_bytes(frame[3:5], "big")
    mode = _MODES.get(frame[5])
    if mode is None or width == 0 or height == 0:
        return None
    return PlainJpeg(width=width, height=height, mode=mode)
