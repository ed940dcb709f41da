"""Tests for beholder.fast_jpeg: same pixels as Pillow, Pillow for everything else."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from beholder import decode, fast_jpeg
from beholder.decode import decode_image
from beholder.errors import ImageDecodeError


def _photo(size=(320, 240), seed=0) -> Image.Image:
    """A smooth picture with noise, so that JPEG scaling has detail to keep."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) % 256], axis=-1)
    noisy = base + rng.normal(0, 20, base.shape)
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8))


def _save(path, image, **kwargs):
    image.save(path, "JPEG", **kwargs)
    return path


def _decode_both(path, monkeypatch, **kwargs):
    fast = decode_image(path, **kwargs)
    with monkeypatch.context() as patch:
        patch.setattr(fast_jpeg, "simplejpeg", None)
        slow = decode_image(path, **kwargs)
    return fast, slow


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("RGB", {"quality": 90}),
        ("RGB", {"quality": 75, "subsampling": 0}),
        ("RGB", {"quality": 75, "subsampling": 1}),
        ("RGB", {"quality": 60, "progressive": True}),
        ("L", {"quality": 80}),
        ("L", {"quality": 80, "progressive": True}),
    ],
)
@pytest.mark.parametrize("draft_size", [None, 100, 32])
def test_same_pixels_as_pillow(tmp_path, monkeypatch, mode, options, draft_size):
    path = _save(tmp_path / "a.jpg", _photo().convert(mode), **options)
    assert fast_jpeg.read_header(path.read_bytes()) is not None
    fast, slow = _decode_both(path, monkeypatch, draft_size=draft_size)
    assert fast.pixels.shape == slow.pixels.shape
    assert np.array_equal(fast.pixels, slow.pixels)
    assert (fast.format, fast.mode) == (slow.format, slow.mode)
    assert (fast.width, fast.height, fast.file_size) == (
        slow.width,
        slow.height,
        slow.file_size,
    )


@pytest.mark.parametrize("size", [(1, 1), (7, 300), (801, 203), (1600, 1201)])
def test_odd_sizes_match_pillow_draft(tmp_path, monkeypatch, size):
    path = _save(tmp_path / "a.jpg", _photo(size), quality=85)
    fast, slow = _decode_both(path, monkeypatch, draft_size=100)
    assert np.array_equal(fast.pixels, slow.pixels)


def test_keep_gray_returns_one_channel(tmp_path, monkeypatch):
    path = _save(tmp_path / "g.jpg", _photo().convert("L"))
    fast, slow = _decode_both(path, monkeypatch, keep_gray=True)
    assert fast.pixels.ndim == 2
    assert np.array_equal(fast.pixels, slow.pixels)
    colour = decode_image(_save(tmp_path / "c.jpg", _photo()), keep_gray=True)
    assert colour.pixels.shape[2] == 3


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(tmp_path / "r.jpg", _photo(), exif=exif.tobytes())
    decoded = decode_image(path)
    assert (decoded.width, decoded.height) == (240, 320)
    assert decoded.pixels.shape == (320, 240, 3)
    assert "EXIF orientation 6 applied" in decoded.notes


def test_cmyk_goes_to_pillow(tmp_path):
    path = _save(tmp_path / "k.jpg", _photo().convert("CMYK"))
    assert fast_jpeg.read_header(path.read_bytes()) is None
    assert decode_image(path).notes == ("CMYK converted to RGB",)


def test_adobe_segment_in_colour_file_goes_to_pillow():
    data = io.BytesIO()
    _photo().save(data, "JPEG")
    plain = data.getvalue()
    adobe = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x01"
    assert fast_jpeg.read_header(plain) is not None
    assert fast_jpeg.read_header(plain[:2] + adobe + plain[2:]) is None


def test_adobe_segment_in_gray_file_is_plain():
    data = io.BytesIO()
    _photo().convert("L").save(data, "JPEG")
    plain = data.getvalue()
    adobe = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"
    header = fast_jpeg.read_header(plain[:2] + adobe + plain[2:])
    assert header == fast_jpeg.PlainJpeg(width=320, height=240, mode="L")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_file_keeps_pillows_reason(tmp_path, keep):
    path = _save(tmp_path / "t.jpg", _photo(), quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path, draft_size=100)
    assert info.value.reason == "truncated file"


