"""Tests for beholder.decode: every file becomes 8-bit RGB or a clear reason."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from beholder import decode
from beholder.decode import BACKGROUND, decode_image, open_rgb, to_rgb
from beholder.errors import ImageDecodeError


def _noise(size=(32, 24), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    width, height = size
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _jpeg_bytes(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **kwargs)
    return buffer.getvalue()


def _reason(path) -> str:
    with pytest.raises(ImageDecodeError) as info:
        open_rgb(path)
    return info.value.reason


def _png_with_header_size(width: int, height: int) -> bytes:
    """Return a valid 1x1 PNG whose header claims ``width`` x ``height``."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    # Signature (8) + chunk length (4) + b"IHDR" (4), then width and height.
    data[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:29]))
    data[29:33] = struct.pack(">I", crc)
    return bytes(data)


# -- files that cannot be decoded -------------------------------------------


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert _reason(path) == "empty file"


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is a caption, not a picture\n" * 20)
    assert _reason(path) == "not an image"


def test_random_bytes_not_an_image(tmp_path):
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(1).bytes(4000))
    assert _reason(path) == "not an image"


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg(tmp_path, keep):
    data = _jpeg_bytes(_noise((128, 128)))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * keep)])
    assert _reason(path) == "truncated file"


def test_truncated_jpeg_found_in_draft_mode(tmp_path):
    data = _jpeg_bytes(_noise((256, 256)))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError) as info:
        open_rgb(path, draft_size=32)
    assert info.value.reason == "truncated file"


@pytest.mark.parametrize("draft_size", [None, 32])
def test_truncated_jpeg_closed_by_end_marker(tmp_path, draft_size):
    # Pillow decodes this file without error and fills the lower half gray.
    data = _jpeg_bytes(_noise((256, 256)), quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path, draft_size=draft_size)
    assert info.value.reason == "truncated file"
    assert "premature end" in info.value.detail.lower()


# A 16 x 16 gray gradient with 12 bits per sample (SOF1, precision 12),
# written by libjpeg-turbo 3.1.3 through imagecodecs.jpeg8_encode.
JPEG_12_BIT = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYF"
    "BgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/wQALDAAQABABAREA/8QAFQABAQAAAAAA"
    "AAAAAAAAAAAADQ7/xAAbEAAABwEAAAAAAAAAAAAAAAAACQ0lOENWc//aAAgBAQAAPwA7fTcYtuBb"
    "BmquIoABNxi24FsGaq4gH/TcYtuBbBmquIoABNxi24FsGaq4j//Z"
)


def test_12_bit_jpeg_named_unsupported(tmp_path):
    path = tmp_path / "deep.jpg"
    path.write_bytes(JPEG_12_BIT)
    assert _reason(path) == "unsupported format (12-bit extended sequential JPEG)"


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_float_image_with_one_bad_value(tmp_path, bad_value):
    gradient = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (64, 1))
    gradient[0, 0] = bad_value
    path = tmp_path / "field.tif"
    Image.fromarray(gradient, mode="F").save(path)

    decoded = decode_image(path, keep_gray=True)

    assert abs(decoded.pixels.mean() / 255 - 0.5) < 0.02
    assert "1 NaN or infinite values set to 0" in decoded.notes


def test_truncated_png(tmp_path):
    buffer = io.BytesIO()
    _noise((64, 64)).save(buffer, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert _reason(path) == "truncated file"


def test_truncated_setting_elsewhere_ignored(tmp_path, monkeypatch):
    # Training scripts often set this; decoding the audit must not follow it.
    from PIL import ImageFile

    data = _jpeg_bytes(_noise((128, 128)))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert _reason(path) == "truncated file"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_folder_is_not_a_regular_file(tmp_path):
    folder = tmp_path / "looks_like.jpg"
    folder.mkdir()
    assert _reason(folder) == "not a regular file"


def test_missing_file_unreadable(tmp_path):
    assert _reason(tmp_path / "gone.jpg") == "unreadable file"


def test_pdf_named_jpg(tmp_path):
    path = tmp_path / "scan.jpg"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    assert _reason(path) == "not an image (PDF document)"


def test_svg_unsupported(tmp_path):
    path = tmp_path / "icon.png"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4"></svg>')
    assert _reason(path) == "unsupported format (SVG vector image)"


# -- size limits --------------------------------------------------------------


def test_header_far_above_bomb_limit(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_with_header_size(100_000, 100_000))
    assert _reason(path) == "image too large"


def test_header_above_own_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(decode, "MAX_PIXELS", 100)
    path = tmp_path / "big.png"
    Image.new("RGB", (20, 20)).save(path)
    assert _reason(path) == "image too large"


def test_between_pillow_warning_and_limit(tmp_path, monkeypatch):
    # Pillow warns above MAX_IMAGE_PIXELS; only MAX_PIXELS decides here.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)
    path = tmp_path / "medium.png"
    Image.new("RGB", (20, 20), (9, 9, 9)).save(path)
    assert open_rgb(path).size == (20, 20)


@pytest.mark.parametrize("size", [(1, 500), (500, 1), (1, 1)])
def test_one_pixel_wide(tmp_path, size):
    path = tmp_path / "line.png"
    Image.new("RGB", size, (10, 200, 30)).save(path)
    image = open_rgb(path, draft_size=64)
    assert image.size == size
    assert image.getpixel((0, 0)) == (10, 200, 30)


def test_one_pixel_wide_jpeg_draft(tmp_path):
    path = tmp_path / "line.jpg"
    Image.new("RGB", (1, 300), (120, 120, 120)).save(path)
    assert open_rgb(path, draft_size=64).size == (1, 300)


# -- colour modes ---------------------------------------------------------------


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)
    decoded = decode_image(path)
    red = np.asarray(decoded.image)[8, 8]
    assert decoded.image.mode == "RGB"
    assert decoded.mode == "CMYK"
    assert red[0] > 230
    assert red[1] < 25
    assert red[2] < 25
    assert "CMYK converted to RGB" in decoded.notes


