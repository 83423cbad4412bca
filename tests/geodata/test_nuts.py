"""Finding, validating, loading and downloading NUTS files (hand-made files in tmp folders)."""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path
from typing import ClassVar

import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import box

from geodata import nuts
from geodata.nuts import NutsDataError, NutsKey
from tests.conftest import TINY_2021, write_geojson


def test_loads_a_per_level_file_sorted_with_the_model_columns(tiny_nuts: Path) -> None:
    regions = nuts.load(2021, 3)
    expected = gpd.GeoDataFrame(
        {
            "NUTS_ID": ["DE111", "DE112", "FR101"],
            "LEVL_CODE": [3, 3, 3],
            "CNTR_CODE": ["DE", "DE", "FR"],
            "NAME_LATN": ["Kreis West", "Kreis Ost", "Commune Un"],
            "NUTS_NAME": ["Kreis West", "Kreis Ost", "Commune Un"],
        },
        geometry=[
            box(10, 50, 11, 51, ccw=False),
            box(11, 50, 12, 51, ccw=False),
            box(2, 46, 3, 47, ccw=False),
        ],
        crs="EPSG:4326",
    )
    assert_geodataframe_equal(regions, expected, check_dtype=False, check_less_precise=True, normalize=True)


def test_loads_one_level_of_the_all_levels_file(tiny_nuts: Path) -> None:
    assert nuts.load(2024, 3)["NUTS_ID"].tolist() == ["DE111", "DE113", "FR101"]
    assert nuts.load(2024, 2)["NUTS_ID"].tolist() == ["DE11", "FR10"]
    assert nuts.load(2024, 0)["LEVL_CODE"].tolist() == [0, 0]


def test_find_file_prefers_the_per_level_file(tiny_nuts: Path) -> None:
    write_geojson(tiny_nuts / "NUTS_RG_20M_2021_4326.geojson", TINY_2021)
    assert nuts.find_file(NutsKey(2021, 3)) == (tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_3.geojson", False)
    assert nuts.find_file(NutsKey(2024, 1)) == (tiny_nuts / "NUTS_RG_20M_2024_4326.geojson", True)
    assert nuts.find_file(NutsKey(2021, 3, "60M")) is None


def test_names_of_all_levels(tiny_nuts: Path) -> None:
    names = nuts.names(2021)
    assert names.to_dict() == {code: name for code, (name, _) in TINY_2021.items()}


def test_load_is_cached(tiny_nuts: Path) -> None:
    assert nuts.load(2021, 3) is nuts.load(2021, 3)
    assert nuts.load(2021, 3) is not nuts.load(2021, 2)


def test_missing_column_names_the_file_and_the_column(tiny_nuts: Path) -> None:
    path = tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_3.geojson"
    data = json.loads(path.read_text())
    for feature in data["features"]:
        del feature["properties"]["CNTR_CODE"]
    path.write_text(json.dumps(data))
    with pytest.raises(
        NutsDataError, match=r"NUTS_RG_20M_2021_4326_LEVL_3\.geojson lacks the column\(s\) CNTR_CODE"
    ):
        nuts.load(2021, 3)


def test_wrong_crs_is_refused(tiny_nuts: Path) -> None:
    path = tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_3.geojson"
    gpd.read_file(path).to_crs(3035).to_file(path, driver="GeoJSON")
    with pytest.raises(NutsDataError, match=r"LEVL_3\.geojson is in CRS EPSG:3035, expected EPSG:4326"):
        nuts.load(2021, 3)


def test_per_level_file_holding_other_levels_is_refused(tiny_nuts: Path) -> None:
    write_geojson(tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_3.geojson", TINY_2021)
    with pytest.raises(NutsDataError, match="holds levels other than 3"):
        nuts.load(2021, 3)


def test_repeated_codes_are_refused(tiny_nuts: Path) -> None:
    path = tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_3.geojson"
    data = json.loads(path.read_text())
    data["features"].append(data["features"][0])
    path.write_text(json.dumps(data))
    with pytest.raises(NutsDataError, match="repeats NUTS_ID DE111"):
        nuts.load(2021, 3)


def test_unreadable_file_says_to_fetch_it_again(tiny_nuts: Path) -> None:
    (tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_3.geojson").write_text("{not json")
    with pytest.raises(NutsDataError, match=r"could not be read .*delete it and fetch it again"):
        nuts.load(2021, 3)


def test_missing_file_message_names_file_folder_and_remedies(tiny_nuts: Path) -> None:
    with pytest.raises(NutsDataError) as info:
        nuts.load(2021, 3, "60M")
    message = str(info.value)
    assert "NUTS_RG_60M_2021_4326_LEVL_3.geojson (or NUTS_RG_60M_2021_4326.geojson) was not found" in message
    assert str(tiny_nuts) in message
    assert "set NUTS_DATA_DIR" in message
    assert "python -m geodata fetch-nuts --year 2021 --scale 60M" in message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"year": 2016}, "NUTS year must be one of 2021, 2024; got 2016"),
        ({"level": 4}, "NUTS level must be one of 0, 1, 2, 3; got 4"),
        ({"scale": "1M"}, "NUTS scale must be one of 20M, 60M; got '1M'"),
        ({"kind": "BN"}, "NUTS kind must be one of RG, LB; got 'BN'"),
    ],
)
def test_nuts_key_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NutsKey(**kwargs)


