import numpy as np
import pytest
from PIL import Image

from beholder.properties.framing import measure_content_fraction
from beholder.bias.transforms import (
    DEFAULT_PROBES,
    adjust_brightness,
    cast_colour,
    compress_jpeg,
    probes_by_name,
    rotate_hue,
    zoom_in,
)


def _photo(seed=0, size=(96, 80), noise=12.0):
    """A smooth colourful image with texture, like a small photograph."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    base = np.stack(
        [
            120 + 60 * np.sin(x / 9),
            110 + 50 * np.cos(y / 7),
            90 + 40 * np.sin((x + y) / 11),
        ],
        axis=-1,
    )
    grain = rng.normal(0, noise, size=base.shape)
    return Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8))


def _luminance(image):
    return np.asarray(image.convert("L"), dtype=float)


def _apply(name, image):
    return probes_by_name([name])[0].apply(image)


def test_every_probe_keeps_size_and_mode():
    image = _photo()
    for probe in DEFAULT_PROBES:
        result = probe.apply(image)
        assert result.size == image.size, probe.name
        assert result.mode == "RGB", probe.name


def test_default_probes_cover_the_factors():
    factors = {probe.factor for probe in DEFAULT_PROBES}
    assert factors == {
        "brightness",
        "contrast",
        "colour",
        "scale",
        "sharpness",
        "compression",
    }
    assert len(DEFAULT_PROBES) == 11


def test_brightness_down_lowers_luminance():
    image = _photo()
    assert (
        _luminance(_apply("brightness_down", image)).mean()
        < 0.6 * _luminance(image).mean()
    )


def test_brightness_up_raises_luminance():
    image = _photo()
    assert (
        _luminance(_apply("brightness_up", image)).mean()
        > 1.3 * _luminance(image).mean()
    )


def test_contrast_down_lowers_spread_not_mean():
    image = _photo()
    after = _luminance(_apply("contrast_down", image))
    assert after.std() < 0.6 * _luminance(image).std()
    assert after.mean() == pytest.approx(_luminance(image).mean(), abs=3)


def test_grayscale_makes_channels_equal():
    pixels = np.asarray(_apply("grayscale", _photo()), dtype=int)
    assert np.array_equal(pixels[..., 0], pixels[..., 1])
    assert np.array_equal(pixels[..., 1], pixels[..., 2])


def test_hue_rotation_turns_red_to_yellow():
    red = Image.new("RGB", (8, 8), (220, 30, 30))
    rotated = np.asarray(rotate_hue(red, 60), dtype=int)[0, 0]
    # Hue 0 plus 60 degrees is yellow: red and green high, blue low.
    assert rotated[0] > 180
    assert rotated[1] > 180
    assert rotated[2] < 60


def test_hue_rotation_by_full_turn_is_identity():
    image = _photo()
    back = np.asarray(rotate_hue(image, 360), dtype=int)
    assert np.abs(back - np.asarray(rotate_hue(image, 0), dtype=int)).max() == 0


def test_warm_cast_raises_red_over_blue():
    image = _photo()
    before = np.asarray(image, dtype=float).mean(axis=(0, 1))
    after = np.asarray(_apply("colour_cast_warm", image), dtype=float).mean(axis=(0, 1))
    assert after[0] / after[2] > 1.3 * before[0] / before[2]


def test_cool_cast_raises_blue_over_red():
    image = _photo()
    before = np.asarray(image, dtype=float).mean(axis=(0, 1))
    after = np.asarray(_apply("colour_cast_cool", image), dtype=float).mean(axis=(0, 1))
    assert after[2] / after[0] > 1.3 * before[2] / before[0]


def test_cast_colour_clips():
    white = Image.new("RGB", (4, 4), (250, 250, 250))
    assert np.asarray(cast_colour(white, (2.0, 1.0, 1.0)))[0, 0, 0] == 255


def test_zoom_out_leaves_border():
    image = _photo()
    result = _apply("zoom_out", image)
    pixels = np.asarray(result)
    assert pixels[:5].max() == 0
    assert pixels[:, :5].max() == 0
    assert measure_content_fraction(result) == pytest.approx(0.25, abs=0.05)
    assert measure_content_fraction(image) == 1.0


def test_zoom_in_removes_border_and_enlarges():
    bordered = _apply("zoom_out", _photo())
    zoomed = _apply("zoom_in", bordered)
    assert measure_content_fraction(zoomed) > 0.9
    # A centred 10-pixel square becomes 20 pixels wide.
    square = np.zeros((80, 80, 3), np.uint8)
    square[35:45, 35:45] = 255
    grown = np.asarray(zoom_in(Image.fromarray(square), 0.5).convert("L")) > 128
    assert grown[40].sum() == pytest.approx(20, abs=2)


def test_blur_lowers_laplacian_variance():
    image = _photo()

    def laplacian_variance(picture):
        gray = _luminance(picture)
        lap = (
            gray[:-2, 1:-1]
            + gray[2:, 1:-1]
            + gray[1:-1, :-2]
            + gray[1:-1, 2:]
            - 4 * gray[1:-1, 1:-1]
        )
        return lap.var()

    assert laplacian_variance(_apply("blur", image)) < 0.5 * laplacian_variance(image)


def test_jpeg_changes_pixels_more_at_low_quality():
    image = _photo(noise=0)
    original = np.asarray(image, dtype=float)
    low = np.abs(np.asarray(_apply("jpeg", image), dtype=float) - original).mean()
    high = np.abs(np.asarray(compress_jpeg(image, 95), dtype=float) - original).mean()
    assert low > 2 * high


def test_brightness_factor_one_is_identity():
    image = _photo()
    assert np.array_equal(np.asarray(adjust_brightness(image, 1.0)), np.asarray(image))


def test_unknown_probe_name_raises():
    with pytest.raises(ValueError, match="Unknown probe names"):
        probes_by_name(["brightness_down", "sepia"])
