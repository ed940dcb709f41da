"""Decode one image file to an 8-bit RGB ``PIL.Image``, whatever it holds.

Every stage that looks at pixels goes through :func:`open_rgb`, or through
:func:`decode_image`, which also returns what was done to the file. So all
stages see the same picture. EXIF orientation is applied, 16-bit data is
scaled (not clipped) to 8 bits, transparency is composited on a fixed gray,
CMYK and palette images are converted, and an animation gives its first
frame. The format comes from the file's content, never its extension. Anything that cannot be
decoded raises :class:`~beholder.errors.ImageDecodeError` with a short,
stable reason (see :data:`REASONS`).

HEIC/HEIF files decode when ``pillow-heif`` is installed; without it they
fail with the reason ``"unsupported format (HEIC; install pillow-heif)"``.
"""

from __future__ import annotations

import functools
import logging
import stat
import threading
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from beholder import fast_jpeg
from beholder.errors import ImageDecodeError

logger = logging.getLogger(__name__)

# Transparent pixels are shown on this colour, chosen because it is neither
# dark nor bright and so shifts brightness statistics the least.
BACKGROUND = (128, 128, 128)

# Decoding stops above this many pixels (12,000 x 12,000, about 430 MB as
# 8-bit RGB) to bound memory. It is checked from the header, before any pixel
# data is read. Pillow's own decompression-bomb error (above twice
# Image.MAX_IMAGE_PIXELS, about 179 million pixels by default) gives the same
# reason.
MAX_PIXELS = 144_000_000

# The reasons ImageDecodeError carries. The ledger stores them and the report
# counts files by them, so they stay short and fixed.
REASONS = {
    "empty file": "the file has 0 bytes",
    "not a regular file": "a folder, device or pipe where an image was expected",
    "unreadable file": "the operating system refused to read it (permissions, I/O)",
    "not an image": "the content matches no image format",
    "unsupported format": "a known format this installation cannot decode",
    "truncated file": "the image data ends early",
    "image too large": f"more than {MAX_PIXELS:,} pixels",
    "unsupported colour mode": "a colour mode with no conversion to RGB",
    "decode failed": "the data is corrupt in another way",
}

_HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")

# Formats that share one decoder, so a ".jpg" holding an MPO is no mismatch.
_FORMAT_FAMILY = {"MPO": "JPEG", "DIB": "BMP", "CUR": "ICO"}

# Held while a decode changes process-wide state: the warning filters and
# ImageFile.LOAD_TRUNCATED_IMAGES. Threads that decode at once (the review
# app's thumbnails) then cannot see each other's settings.
_PROCESS_STATE_LOCK = threading.Lock()

# Larger JPEGs are left to Pillow, which streams the file instead of
# holding all of it in memory.
FAST_PATH_MAX_BYTES = 64 * 2**20

# The transpose that turns an image upright, by EXIF orientation 2 to 8.
_EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Suffixes that Pillow registers for JPEG files.
_JPEG_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif"}

# ISO base media brands (bytes 8-12 of an "ftyp" box) of still-image formats.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


@dataclass(frozen=True)
class DecodedImage:
    """An image decoded by :func:`decode_image`, and what was done to it.

    ``pixels`` is the decoded picture as an 8-bit array of shape ``(height,
    width, 3)`` in RGB, or ``(height, width)`` for a gray image decoded with
    ``keep_gray``. ``width`` and ``height`` are the full size after EXIF
    orientation, even when ``pixels`` was decoded at a reduced draft scale.
    ``file_size`` is the size of the file in bytes.
    """

    pixels: np.ndarray
    format: str
    mode: str
    width: int
    height: int
    is_animated: bool = False
    exif_transposed: bool = False
    scaled_to_8bit: bool = False
    alpha_composited: bool = False
    extension_mismatch: bool = False
    notes: tuple[str, ...] = ()
    file_size: int | None = None

    @property
    def image(self) -> Image.Image:
        """The pixels as a PIL image in mode ``"RGB"`` or ``"L"``."""
        return Image.fromarray(self.pixels)