def test_corrupt_scan_data_is_an_error(tmp_path):
    path = _save(tmp_path / "c.jpg", _photo(), quality=95)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(ImageDecodeError):
        decode_image(path)


def test_not_a_jpeg_is_not_plain():
    assert fast_jpeg.read_header(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64) is None
    assert fast_jpeg.read_header(b"\xff\xd8\xff") is None
    assert fast_jpeg.read_header(b"\xff\xd8\xff\xe0\x00\x01") is None


def test_extension_mismatch_noted(tmp_path, monkeypatch):
    path = _save(tmp_path / "photo.png", _photo())
    fast, slow = _decode_both(path, monkeypatch)
    assert fast.extension_mismatch and slow.extension_mismatch
    assert fast.notes == slow.notes == ("extension .png but content is JPEG",)


def test_too_many_pixels_go_to_pillow_check(tmp_path, monkeypatch):
    monkeypatch.setattr(decode, "MAX_PIXELS", 100)
    path = _save(tmp_path / "big.jpg", _photo((20, 20)))
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path)
    assert info.value.reason == "image too large"


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("draft_size", [None, 100])
def test_exif_orientation_like_pillow(tmp_path, monkeypatch, orientation, draft_size):
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "camera maker"
    path = _save(tmp_path / "o.jpg", _photo((320, 200)), exif=exif.tobytes())
    header = fast_jpeg.read_header(path.read_bytes())
    assert header is not None
    assert header.orientation == orientation
    fast, slow = _decode_both(path, monkeypatch, draft_size=draft_size)
    assert np.array_equal(fast.pixels, slow.pixels)
    assert (fast.width, fast.height) == (slow.width, slow.height)
    assert fast.notes == slow.notes
    assert fast.exif_transposed == slow.exif_transposed


def test_orientation_zero_means_upright(tmp_path, monkeypatch):
    exif = Image.Exif()
    exif[0x0112] = 0
    path = _save(tmp_path / "o.jpg", _photo(), exif=exif.tobytes())
    assert fast_jpeg.read_header(path.read_bytes()).orientation == 1
    fast, slow = _decode_both(path, monkeypatch)
    assert np.array_equal(fast.pixels, slow.pixels)
    assert fast.notes == slow.notes == ()