def test_16bit_png_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 1000, 32768, 65535]], dtype=np.uint16)
    path = tmp_path / "depth.png"
    Image.fromarray(values).save(path)
    decoded = decode_image(path)
    gray = np.asarray(decoded.image)[0, :, 0]
    assert decoded.mode == "I;16"
    assert gray.tolist() == [0, 1, 4, 128, 255]
    assert decoded.scaled_to_8bit


def test_16bit_tiff_scaled(tmp_path):
    values = np.full((4, 4), 65535 // 2, dtype=np.uint16)
    path = tmp_path / "depth.tif"
    Image.fromarray(values).save(path)
    assert np.asarray(open_rgb(path))[0, 0].tolist() == [127, 127, 127]


def test_float_image_in_unit_range(tmp_path):
    image = Image.fromarray(np.full((4, 4), 0.5, dtype=np.float32), mode="F")
    assert np.asarray(to_rgb(image))[0, 0].tolist() == [128, 128, 128]


def test_32bit_integer_scaled_by_maximum():
    values = np.array([[0, 100_000, 200_000]], dtype=np.int32)
    image = Image.fromarray(values, mode="I")
    assert np.asarray(to_rgb(image))[0, :, 0].tolist() == [0, 128, 255]


def test_rgba_composited_on_background(tmp_path):
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    path = tmp_path / "alpha.png"
    image.save(path)
    decoded = decode_image(path)
    assert decoded.image.getpixel((0, 0)) == (255, 0, 0)
    assert decoded.image.getpixel((1, 1)) == BACKGROUND
    assert decoded.alpha_composited


def test_la_composited(tmp_path):
    path = tmp_path / "la.png"
    Image.new("LA", (4, 4), (200, 0)).save(path)
    assert open_rgb(path).getpixel((2, 2)) == BACKGROUND


def test_palette_transparency(tmp_path):
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    decoded = decode_image(path)
    assert decoded.mode == "P"
    assert decoded.image.getpixel((0, 0)) == (0, 255, 0)
    assert decoded.image.getpixel((3, 3)) == BACKGROUND


def test_palette_without_transparency(tmp_path):
    image = Image.new("P", (4, 4), 1)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    path = tmp_path / "palette.gif"
    image.save(path)
    decoded = decode_image(path)
    assert decoded.image.getpixel((1, 1)) == (0, 0, 255)
    assert not decoded.alpha_composited


def test_rgb_png_with_transparent_colour(tmp_path):
    image = Image.new("RGB", (4, 4), (1, 2, 3))
    image.putpixel((0, 0), (50, 60, 70))
    path = tmp_path / "trns.png"
    image.save(path, transparency=(1, 2, 3))
    decoded = open_rgb(path)
    assert decoded.getpixel((0, 0)) == (50, 60, 70)
    assert decoded.getpixel((2, 2)) == BACKGROUND


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_grayscale_any_storage(tmp_path, mode):
    path = tmp_path / f"gray_{mode}.png"
    Image.new(mode, (6, 6), 90 if mode == "L" else (90, 90, 90)).save(path)
    decoded = decode_image(path)
    assert decoded.image.mode == "RGB"
    assert decoded.mode == mode
    assert decoded.image.getpixel((3, 3)) == (90, 90, 90)


def test_bilevel_image(tmp_path):
    path = tmp_path / "bw.png"
    Image.new("1", (5, 5), 1).save(path)
    assert open_rgb(path).getpixel((0, 0)) == (255, 255, 255)


# -- EXIF -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "orientation, expected",
    [(1, (40, 20)), (3, (40, 20)), (6, (20, 40)), (8, (20, 40))],
)
def test_exif_orientation_size(tmp_path, orientation, expected):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "rotated.jpg"
    Image.new("RGB", (40, 20), (200, 10, 10)).save(path, exif=exif)
    decoded = decode_image(path)
    assert decoded.image.size == expected
    assert (decoded.width, decoded.height) == expected
    assert decoded.exif_transposed is (orientation != 1)