def open_rgb(path: str | Path, *, draft_size: int | None = None) -> Image.Image:
    """Decode ``path`` to an RGB image with EXIF orientation applied.

    Parameters
    ----------
    path : str or Path
        The image file.
    draft_size : int, optional
        When given, a JPEG is decoded at a reduced scale whose shorter side is
        still at least ``draft_size`` pixels (the decoder's draft mode), which
        is several times faster for statistics and thumbnails. The whole file
        is still read, so truncation is still detected.

    Like :func:`decode_image`, it may be called from several threads.

    Raises
    ------
    ImageDecodeError
        With ``reason`` starting with one of the keys of :data:`REASONS`.
    """
    return decode_image(path, draft_size=draft_size).image


def decode_image(
    path: str | Path, *, draft_size: int | None = None, keep_gray: bool = False
) -> DecodedImage:
    """Decode ``path`` like :func:`open_rgb` and record what the conversion did.

    With ``keep_gray``, an image that stores one channel and no transparency
    (mode ``"1"``, ``"L"``, or high bit depth scaled to 8 bits) comes back in
    mode ``"L"`` instead of RGB, which saves converting it there and back
    when only its luminance is needed. Every other image is RGB.

    Warnings that Pillow emits while reading the file (corrupt EXIF, odd
    chunks) are caught and turned into ``notes``. They are caught with
    :func:`warnings.catch_warnings`, and ``ImageFile.LOAD_TRUNCATED_IMAGES``
    is turned off during the call. Both change process-wide state, so those
    steps hold a lock, and several threads may call this function. Warnings
    that other code in the process emits during those steps are caught too.
    """
    path = Path(path)
    file_size = _check_file(path)
    fast = _decode_plain_jpeg(path, draft_size, keep_gray, file_size)
    if fast is not None:
        return fast
    _register_heif_opener()
    try:
        with _PROCESS_STATE_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            decoded = _decode(path, draft_size, keep_gray)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError(path, _identify_unsupported(path)) from None
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(path, "image too large", str(error)) from None
    except OSError as error:
        raise ImageDecodeError(path, _os_error_reason(error), str(error)) from None
    except Exception as error:  # noqa: BLE001 - one corrupt file must not stop a run
        # Pillow's plugins raise many types on corrupt data (struct.error,
        # IndexError, ZeroDivisionError, ...). The caller records the reason.
        logger.debug("decoding %s failed: %r", path, error)
        raise ImageDecodeError(path, "decode failed", repr(error)) from None

    notes = decoded.notes + _warning_notes(caught)
    return replace(decoded, notes=notes, file_size=file_size)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB, scaling high bit depths and compositing alpha.

    Raises ValueError for modes that Pillow cannot convert to RGB (LAB, HSV).
    """
    return _convert(image)[0]


def _decode_plain_jpeg(
    path: Path, draft_size: int | None, keep_gray: bool, file_size: int
) -> DecodedImage | None:
    """Decode a plain JPEG without Pillow's parser, or return None to use Pillow.

    See :mod:`beholder.fast_jpeg` for which files qualify. The result equals
    what the Pillow path gives for the same file.
    """
    if not fast_jpeg.is_available() or file_size > FAST_PATH_MAX_BYTES:
        return None
    try:
        with open(path, "rb") as file:
            # Only JPEGs are read whole; other files go to Pillow unread.
            data = file.read(2)
            if data != b"\xff\xd8":
                return None
            data += file.read()
    except OSError:
        return None  # the Pillow path names the reason
    with _PROCESS_STATE_LOCK:
        header = fast_jpeg.read_header(data)
    if header is None or header.width * header.height > MAX_PIXELS:
        return None
    scale = draft_scale(header.width, header.height, draft_size) if draft_size else 1
    gray = keep_gray and header.mode == "L"
    try:
        pixels = fast_jpeg.decode(data, header, scale, gray)
    except fast_jpeg.TruncatedJpegError as error:
        raise ImageDecodeError(path, "truncated file", str(error)) from None
    if pixels is None:
        return None
    # The common JPEG suffixes need no look-up in Pillow's registry, which
    # would load every format plugin.
    mismatch = None
    if path.suffix.lower() not in _JPEG_SUFFIXES:
        _register_heif_opener()  # so that .heic is a known suffix
        mismatch = _extension_mismatch(path, "JPEG")
    notes = [mismatch] if mismatch else []
    width, height = header.width, header.height
    transposed = header.orientation != 1
    if transposed:
        notes.append(f"EXIF orientation {header.orientation} applied")
    if header.orientation >= 5:
        width, height = height, width
    return DecodedImage(
        pixels=pixels,
        format="JPEG",
        mode=header.mode,
        width=width,
        height=height,
        exif_transposed=transposed,
        extension_mismatch=bool(mismatch),
        notes=tuple(notes),
        file_size=file_size,
    )


def _decode(path: Path, draft_size: int | None, keep_gray: bool) -> DecodedImage:
    # Training scripts often set LOAD_TRUNCATED_IMAGES to True, which makes
    # Pillow fill missing data with gray. The audit must see truncated files
    # as broken, so the setting is off while this file decodes.
    allow_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(path, formats=_content_formats()) as image:
            return _decode_open(path, image, draft_size, keep_gray)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = allow_truncated


def _decode_open(
    path: Path, image: ImageFile.ImageFile, draft_size, keep_gray: bool
) -> DecodedImage:
    notes = []
    file_format = image.format or "unknown"
    full_size = image.size
    _check_pixels(path, image)

    is_animated = bool(getattr(image, "is_animated", False))
    if is_animated:
        image.seek(0)
        notes.append("animated or multi-frame, first frame used")
    mismatch = _extension_mismatch(path, file_format)
    if mismatch:
        notes.append(mismatch)

    if draft_size and file_format in ("JPEG", "MPO"):
        image.draft(image.mode, _draft_box(image.size, draft_size))
    image.load()
    mode = image.mode

    orientation, exif_note = _read_orientation(image)
    if exif_note:
        notes.append(exif_note)
    transposed = orientation in range(2, 9)
    if transposed:
        # Transposing the pixels alone, unlike ImageOps.exif_transpose, does
        # not rewrite the EXIF block, which fails on some malformed blocks.
        image = image.transpose(_EXIF_TRANSPOSE[orientation])
        notes.append(f"EXIF orientation {orientation} applied")
    if orientation in range(5, 9):
        full_size = (full_size[1], full_size[0])

    try:
        rgb, conversion_notes = _convert(image, keep_gray)
    except ValueError as error:
        reason = f"unsupported colour mode ({mode})"
        raise ImageDecodeError(path, reason, str(error)) from None
    notes.extend(conversion_notes)
    return DecodedImage(
        pixels=np.asarray(rgb),
        format=file_format,
        mode=mode,
        width=full_size[0],
        height=full_size[1],
        is_animated=is_animated,
        exif_transposed=transposed,
        scaled_to_8bit=any("scaled to 8 bits" in note for note in conversion_notes),
        alpha_composited="transparency composited on gray" in conversion_notes,
        extension_mismatch=bool(mismatch),
        notes=tuple(notes),
    )


def _convert(
    image: Image.Image, keep_gray: bool = False
) -> tuple[Image.Image, list[str]]:
    """Return the image as 8-bit RGB and notes on any lossy step taken.

    With ``keep_gray``, single-channel images without transparency become
    8-bit ``"L"`` instead.
    """
    mode = image.mode
    if mode in _HIGH_DEPTH_MODES:
        gray, notes = _high_depth_to_gray(image)
        return (gray if keep_gray else gray.convert("RGB")), notes
    if keep_gray and mode in ("1", "L") and "transparency" not in image.info:
        return image.convert("L") if mode == "1" else image.copy(), []
    if mode == "P":
        has_alpha = "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        mode = image.mode
    if mode in ("L", "RGB") and "transparency" in image.info:
        image = image.convert("LA" if mode == "L" else "RGBA")
        mode = image.mode
    if mode in _ALPHA_MODES:
        return _composite(image), ["transparency composited on gray"]
    if mode == "RGB":
        return image.copy(), []

    # Modes with no conversion to RGB (LAB, HSV) raise ValueError here.
    rgb = image.convert("RGB")
    return rgb, (["CMYK converted to RGB"] if mode == "CMYK" else [])


def _composite(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _high_depth_to_gray(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """Scale 16-bit, 32-bit and float data linearly to 0..255, never clipping.

    NaN and infinite values of float data become 0 and are reported in a
    note, so that one bad value does not set the scale of the whole image.
    """
    array = np.asarray(image)
    notes = []
    finite = np.isfinite(array)
    if not finite.all():
        notes.append(f"{int((~finite).sum())} NaN or infinite values set to 0")
        array = np.where(finite, array, 0)
    low = float(array.min(initial=0))
    high = float(array.max(initial=0))
    if image.mode.startswith("I;16"):
        top, note = 65535.0, "16-bit data scaled to 8 bits"
    elif image.mode == "F" and low >= 0.0 and high <= 1.0:
        top, note = 1.0, "floating-point data scaled to 8 bits"
    elif high <= 255:
        top, note = 255.0, None
    elif high <= 65535:
        top, note = 65535.0, "16-bit data scaled to 8 bits"
    else:
        top, note = high, "32-bit data scaled to 8 bits by its maximum"

    scaled = np.asarray(array, dtype=np.float64) * (255.0 / top)
    # Only negative values can fall outside 0..255 here, because top is at
    # least the maximum.
    gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(gray, mode="L"), notes + ([note] if note else [])


def _read_orientation(image: Image.Image) -> tuple[int | None, str | None]:
    """Return the EXIF orientation (1-8 or None) and a note when EXIF is malformed."""
    try:
        value = image.getexif().get(0x0112)
    except Exception:  # noqa: BLE001 - malformed EXIF must never stop a run
        return None, "malformed EXIF ignored"
    if value is None or value == 0:
        # 0 is outside the EXIF range but many cameras write it for "unknown".
        return None, None
    if not isinstance(value, int) or not 1 <= value <= 8:
        return None, f"invalid EXIF orientation {value!r} ignored"
    return value, None


def _warning_notes(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    notes = []
    for item in caught:
        text = str(item.message).strip()
        if "EXIF" in text:
            note = "malformed EXIF ignored"
        else:
            note = f"decoder warning: {text[:100]}"
        if note not in notes:
            notes.append(note)
    return tuple(notes)


def _extension_mismatch(path: Path, file_format: str) -> str | None:
    expected = Image.registered_extensions().get(path.suffix.lower())
    if expected is None:
        return None
    if _FORMAT_FAMILY.get(expected, expected) == _FORMAT_FAMILY.get(
        file_format, file_format
    ):
        return None
    return f"extension {path.suffix} but content is {file_format}"


# Start-of-frame markers (SOF0 to SOF15 without DHT, JPG and DAC) and the
# coding each one names.
_JPEG_FRAME_MARKERS = {
    0xC0: "baseline",
    0xC1: "extended sequential",
    0xC2: "progressive",
    0xC3: "lossless",
    0xC5: "hierarchical sequential",
    0xC6: "hierarchical progressive",
    0xC7: "hierarchical lossless",
    0xC9: "arithmetic-coded sequential",
    0xCA: "arithmetic-coded progressive",
    0xCB: "arithmetic-coded lossless",
    0xCD: "arithmetic-coded hierarchical sequential",
    0xCE: "arithmetic-coded hierarchical progressive",
    0xCF: "arithmetic-coded hierarchical lossless",
}


def _content_formats() -> list[str]:
    """Registered formats that are recognised by their content's signature.

    Plugins without a signature check (TGA, SPIDER, IM, ...) accept almost
    any bytes, so a text file could come out as a nonsense image. They are
    left out.
    """
    Image.init()
    return [name for name in Image.ID if Image.OPEN[name][1] is not None]


def _identify_unsupported(path: Path) -> str:
    """Name what an unidentified file holds, as an ImageDecodeError reason."""
    try:
        with open(path, "rb") as file:
            head = file.read(64)
    except OSError:
        return "not an image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "unsupported format (HEIC; install pillow-heif)"
        if brand in _AVIF_BRANDS:
            return "unsupported format (AVIF; this Pillow build has no AVIF decoder)"
        return "not an image (video file)"
    if head.startswith(b"\xff\xd8"):
        return _jpeg_variant_reason(path)
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")):
        return "unsupported format (JPEG XL)"
    if head.startswith(b"%PDF"):
        return "not an image (PDF document)"
    if b"<svg" in head.lower():
        return "unsupported format (SVG vector image)"
    return "not an image"


def _jpeg_variant_reason(path: Path) -> str:
    """Name the JPEG variant of a file that Pillow cannot open, from its frame header."""
    try:
        with open(path, "rb") as file:
            data = file.read(2**16)
    except OSError:
        return "not an image"
    position = 2
    while position + 5 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in _JPEG_FRAME_MARKERS:
            precision = data[position + 4]
            coding = _JPEG_FRAME_MARKERS[marker]
            return f"unsupported format ({precision}-bit {coding} JPEG)"
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        position += 2 + length
    return "not an image (JPEG signature, no readable frame header)"


def _os_error_reason(error: OSError) -> str:
    if error.errno is not None:
        return "unreadable file"
    text = str(error).lower()
    if "truncated" in text:
        return "truncated file"
    return "decode failed"


@functools.cache
def _register_heif_opener() -> bool:
    """Register pillow-heif's HEIC/HEIF opener with Pillow, once per process."""
    try:
        import pillow_heif
    except ImportError:
        logger.debug("pillow-heif is not installed; HEIC files will be flagged")
        return False
    pillow_heif.register_heif_opener()
    return True


