"""Partner matchmaking: who could relieve a need, and how far away they are.

A need is a production stage, or a bottleneck, which maps to the stage that relieves it
(``vocab.BOTTLENECK_RELIEF``; policy bottlenecks such as financing have no such stage). Distances
are great-circle distances on the mean Earth sphere (IUGG R1 = 6,371.0088 km), within 0.5 % of
the WGS84 geodesic anywhere in Europe; inputs are WGS84 degrees (EPSG:4326).

Everything here is a function of arrays: :func:`search` ranks the sites a role may see without a
per-site Python loop, and never ranks, filters or reports by a field the role may not see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geodata import vocab
from geodata.disclosure.rules import is_restricted

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088
#: Most results one search returns.
MAX_LIMIT = 500
DEFAULT_LIMIT = 25
SCOPES = ("any", "same_country", "cross_border")
#: Filters on commercially sensitive fields: officials only (a cluster user could otherwise learn
#: a site's free capacity or lead time by moving the threshold until the site drops out).
OFFICIAL_FILTERS = ("min_available", "max_lead_time")


class NoRelievingStage(ValueError):
    """A bottleneck that no production stage relieves (a policy matter)."""

    def __init__(self, need: str) -> None:
        self.need = need
        super().__init__(
            f"no production stage relieves {vocab.BOTTLENECKS[need]!r} ({need}): it is a policy "
            "matter, not a capacity a partner could offer"
        )


def relieving_stage(need: str) -> str:
    """The stage that meets ``need``: the stage itself, or the stage that relieves a bottleneck.

    Raises ValueError naming the allowed codes for an unknown code, and NoRelievingStage for a
    bottleneck that no stage relieves (financing, export restrictions)."""
    if need in vocab.STAGES:
        return need
    if need in vocab.BOTTLENECK_RELIEF:
        stage = vocab.BOTTLENECK_RELIEF[need]
        if stage is None:
            raise NoRelievingStage(need)
        return stage
    allowed = ", ".join([*vocab.STAGES, *vocab.BOTTLENECKS])
    raise ValueError(f"need must be a stage or bottleneck code ({allowed}); got {need!r}")


def need_label(need: str) -> str:
    """A need code as the screen says it."""
    if need in vocab.STAGES:
        return vocab.STAGES[need]
    return vocab.BOTTLENECKS.get(need, need)


def great_circle_km(
    lat1: float | np.ndarray, lon1: float | np.ndarray, lat2: float | np.ndarray, lon2: float | np.ndarray
) -> np.ndarray:
    """Great-circle distance in km between WGS84 points (degrees), vectorised (haversine)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    h = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=float)


@dataclass(frozen=True)
class Origin:
    """Where a search starts: a point, with what it is (a site, a region's label point, a click)."""

    lat: float
    lon: float
    label: str
    country: str | None = None
    nuts3: str | None = None
    facility_id: str | None = None  # the origin site itself is never a candidate
    kind: str = "point"  # "site", "region" or "point"

    def __post_init__(self) -> None:
        for name, value, bound in (("lat", self.lat, 90.0), ("lon", self.lon, 180.0)):
            if not isinstance(value, (int, float)) or not np.isfinite(value) or abs(value) > bound:
                raise ValueError(
                    f"{name} must be a number of degrees between -{bound:g} and {bound:g}; got {value!r}"
                )


@dataclass(frozen=True)
class Query:
    """What is searched for, besides the origin."""

    need: str
    platform: str | None = None
    gmp_only: bool = False
    min_available: float | None = None  # doses per month free for new contracts (officials only)
    max_lead_time: float | None = None  # months (officials only)
    scope: str = "any"
    max_km: float | None = None
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        relieving_stage(self.need)  # raises with the allowed codes
        if self.platform is not None and self.platform not in vocab.PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(vocab.PLATFORMS)}; got {self.platform!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}; got {self.scope!r}")
        for name in ("min_available", "max_lead_time", "max_km"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0
            ):
                raise ValueError(f"{name} must be a number >= 0; got {value!r}")
        if not isinstance(self.limit, int) or not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be a whole number from 1 to {MAX_LIMIT}; got {self.limit!r}")

    @property
    def stage(self) -> str:
        return relieving_stage(self.need)

    def describe(self) -> str:
        """The query in words, for the provenance of an export."""
        parts = [f"need: {self.need}"]
        if self.need != self.stage:
            parts.append(f"relieved by stage: {self.stage}")
        if self.platform:
            parts.append(f"platform: {self.platform}")
        if self.gmp_only:
            parts.append("GMP-certified only")
        if self.min_available is not None:
            parts.append(f"min available: {self.min_available:g} doses/month")
        if self.max_lead_time is not None:
            parts.append(f"max lead time: {self.max_lead_time:g} months")
        if self.scope != "any":
            parts.append(self.scope.replace("_", " "))
        if self.max_km is not None:
            parts.append(f"within {self.max_km:g} km")
        parts.append(f"limit {self.limit}")
        return "; ".join(parts)