def test_exif_rotation_moves_pixels(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 10, 20))  # white left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    pixels = np.asarray(open_rgb(path))
    assert pixels[:5].mean() > 200  # the left edge is now on top
    assert pixels[-5:].mean() < 50


def test_exif_size_full_even_in_draft(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "big_rotated.jpg"
    _noise((400, 200)).save(path, exif=exif)
    decoded = decode_image(path, draft_size=32)
    assert (decoded.width, decoded.height) == (200, 400)
    assert decoded.image.size[0] < decoded.image.size[1] < 400


def test_malformed_exif_does_not_crash(tmp_path):
    broken = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03\xff\xff"
    path = tmp_path / "bad_exif.jpg"
    path.write_bytes(_jpeg_bytes(Image.new("RGB", (10, 6), (1, 2, 3)), exif=broken))
    decoded = decode_image(path)
    assert decoded.image.size == (10, 6)
    assert "malformed EXIF ignored" in decoded.notes


def test_out_of_range_orientation_ignored(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 42
    path = tmp_path / "odd.jpg"
    Image.new("RGB", (10, 6)).save(path, exif=exif)
    decoded = decode_image(path)
    assert decoded.image.size == (10, 6)
    assert "invalid EXIF orientation 42 ignored" in decoded.notes


# -- formats ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix, fmt",
    [(".webp", "WEBP"), (".tif", "TIFF"), (".bmp", "BMP"), (".png", "PNG")],
)
def test_other_formats(tmp_path, suffix, fmt):
    path = tmp_path / f"image{suffix}"
    Image.new("RGB", (9, 7), (40, 80, 120)).save(path, lossless=True)
    decoded = decode_image(path)
    assert decoded.format == fmt
    assert decoded.image.getpixel((4, 3)) == (40, 80, 120)
    assert not decoded.extension_mismatch


def test_animated_gif_first_frame(tmp_path):
    frames = [
        Image.new("RGB", (8, 8), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    ]
    path = tmp_path / "moving.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    decoded = decode_image(path)
    assert decoded.is_animated
    assert decoded.image.getpixel((4, 4)) == (255, 0, 0)
    assert "animated or multi-frame, first frame used" in decoded.notes


def test_gif_named_jpg(tmp_path):
    path = tmp_path / "liar.jpg"
    Image.new("RGB", (8, 8), (0, 0, 255)).save(path, format="GIF")
    decoded = decode_image(path)
    assert decoded.format == "GIF"
    assert decoded.extension_mismatch
    assert "extension .jpg but content is GIF" in decoded.notes
    assert decoded.image.getpixel((1, 1)) == (0, 0, 255)


def test_png_without_extension(tmp_path):
    path = tmp_path / "no_suffix"
    Image.new("RGB", (3, 3)).save(path, format="PNG")
    decoded = decode_image(path)
    assert decoded.format == "PNG"
    assert not decoded.extension_mismatch


def test_heic_with_pillow_heif(tmp_path):
    pytest.importorskip("pillow_heif")
    assert decode._register_heif_opener()
    path = tmp_path / "phone.heic"
    Image.new("RGB", (16, 16), (255, 0, 0)).save(path, format="HEIF")
    decoded = decode_image(path)
    assert decoded.format == "HEIF"
    assert decoded.image.getpixel((8, 8))[0] > 240


def test_heic_without_pillow_heif(tmp_path, monkeypatch):
    pytest.importorskip("pillow_heif")
    decode._register_heif_opener()
    path = tmp_path / "phone.heic"
    Image.new("RGB", (16, 16), (255, 0, 0)).save(path, format="HEIF")
    # Undo the opener registration, as if pillow-heif were not installed.
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name != "HEIF"])
    monkeypatch.delitem(Image.OPEN, "HEIF")
    assert _reason(path) == "unsupported format (HEIC; install pillow-heif)"


def test_non_ascii_quoted_name(tmp_path):
    path = tmp_path / 'caf\u00e9 "l\'\u00e9t\u00e9" \u732b.png'
    Image.new("RGB", (3, 3), (7, 8, 9)).save(path)
    assert open_rgb(path).getpixel((0, 0)) == (7, 8, 9)


def test_decode_error_names_path(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty.png: empty file"):
        open_rgb(path)


def test_warnings_do_not_escape(tmp_path, recwarn):
    broken = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03\xff\xff"
    path = tmp_path / "bad_exif.jpg"
    path.write_bytes(_jpeg_bytes(Image.new("RGB", (4, 4)), exif=broken))
    open_rgb(path)
    assert len(recwarn) == 0
