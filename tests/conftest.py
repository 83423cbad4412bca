"""Shared fixtures: hand-made NUTS files, the real GISCO files, the bundled sample data."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from geodata import nuts, placement

REPO = Path(__file__).resolve().parent.parent
# the apps the tests start build profiles, search indexes and the overview on first use, not in
# a background thread each (dozens of apps warming at once would slow the run several times);
# tests of the warm-up call it themselves
os.environ.setdefault("ATLAS_WARM", "no")
SAMPLE_FACILITIES = REPO / "data" / "sample_facilities.csv"
REAL_NUTS_FILES = (
    *(f"NUTS_RG_20M_2021_4326_LEVL_{level}.geojson" for level in range(4)),
    *(f"NUTS_RG_60M_2021_4326_LEVL_{level}.geojson" for level in range(4)),
    "NUTS_LB_2021_4326_LEVL_3.geojson",
    "NUTS_RG_20M_2024_4326.geojson",
)

#: Hand-made regions: NUTS_ID -> (name, (lon_min, lat_min, lon_max, lat_max)), EPSG:4326.
TINY_2021 = {
    "DE": ("Deutschland", (10, 50, 12, 51)),
    "DE1": ("Land Eins", (10, 50, 12, 51)),
    "DE11": ("Bezirk Eins", (10, 50, 12, 51)),
    "DE111": ("Kreis West", (10, 50, 11, 51)),
    "DE112": ("Kreis Ost", (11, 50, 12, 51)),
    "FR": ("France", (2, 46, 3, 47)),
    "FR1": ("Région Un", (2, 46, 3, 47)),
    "FR10": ("Département Un", (2, 46, 3, 47)),
    "FR101": ("Commune Un", (2, 46, 3, 47)),
}
#: NUTS 2024: DE112 was renamed DE113 (same square), so DE113 is a 2024-only code.
TINY_2024 = {
    code if code != "DE112" else "DE113": (name, bounds) for code, (name, bounds) in TINY_2021.items()
}


def _feature(code: str, name: str, bounds: tuple[float, float, float, float]) -> dict:
    x0, y0, x1, y1 = bounds
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {
        "type": "Feature",
        "properties": {
            "NUTS_ID": code,
            "LEVL_CODE": len(code) - 2,
            "CNTR_CODE": code[:2],
            "NAME_LATN": name,
            "NUTS_NAME": name,
        },
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def write_geojson(path: Path, regions: dict[str, tuple[str, tuple[float, float, float, float]]]) -> Path:
    """Write regions as a GeoJSON FeatureCollection (EPSG:4326, GISCO's property names)."""
    features = [_feature(code, name, bounds) for code, (name, bounds) in regions.items()]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def clear_caches() -> None:
    """Forget every loaded NUTS table, so that a test sees the files of its own folder."""
    for cached in (nuts.load, nuts.names, placement._metric_regions, placement._label_points):
        cached.cache_clear()


@pytest.fixture
def tiny_nuts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A NUTS_DATA_DIR with hand-made NUTS 2021 (per level) and 2024 (all levels) files.

    The user cache is redirected into tmp_path too, so that no real download cache is seen.
    """
    folder = tmp_path / "nuts"
    folder.mkdir()
    for level in range(4):
        regions = {c: v for c, v in TINY_2021.items() if len(c) == level + 2}
        write_geojson(folder / f"NUTS_RG_20M_2021_4326_LEVL_{level}.geojson", regions)
    write_geojson(folder / "NUTS_RG_20M_2024_4326.geojson", TINY_2024)
    cache = tmp_path / "cache"
    monkeypatch.setenv("NUTS_DATA_DIR", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))  # for subprocesses
    monkeypatch.setattr(nuts, "cache_dir", lambda: cache / "nuts")
    clear_caches()
    yield folder
    clear_caches()


@pytest.fixture(scope="session")
def real_nuts() -> Path:
    """The folder of the real GISCO files (NUTS_DATA_DIR); skips when they are not there."""
    env = os.environ.get("NUTS_DATA_DIR")
    if not env:
        pytest.skip("NUTS_DATA_DIR is not set: point it at the GISCO NUTS files (../shared/geodata/nuts)")
    folder = Path(env).expanduser()
    missing = [name for name in REAL_NUTS_FILES if not (folder / name).is_file()]
    if missing:
        pytest.skip(f"NUTS_DATA_DIR={folder} lacks {', '.join(missing)}")
    return folder


@pytest.fixture(scope="session")
def sample_facilities() -> pd.DataFrame:
    """The bundled sample data as validated records; skips while the file does not exist yet."""
    from geodata import records

    if not SAMPLE_FACILITIES.is_file():
        pytest.skip(f"{SAMPLE_FACILITIES} does not exist (yet)")
    return records.load_facilities(SAMPLE_FACILITIES).facilities


@pytest.fixture(autouse=True, scope="session")
def survey_store_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Apps built by the tests keep their survey store in a temporary SQLite file, not in the
    user data folder (tests that choose a store of their own set ATLAS_DATABASE_URL themselves)."""
    saved = os.environ.get("ATLAS_DATABASE_URL")
    path = tmp_path_factory.mktemp("store") / "atlas.sqlite"
    os.environ["ATLAS_DATABASE_URL"] = f"sqlite:///{path}"
    yield
    if saved is None:
        os.environ.pop("ATLAS_DATABASE_URL", None)
    else:
        os.environ["ATLAS_DATABASE_URL"] = saved
