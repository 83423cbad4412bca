"""export-store / import-store: the whole store in one GeoPackage and back, losing nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pytest
from pandas.testing import assert_frame_equal

from geodata import store
from geodata.store import StoreError, gpkg

Dump = Callable[[store.Store], dict[str, list[tuple[Any, ...]]]]


def _fill(atlas: store.Store, sample: Path, messy: Path, tmp_path: Path) -> None:
    """A store with something in every table and every round status."""
    atlas.import_file(sample, "march", "ana", publish=True)
    atlas.import_file(messy, "april", "bo")
    copy = tmp_path / "copy of messy.csv"
    copy.write_bytes(messy.read_bytes())
    atlas.import_file(copy, "ignored", "cy")  # reuses 'april'
    atlas.discard("march", user="cy")
    atlas.import_file(sample, "march again", "ana", publish=True)
    atlas.request_introduction("april", "M1", "vials_stoppers", "Vaccine Co", "need 1M vials; soon")
    atlas.log("cy", "cluster", "export", "regions.csv")
    atlas.log("ana", "official", "api-read", "/api/v1/regions?level=2")


def test_export_then_import_loses_nothing(
    atlas: store.Store,
    empty_database: Callable[[], str],
    sample_file: Path,
    messy_file: Path,
    tmp_path: Path,
    dump: Dump,
) -> None:
    _fill(atlas, sample_file, messy_file, tmp_path)
    out = atlas.export_geopackage(tmp_path / "exports" / "store.gpkg")
    with store.connect(empty_database()) as restored:
        added = restored.import_geopackage(out)
        assert added == ["april", "march", "march again"]
        assert dump(restored) == dump(atlas)  # every row of every table
        for name in added:
            assert_frame_equal(restored.facilities(name), atlas.facilities(name))
            assert_frame_equal(restored.rejected(name), atlas.rejected(name))
            for year in (2021, 2024):
                assert_frame_equal(restored.placement(name, year), atlas.placement(name, year))
        assert restored.rounds() == atlas.rounds()
        assert [r.status for r in restored.rounds()] == ["discarded", "draft", "published"]
        # a second restore adds nothing
        assert restored.import_geopackage(out) == []
        assert dump(restored) == dump(atlas)


def test_a_round_of_the_same_name_from_another_file_restores_nothing(
    atlas: store.Store,
    empty_database: Callable[[], str],
    sample_file: Path,
    messy_file: Path,
    tmp_path: Path,
    dump: Dump,
) -> None:
    atlas.import_file(sample_file, "march", "ana")
    atlas.import_file(messy_file, "april", "ana")
    out = atlas.export_geopackage(tmp_path / "store.gpkg")
    other = tmp_path / "other.csv"
    other.write_text(
        messy_file.read_text(encoding="utf-8").replace("Messy One", "Other One"), encoding="utf-8"
    )
    with store.connect(empty_database()) as elsewhere:
        elsewhere.import_file(other, "april", "bo")
        state = dump(elsewhere)
        with pytest.raises(StoreError, match="round 'april' exists in this store from another file"):
            elsewhere.import_geopackage(out)
        assert dump(elsewhere) == state


def test_the_geopackage_is_readable_by_any_gis(atlas: store.Store, messy_file: Path, tmp_path: Path) -> None:
    atlas.import_file(messy_file, "april", "ana")
    out = atlas.export_geopackage(tmp_path / "store.gpkg")
    layers = dict(pyogrio.list_layers(out))
    assert layers["facilities"] == "Point" and set(gpkg.LAYERS) <= set(layers)
    sites = gpd.read_file(out, layer="facilities")
    assert sites.crs.to_epsg() == 4326
    m1 = sites.set_index("facility_id").loc["M1"]
    assert (m1.geometry.x, m1.geometry.y) == (11.575, 48.137)
    assert m1["nuts3_2021"] == "DE212" and m1["round"] == "april"
    assert sites.set_index("facility_id").loc["M7"].geometry is None  # no coordinates


def test_not_a_store_export_is_refused(atlas: store.Store, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        atlas.import_geopackage(tmp_path / "missing.gpkg")
    stranger = tmp_path / "stranger.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=gpd.points_from_xy([1], [2]), crs=4326).to_file(stranger)
    with pytest.raises(StoreError, match="not a store export"):
        atlas.import_geopackage(stranger)
    with pytest.raises(StoreError, match=r"ending in \.gpkg"):
        atlas.export_geopackage(tmp_path / "store.zip")