def test_gisco_file_names() -> None:
    assert NutsKey(2024, 2, "60M").level_file() == "NUTS_RG_60M_2024_4326_LEVL_2.geojson"
    assert NutsKey(2024, 2, "60M").all_levels_file() == "NUTS_RG_60M_2024_4326.geojson"
    assert NutsKey(2021, 3, kind="LB").level_file() == "NUTS_LB_2021_4326_LEVL_3.geojson"


def test_search_dirs_start_with_nuts_data_dir(tiny_nuts: Path) -> None:
    assert nuts.search_dirs() == [tiny_nuts, nuts.cache_dir()]


# -- download ---------------------------------------------------------------------------------


@pytest.fixture
def gisco(tiny_nuts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake GISCO server folder reached through file:// URLs; returns the cache folder."""
    server = tmp_path / "server"
    server.mkdir()
    for level in range(4):
        name = f"NUTS_RG_20M_2021_4326_LEVL_{level}.geojson"
        (server / name).write_bytes((tiny_nuts / name).read_bytes())
    monkeypatch.setattr(nuts, "GISCO_URL", server.as_uri() + "/{name}")
    return nuts.cache_dir()


def test_fetch_downloads_into_the_cache_with_progress(gisco: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    path = nuts.fetch(NutsKey(2021, 2), progress=lambda done, total: calls.append((done, total)))
    assert path == gisco / "NUTS_RG_20M_2021_4326_LEVL_2.geojson"
    size = path.stat().st_size
    assert calls and calls[-1] == (size, size)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert sorted(p.name for p in gisco.iterdir()) == [path.name]  # no temporary file left
    assert nuts.find_file(NutsKey(2021, 2, "20M")) is not None


def test_fetched_file_is_found_when_nuts_data_dir_lacks_it(gisco: Path, tiny_nuts: Path) -> None:
    (tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_1.geojson").unlink()
    assert nuts.ensure_file(NutsKey(2021, 1), download=True) == gisco / "NUTS_RG_20M_2021_4326_LEVL_1.geojson"
    assert nuts.load(2021, 1)["NUTS_ID"].tolist() == ["DE1", "FR1"]


def test_ensure_file_without_download_raises_the_missing_message(tiny_nuts: Path) -> None:
    with pytest.raises(NutsDataError, match="was not found in"):
        nuts.ensure_file(NutsKey(2021, 3, "60M"), download=False)


def test_failing_url_raises_and_leaves_no_file(gisco: Path) -> None:
    with pytest.raises(
        NutsDataError, match=r"Could not download file://.*NUTS_RG_60M_2021_4326_LEVL_3\.geojson"
    ):
        nuts.fetch(NutsKey(2021, 3, "60M"))
    assert list(gisco.iterdir()) == []


def test_ensure_file_reports_both_missing_file_and_failed_download(gisco: Path) -> None:
    with pytest.raises(
        NutsDataError, match=r"(?s)was not found in.*The download failed too: Could not download"
    ):
        nuts.ensure_file(NutsKey(2021, 3, "60M"))


def test_invalid_download_is_refused_and_removed(gisco: Path, tmp_path: Path) -> None:
    (tmp_path / "server" / "NUTS_RG_20M_2021_4326_LEVL_0.geojson").write_text('{"type": "FeatureCollection"')
    with pytest.raises(NutsDataError, match="could not be read"):
        nuts.fetch(NutsKey(2021, 0))
    assert list(gisco.iterdir()) == []


class _BrokenResponse(io.BytesIO):
    """A response that delivers one chunk and then loses the connection."""

    headers: ClassVar[dict[str, str]] = {"Content-Length": str(1 << 20)}

    def read(self, size: int = -1) -> bytes:
        if self.tell() == 0:
            return super().read(1 << 16)
        raise ConnectionResetError("connection reset by peer")


def test_interrupted_download_raises_and_leaves_no_partial_file(
    gisco: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _BrokenResponse(b"x" * (1 << 20)))
    calls: list[tuple[int, int | None]] = []
    with pytest.raises(NutsDataError, match="connection reset by peer"):
        nuts.fetch(NutsKey(2021, 3), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1 << 16, 1 << 20)]
    assert list(gisco.iterdir()) == []


def test_real_level_codes_are_integers(tiny_nuts: Path) -> None:
    # GISCO writes LEVL_CODE as a number; a text column must be read the same way
    path = tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_0.geojson"
    data = json.loads(path.read_text())
    for feature in data["features"]:
        feature["properties"]["LEVL_CODE"] = "0"
    path.write_text(json.dumps(data))
    assert pd.api.types.is_integer_dtype(nuts.load(2021, 0)["LEVL_CODE"])
