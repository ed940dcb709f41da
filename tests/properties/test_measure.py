import numpy as np
import pandas as pd
import pytest
from PIL import Image

from beholder.properties import PROPERTY_COLUMNS, compute_properties
from beholder.properties.measure import (
    HUE_COLUMNS,
    WORKING_SIZE,
    laplacian_variance,
    limit_longer_side,
    luminance_statistics,
    measure_images,
)
from tests.properties.conftest import blurred, save, scene


def measure_one(path):
    return measure_images([path]).iloc[0]


def test_black_image_is_dark_and_clipped(tmp_path):
    row = measure_one(save(tmp_path / "black.png", np.zeros((40, 50, 3))))
    assert row["brightness"] == 0.0
    assert row["brightness_p95"] == 0.0
    assert row["dark_fraction"] == 1.0
    assert row["bright_fraction"] == 0.0
    assert row["contrast"] == 0.0
    assert row["entropy"] == 0.0


def test_uniform_gray_brightness(tmp_path):
    row = measure_one(save(tmp_path / "gray.png", np.full((30, 30, 3), 128)))
    assert row["brightness"] == pytest.approx(128 / 255)
    assert row["brightness_p50"] == pytest.approx(128 / 255)
    assert row["colourfulness"] == 0.0


def test_two_level_image_has_one_bit_of_entropy(tmp_path):
    array = np.zeros((64, 64, 3), dtype=np.uint8)
    array[:, 32:] = 255
    row = measure_one(save(tmp_path / "halves.png", array))
    assert row["entropy"] == pytest.approx(1.0)
    assert row["contrast"] == pytest.approx(0.5)
    assert row["dark_fraction"] == pytest.approx(0.5)
    assert row["bright_fraction"] == pytest.approx(0.5)


def test_gray_rgb_image_is_grayscale(tmp_path):
    gray = Image.fromarray(scene(1)).convert("L").convert("RGB")
    rgb_png = measure_one(save(tmp_path / "gray_rgb.png", np.asarray(gray)))
    rgb_jpeg = measure_one(
        save(tmp_path / "gray_rgb.jpg", np.asarray(gray), quality=90)
    )
    single = measure_one(save(tmp_path / "gray_l.png", np.asarray(gray.convert("L"))))
    for row in (rgb_png, rgb_jpeg, single):
        assert bool(row["is_grayscale"])
        assert row["colour_fraction"] <= 0.02
    assert rgb_png["mode"] == "RGB"
    assert single["mode"] == "L"


def test_colour_image_is_not_grayscale(tmp_path):
    row = measure_one(save(tmp_path / "colour.png", scene(2)))
    assert not bool(row["is_grayscale"])
    assert row["colourfulness"] > 10
    assert row["saturation"] > 0.1


@pytest.mark.parametrize(
    ("rgb", "hue_bin"), [((220, 20, 20), 0), ((20, 220, 20), 4), ((20, 20, 220), 8)]
)
def test_hue_histogram_of_pure_colours(tmp_path, rgb, hue_bin):
    row = measure_one(save(tmp_path / "c.png", np.tile(np.array(rgb), (20, 20, 1))))
    hues = row[HUE_COLUMNS].to_numpy(dtype=float)
    assert hues[hue_bin] == pytest.approx(1.0)
    assert hues.sum() == pytest.approx(1.0)


def test_hue_just_below_red_wraps_to_last_bin(tmp_path):
    row = measure_one(
        save(tmp_path / "m.png", np.tile(np.array([220, 20, 60]), (8, 8, 1)))
    )
    assert row["hue_11"] == pytest.approx(1.0)


def test_blurred_image_is_less_sharp(tmp_path):
    original = scene(3, 320, 240)
    sharp = measure_one(save(tmp_path / "sharp.png", original))
    soft = measure_one(save(tmp_path / "soft.png", blurred(original, 3)))
    assert soft["sharpness"] < sharp["sharpness"] / 4


def test_sharpness_measured_at_working_size(tmp_path):
    original = scene(4, 160, 120)
    small = measure_one(save(tmp_path / "small.png", original))
    big_array = np.asarray(Image.fromarray(original).resize((640, 480), Image.NEAREST))
    big = measure_one(save(tmp_path / "big.png", big_array))
    # The big copy is measured after reduction to WORKING_SIZE, so its
    # value stays within a factor of the small one's rather than dropping
    # by the square of the upscaling factor.
    assert 160 > WORKING_SIZE
    assert big["sharpness"] > small["sharpness"] / 4