def test_out_of_range_orientation_goes_to_pillow(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 9
    path = _save(tmp_path / "o.jpg", _photo(), exif=exif.tobytes())
    assert fast_jpeg.read_header(path.read_bytes()) is None
    assert decode_image(path).notes == ("invalid EXIF orientation 9 ignored",)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _exif_segment(entries, *, next_ifd=True) -> bytes:
    """An APP1 EXIF segment, little-endian, of ``(tag, type, count, value)`` entries."""
    tiff = b"II*\x00" + (8).to_bytes(4, "little") + len(entries).to_bytes(2, "little")
    for tag, kind, count, value in entries:
        tiff += tag.to_bytes(2, "little") + kind.to_bytes(2, "little")
        tiff += count.to_bytes(4, "little") + value
    if next_ifd:
        tiff += b"\x00" * 4
    return _segment(0xE1, b"Exif\x00\x00" + tiff)


def _short(value: int) -> bytes:
    return value.to_bytes(2, "little") + b"\x00\x00"


def _jpeg_bytes(mode="RGB", size=(37, 23)) -> bytes:
    data = io.BytesIO()
    _photo(size).convert(mode).save(data, "JPEG")
    return data.getvalue()


_ODD_HEADERS = {
    "short JFIF": ("RGB", _segment(0xE0, b"JFIF\x00")),
    "short Adobe in gray": ("L", _segment(0xEE, b"Adobe")),
    "short ICC profile": ("RGB", _segment(0xE2, b"ICC_PROFILE\x00")),
    "short Photoshop block": (
        "RGB",
        _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04"),
    ),
    "TEM marker": ("RGB", b"\xff\x01"),
    "XMP orientation": (
        "RGB",
        _segment(0xE1, b'http://ns.adobe.com/xap/1.0/\x00<x tiff:Orientation="6"/>'),
    ),
    "two orientation entries": (
        "RGB",
        _exif_segment([(0x112, 3, 1, _short(6)), (0x112, 3, 1, _short(3))]),
    ),
    "no next-IFD pointer": (
        "RGB",
        _exif_segment([(0x112, 3, 1, _short(1))], next_ifd=False),
    ),
    "resolution unit with two values": (
        "RGB",
        _exif_segment([(0x128, 3, 2, b"\x02\x00\x02\x00")]),
    ),
    "Exif IFD past the end": (
        "RGB",
        _exif_segment(
            [(0x112, 3, 1, _short(6)), (0x8769, 4, 1, (5000).to_bytes(4, "little"))]
        ),
    ),
    "resolution of the wrong type": (
        "RGB",
        _exif_segment([(0x128, 3, 1, _short(2)), (0x11A, 2, 1, b"x\x00\x00\x00")]),
    ),
    "tag Pillow cannot write back": (
        "RGB",
        _exif_segment(
            [(0x112, 3, 1, _short(6)), (0x128, 4, 1, (70000).to_bytes(4, "little"))]
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(_ODD_HEADERS))
def test_odd_header_matches_pillow(tmp_path, monkeypatch, case):
    mode, segment = _ODD_HEADERS[case]
    plain = _jpeg_bytes(mode)
    path = tmp_path / "odd.jpg"
    path.write_bytes(plain[:2] + segment + plain[2:])
    fast, slow = _decode_outcomes(path, monkeypatch)
    assert fast == slow


def _decode_outcomes(path, monkeypatch, **kwargs):
    """Each path's result as comparable values, or its error reason."""

    def outcome():
        try:
            decoded = decode_image(path, **kwargs)
        except ImageDecodeError as error:
            return ("error", error.reason)
        return (
            decoded.width,
            decoded.height,
            decoded.notes,
            decoded.exif_transposed,
            decoded.pixels.tobytes(),
        )

    fast = outcome()
    with monkeypatch.context() as patch:
        patch.setattr(fast_jpeg, "simplejpeg", None)
        slow = outcome()
    return fast, slow


@pytest.mark.parametrize("side", [2, 3, 5, 9, 17])
@pytest.mark.parametrize("draft_size", [1, 2, 3])
def test_tiny_draft_matches_pillow(tmp_path, monkeypatch, side, draft_size):
    path = tmp_path / "tiny.jpg"
    path.write_bytes(_jpeg_bytes(size=(side, side)))
    fast, slow = _decode_outcomes(path, monkeypatch, draft_size=draft_size)
    assert fast == slow


def test_heic_suffix_registers_plugin_first(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(decode, "_register_heif_opener", lambda: calls.append(1))
    path = tmp_path / "photo.heic"
    path.write_bytes(_jpeg_bytes())
    decode_image(path)
    assert calls


def test_large_file_goes_to_pillow(tmp_path, monkeypatch):
    path = _save(tmp_path / "big.jpg", _photo())
    monkeypatch.setattr(decode, "FAST_PATH_MAX_BYTES", 100)
    monkeypatch.setattr(fast_jpeg, "decode", None)  # fails if the fast path runs
    assert decode_image(path).pixels.shape == (240, 320, 3)


def test_threads_keep_their_notes(tmp_path):
    # Decodes in several threads (the review app's thumbnails) must not see
    # each other's warning filters: a noisy EXIF file keeps its notes and a
    # plain file gets none.
    from concurrent.futures import ThreadPoolExecutor

    plain = _save(tmp_path / "plain.jpg", _photo())
    odd = tmp_path / "odd.jpg"
    data = _jpeg_bytes()
    segment = _exif_segment(
        [(0x112, 3, 1, _short(6)), (0x128, 3, 2, b"\x02\x00\x02\x00")]
    )
    odd.write_bytes(data[:2] + segment + data[2:])
    expected = {path: decode_image(path).notes for path in (plain, odd)}

    with ThreadPoolExecutor(4) as pool:
        paths = [plain, odd] * 100
        results = list(pool.map(lambda path: decode_image(path).notes, paths))

    assert all(notes == expected[path] for path, notes in zip(paths, results))