def check_role(query: Query, role: str) -> None:
    """Raise PermissionError if ``role`` may not use a filter of ``query``."""
    if not is_restricted(role):
        return
    used = [name for name in OFFICIAL_FILTERS if getattr(query, name) is not None]
    if used:
        raise PermissionError(
            f"{' and '.join(used)} filter on figures only task-force officials see; leave "
            f"{'them' if len(used) > 1 else 'it'} out"
        )


@dataclass
class Sites:
    """The sites a search runs over, as arrays (one element per site; build with :meth:`build`).

    ``listed``: the company may be named to non-officials. ``approximate``: the site's position
    is its postcode's or region's point, not its own coordinates.
    """

    facility_id: np.ndarray
    company: np.ndarray
    country: np.ndarray
    nuts3: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    stages: np.ndarray  # bool (n, len(STAGES))
    platforms: np.ndarray  # bool (n, len(PLATFORMS))
    gmp: np.ndarray  # bool (unknown = False)
    available: np.ndarray  # doses per month free; NaN where not reported
    lead_time: np.ndarray  # months; NaN where not reported
    contact: np.ndarray  # bool: contact_consent
    listed: np.ndarray  # bool
    approximate: np.ndarray  # bool
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    #: each site's company's position in name order (ties by name compare integers, not strings)
    company_rank: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.company_rank = np.unique(self.company, return_inverse=True)[1].ravel()

    def __len__(self) -> int:
        return len(self.facility_id)

    @classmethod
    def build(cls, placed: pd.DataFrame, listed: np.ndarray) -> Sites:
        """From a placed facility table (placement.place output): sites with a map position."""
        at = placed["map_lat"].notna().to_numpy() & placed["map_lon"].notna().to_numpy()
        rows = placed[at]
        capacity = rows["capacity_doses_per_month"].astype("Float64").to_numpy(float, na_value=np.nan)
        pct = rows["available_capacity_pct"].astype("Float64").to_numpy(float, na_value=np.nan)
        placed_by = (
            rows["placed_by"].astype(str).to_numpy() if "placed_by" in rows else np.full(len(rows), "")
        )
        return cls(
            facility_id=rows["facility_id"].astype(str).to_numpy(str),
            company=rows["company"].astype(str).to_numpy(str),
            country=rows["country"].astype(str).to_numpy(str),
            nuts3=rows["nuts3"].astype("string").fillna("").to_numpy(str),
            lat=rows["map_lat"].to_numpy(float),
            lon=rows["map_lon"].to_numpy(float),
            stages=_flags(rows["stages"], vocab.STAGES),
            platforms=_flags(rows["platforms"], vocab.PLATFORMS),
            gmp=rows["gmp_certified"].astype("boolean").fillna(False).to_numpy(bool),
            available=capacity * pct / 100.0,
            lead_time=rows["lead_time_months"].astype("Float64").to_numpy(float, na_value=np.nan),
            contact=rows["contact_consent"].astype("boolean").fillna(False).to_numpy(bool),
            listed=np.asarray(listed, dtype=bool)[at],
            approximate=placed_by != "coordinates",
            extra={"row": np.flatnonzero(at)},
        )


def _flags(lists: pd.Series, codes: Mapping[str, str]) -> np.ndarray:
    position = {c: i for i, c in enumerate(codes)}
    matrix = np.zeros((len(lists), len(codes)), dtype=bool)
    for row, values in enumerate(lists):
        for value in values or ():
            matrix[row, position[value]] = True
    return matrix


#: Result columns every role gets, and those only officials get.
COLUMNS = (
    "rank",
    "facility_id",
    "company",
    "country",
    "nuts3",
    "distance_km",
    "cross_border",
    "approximate_position",
    "stage",
    "platforms",
    "gmp_certified",
    "why",
    "lat",
    "lon",
)
OFFICIAL_COLUMNS = ("available_doses_per_month", "lead_time_months", "contact_consent")


@dataclass
class Result:
    """Ranked candidates (``columns``: :data:`COLUMNS`, plus :data:`OFFICIAL_COLUMNS` for
    officials, one list per column), how many sites matched before the limit, what the ranking
    was, and how many sites a filter left out for not reporting its figure."""

    columns: dict[str, list[Any]]
    matched: int
    ranking: str
    left_out: dict[str, int]

    def __len__(self) -> int:
        return len(self.columns["rank"])

    @property
    def table(self) -> pd.DataFrame:
        """The candidates as a table, one row per site."""
        return pd.DataFrame(self.columns)

    def rows(self) -> list[dict[str, Any]]:
        """The candidates as plain dictionaries (JSON-ready: no NaN, no numpy scalars)."""
        names = list(self.columns)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.columns.values(), strict=True)]


