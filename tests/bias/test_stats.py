import numpy as np
import pytest
from scipy.stats import false_discovery_control

from beholder.bias.stats import adjust_pvalues, fisher_greater, wilson_interval


def test_benjamini_hochberg_matches_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.001, 0.5])
    expected = false_discovery_control(p, method="bh")
    np.testing.assert_allclose(adjust_pvalues(p, method="fdr_bh"), expected)


def test_holm_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    expected = np.array([0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust_pvalues(p, method="holm"), expected)


def test_adjust_keeps_nan_out_of_count():
    adjusted = adjust_pvalues([0.01, np.nan, 0.02], method="holm")
    assert np.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.02])


def test_adjust_rejects_unknown_method():
    with pytest.raises(ValueError, match="correction must be one of"):
        adjust_pvalues([0.1], method="bonferroni")


def test_wilson_interval_known_value():
    low, high = wilson_interval(np.array([5]), np.array([10]))
    # Wilson 95% interval for 5/10 is about (0.237, 0.763).
    assert low[0] == pytest.approx(0.2366, abs=1e-3)
    assert high[0] == pytest.approx(0.7634, abs=1e-3)


def test_wilson_interval_zero_trials():
    low, high = wilson_interval(np.array([0]), np.array([0]))
    assert (low[0], high[0]) == (0.0, 1.0)


def test_fisher_greater_direction():
    assert fisher_greater(9, 10, 1, 10) < 0.01
    assert fisher_greater(1, 10, 9, 10) > 0.9
