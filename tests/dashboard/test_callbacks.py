"""The registered callbacks, called directly (Dash keeps the undecorated function as __wrapped__)."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pandas as pd
import pytest
from dash import html, no_update

from dashboard import views
from dashboard.data import SAMPLE_FILE, AtlasData
from dashboard.ids import Ids
from geodata.aggregate import Filters
from layers import bitset

pytestmark = pytest.mark.integration

NO_FILTERS = (None, None, None, None, None)  # stages, bottlenecks, platforms, countries, sizes


@pytest.fixture(scope="module")
def app(real_nuts):
    from app import create_app

    return create_app(SAMPLE_FILE, "official")


@pytest.fixture(scope="module")
def data(real_nuts) -> AtlasData:
    return AtlasData(SAMPLE_FILE, audience="official")


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(SAMPLE_FILE, dtype=str)


def callback(app, component_id: str, prop: str):
    """The undecorated function of the callback whose outputs include component_id.prop."""
    output = f"{component_id}.{prop}"
    matches = [
        entry["callback"] for key, entry in app.callback_map.items() if output in key.strip(".").split("...")
    ]
    assert len(matches) == 1, (output, list(app.callback_map))
    return matches[0].__wrapped__


def test_update_map(app, data: AtlasData) -> None:
    update_map = callback(app, Ids.REGION_CLASSES, "data")
    url, hideout, legend, cards, status = update_map(
        "2021", "3", "facilities", ["fill_finish"], None, None, None, None, "quantiles", "5"
    )
    expected = views.map_update(data, 2021, 3, "facilities", Filters(stages=("fill_finish",)), "quantiles", 5)
    assert url == expected.regions_url
    assert url.startswith("/atlas/geo/regions-2021-3.json?v=")
    assert hideout == expected.classes
    assert hideout["key"] == "2021-3"
    assert len(hideout["cls"]) == len(data.region_order(2021, 3))
    assert status == ""  # every sample site is placed
    assert isinstance(legend, html.Div)
    assert [card.id for card in cards] == [
        "card-sites",
        "card-companies",
        "card-countries",
        "card-capacity",
        "card-available",
    ]
    assert cards[0].children.children[1].children == "30"


def test_update_map_specialisation_without_stage_has_a_note(app) -> None:
    update_map = callback(app, Ids.LEGEND, "children")
    _, hideout, legend, _, _ = update_map(2024, 2, "specialisation", *NO_FILTERS, "equal_interval", 3)
    assert hideout["key"] == "2024-2"
    assert hideout["colors"] == []
    assert max(hideout["cls"]) == -2  # no location quotient without a stage: nothing is coloured
    assert legend.children[-1].children == "Select a production stage to see specialisation."


def test_update_basemap(app, data: AtlasData) -> None:
    update_basemap = callback(app, Ids.BASEMAP, "url")
    assert update_basemap("2021") == f"/atlas/geo/basemap-2021.json?v={data.basemap_geojson(2021).etag}"


def test_show_region(app, data: AtlasData) -> None:
    show_region = callback(app, Ids.INFO, "children")
    assert show_region(None, 2021, 3, "facilities", *NO_FILTERS) == "Hover over a region"
    code = data.placed(2021)["nuts3"].iloc[0]
    lines = show_region({"properties": {"id": code}}, "2021", "3", "facilities", *NO_FILTERS)
    assert lines[0].children == f"{data.names(2021)[code]} ({code})"
    assert lines[1].children.startswith("Sites: ")


def test_update_sites(app, data: AtlasData, raw: pd.DataFrame) -> None:
    update_sites = callback(app, Ids.SITES, "hideout")
    assert update_sites(None) == (None, {})
    assert update_sites({"show": False}) == (None, {})
    query = {"show": True, "version": 2021, "filters": [None, None, None, ["DE"], None]}
    url, hideout = update_sites(query)
    assert url == f"/atlas/geo/sites-2021.json?v={data.fingerprint}"
    assert hideout["n"] == len(raw)
    assert bitset.decode(hideout["bits"], hideout["n"]).sum() == (raw["country"] == "DE").sum()


def sent_csv(sent: dict) -> pd.DataFrame:
    assert sent["type"] == "text/csv"
    assert sent["base64"] is True
    content = base64.b64decode(sent["content"])
    assert content.startswith(b"\xef\xbb\xbf")
    return pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str)


def test_download_sites(app, raw: pd.DataFrame) -> None:
    download_sites = callback(app, Ids.DOWNLOAD_SITES, "data")
    assert download_sites(None, 2021, *NO_FILTERS) is no_update
    assert download_sites(0, 2021, *NO_FILTERS) is no_update
    sent = download_sites(1, "2021", ["fill_finish"], None, None, ["DE"], None)
    assert sent["filename"].startswith("sites_sample_facilities_nuts2021_")
    assert sent["filename"].endswith(".csv")
    stamp = sent["filename"].removeprefix("sites_sample_facilities_nuts2021_").removesuffix(".csv")
    stamped = dt.datetime.strptime(stamp, "%Y%m%d-%H%M%S").replace(tzinfo=dt.UTC)
    assert abs(dt.datetime.now(dt.UTC) - stamped) < dt.timedelta(minutes=5)  # UTC time of the click
    rows = sent_csv(sent)
    expected = raw[raw["stages"].str.split(";").map(lambda s: "fill_finish" in s) & (raw["country"] == "DE")]
    assert rows["facility_id"].tolist() == expected["facility_id"].tolist()
    assert set(rows["audience"]) == {"official"}


def test_download_regions(app, data: AtlasData) -> None:
    download_regions = callback(app, Ids.DOWNLOAD_REGIONS, "data")
    assert download_regions(None, 2021, 2, *NO_FILTERS) is no_update
    sent = download_regions(2, "2021", "2", None, ["vials_stoppers"], None, None, None)
    assert sent["filename"].startswith("regions_sample_facilities_nuts2021_level2_")
    rows = sent_csv(sent)
    table = data.regions(2021, 2, Filters(bottlenecks=("vials_stoppers",)))
    assert rows["nuts_id"].tolist() == table.index.tolist()
    assert set(rows["filters"]) == {"bottleneck: vials_stoppers"}
