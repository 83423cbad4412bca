"""The profile of one region: who it is, what it does, how it compares, what holds it back.

Every figure of a profile is read from the disclosure engine's release for the role (through
:class:`~dashboard.data.AtlasData`), never computed from the sites: a restricted role sees what
the map and the exports show it, and a figure the engine withholds stays None with its reason.
Shares and ranks are worked out from released figures only. The site list holds only the sites
the role may see one by one (:meth:`AtlasData.visible`, as ``views.shown_sites``), with the fields
``disclosure.site_fields(role)`` allows (through ``exports.sites_table``).

A profile touches ``1 + len(STAGES) + len(BOTTLENECKS)`` filter settings, each one cached
release of the round; :func:`warm_profiles` builds them ahead of the first profile. No dash import.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.data import AtlasData
from dashboard.exports import sites_table
from geodata import disclosure, vocab
from geodata.aggregate import Filters
from geodata.disclosure.rules import DERIVED

#: The headline figures of a profile (metric codes of vocab.METRICS).
HEADLINE: tuple[str, ...] = (
    "facilities",
    "companies",
    "capacity",
    "available_capacity",
    "bottleneck_reports",
)
#: At most this many sites are listed (``Profile.sites_total`` says how many match).
SITE_LIMIT = 500


@dataclass(frozen=True)
class Figure:
    """One figure as the role may see it.

    ``value`` is None where the engine withholds it (``reason`` then says why) or where there is
    nothing to show (no data for the region, a share of nothing: ``reason`` is ''). Officials see
    every value; their ``reason`` says why other roles would not, for information.
    """

    value: float | None
    reason: str = ""  # a code of disclosure.REASONS, '' when none
    reason_text: str = ""  # what the screen says for it

    @property
    def withheld(self) -> bool:
        return self.value is None and bool(self.reason)


def _figure(value: object, reason: object = "") -> Figure:
    code = reason if isinstance(reason, str) else ""
    number = float(value) if isinstance(value, int | float | np.integer | np.floating) else math.nan
    return Figure(None if math.isnan(number) else number, code, disclosure.reason_text(code))


NO_DATA = Figure(None)


@dataclass(frozen=True)
class Region:
    code: str
    name: str


@dataclass(frozen=True)
class StageProfile:
    """The region in one production stage (the profile's filters, this stage only)."""

    stage: str
    label: str
    sites: Figure
    companies: Figure
    #: the region's sites of the stage over all sites of the stage (the release's total cell)
    share: Figure
    #: location quotient as the engine releases it (1 = the share of all regions shown)
    specialisation: Figure
    #: competition ranking ('1224', ties share the best rank) by sites of the stage among the
    #: regions of the level with a known count above zero; None when the region's own count is
    #: withheld (``sites.reason`` says why), unknown or zero
    rank: int | None
    #: how many regions of the level have a known count above zero ("rank 3 of 24")
    ranked: int


@dataclass(frozen=True)
class BottleneckProfile:
    """Sites of the region reporting one bottleneck (the profile's filters, this bottleneck only)."""

    bottleneck: str
    label: str
    reports: Figure
    relieved_by: str | None  # vocab.BOTTLENECK_RELIEF


@dataclass(frozen=True)
class Profile:
    code: str
    name: str
    level: int
    version: int
    role: str
    filters: Filters
    country: Region
    #: the regions the region lies in, nearest first (DE212: DE21, DE2, DE)
    parents: tuple[Region, ...]
    #: whether the release has the region at all (False: no survey answers from its country, or
    #: a country filter leaves it out; every figure is then None without a reason)
    covered: bool
    figures: dict[str, Figure]  # HEADLINE metric -> figure
    #: the region's share of all sites (the filters', released figures), the yardstick of its stages
    share: Figure
    stages: tuple[StageProfile, ...]  # in vocab.STAGES order
    bottlenecks: tuple[BottleneckProfile, ...]  # in vocab.BOTTLENECKS order
    #: stage codes whose known location quotient is above 1, the highest first
    strengths: tuple[str, ...]
    site_columns: tuple[str, ...]
    sites: tuple[dict[str, object], ...]  # at most SITE_LIMIT, by company then facility id
    sites_total: int  # sites the role may see in the region matching the filters

    @property
    def sites_truncated(self) -> bool:
        return self.sites_total > len(self.sites)

    def stage(self, code: str) -> StageProfile:
        return next(s for s in self.stages if s.stage == code)

    def bottleneck(self, code: str) -> BottleneckProfile:
        return next(b for b in self.bottlenecks if b.bottleneck == code)


def stage_filters(filters: Filters, stage: str) -> Filters:
    """``filters`` with the stage filter replaced by ``stage``."""
    return Filters((stage,), filters.bottlenecks, filters.platforms, filters.countries, filters.sizes)


def bottleneck_filters(filters: Filters, bottleneck: str) -> Filters:
    """``filters`` with the bottleneck filter replaced by ``bottleneck``."""
    return Filters(filters.stages, (bottleneck,), filters.platforms, filters.countries, filters.sizes)


def profile_settings(filters: Filters) -> Iterator[Filters]:
    """Every filter setting a profile under ``filters`` reads a release of."""
    yield filters
    for stage in vocab.STAGES:
        yield stage_filters(filters, stage)
    for bottleneck in vocab.BOTTLENECKS:
        yield bottleneck_filters(filters, bottleneck)


def warm_profiles(data: AtlasData, version: int, role_group: str, filters: Filters | None = None) -> None:
    """Build the releases every profile under ``filters`` (default: none) needs for ``role_group``
    ('official' or 'cluster'; public shares cluster's), so that the first profile is quick.
    Safe to run in a background thread: the releases are cached in ``data``."""
    for setting in profile_settings(filters or Filters()):
        data.release(version, setting, role_group)


def level_of(code: str) -> int | None:
    level = len(code) - 2
    return level if level in vocab.NUTS_LEVELS else None


def _row(table: pd.DataFrame, code: str) -> pd.Series | None:
    if code not in table.index:
        return None
    row = table.loc[code]
    return row.iloc[0] if isinstance(row, pd.DataFrame) else row


def _cell(row: pd.Series | None, metric: str) -> Figure:
    if row is None:
        return NO_DATA
    return _figure(row[metric], row[disclosure.withheld_column(metric)])


def _share(part: Figure, whole: Figure) -> Figure:
    """``part`` over ``whole``: withheld where either is (the part's reason first; a share of a
    withheld total is computed from a confidential figure); None without reason for a share of
    nothing."""
    reason = part.reason or (DERIVED if whole.reason else "")
    if part.value is None or whole.value is None or whole.value <= 0:
        return _figure(None, reason if (part.withheld or whole.withheld) else "")
    return _figure(part.value / whole.value, reason)


def _rank(values: pd.Series, code: str) -> tuple[int | None, int]:
    """Competition rank ('1224', highest first) of ``code`` among the regions with a known count
    above zero, and how many regions that is. A region without any site has no rank (else, where
    every other count is withheld, a region without sites would rank first)."""
    known = values.dropna().to_numpy(float)
    known = known[known > 0]
    value = values.get(code)
    if value is None or pd.isna(value) or not float(value) > 0:
        return None, len(known)
    return 1 + int(np.count_nonzero(known > float(value))), len(known)


def _stage_profile(
    data: AtlasData, version: int, level: int, code: str, filters: Filters, role: str, stage: str
) -> StageProfile:
    result = data.release(version, stage_filters(filters, stage), role)
    table = result.table(level)
    row = _row(table, code)
    sites = _cell(row, "facilities")
    total = _figure(result.totals.get("facilities"), result.totals_withheld.get("facilities", ""))
    rank, ranked = _rank(table["facilities"], code)
    return StageProfile(
        stage=stage,
        label=vocab.STAGES[stage],
        sites=sites,
        companies=_cell(row, "companies"),
        share=_share(sites, total) if row is not None else NO_DATA,
        specialisation=_cell(row, "specialisation"),
        rank=rank,
        ranked=ranked,
    )


def _sites(
    data: AtlasData, version: int, level: int, code: str, filters: Filters, role: str
) -> tuple[tuple[str, ...], tuple[dict[str, object], ...], int]:
    """The sites ``role`` may see in the region that match ``filters`` (the rule of
    views.shown_sites), up to SITE_LIMIT, with the fields ``role`` may see."""
    index = data.index(version)
    visible = data.visible(version, role)
    codes = index.region_codes[level]  # sorted: the regions holding sites
    position = int(np.searchsorted(codes, code))
    found = position < len(codes) and codes[position] == code
    inside = index.region_idx[level][visible] == position if found else np.zeros(len(visible), dtype=bool)
    chosen = visible[inside & index.mask(filters)[visible]]
    placed = data.placed(version)
    rows = index.row[chosen]
    company = placed["company"].iloc[rows].astype(str).str.casefold().to_numpy(str)
    facility = placed["facility_id"].iloc[rows].astype(str).to_numpy(str)
    order = rows[np.lexsort((facility, company))]
    columns = (*(c for c in disclosure.site_fields(role) if c in placed.columns), "nuts3", "nuts3_name")
    if not len(order):
        return columns, (), 0
    table = sites_table(placed, order[:SITE_LIMIT].tolist(), role, data.names(version), {})
    records = tuple(
        {column: _plain(value) for column, value in zip(columns, values, strict=True)}
        for values in table[list(columns)].itertuples(index=False, name=None)
    )
    return columns, records, len(order)


def _plain(value: object) -> object:
    """A cell as a plain Python value (None for missing)."""
    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):  # type: ignore[call-overload]
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def region_profile(data: AtlasData, version: int, code: str, filters: Filters, role: str) -> Profile | None:
    """The profile of region ``code`` of NUTS ``version`` under ``filters`` as ``role`` may see it;
    None when ``code`` is no region of that version."""
    disclosure.is_restricted(role)  # raises for an unknown role
    if version not in vocab.NUTS_YEARS:
        raise ValueError(f"version must be one of {vocab.NUTS_YEARS}; got {version!r}")
    level = level_of(code) if isinstance(code, str) else None
    if level is None or code not in data.level_codes(version, level):
        return None
    names = data.names(version)

    def region(of: str) -> Region:
        return Region(of, str(names.get(of, of)))

    country = code[:2]
    result = data.release(version, filters, role)
    row = _row(result.table(level), code)
    everything = _figure(result.totals.get("facilities"), result.totals_withheld.get("facilities", ""))
    stages = tuple(_stage_profile(data, version, level, code, filters, role, stage) for stage in vocab.STAGES)
    bottlenecks = tuple(
        BottleneckProfile(
            bottleneck=bottleneck,
            label=label,
            reports=_cell(
                _row(data.release(version, bottleneck_filters(filters, bottleneck), role).table(level), code),
                "bottleneck_reports",
            ),
            relieved_by=vocab.BOTTLENECK_RELIEF.get(bottleneck),
        )
        for bottleneck, label in vocab.BOTTLENECKS.items()
    )
    strong = [s for s in stages if s.specialisation.value is not None and s.specialisation.value > 1]
    strong.sort(key=lambda s: -(s.specialisation.value or 0.0))  # stable: ties keep stage order
    columns, sites, total = _sites(data, version, level, code, filters, role)
    return Profile(
        code=code,
        name=str(names.get(code, code)),
        level=level,
        version=version,
        role=role,
        filters=filters,
        country=Region(country, vocab.EU_MEMBER_STATES.get(country) or str(names.get(country, country))),
        parents=tuple(region(code[:n]) for n in range(len(code) - 1, 1, -1)),
        covered=row is not None,
        figures={metric: _cell(row, metric) for metric in HEADLINE},
        share=_share(_cell(row, "facilities"), everything) if row is not None else NO_DATA,
        stages=stages,
        bottlenecks=bottlenecks,
        strengths=tuple(s.stage for s in strong),
        site_columns=columns,
        sites=sites,
        sites_total=total,
    )


def warm_round(data: AtlasData) -> None:
    """In the background after a round is loaded: every role group's default profiles (NUTS 2021),
    so that the first click on a region is answered from memory."""
    for group in ("official", "cluster"):
        warm_profiles(data, vocab.NUTS_YEARS[0], group)
