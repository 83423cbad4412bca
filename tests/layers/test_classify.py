"""Classification schemes on numbers alone: bins, classes of zero and missing values, arguments."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from layers.classify import JENKS_MAX_VALUES, SCHEMES, classify

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import mapclassify

# the direct mapclassify.FisherJenks calls below warn that the optional numba speed-up is absent
pytestmark = pytest.mark.filterwarnings("ignore:Numba not installed")

NAN = np.nan


def test_schemes_are_the_three_codes() -> None:
    assert list(SCHEMES) == ["quantiles", "equal_interval", "natural_breaks"]


def test_quantiles_on_one_to_ten() -> None:
    values = np.arange(1, 11, dtype=float)
    result = classify(values, "quantiles", 5)
    # linear interpolation: 20 % of the way through 1..10 is 1 + 0.2 * 9 = 2.8, etc.
    np.testing.assert_allclose(result.bins, [2.8, 4.6, 6.4, 8.2, 10.0])
    np.testing.assert_allclose(result.bins, mapclassify.Quantiles(values, k=5).bins)
    assert result.k == 5
    assert result.lower == 1.0
    assert result.klass.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_quantiles_ignore_zero_and_missing_values() -> None:
    result = classify(np.array([0, NAN, 4, 1, 3, 2]), "quantiles", 4)
    # quartiles of the positive values 1, 2, 3, 4 only: 1.75, 2.5, 3.25, 4
    assert result.bins == (1.75, 2.5, 3.25, 4.0)
    assert result.klass.tolist() == [-1, -2, 3, 0, 2, 1]
    assert result.lower == 1.0


def test_equal_interval_bounds_are_inclusive_upper_bounds() -> None:
    values = np.array([1, 2, 4, 10], dtype=float)
    result = classify(values, "equal_interval", 3)
    # range 1..10 in three steps of 3: (.., 4], (4, 7], (7, 10]; 4 itself is in the first class
    assert result.bins == (4.0, 7.0, 10.0)
    np.testing.assert_allclose(result.bins, mapclassify.EqualInterval(values, k=3).bins)
    assert result.klass.tolist() == [0, 0, 0, 2]


def test_natural_breaks_find_the_gaps() -> None:
    values = np.array([1, 2, 3, 10, 11, 12, 30, 31, 32], dtype=float)
    result = classify(values, "natural_breaks", 3)
    assert result.bins == (3.0, 12.0, 32.0)
    np.testing.assert_allclose(result.bins, mapclassify.FisherJenks(values, k=3).bins)
    assert result.klass.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_natural_breaks_weigh_repeated_values_like_mapclassify() -> None:
    # on the distinct values alone the breaks would be 5, 10, 40: the twenty 1s pull the first down
    values = np.array([1.0] * 20 + [2, 3, 4, 5, 6, 7, 8, 9, 10, 40])
    result = classify(values, "natural_breaks", 3)
    assert result.bins == (4.0, 10.0, 40.0)
    np.testing.assert_allclose(result.bins, mapclassify.FisherJenks(values, k=3).bins)


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_k_larger_than_distinct_values_gives_one_class_per_value(scheme: str) -> None:
    result = classify(np.array([2, 2, 5, 5, 9], dtype=float), scheme, 7)
    assert result.k == 3
    assert result.bins[-1] == 9.0
    assert result.klass.tolist() == [0, 0, 1, 1, 2]
    assert result.lower == 2.0


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_a_single_positive_value_is_one_class(scheme: str) -> None:
    result = classify(np.array([4, 0, 4, NAN]), scheme, 5)
    assert result.bins == (4.0,)
    assert result.klass.tolist() == [0, -1, 0, -2]


@pytest.mark.parametrize("scheme", list(SCHEMES))
@pytest.mark.parametrize(
    ("values", "expected"),
    [([0, 0, 0], [-1, -1, -1]), ([0, NAN, 0], [-1, -2, -1]), ([NAN], [-2]), ([], [])],
)
def test_no_positive_value_gives_no_bins(scheme: str, values: list[float], expected: list[int]) -> None:
    result = classify(np.array(values, dtype=float), scheme, 5)
    assert result.bins == ()
    assert result.k == 0
    assert result.lower == 0.0
    assert result.klass.tolist() == expected


def test_classes_are_small_integers() -> None:
    result = classify(np.array([0, NAN, 1, 2, 3, 4]), "quantiles", 3)
    assert result.klass.dtype == np.int16
    assert result.klass.min() == -2
    assert result.klass.max() == 2


def test_unknown_scheme_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"quantiles, equal_interval, natural_breaks; got 'jenks'"):
        classify(np.array([1.0, 2.0, 3.0]), "jenks", 5)


@pytest.mark.parametrize("k", [0, 2, 8])
def test_k_outside_three_to_seven_is_rejected(k: int) -> None:
    with pytest.raises(ValueError, match=rf"k must be between 3 and 7; got {k}"):
        classify(np.array([1.0, 2.0, 3.0]), "quantiles", k)


def test_natural_breaks_on_many_distinct_values_are_deterministic() -> None:
    values = np.random.default_rng(7).permutation(np.arange(1, 1001, dtype=float) ** 1.5)
    assert len(np.unique(values)) > JENKS_MAX_VALUES
    first = classify(values, "natural_breaks", 5)
    second = classify(values.copy(), "natural_breaks", 5)
    assert first.bins == second.bins
    np.testing.assert_array_equal(first.klass, second.klass)
    # computed on evenly spaced quantiles of the data; the top bound is the data's maximum
    sample = np.quantile(values, np.linspace(0, 1, JENKS_MAX_VALUES))
    np.testing.assert_allclose(first.bins, mapclassify.FisherJenks(sample, k=5).bins)
    assert first.bins[-1] == values.max()
    assert first.k == 5
    # every value sits in the first class whose upper bound it does not exceed
    bins = np.array(first.bins)
    assert (values <= bins[first.klass]).all()
    below = first.klass > 0
    assert (values[below] > bins[first.klass[below] - 1]).all()