@pytest.mark.parametrize("shape", [(1, 50), (50, 1), (1, 1), (2, 300)])
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_thin_images_work(tmp_path, shape, suffix):
    array = np.random.default_rng(0).integers(0, 255, size=(*shape, 3))
    row = measure_one(save(tmp_path / f"thin{suffix}", array))
    assert pd.isna(row["decode_error"])
    assert row["height"] == shape[0]
    assert row["width"] == shape[1]
    assert np.isfinite(row["sharpness"])
    assert len(row["phash"]) == 16


@pytest.mark.parametrize("shape", [(1, 3_000_001), (150, 120_001), (90_001, 2)])
def test_long_strips_measured_in_bounded_memory(tmp_path, shape):
    import tracemalloc

    # Two gray levels in halves along the long side: the mean stays 0.5.
    array = np.zeros(shape, dtype=np.uint8)
    long_axis = int(np.argmax(shape))
    half = [slice(None), slice(None)]
    half[long_axis] = slice(shape[long_axis] // 2, None)
    array[tuple(half)] = 255
    path = tmp_path / "strip.png"
    Image.fromarray(array).save(path)

    tracemalloc.start()
    try:
        row = measure_one(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert pd.isna(row["decode_error"])
    assert (row["height"], row["width"]) == shape
    assert row["brightness"] == pytest.approx(0.5, abs=0.01)
    assert len(row["phash"]) == 16
    # The decoded file alone takes up to 18 MB; the measures add little.
    assert peak < 3 * array.nbytes + 40 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_limit_longer_side_averages_blocks():
    pixels = np.arange(10, dtype=np.uint8).reshape(1, 10) * 10
    reduced = limit_longer_side(pixels, 4)
    assert reduced.shape == (1, 4)
    assert reduced.tolist() == [[10, 40, 70, 90]]
    assert limit_longer_side(pixels, 10) is pixels


def test_full_size_after_exif_rotation_not_draft(tmp_path):
    path = tmp_path / "rotated.jpg"
    image = Image.fromarray(scene(5, 800, 400))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(path, quality=90, exif=exif)
    row = measure_one(str(path))
    assert (row["width"], row["height"]) == (400, 800)
    assert row["aspect_ratio"] == pytest.approx(0.5)


def test_undecodable_file_keeps_its_row(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    good = save(tmp_path / "good.png", scene(6))
    table = measure_images([str(bad), good])
    assert table.loc[0, "decode_error"] == "not an image"
    assert np.isnan(table.loc[0, "brightness"])
    assert table.loc[0, "is_grayscale"] is pd.NA
    assert pd.isna(table.loc[1, "decode_error"])


def test_file_size_and_format(tmp_path):
    path = save(tmp_path / "f.png", scene(7))
    row = measure_one(path)
    assert row["file_size"] == (tmp_path / "f.png").stat().st_size
    assert row["format"] == "PNG"


def test_compute_properties_columns_and_order(tmp_path):
    paths = [save(tmp_path / f"{i}.png", scene(i, 40 + i, 30)) for i in range(5)]
    table = compute_properties(paths, n_jobs=1)
    assert list(table.columns) == PROPERTY_COLUMNS
    assert table["image_id"].tolist() == list(range(5))
    assert table["width"].tolist() == [40, 41, 42, 43, 44]


def test_worker_processes_give_same_table(tmp_path):
    paths = [
        save(tmp_path / f"{i}.jpg", scene(i, 48, 40), quality=90) for i in range(40)
    ]
    serial = compute_properties(paths, n_jobs=1)
    parallel = compute_properties(paths, n_jobs=2)
    assert serial.equals(parallel)


def test_luminance_statistics_percentiles():
    histogram = np.zeros((1, 256))
    histogram[0, [10, 100, 200]] = [10, 80, 10]
    stats = luminance_statistics(histogram)
    assert stats["brightness_p05"][0] == pytest.approx(10 / 255)
    assert stats["brightness_p50"][0] == pytest.approx(100 / 255)
    assert stats["brightness_p95"][0] == pytest.approx(200 / 255)


def test_laplacian_variance_of_flat_and_checkerboard():
    assert laplacian_variance(np.full((10, 10), 77, dtype=np.uint8)) == 0.0
    board = (np.indices((10, 10)).sum(axis=0) % 2 * 255).astype(np.uint8)
    assert laplacian_variance(board) > 1e5


def test_png_copy_of_jpeg_measures_alike(tmp_path):
    jpeg = save(tmp_path / "photo.jpg", scene(8, 320, 240), quality=90)
    png = save(tmp_path / "photo.png", np.asarray(Image.open(jpeg)))
    table = measure_images([jpeg, png])
    assert table.loc[0, "phash"] == table.loc[1, "phash"]
    ratio = table.loc[1, "sharpness"] / table.loc[0, "sharpness"]
    assert 0.8 < ratio < 1.25


@pytest.mark.parametrize(
    ("size", "factor"),
    [((320, 240), 2), ((256, 256), 2), ((4000, 3000), 8), ((90, 60), 1)],
)
def test_draft_scale_matches_jpeg_draft(tmp_path, size, factor):
    from beholder.decode import decode_image, draft_scale

    path = save(tmp_path / "d.jpg", np.zeros((size[1], size[0], 3)), quality=50)
    decoded = decode_image(path, draft_size=WORKING_SIZE)
    assert decoded.image.width == -(-size[0] // factor)
    assert draft_scale(*size, WORKING_SIZE) == factor


@pytest.mark.parametrize("shape", [(128, 128), (120, 160), (147, 110), (101, 300)])
def test_resize_matches_pillow_box_filter(shape):
    from beholder.properties.measure import resize_shorter_side

    gray = np.random.default_rng(1).random(shape).astype(np.float32) * 255
    height, width = shape
    scale = WORKING_SIZE / min(shape)
    size = (round(width * scale), round(height * scale))
    pillow = Image.fromarray(gray, mode="F").resize(size, Image.Resampling.BOX)
    ours = resize_shorter_side(gray, WORKING_SIZE)
    np.testing.assert_allclose(ours, np.asarray(pillow), atol=1e-3)
    flipped = gray[::-1]
    stacked = resize_shorter_side(np.stack([gray, flipped]), WORKING_SIZE)
    np.testing.assert_allclose(stacked[0], ours, atol=1e-3)
    np.testing.assert_allclose(
        stacked[1], resize_shorter_side(flipped, WORKING_SIZE), atol=1e-3
    )


@pytest.mark.parametrize("channels", [None, 3])
@pytest.mark.parametrize("factor", [2, 3, 8])
def test_reduce_by_matches_pillow_reduce(channels, factor):
    from beholder.properties.measure import reduce_by

    shape = (53, 77) if channels is None else (53, 77, channels)
    pixels = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(pixels).reduce(factor))
    ours = reduce_by(pixels, factor)
    assert ours.shape == pillow.shape
    assert np.abs(ours.astype(int) - pillow).max() <= 1


def test_batch_helpers_equal_one_image_at_a_time():
    from beholder.properties.phash import low_frequencies

    stack = np.random.default_rng(3).random((4, 30, 41)).astype(np.float32) * 255
    batch = laplacian_variance(stack)
    assert batch == pytest.approx([laplacian_variance(image) for image in stack])
    frequencies = low_frequencies(stack)
    for image, row in zip(stack, frequencies):
        np.testing.assert_allclose(row, low_frequencies(image), rtol=1e-4, atol=1e-2)


def test_rows_do_not_depend_on_chunk_neighbours(tmp_path):
    # Images of one size are measured as a stack; the same file must get the
    # same row alone, with others of its size, and with other sizes around it.
    paths = [
        save(tmp_path / "a.jpg", scene(1, 320, 240)),
        save(tmp_path / "b.jpg", scene(2, 320, 240)),
        save(tmp_path / "c.png", scene(3, 200, 150)),
        save(tmp_path / "d.jpg", np.zeros((240, 320, 3)) + 40),
    ]
    together = measure_images(paths)
    for i, path in enumerate(paths):
        alone = measure_images([path])
        pd.testing.assert_frame_equal(
            together.iloc[[i]].reset_index(drop=True), alone, check_exact=False
        )
