import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.properties import available_checks, get_check, run_checks
from beholder.properties.checks import IssueCheck, register_check
from beholder.properties.checks.base import _REGISTRY
from beholder.properties.measure import NUMERIC_COLUMNS, measure_images
from tests.properties.conftest import blurred, save, scene

BUILT_IN = {
    "dark",
    "overexposed",
    "blurry",
    "low_information",
    "grayscale",
    "odd_aspect_ratio",
    "odd_size",
}


def random_properties(seed: int, n: int = 30) -> pd.DataFrame:
    """A property table of plausible random values, with one undecodable row."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({column: rng.uniform(0, 1, n) for column in NUMERIC_COLUMNS})
    table["width"] = rng.integers(1, 4000, n)
    table["height"] = rng.integers(1, 4000, n)
    table["aspect_ratio"] = table["width"] / table["height"]
    table["sharpness"] = rng.uniform(0, 5000, n)
    table["entropy"] = rng.uniform(0, 8, n)
    table.iloc[0] = np.nan
    return table


def test_builtin_checks_registered():
    assert BUILT_IN <= set(available_checks())


@pytest.mark.parametrize("name", available_checks())
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_check_contract(name, seed):
    check = get_check(name)
    properties = random_properties(seed)
    assert isinstance(check, IssueCheck)
    assert check.name == name
    assert set(check.requires) <= set(NUMERIC_COLUMNS)

    scores = check.score(properties)
    assert scores.index.equals(properties.index)
    known = scores.dropna()
    assert ((known >= 0) & (known <= 1)).all()
    assert np.isnan(scores.iloc[0])

    flags = check.flag(properties)
    assert flags.dtype == bool
    assert not flags.iloc[0]
    assert (flags == (scores >= 0.5)).all()

    output = check.run(properties)
    assert list(output.columns) == [f"is_{name}", f"{name}_score"]
    assert output[f"is_{name}"].equals(flags)


@pytest.mark.parametrize("name", available_checks())
def test_check_rejects_table_without_its_columns(name):
    check = get_check(name)
    with pytest.raises(ValueError, match="needs property columns"):
        check.run(pd.DataFrame({"unrelated": [1.0]}))


@pytest.mark.parametrize("name", available_checks())
def test_check_scores_do_not_depend_on_row_order(name):
    check = get_check(name)
    properties = random_properties(7)
    order = np.random.default_rng(0).permutation(len(properties))
    shuffled = properties.iloc[order]
    assert np.allclose(
        check.score(shuffled).to_numpy(),
        check.score(properties).to_numpy()[order],
        equal_nan=True,
    )


@settings(max_examples=30, deadline=None)
@given(brightness=st.floats(0, 1), p95=st.floats(0, 1))
def test_dark_score_is_monotone_in_brightness(brightness, p95):
    check = get_check("dark")
    table = pd.DataFrame(
        {"brightness": [brightness, brightness / 2], "brightness_p95": [p95, p95 / 2]}
    )
    scores = check.score(table)
    assert scores.iloc[1] >= scores.iloc[0]


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("dark", {"max_level": 0}),
        ("overexposed", {"min_level": 2.5}),
        ("blurry", {"max_detail": -1}),
        ("low_information", {"max_relative_contrast": float("nan")}),
        ("grayscale", {"max_colour_fraction": 0}),
        ("odd_aspect_ratio", {"max_factor": 1.0}),
        ("odd_size", {"max_factor": 0.5}),
    ],
)
def test_invalid_thresholds_raise(name, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        get_check(name, **bad)


def test_unknown_check_names_the_available_ones():
    with pytest.raises(ValueError, match="available: .*dark"):
        get_check("sparkly")


def test_registering_a_new_check_runs_it():
    class Wide(IssueCheck):
        name = "wide_for_test"
        requires = ("aspect_ratio",)

        def score(self, properties):
            return (properties["aspect_ratio"] / 4).clip(0, 1)

    register_check(Wide)
    try:
        table = pd.DataFrame({"aspect_ratio": [1.0, 3.0]})
        result = run_checks(table, ["wide_for_test"])
        assert result["is_wide_for_test"].tolist() == [False, True]
    finally:
        del _REGISTRY["wide_for_test"]


@pytest.fixture
def planted(tmp_path):
    """One file per issue plus ordinary photos, measured."""
    cases = {f"normal_{i}": scene(10 + i, 200, 150) for i in range(8)}
    base = scene(99, 200, 150)
    cases["dark"] = (base * 0.08).astype(np.uint8)
    cases["overexposed"] = np.clip(base.astype(int) * 3, 0, 255).astype(np.uint8)
    cases["blurry"] = blurred(base, 4)
    cases["flat"] = (128 + (base.astype(int) - 128) * 0.04).astype(np.uint8)
    cases["gray"] = np.repeat(base.mean(axis=2, keepdims=True), 3, axis=2).astype(
        np.uint8
    )
    cases["strip"] = base[60:90]
    cases["tiny"] = scene(5, 30, 22)
    names = list(cases)
    paths = [save(tmp_path / f"{name}.png", cases[name]) for name in names]
    return names, run_checks(measure_images(paths))


@pytest.mark.parametrize(
    ("case", "issue"),
    [
        ("dark", "dark"),
        ("overexposed", "overexposed"),
        ("blurry", "blurry"),
        ("flat", "low_information"),
        ("gray", "grayscale"),
        ("strip", "odd_aspect_ratio"),
        ("tiny", "odd_size"),
    ],
)
def test_planted_issue_is_flagged_alone(planted, case, issue):
    names, flags = planted
    row = names.index(case)
    assert flags.loc[row, f"is_{issue}"]
    flagged_rows = flags.index[flags[f"is_{issue}"]].tolist()
    assert flagged_rows == [row]


def test_black_image_is_dark_and_low_information(tmp_path):
    path = save(tmp_path / "black.png", np.zeros((60, 80, 3), dtype=np.uint8))
    flags = run_checks(measure_images([path]), ["dark", "low_information"])
    assert flags.loc[0, "is_dark"]
    assert flags.loc[0, "dark_score"] == 1.0
    assert flags.loc[0, "is_low_information"]
