"""Choropleth classification: a named scheme plus k, computed by mapclassify.

Zero and missing values are not classified: zero is a class of its own on the map, missing
means no data (or withheld); classes are computed over the positive values only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # mapclassify warns that numba (optional speed-up) is absent
    import mapclassify

#: scheme code -> label shown on screen
SCHEMES: dict[str, str] = {
    "quantiles": "Quantiles",
    "equal_interval": "Equal interval",
    "natural_breaks": "Natural breaks (Fisher-Jenks)",
}
K_RANGE = (3, 7)
DEFAULT_SCHEME = "quantiles"
DEFAULT_K = 5
#: Fisher-Jenks is exact but quadratic; above this many values it runs on evenly
#: spaced quantiles of the data (deterministic, unlike mapclassify's sampled variants).
JENKS_MAX_VALUES = 160


@dataclass(frozen=True)
class Classes:
    """Upper bounds of each class (ascending) and the class of each input value.

    ``klass`` is -1 where the value is zero, -2 where it is missing (NaN).
    """

    bins: tuple[float, ...]
    lower: float
    klass: np.ndarray

    @property
    def k(self) -> int:
        return len(self.bins)


def classify(values: np.ndarray, scheme: str = DEFAULT_SCHEME, k: int = DEFAULT_K) -> Classes:
    """Classify positive values into at most ``k`` classes with ``scheme`` (see SCHEMES)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}; got {scheme!r}")
    if not K_RANGE[0] <= k <= K_RANGE[1]:
        raise ValueError(f"k must be between {K_RANGE[0]} and {K_RANGE[1]}; got {k!r}")
    values = np.asarray(values, dtype=float)
    klass = np.where(np.isnan(values), -2, -1).astype(np.int16)
    positive = values[values > 0]
    if positive.size == 0:
        return Classes((), 0.0, klass)
    bins = _bins(positive, scheme, k)
    mask = values > 0
    klass[mask] = np.searchsorted(bins, values[mask], side="left").clip(0, len(bins) - 1)
    return Classes(tuple(float(b) for b in bins), float(positive.min()), klass)


def _bins(positive: np.ndarray, scheme: str, k: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mapclassify warns when ties leave fewer classes than k
        return _bins_quiet(positive, scheme, k)


def _bins_quiet(positive: np.ndarray, scheme: str, k: int) -> np.ndarray:
    distinct = np.unique(positive)
    k = min(k, len(distinct))
    if k == 1:
        return np.array([distinct[-1]])
    if scheme == "quantiles":
        bins = mapclassify.Quantiles(positive, k=k).bins
    elif scheme == "equal_interval":
        bins = mapclassify.EqualInterval(positive, k=k).bins
    else:
        sample = positive
        if len(positive) > JENKS_MAX_VALUES:
            sample = np.quantile(positive, np.linspace(0, 1, JENKS_MAX_VALUES))
        bins = mapclassify.FisherJenks(sample, k=k).bins
        bins[-1] = positive.max()
    return np.unique(np.asarray(bins, dtype=float))
