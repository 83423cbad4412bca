"""Per-region metrics of placed facilities under filters, with disclosure control.

:class:`SiteIndex` turns a placed facility table into numpy arrays once; :func:`aggregate`
then answers (level, filters) in a few milliseconds for 100,000 sites, which is what the
dashboard does on every interaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geodata import companies, vocab


def _codes(name: str, values: Iterable[str], allowed: Iterable[str]) -> tuple[str, ...]:
    values = tuple(values or ())
    allowed = tuple(allowed)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {name} {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class Filters:
    """Which sites count: each tuple of codes is 'any of'; an empty tuple means all."""

    stages: tuple[str, ...] = ()
    bottlenecks: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", _codes("stage", self.stages, vocab.STAGES))
        object.__setattr__(self, "bottlenecks", _codes("bottleneck", self.bottlenecks, vocab.BOTTLENECKS))
        object.__setattr__(self, "platforms", _codes("platform", self.platforms, vocab.PLATFORMS))
        object.__setattr__(self, "sizes", _codes("company size", self.sizes, vocab.COMPANY_SIZES))
        object.__setattr__(self, "countries", tuple(sorted({c.upper() for c in self.countries or ()})))

    def describe(self) -> str:
        """The filters in words, codes as they are ('all sites' when none)."""
        parts = [
            f"{name}: {', '.join(values)}"
            for name, values in (
                ("stage", self.stages),
                ("bottleneck", self.bottlenecks),
                ("platform", self.platforms),
                ("country", self.countries),
                ("company size", self.sizes),
            )
            if values
        ]
        return "; ".join(parts) or "all sites"


def _flags(lists: pd.Series, codes: Sequence[str]) -> np.ndarray:
    position = {c: i for i, c in enumerate(codes)}
    matrix = np.zeros((len(lists), len(codes)), dtype=bool)
    for row, values in enumerate(lists):
        for value in values or ():
            matrix[row, position[value]] = True
    return matrix


@dataclass
class SiteIndex:
    """Placed sites as arrays for fast filtering; build with :meth:`from_placed`."""

    n: int
    stages: np.ndarray  # bool (n, len(STAGES))
    bottlenecks: np.ndarray
    platforms: np.ndarray
    country: np.ndarray  # str
    size: np.ndarray  # str ('' unknown)
    company: np.ndarray  # int company number
    capacity: np.ndarray  # float, 0 where unknown
    available: np.ndarray  # float, capacity x pct / 100, 0 where unknown
    region_codes: dict[int, np.ndarray] = field(default_factory=dict)  # level -> codes
    region_idx: dict[int, np.ndarray] = field(default_factory=dict)  # level -> int per site
    row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # position in table
    facility_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    listed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # company may be named
    _universes: dict[tuple[int, tuple[str, ...]], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def from_placed(cls, placed: pd.DataFrame) -> SiteIndex:
        """Index the sites of a placed table (placement.place output) that have a region."""
        sites = placed[placed["nuts3"].notna()]
        capacity = sites["capacity_doses_per_month"].astype("Float64").fillna(0).to_numpy(float)
        pct = sites["available_capacity_pct"].astype("Float64").fillna(0).to_numpy(float)
        placed_rows = placed["nuts3"].notna().to_numpy()
        company_key = companies.company_keys(placed)[placed_rows]
        index = cls(
            n=len(sites),
            stages=_flags(sites["stages"], list(vocab.STAGES)),
            bottlenecks=_flags(sites["bottlenecks"], list(vocab.BOTTLENECKS)),
            platforms=_flags(sites["platforms"], list(vocab.PLATFORMS)),
            country=np.asarray(sites["country"].astype(str).to_numpy(), dtype="U2"),
            size=np.asarray(sites["company_size"].astype("string").fillna("").to_numpy(str)),
            company=pd.factorize(company_key)[0],
            capacity=capacity,
            available=capacity * pct / 100,
            row=np.flatnonzero(placed["nuts3"].notna().to_numpy()),
            facility_id=sites["facility_id"].astype(str).to_numpy(str),
            listed=companies.listed(placed)[placed_rows],
        )
        for level in vocab.NUTS_LEVELS:
            idx, codes = pd.factorize(sites[f"nuts{level}"].astype(str), sort=True)
            index.region_idx[level] = idx
            index.region_codes[level] = np.asarray(codes, dtype=str)
        return index

    def regions(self, level: int, all_regions: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Region codes of ``level`` and each site's position among them.

        Without ``all_regions``: the regions holding sites. With it: those plus every region of
        ``all_regions`` in a country the dataset covers (computed once per argument set).
        """
        if all_regions is None:
            return self.region_codes[level], self.region_idx[level]
        key = (level, tuple(all_regions))
        if key not in self._universes:
            own = self.region_codes[level]
            covered = set(np.unique(self.country))
            extra = [c for c in key[1] if c[:2] in covered]
            codes = np.union1d(own, np.asarray(extra, dtype=str))
            self._universes[key] = (codes, np.searchsorted(codes, own)[self.region_idx[level]])
        return self._universes[key]

    def pairs(self, level: int, all_regions: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Number of each site's (region, company) pair, and the region position of each pair."""
        key = (-2 - level, tuple(all_regions) if all_regions is not None else ())
        if key not in self._universes:
            _codes, region = self.regions(level, all_regions)
            width = int(self.company.max(initial=0)) + 1
            numbers, inverse = np.unique(region.astype(np.int64) * width + self.company, return_inverse=True)
            self._universes[key] = (inverse.ravel(), (numbers // width).astype(np.int64))
        return self._universes[key]

    def codes(self, attribute: str) -> tuple[np.ndarray, np.ndarray]:
        """Integer code per site and the distinct values of ``attribute`` ('country', 'size')."""
        key = (-1, (attribute,))
        if key not in self._universes:
            idx, values = pd.factorize(getattr(self, attribute))
            self._universes[key] = (np.asarray(values, dtype=str), idx)
        values, idx = self._universes[key]
        return idx, values

    def _is_one_of(self, attribute: str, selected: tuple[str, ...]) -> np.ndarray:
        idx, values = self.codes(attribute)
        wanted = np.isin(values, selected)
        return wanted[idx] if len(idx) else np.zeros(0, dtype=bool)

    def mask(self, filters: Filters, *, use_stages: bool = True) -> np.ndarray:
        """Sites matching the filters (the stage filter can be left out)."""
        keep = np.ones(self.n, dtype=bool)
        for selected, matrix, vocabulary in (
            (filters.stages if use_stages else (), self.stages, vocab.STAGES),
            (filters.bottlenecks, self.bottlenecks, vocab.BOTTLENECKS),
            (filters.platforms, self.platforms, vocab.PLATFORMS),
        ):
            if selected:
                columns = [list(vocabulary).index(code) for code in selected]
                keep &= matrix[:, columns].any(axis=1)
        if filters.countries:
            keep &= self._is_one_of("country", filters.countries)
        if filters.sizes:
            keep &= self._is_one_of("size", filters.sizes)
        return keep


def _per_region_companies(
    pairs: np.ndarray, pair_region: np.ndarray, keep: np.ndarray, capacity: np.ndarray, n_regions: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct companies per region, and the largest share of a region's capacity held by one company.

    ``pairs`` numbers each site's (region, company) pair; counting by pair needs no sorting.
    """
    n_pairs = len(pair_region)
    sites = np.bincount(pairs[keep], minlength=n_pairs)
    companies = np.bincount(pair_region[sites > 0], minlength=n_regions)
    per_pair = np.bincount(pairs[keep], weights=capacity[keep], minlength=n_pairs)
    largest = np.zeros(n_regions)
    np.maximum.at(largest, pair_region, per_pair)
    total = np.bincount(pair_region, weights=per_pair, minlength=n_regions)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, largest / total, 0.0)
    return companies, share


def aggregate(
    index: SiteIndex,
    level: int,
    filters: Filters | None = None,
    *,
    all_regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """True metrics per NUTS region of ``level`` for the sites matching ``filters``.

    One row per region holding at least one site of the dataset (zero where none match), plus,
    when ``all_regions`` (codes of this level) is given, a zero row for each of those regions in a
    country the dataset covers; regions of countries outside a country filter are left out.
    Columns: the metric codes of vocab.METRICS. Capacity in doses/month; specialisation is a
    location quotient (NaN without a stage filter). These are the confidential figures: what any
    role may see of them is decided by geodata.disclosure, never here.
    """
    if level not in vocab.NUTS_LEVELS:
        raise ValueError(f"level must be one of {vocab.NUTS_LEVELS}; got {level!r}")
    filters = filters or Filters()
    codes, region = index.regions(level, all_regions)
    r = len(codes)
    base = index.mask(filters, use_stages=False)
    keep = base & index.mask(filters) if filters.stages else base
    reg = region[keep]
    pairs, pair_region = index.pairs(level, all_regions)
    companies, _largest_share = _per_region_companies(pairs, pair_region, keep, index.capacity, r)
    facilities = np.bincount(reg, minlength=r)
    table = pd.DataFrame(
        {
            "facilities": facilities,
            "companies": companies,
            "capacity": np.bincount(reg, weights=index.capacity[keep], minlength=r),
            "available_capacity": np.bincount(reg, weights=index.available[keep], minlength=r),
            "bottleneck_reports": np.bincount(reg[index.bottlenecks[keep].any(axis=1)], minlength=r),
        },
        index=pd.Index(codes, name=f"nuts{level}"),
    )
    table["specialisation"] = _location_quotient(region, base, keep, facilities, filters)
    if filters.countries:
        prefix = table.index.str.slice(0, 2)
        table = table[prefix.isin(filters.countries)]
    return table


def _location_quotient(
    region: np.ndarray, base: np.ndarray, keep: np.ndarray, facilities: np.ndarray, filters: Filters
) -> np.ndarray:
    n_regions = len(facilities)
    if not filters.stages:
        return np.full(n_regions, np.nan)
    base_count = np.bincount(region[base], minlength=n_regions).astype(float)
    total_share = keep.sum() / base.sum() if base.sum() else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(base_count > 0, facilities / base_count, np.nan)
        return share / total_share if total_share else np.full(n_regions, np.nan)


def summary(index: SiteIndex, filters: Filters | None = None) -> dict[str, float]:
    """Totals for the matching sites: sites, companies, countries, capacity, available capacity,
    and the largest share of the capacity held by one company (for the dominance rule)."""
    keep = index.mask(filters or Filters())
    per_company = np.bincount(index.company[keep], weights=index.capacity[keep])
    total = float(index.capacity[keep].sum())
    return {
        "facilities": int(keep.sum()),
        "companies": int(np.count_nonzero(np.bincount(index.company[keep]))),
        "countries": int(np.count_nonzero(np.bincount(index.codes("country")[0][keep]))),
        "capacity": total,
        "available_capacity": float(index.available[keep].sum()),
        "largest_company_share": float(per_company.max() / total) if total > 0 else 0.0,
    }
