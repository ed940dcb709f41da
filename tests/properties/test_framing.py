import numpy as np
import pytest
from PIL import Image

from beholder.properties.framing import (
    compute_content_fractions,
    measure_content_fraction,
)


def _noise(height, width, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_full_frame_photo_is_one():
    assert measure_content_fraction(_noise(60, 80)) == 1.0


def test_picture_on_canvas_is_its_area():
    canvas = np.full((100, 100, 3), 30, np.uint8)
    canvas[25:75, 20:70] = _noise(50, 50)
    assert measure_content_fraction(canvas) == pytest.approx(0.25)


def test_letterbox_bars():
    frame = _noise(100, 120)
    frame[:10] = 0
    frame[-15:] = 0
    assert measure_content_fraction(frame) == pytest.approx(75 / 100)


def test_pillarbox_bars():
    frame = _noise(100, 100)
    frame[:, :10] = (255, 255, 255)
    frame[:, -20:] = (250, 252, 255)
    assert measure_content_fraction(frame) == pytest.approx(70 / 100)


def test_unmatched_sides_are_not_border():
    frame = _noise(100, 100)
    frame[:, :10] = (255, 255, 255)
    frame[:, -20:] = (0, 0, 200)
    assert measure_content_fraction(frame) == 1.0


def test_sky_along_top_is_not_border():
    frame = _noise(100, 100)
    frame[:30] = (250, 250, 250)
    assert measure_content_fraction(frame) == 1.0


def test_uniform_image_is_zero():
    assert measure_content_fraction(np.full((40, 40, 3), 128, np.uint8)) == 0.0


def test_gradient_sky_is_not_border():
    # A vertical gradient drifts 2 levels per row, out of tolerance in 6 rows.
    ramp = np.linspace(80, 280, 100).clip(0, 255).astype(np.uint8)
    frame = np.repeat(ramp[:, None], 100, axis=1)
    frame = np.stack([frame] * 3, axis=-1)
    frame[50:] = _noise(50, 100)
    assert measure_content_fraction(frame) > 0.9


def test_pil_input_and_bad_shape():
    image = Image.fromarray(_noise(20, 30)).convert("L")
    assert measure_content_fraction(image) == 1.0
    with pytest.raises(ValueError, match="must be gray"):
        measure_content_fraction(np.zeros((10, 10, 4)))


def test_gray_input_matches_rgb():
    canvas = np.full((60, 80), 200, np.uint8)
    canvas[15:45, 20:60] = _noise(30, 40)[:, :, 0]
    rgb = np.repeat(canvas[:, :, None], 3, axis=2)
    assert measure_content_fraction(canvas) == pytest.approx(0.25)
    assert measure_content_fraction(Image.fromarray(canvas)) == pytest.approx(0.25)
    assert measure_content_fraction(rgb) == pytest.approx(0.25)


def test_compute_from_files_marks_failures(tmp_path):
    good = tmp_path / "good.png"
    canvas = np.zeros((64, 64, 3), np.uint8)
    canvas[16:48, 16:48] = _noise(32, 32)
    Image.fromarray(canvas).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    fractions = compute_content_fractions([str(good), str(bad)])
    assert fractions[0] == pytest.approx(0.25, abs=0.02)
    assert np.isnan(fractions[1])


def test_property_table_measures_framing(tmp_path):
    from PIL import Image

    from beholder.properties import compute_properties

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    canvas = np.full((240, 320, 3), 200, dtype=np.uint8)
    canvas[60:180, 80:240] = photo
    Image.fromarray(photo).save(tmp_path / "full.png")
    Image.fromarray(canvas).save(tmp_path / "padded.png")

    table = compute_properties(
        [tmp_path / "full.png", tmp_path / "padded.png"], n_jobs=1
    )

    assert table["content_fraction"].iloc[0] > 0.95
    assert abs(table["content_fraction"].iloc[1] - 0.25) < 0.05


def test_stack_of_images_matches_one_by_one():
    from beholder.properties.framing import content_fractions

    images = [_noise(40, 60, seed) for seed in range(5)]
    images[1][:10] = 0  # top border only: no pair, so no border
    images[2][:8], images[2][-8:] = 250, 250  # letterbox
    images[3][:, :12], images[3][:, -12:] = 30, 30  # pillarbox
    images[4][:] = 128  # one colour
    stack = np.stack(images)
    expected = [measure_content_fraction(image) for image in images]
    assert content_fractions(stack) == pytest.approx(expected)
    gray = stack[..., 0]
    expected_gray = [measure_content_fraction(image) for image in gray]
    assert content_fractions(gray) == pytest.approx(expected_gray)
    assert expected[2] == pytest.approx(24 / 40) and expected[4] == 0.0
