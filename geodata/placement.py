"""Place sites in NUTS regions: point in polygon, nearest region within a tolerance, postcodes.

All inputs and outputs are lon/lat in EPSG:4326; distances are measured in EPSG:3035
(ETRS89-LAEA, metres) and reported in km. Levels 0-2 follow from the level-3 code.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata import nuts, postcodes

METRIC_CRS = "EPSG:3035"
WITHIN, NEAREST, UNMATCHED = "within", "nearest", "unmatched"
PLACEMENT_COLUMNS = ("nuts0", "nuts1", "nuts2", "nuts3", "nuts_match", "nuts_note")
#: Share of a NUTS 2024 region's area that must fall in one region of another version
#: for a postcode placed by the (2024) postcode table to be carried over to it.
CARRY_OVER_SHARE = 0.9


@functools.lru_cache(maxsize=8)
def _metric_regions(year: int, scale: str) -> gpd.GeoDataFrame:
    return nuts.load(year, 3, scale).to_crs(METRIC_CRS)


@functools.lru_cache(maxsize=8)
def _label_points(year: int, scale: str) -> pd.DataFrame:
    """Representative lon/lat of each level-3 region (inside its polygon)."""
    regions = nuts.load(year, 3, scale)
    points = regions.geometry.representative_point()
    return pd.DataFrame({"lon": points.x.to_numpy(), "lat": points.y.to_numpy()}, index=regions["NUTS_ID"])


def assign_points(
    lon: np.ndarray | pd.Series,
    lat: np.ndarray | pd.Series,
    year: int = 2021,
    scale: str = "20M",
    tolerance_km: float = 10.0,
) -> pd.DataFrame:
    """Assign lon/lat points (EPSG:4326) to NUTS 3 regions of one version, vectorised.

    A point inside (or on the edge of) a polygon is 'within'. A point outside every polygon
    but at most ``tolerance_km`` from one (generalised coasts and borders) is 'nearest', with
    its distance. Anything else, and missing coordinates, is 'unmatched'.
    Returns a frame aligned with the input: nuts3 (str or NA), nuts_match, distance_km.
    """
    if tolerance_km < 0:
        raise ValueError(f"tolerance_km must be >= 0; got {tolerance_km}")
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(lon)
    regions = nuts.load(year, 3, scale)
    codes = regions["NUTS_ID"].to_numpy()
    found = np.full(n, -1, dtype=np.int64)
    distance = np.full(n, np.nan)
    valid = np.isfinite(lon) & np.isfinite(lat)
    points = shapely.points(lon[valid], lat[valid])
    point_idx, region_idx = regions.sindex.query(points, predicate="intersects")
    # A point on a shared edge touches two regions: keep the first (lowest NUTS_ID) for stability.
    first = np.unique(point_idx, return_index=True)[1]
    valid_positions = np.flatnonzero(valid)
    found[valid_positions[point_idx[first]]] = region_idx[first]
    distance[found >= 0] = 0.0

    outside = np.flatnonzero(valid & (found < 0))
    if len(outside) and tolerance_km > 0:
        metric = _metric_regions(year, scale)
        projected = gpd.GeoSeries(shapely.points(lon[outside], lat[outside]), crs=4326).to_crs(METRIC_CRS)
        (near_point, near_region), dist = metric.sindex.nearest(
            projected.values, max_distance=tolerance_km * 1000, return_distance=True, return_all=False
        )
        found[outside[near_point]] = near_region
        distance[outside[near_point]] = dist / 1000
    nuts3 = pd.array([codes[i] if i >= 0 else pd.NA for i in found], dtype="string")
    match = np.where(found < 0, UNMATCHED, np.where(distance > 0, NEAREST, WITHIN))
    return pd.DataFrame({"nuts3": nuts3, "nuts_match": match, "distance_km": distance})


def with_levels(frame: pd.DataFrame, code_column: str = "nuts3") -> pd.DataFrame:
    """Add nuts0, nuts1, nuts2 from a level-3 code column (NUTS codes are hierarchical)."""
    codes = frame[code_column].astype("string")
    for level, width in ((0, 2), (1, 3), (2, 4)):
        frame[f"nuts{level}"] = codes.str.slice(0, width)
    return frame


def carry_over(code_2024: str, year: int, scale: str = "20M") -> tuple[str | None, str]:
    """The region of NUTS ``year`` that holds a NUTS 2024 level-3 region, by area overlap.

    Returns (code or None, note). The code is given only when one region holds at least
    CARRY_OVER_SHARE of the 2024 region's area; otherwise the note lists the shares.
    """
    if year == 2024:
        return code_2024, ""
    source = _metric_regions(2024, "20M")
    row = source[source["NUTS_ID"] == code_2024]
    if row.empty:
        return None, f"{code_2024} is not a NUTS 2024 region"
    shape = row.geometry.iloc[0]
    target = _metric_regions(year, scale)
    candidates = target.iloc[target.sindex.query(shape, predicate="intersects")]
    shares = candidates.geometry.intersection(shape).area / shape.area
    shares.index = candidates["NUTS_ID"].to_numpy()
    shares = shares[shares > 0.005].sort_values(ascending=False)
    if len(shares) and shares.iloc[0] >= CARRY_OVER_SHARE:
        code = str(shares.index[0])
        return code, f"NUTS 2024 {code_2024} -> NUTS {year} {code} ({shares.iloc[0]:.0%} of its area)"
    listed = ", ".join(f"{c} ({s:.0%})" for c, s in shares.items())
    return None, (
        f"NUTS 2024 {code_2024} spans NUTS {year} regions {listed or 'none'}: "
        "give coordinates or a nuts3 code"
    )


@dataclass
class _Placement:
    """Per-site outcome while placing: region code, match kind, note, evidence used."""

    nuts3: np.ndarray  # str or None
    match: np.ndarray
    notes: np.ndarray
    placed_by: np.ndarray  # 'coordinates' | 'postcode' | 'nuts3' | None

    def set(
        self, i: int | np.integer, code: str | None, match: str, placed_by: str | None, note: str
    ) -> None:
        self.nuts3[i], self.match[i], self.placed_by[i], self.notes[i] = code, match, placed_by, note

    def add_note(self, i: int | np.integer, text: str) -> None:
        self.notes[i] = f"{self.notes[i]}; {text}" if self.notes[i] else text


def place(
    facilities: pd.DataFrame,
    year: int = 2021,
    scale: str = "20M",
    tolerance_km: float = 10.0,
) -> pd.DataFrame:
    """Place validated facilities (records.FACILITY fields) in NUTS regions of one version.

    Order of evidence: coordinates; else postcode (through the NUTS 2024 postcode table,
    carried over to ``year`` by overlap); else the given nuts3 code, checked against ``year``.
    Returns a copy with nuts0-3, nuts_match, nuts_note, placed_by and map_lon/map_lat
    (the site, or the region's representative point when placed by postcode or code).
    """
    out = facilities.copy()
    n = len(out)
    lon = out["longitude"].to_numpy(dtype=float, na_value=np.nan)
    lat = out["latitude"].to_numpy(dtype=float, na_value=np.nan)
    has_xy = np.isfinite(lon) & np.isfinite(lat)
    found = assign_points(lon, lat, year, scale, tolerance_km)
    state = _Placement(
        nuts3=np.array(
            [str(c) if ok and not pd.isna(c) else None for c, ok in zip(found["nuts3"], has_xy, strict=True)],
            dtype=object,
        ),
        match=np.where(has_xy, found["nuts_match"], UNMATCHED).astype(object),
        notes=np.full(n, "", dtype=object),
        placed_by=np.array(["coordinates" if ok else None for ok in has_xy], dtype=object),
    )
    for i in np.flatnonzero(has_xy):
        if state.match[i] == NEAREST:
            state.notes[i] = (
                f"outside every polygon; nearest region {found['distance_km'].iloc[i]:.1f} km away"
            )
        elif state.match[i] == UNMATCHED:
            state.notes[i] = f"no NUTS {year} region within {tolerance_km:g} km of the coordinates"

    _check_countries(out, year, scale, tolerance_km, lon, lat, has_xy, state)
    _place_without_coordinates(out, year, scale, has_xy, state)
    _check_given_codes(out, has_xy, state)

    out["nuts3"] = pd.array([c if c else pd.NA for c in state.nuts3], dtype="string")
    with_levels(out)
    out["nuts_match"] = state.match
    out["nuts_note"] = state.notes
    out["placed_by"] = state.placed_by
    labels = _label_points(year, scale)
    approx = ~has_xy & out["nuts3"].notna().to_numpy()
    map_lon, map_lat = lon.copy(), lat.copy()
    if approx.any():
        codes = out.loc[approx, "nuts3"].to_numpy()
        map_lon[approx] = labels.loc[codes, "lon"].to_numpy()
        map_lat[approx] = labels.loc[codes, "lat"].to_numpy()
    out["map_lon"], out["map_lat"] = map_lon, map_lat
    return out


def _check_countries(
    out: pd.DataFrame,
    year: int,
    scale: str,
    tolerance_km: float,
    lon: np.ndarray,
    lat: np.ndarray,
    has_xy: np.ndarray,
    state: _Placement,
) -> None:
    """Flag regions in another country than stated; detect swapped latitude/longitude."""
    stated = out["country"].astype(object).to_numpy()
    region_country = np.array([c[:2] if c else None for c in state.nuts3], dtype=object)
    has_country = np.array([isinstance(c, str) and bool(c) for c in stated], dtype=bool)
    suspect = np.flatnonzero(has_xy & has_country & (region_country != stated))
    if not len(suspect):
        return
    swapped = assign_points(lat[suspect], lon[suspect], year, scale, tolerance_km)
    for j, i in enumerate(suspect):
        alt = swapped["nuts3"].iloc[j]
        if not pd.isna(alt) and str(alt)[:2] == stated[i]:
            where = f"in {region_country[i]}" if region_country[i] else "in no region"
            state.set(
                i,
                None,
                UNMATCHED,
                None,
                f"latitude and longitude look swapped: as given the point lies {where}, "
                f"swapped it lies in {stated[i]} ({alt}); correct the file",
            )
        elif region_country[i]:
            state.add_note(i, f"region lies in {region_country[i]} but the record states {stated[i]}")


def _check_given_codes(out: pd.DataFrame, has_xy: np.ndarray, state: _Placement) -> None:
    """Note where coordinates place a site in another region than its given nuts3 code."""
    if "nuts3" not in out:
        return
    given = out["nuts3"].astype(object).to_numpy()
    for i in np.flatnonzero(has_xy):
        code, placed = given[i], state.nuts3[i]
        if isinstance(code, str) and code and placed and code != placed:
            state.add_note(i, f"the coordinates lie in {placed}, the file gives nuts3 {code}")


def _place_without_coordinates(
    out: pd.DataFrame, year: int, scale: str, has_xy: np.ndarray, state: _Placement
) -> None:
    valid_codes = set(nuts.load(year, 3, scale)["NUTS_ID"])
    postcode = out["postcode"].astype(object).to_numpy() if "postcode" in out else np.full(len(out), None)
    given = out["nuts3"].astype(object).to_numpy() if "nuts3" in out else np.full(len(out), None)
    country = out["country"].astype(object).to_numpy()
    for i in np.flatnonzero(~has_xy):
        reasons = []
        if isinstance(postcode[i], str) and postcode[i] and isinstance(country[i], str):
            code_2024, note = postcodes.lookup(country[i], postcode[i])
            if code_2024:
                code, carry_note = carry_over(code_2024, year, scale)
                if code and code in valid_codes:
                    text = "; ".join(x for x in (f"placed by {note}", carry_note) if x)
                    state.set(i, code, WITHIN, "postcode", text)
                    continue
                note = carry_note or f"{code_2024} is not a NUTS {year} region"
            reasons.append(note)
        if isinstance(given[i], str) and given[i]:
            if given[i] in valid_codes:
                text = "; ".join([f"placed by the given NUTS {year} code", *reasons])
                state.set(i, given[i], WITHIN, "nuts3", text)
                continue
            reasons.append(f"nuts3 {given[i]} is not a NUTS {year} level-3 code; check the NUTS version")
        state.notes[i] = "; ".join(reasons) or "no coordinates, postcode or nuts3 to place the site"
