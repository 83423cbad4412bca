"""NUTS boundaries from Eurostat GISCO: find, download, validate and load (EPSG:4326).

Where a file comes from, in order:
1. the folder named by the environment variable NUTS_DATA_DIR;
2. the project's user cache folder (see :func:`cache_dir`);
3. a download from GISCO's distribution service into that cache (``fetch``); the environment
   variable NUTS_DOWNLOAD_URL (a pattern with ``{name}``) points it at a mirror instead.

Loading never downloads by itself: the dashboard and the CLI call :func:`ensure_files` first
when they are allowed to, so an offline machine gets a clear message instead of a hang.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import platformdirs

from geodata.vocab import NUTS_LEVELS, NUTS_SCALES, NUTS_YEARS

GISCO_URL = "https://gisco-services.ec.europa.eu/distribution/v2/nuts/geojson/{name}"
ATTRIBUTION = "© EuroGeographics for the administrative boundaries"
SOURCE = "Eurostat GISCO, Territorial units for statistics (NUTS)"
REQUIRED_COLUMNS = ("NUTS_ID", "LEVL_CODE", "CNTR_CODE", "NAME_LATN")
CRS = "EPSG:4326"
APP_NAME = "vaccine-capacity-atlas"


class NutsDataError(RuntimeError):
    """A NUTS file is missing or unusable; the message says which and what to do."""


@dataclass(frozen=True)
class NutsKey:
    """One boundary set: NUTS version (year), level 0-3, scale '20M'/'60M', regions or labels."""

    year: int = 2021
    level: int = 3
    scale: str = "20M"
    kind: str = "RG"  # RG: region polygons, LB: label points

    def __post_init__(self) -> None:
        _check_choice("year", self.year, NUTS_YEARS)
        _check_choice("level", self.level, NUTS_LEVELS)
        _check_choice("scale", self.scale, NUTS_SCALES)
        _check_choice("kind", self.kind, ("RG", "LB"))

    def level_file(self) -> str:
        """GISCO's name of the one-level file."""
        return f"{self._stem()}_LEVL_{self.level}.geojson"

    def all_levels_file(self) -> str:
        """GISCO's name of the all-levels file."""
        return f"{self._stem()}.geojson"

    def _stem(self) -> str:
        if self.kind == "LB":
            return f"NUTS_LB_{self.year}_4326"
        return f"NUTS_RG_{self.scale}_{self.year}_4326"


def _check_choice(name: str, value: object, allowed: tuple[object, ...]) -> None:
    if value not in allowed:
        shown = ", ".join(str(a) for a in allowed)
        raise ValueError(f"NUTS {name} must be one of {shown}; got {value!r}")


def cache_dir() -> Path:
    """The user cache folder where downloaded NUTS files live."""
    return Path(platformdirs.user_cache_dir(APP_NAME)) / "nuts"


