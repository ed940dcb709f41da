import pytest

from beholder.bias.factors import factor_of


@pytest.mark.parametrize(
    ("name", "factor"),
    [
        ("brightness", "brightness"),
        ("brightness_p05", "brightness"),
        ("dark_fraction", "brightness"),
        ("contrast", "contrast"),
        ("saturation", "colour"),
        ("colourfulness", "colour"),
        ("is_grayscale", "colour"),
        ("hue_6", "colour"),
        ("mean_r", "colour"),
        ("blurred_fraction", "sharpness"),
        ("sharpness", "sharpness"),
        ("content_fraction", "scale"),
        ("border_width", "scale"),
        ("width", "resolution"),
        ("aspect_ratio", "resolution"),
        ("jpeg_quality", "compression"),
        ("bytes_per_pixel", "compression"),
        ("file_size", "other"),
        ("entropy", "other"),
    ],
)
def test_factor_of_property_names(name, factor):
    assert factor_of(name) == factor
