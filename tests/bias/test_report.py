import numpy as np
import pytest

from beholder.bias import analyze_bias
from beholder.bias.plots import (
    plot_flip_matrix,
    plot_property_distributions,
    render_probe_examples,
)
from beholder.bias.report import render_bias_section

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def hostile(
    brightness_dataset, brightness_embeddings, brightness_properties, tiny_backbone
):
    """The brightness data with class names that are HTML."""
    paths, labels, _ = brightness_dataset
    classes = ["<b>bright</b>", 'dark & "gloomy"']
    probabilities = np.eye(2)[labels] * 0.9 + 0.05
    result = analyze_bias(
        brightness_properties,
        probabilities,
        labels,
        classes,
        images=paths,
        embeddings=brightness_embeddings,
        backbone=tiny_backbone,
        n_probe_per_class=6,
        probes=["brightness_down"],
        min_slice_count=5,
    )
    return result, brightness_properties, labels, paths


def test_section_escapes_class_names(hostile):
    result, properties, labels, paths = hostile
    html = render_bias_section(
        result, properties=properties, labels=labels, paths=paths
    )
    assert html.startswith('<section class="beholder-bias">')
    assert "<b>bright</b>" not in html
    assert "&lt;b&gt;bright&lt;/b&gt;" in html
    assert 'dark & "gloomy"' not in html
    assert "dark &amp; &quot;gloomy&quot;" in html


def test_section_embeds_figures(hostile):
    result, properties, labels, paths = hostile
    html = render_bias_section(
        result, properties=properties, labels=labels, paths=paths
    )
    assert html.count("data:image/png;base64,") >= 2
    assert "train_transform = v2.Compose" in html


def test_section_without_probes_or_properties(
    brightness_dataset, brightness_properties
):
    _, labels, classes = brightness_dataset
    result = analyze_bias(brightness_properties, np.eye(2)[labels], labels, classes)
    html = render_bias_section(result)
    assert "No probes ran." in html
    assert "data:image/png" not in html


def test_distribution_plot_is_png(brightness_properties, brightness_dataset):
    _, labels, classes = brightness_dataset
    png = plot_property_distributions(
        brightness_properties, labels, classes, "brightness", highlight="dark"
    )
    assert png.startswith(PNG)


def test_distribution_plot_unknown_property(brightness_properties, brightness_dataset):
    _, labels, classes = brightness_dataset
    with pytest.raises(ValueError, match="is not a column"):
        plot_property_distributions(brightness_properties, labels, classes, "hue")


def test_flip_matrix_plot(hostile):
    result = hostile[0]
    assert plot_flip_matrix(
        result.flip_matrices, result.classes, "brightness_down"
    ).startswith(PNG)
    with pytest.raises(ValueError, match="No rows for probe"):
        plot_flip_matrix(result.flip_matrices, result.classes, "blur")


def test_probe_examples_sheet(brightness_dataset):
    from io import BytesIO

    from PIL import Image

    paths = brightness_dataset[0][:2]
    png = render_probe_examples(
        paths, ["brightness_down", "zoom_out"], thumbnail_size=64
    )
    sheet = Image.open(BytesIO(png))
    assert sheet.size == (3 * 64, 18 + 2 * 64)