def ranking_text(role: str) -> str:
    """How results are ordered, in words."""
    if is_restricted(role):
        return "nearest first; equal distances by company name"
    return "nearest first; equal distances by most available capacity, then company name"


def search(sites: Sites, origin: Origin, query: Query, role: str) -> Result:
    """The sites ``role`` may see that offer what ``query`` needs, nearest first.

    Non-officials search only the sites of listed companies (the ones they see one by one) and
    cannot filter or rank by capacity or lead time (PermissionError). The origin site itself is
    never a candidate. Vectorised: one pass of array operations over every site.
    """
    check_role(query, role)
    restricted = is_restricted(role)
    stage_col = list(vocab.STAGES).index(query.stage)
    keep = sites.stages[:, stage_col].copy()
    if restricted:
        keep &= sites.listed
    if origin.facility_id is not None:
        keep &= sites.facility_id != origin.facility_id
    if query.platform is not None:
        keep &= sites.platforms[:, list(vocab.PLATFORMS).index(query.platform)]
    if query.gmp_only:
        keep &= sites.gmp
    if query.scope != "any" and origin.country is not None:
        same = sites.country == origin.country
        keep &= same if query.scope == "same_country" else ~same
    rows = np.flatnonzero(keep)
    distance = great_circle_km(origin.lat, origin.lon, sites.lat[rows], sites.lon[rows])
    if query.max_km is not None:
        near = distance <= query.max_km
        rows, distance = rows[near], distance[near]
    # officials' filters last: left_out counts only sites every other filter would return
    left_out: dict[str, int] = {}
    if query.min_available is not None:
        available = sites.available[rows]
        left_out["available capacity not reported"] = int(np.isnan(available).sum())
        ok = np.nan_to_num(available, nan=-1.0) >= query.min_available
        rows, distance = rows[ok], distance[ok]
    if query.max_lead_time is not None:
        lead_time = sites.lead_time[rows]
        left_out["lead time not reported"] = int(np.isnan(lead_time).sum())
        ok = np.nan_to_num(lead_time, nan=np.inf) <= query.max_lead_time
        rows, distance = rows[ok], distance[ok]
    matched = len(rows)
    # ties at equal distance (rounded to 0.1 km) go by what the role may see; only the sites up
    # to the limit-th distance (and its ties) are sorted
    rounded = np.round(distance, 1)
    if matched > query.limit:
        near = rounded <= np.partition(rounded, query.limit - 1)[query.limit - 1]
        rows, distance, rounded = rows[near], distance[near], rounded[near]
    keys: list[np.ndarray] = [sites.company_rank[rows], rounded]
    if not restricted:
        keys.insert(1, -np.nan_to_num(sites.available[rows], nan=-1.0))
    order = np.lexsort(tuple(keys))[: query.limit]
    rows, distance = rows[order], distance[order]
    columns = _columns(sites, rows, distance, origin, query, restricted)
    return Result(columns, matched, ranking_text(role), left_out)


def _columns(
    sites: Sites, rows: np.ndarray, distance: np.ndarray, origin: Origin, query: Query, restricted: bool
) -> dict[str, list[Any]]:
    stage = query.stage
    platform_codes = list(vocab.PLATFORMS)
    gmp = sites.gmp[rows].tolist()
    cross = (
        (sites.country[rows] != origin.country).tolist()
        if origin.country is not None
        else [False] * len(rows)
    )
    first = f"offers {vocab.STAGES[stage]}"
    if query.need != stage:
        first += f" (relieves {vocab.BOTTLENECKS[query.need]})"
    platform = f"; {vocab.PLATFORMS[query.platform]} experience" if query.platform is not None else ""
    columns: dict[str, list[Any]] = {
        "rank": list(range(1, len(rows) + 1)),
        "facility_id": sites.facility_id[rows].tolist(),
        "company": sites.company[rows].tolist(),
        "country": sites.country[rows].tolist(),
        "nuts3": sites.nuts3[rows].tolist(),
        "distance_km": np.round(distance, 1).tolist(),
        "cross_border": cross,
        "approximate_position": sites.approximate[rows].tolist(),
        "stage": [stage] * len(rows),
        "platforms": [[platform_codes[i] for i in np.flatnonzero(flags)] for flags in sites.platforms[rows]],
        "gmp_certified": gmp,
        "why": [first + platform + ("; GMP-certified" if ok else "") for ok in gmp],
        "lat": np.round(sites.lat[rows], 5).tolist(),
        "lon": np.round(sites.lon[rows], 5).tolist(),
    }
    if not restricted:
        columns["available_doses_per_month"] = _plain(np.round(sites.available[rows]))
        columns["lead_time_months"] = _plain(sites.lead_time[rows])
        columns["contact_consent"] = sites.contact[rows].tolist()
    return columns


def _plain(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values.tolist()]