def _check_file(path: Path) -> int:
    """Raise ImageDecodeError unless ``path`` is a non-empty regular file, else return its size."""
    try:
        info = path.stat()
    except OSError as error:
        raise ImageDecodeError(path, "unreadable file", error.strerror) from None
    if not stat.S_ISREG(info.st_mode):
        raise ImageDecodeError(path, "not a regular file")
    if info.st_size == 0:
        raise ImageDecodeError(path, "empty file")
    return info.st_size


def _check_pixels(path: Path, image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageDecodeError(
            path, "image too large", f"{width}x{height} exceeds {MAX_PIXELS} pixels"
        )


def draft_scale(width: int, height: int, draft_size: int) -> int:
    """Return the factor (1, 2, 4 or 8) by which a JPEG draft decode shrinks an image.

    ``decode_image(..., draft_size=draft_size)`` requests from the decoder a box
    whose shorter side is ``draft_size`` (at most 8 times smaller), and the
    decoder takes the largest power of two that keeps both sides at least
    that box. The decoded size is ``ceil(width / factor)`` by
    ``ceil(height / factor)``.
    """
    box_width, box_height = _draft_box((width, height), draft_size)
    fits = max(1, min(width // box_width, height // box_height))
    return next(factor for factor in (8, 4, 2, 1) if fits >= factor)


def _draft_box(size: tuple[int, int], min_side: int) -> tuple[int, int]:
    width, height = size
    scale = max(min_side / max(1, min(width, height)), 1 / 8)
    return max(1, int(width * scale)), max(1, int(height * scale))