def search_dirs() -> list[Path]:
    """Folders searched for NUTS files, in order: NUTS_DATA_DIR, then the user cache."""
    dirs = []
    env = os.environ.get("NUTS_DATA_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(cache_dir())
    return dirs


def find_file(key: NutsKey) -> tuple[Path, bool] | None:
    """The local file for ``key`` and whether it holds all levels; None when none is local."""
    for folder in search_dirs():
        for name, all_levels in ((key.level_file(), False), (key.all_levels_file(), True)):
            path = folder / name
            if path.is_file():
                return path, all_levels
    return None


def missing_message(key: NutsKey) -> str:
    """What to tell a user when no file for ``key`` is available locally."""
    places = "\n".join(f"  - {d}" for d in search_dirs())
    return (
        f"NUTS boundary file {key.level_file()} (or {key.all_levels_file()}) was not found in:\n"
        f"{places}\n"
        "Get it in one of two ways:\n"
        "  1. set NUTS_DATA_DIR to a folder holding GISCO's NUTS GeoJSON files, or\n"
        f"  2. on a connected machine run: python -m geodata fetch-nuts --year {key.year} "
        f"--scale {key.scale}\n"
        f"     (downloads from GISCO into {cache_dir()})."
    )


def fetch(
    key: NutsKey,
    progress: Callable[[int, int | None], None] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download the one-level file for ``key`` from GISCO into the cache, atomically.

    ``progress(bytes_done, bytes_total_or_None)`` is called as data arrives.
    Raises NutsDataError with the URL and reason when the download fails.
    """
    name = key.level_file()
    url = os.environ.get("NUTS_DOWNLOAD_URL", GISCO_URL).format(name=name)
    target = cache_dir() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{name}.", suffix=".part")
    try:  # the finally below removes the partial file whatever fails, download included
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                total = response.headers.get("Content-Length")
                total_bytes = int(total) if total and total.isdigit() else None
                done = 0
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total_bytes)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise NutsDataError(
                f"Could not download {url}: {exc}.\n"
                "Without internet access, set NUTS_DATA_DIR to a folder holding the GISCO files."
            ) from exc
        _read_validated(Path(tmp_name), key, all_levels=False)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target


def print_progress(done: int, total: int | None) -> None:
    """A one-line progress indicator on stderr for :func:`fetch`."""
    if total:
        sys.stderr.write(f"\r  {done / 1e6:6.2f} / {total / 1e6:.2f} MB ({100 * done / total:3.0f}%)")
    else:
        sys.stderr.write(f"\r  {done / 1e6:6.2f} MB")
    sys.stderr.flush()


def ensure_file(key: NutsKey, download: bool = True) -> Path:
    """The local path for ``key``, downloading it into the cache when allowed and missing."""
    found = find_file(key)
    if found:
        return found[0]
    if not download:
        raise NutsDataError(missing_message(key))
    try:
        return fetch(key, progress=print_progress)
    except NutsDataError as exc:
        raise NutsDataError(f"{missing_message(key)}\nThe download failed too: {exc}") from exc


def _read_validated(path: Path, key: NutsKey, all_levels: bool) -> gpd.GeoDataFrame:
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise NutsDataError(
            f"NUTS file {path} could not be read ({exc}); delete it and fetch it again."
        ) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise NutsDataError(
            f"NUTS file {path} lacks the column(s) {', '.join(missing)}; "
            "it is not a GISCO NUTS file. Replace it with the GISCO download."
        )
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise NutsDataError(f"NUTS file {path} is in CRS {frame.crs}, expected EPSG:4326 (lon/lat).")
    frame["LEVL_CODE"] = pd.to_numeric(frame["LEVL_CODE"]).astype(int)
    if all_levels:
        frame = frame[frame["LEVL_CODE"] == key.level]
    elif not (frame["LEVL_CODE"] == key.level).all():
        raise NutsDataError(f"NUTS file {path} holds levels other than {key.level}.")
    if frame.empty:
        raise NutsDataError(f"NUTS file {path} holds no regions of level {key.level}.")
    if frame["NUTS_ID"].duplicated().any():
        dupes = sorted(frame.loc[frame["NUTS_ID"].duplicated(), "NUTS_ID"])[:5]
        raise NutsDataError(f"NUTS file {path} repeats NUTS_ID {', '.join(dupes)}.")
    columns = [*REQUIRED_COLUMNS, "NUTS_NAME", "geometry"]
    frame = frame[[c for c in columns if c in frame.columns]]
    return frame.sort_values("NUTS_ID").reset_index(drop=True)


@functools.lru_cache(maxsize=32)
def load(year: int = 2021, level: int = 3, scale: str = "20M", kind: str = "RG") -> gpd.GeoDataFrame:
    """Regions (kind 'RG') or label points ('LB') of one NUTS version and level, EPSG:4326.

    Columns: NUTS_ID, LEVL_CODE, CNTR_CODE, NAME_LATN, NUTS_NAME, geometry; sorted by NUTS_ID.
    Loaded once per argument set and reused: treat the result as read-only.
    Raises NutsDataError when the file is not local (call ensure_file to download).
    """
    key = NutsKey(year, level, scale, kind)
    found = find_file(key)
    if found is None:
        raise NutsDataError(missing_message(key))
    return _read_validated(found[0], key, all_levels=found[1])


@functools.lru_cache(maxsize=8)
def names(year: int = 2021, scale: str = "20M") -> pd.Series:
    """NUTS_ID -> NAME_LATN for all levels of one version."""
    parts = [load(year, level, scale).set_index("NUTS_ID")["NAME_LATN"] for level in NUTS_LEVELS]
    return pd.concat(parts)


@functools.lru_cache(maxsize=16)
def region_points(year: int = 2021, level: int = 3, scale: str = "20M") -> pd.DataFrame:
    """One point per region of a version and level (EPSG:4326): GISCO's label point where its
    label file is local, else a point inside the region's polygon (``representative_point``).

    Columns lon, lat, kind ('label point' or 'point inside the region'); index NUTS_ID.
    """
    if find_file(NutsKey(year, level, scale, "LB")) is not None:
        points = load(year, level, scale, "LB")
        kind = "label point"
        geometry = points.geometry
    else:
        regions = load(year, level, scale)
        points, kind = regions, "point inside the region"
        geometry = regions.geometry.representative_point()
    return pd.DataFrame(
        {"lon": geometry.x.to_numpy(), "lat": geometry.y.to_numpy(), "kind": kind},
        index=pd.Index(points["NUTS_ID"].to_numpy(), name="NUTS_ID"),
    )
