"""The registered callbacks, called directly (Dash keeps the undecorated function as __wrapped__)
inside a request signed in with a role, as the sign-in guard lets them run."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
from collections.abc import Iterator

import pandas as pd
import pytest
from dash import html, no_update
from dash.exceptions import PreventUpdate
from flask_login import login_user

from dashboard import auth, views
from dashboard.data import SAMPLE_FILE, AtlasData
from dashboard.ids import Ids
from geodata import disclosure, store
from geodata.aggregate import Filters
from layers import bitset

pytestmark = pytest.mark.integration

NO_FILTERS = (None, None, None, None, None)  # stages, bottlenecks, platforms, countries, sizes
SENSITIVE = (
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
    "staff",
    "bottleneck_notes",
)


@pytest.fixture(scope="module")
def app(real_nuts):
    from app import create_app

    return create_app(SAMPLE_FILE, public=False)


@pytest.fixture(scope="module")
def data(app) -> AtlasData:
    """The app's round, read back from the store on its own, with the same rules (the rules come
    from the environment there too)."""
    return AtlasData(SAMPLE_FILE, rules=disclosure.Rules.from_env(), store=store.connect())


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE_FILE, dtype=str)
    frame["key"] = frame["company"].str.strip().str.casefold()
    unlisted = set(frame.loc[frame["public_listing"] != "yes", "key"])
    frame["listed"] = ~frame["key"].isin(unlisted)
    return frame


@contextlib.contextmanager
def signed_in(app, role: str | None) -> Iterator[None]:
    """A callback request of a demo session with ``role`` (None: nobody signed in)."""
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        if role is not None:
            login_user(auth.AuthUser("demo", role, f"demo:{role}"))
        yield


def callback(app, component_id: str, prop: str):
    """The undecorated function of the callback whose outputs include component_id.prop."""
    output = f"{component_id}.{prop}"
    matches = [
        entry["callback"]
        for key, entry in app.callback_map.items()
        if "callback" in entry and output in key.strip(".").split("...")
    ]
    assert len(matches) == 1, (output, list(app.callback_map))
    return matches[0].__wrapped__


def test_update_map(app, data: AtlasData, raw: pd.DataFrame) -> None:
    update_map = callback(app, Ids.REGION_CLASSES, "data")
    with signed_in(app, "official"):
        url, hideout, legend, cards, status, line, badge = update_map(
            None, None, "2021", "3", "facilities", ["fill_finish"], None, None, None, None, "quantiles", "5"
        )
    filters = Filters(stages=("fill_finish",))
    expected = views.map_update(data, 2021, 3, "facilities", filters, "quantiles", 5, "official")
    assert url == expected.regions_url
    assert url.startswith("/atlas/geo/regions-2021-3.json?v=")
    assert hideout == expected.classes
    assert hideout["key"] == "2021-3"
    assert len(hideout["cls"]) == len(data.region_order(2021, 3))
    assert status == ""  # every sample site is placed
    assert isinstance(legend, html.Div)
    assert line.startswith("Round sample_facilities (sample_facilities.csv) · 350 sites of 300 companies")
    assert badge == {}  # the sample round: the "Fictional sample data" badge shows
    assert [card.id for card in cards] == [
        "card-sites",
        "card-companies",
        "card-countries",
        "card-capacity",
        "card-available",
    ]
    fill = raw["stages"].str.split(";").map(lambda s: "fill_finish" in s)
    assert cards[0].children.children[1].children == str(fill.sum()) == "30"


def test_update_map_for_a_cluster_uses_the_cluster_release(app, data: AtlasData) -> None:
    update_map = callback(app, Ids.REGION_CLASSES, "data")
    with signed_in(app, "cluster"):
        _, hideout, _, cards, _, _, _ = update_map(
            None, None, 2021, 3, "capacity", *NO_FILTERS, "quantiles", 5
        )
    expected = views.map_update(data, 2021, 3, "capacity", Filters(), "quantiles", 5, "cluster")
    assert hideout == expected.classes
    assert -3 in hideout["cls"]  # withheld regions
    official = views.map_update(data, 2021, 3, "capacity", Filters(), "quantiles", 5, "official")
    assert -3 not in official.classes["cls"]
    assert [card.children.children[1].children for card in cards] == [
        card.children.children[1].children for card in expected.cards
    ]


def test_update_map_specialisation_without_stage_has_a_note(app) -> None:
    update_map = callback(app, Ids.LEGEND, "children")
    with signed_in(app, "official"):
        _, hideout, legend, _, _, _, _ = update_map(
            None, None, 2024, 2, "specialisation", *NO_FILTERS, "equal_interval", 3
        )
    assert hideout["key"] == "2024-2"
    assert hideout["colors"] == []
    assert max(hideout["cls"]) == -2  # no location quotient without a stage: nothing is coloured
    assert legend.children[-1].children == "Select a production stage to see specialisation."


def test_update_map_says_which_inputs_it_ignored(app) -> None:
    update_map = callback(app, Ids.STATUS, "children")
    with signed_in(app, "cluster"):
        _, hideout, _, _, status, _, _ = update_map(
            ["x"], None, "1999", 3, "doses", ["baking"], None, None, None, None, "x", 5
        )
    assert hideout["key"] == "2021-3"
    assert "Ignored NUTS version '1999' (used 2021)" in status
    assert "Ignored unknown stage code 'baking'" in status
    assert "The round must be given by its name; showing the latest." in status


def test_update_basemap(app, data: AtlasData) -> None:
    update_basemap = callback(app, Ids.BASEMAP, "url")
    with signed_in(app, "cluster"):
        url = update_basemap(None, "2021")
    assert url == f"/atlas/geo/basemap-2021.json?v={data.basemap_geojson(2021).etag}"


def test_show_region(app, data: AtlasData) -> None:
    show_region = callback(app, Ids.INFO, "children")
    with signed_in(app, "official"):
        assert show_region(None, None, None, 2021, 3, "facilities", *NO_FILTERS) == "Hover over a region"
        code = data.placed(2021)["nuts3"].iloc[0]
        lines = show_region({"properties": {"id": code}}, None, None, "2021", "3", "facilities", *NO_FILTERS)
    assert lines[0].children == f"{data.names(2021)[code]} ({code})"
    assert lines[1].children.startswith("Sites: ")


def test_show_region_for_a_cluster_says_withheld(app, data: AtlasData) -> None:
    show_region = callback(app, Ids.INFO, "children")
    table = data.regions(2021, 3, Filters(), "official")
    code = table.index[(table["companies"] > 0) & (table["companies"] < 3)][0]
    with signed_in(app, "cluster"):
        feature = {"properties": {"id": code}}
        lines = show_region(feature, "sample_facilities", None, 2021, 3, "capacity", *NO_FILTERS)
    assert [line.children for line in lines[1:]] == [
        "Capacity: withheld (confidential: too few companies)",
        "Sites: withheld",
    ]


def test_update_sites(app, data: AtlasData, raw: pd.DataFrame) -> None:
    update_sites = callback(app, Ids.SITES, "hideout")
    query = {"show": True, "version": 2021, "filters": [None, None, None, ["DE"], None]}
    with signed_in(app, "official"):
        assert update_sites(None) == (None, {})
        assert update_sites({"show": False}) == (None, {})
        url, hideout = update_sites(query)
    assert url == f"/atlas/geo/sites-2021.json?round=sample_facilities&v={data.fingerprint}-official"
    assert hideout["n"] == len(raw)
    assert bitset.decode(hideout["bits"], hideout["n"]).sum() == (raw["country"] == "DE").sum()
    with signed_in(app, "cluster"):
        url, hideout = update_sites(query)
    assert url == f"/atlas/geo/sites-2021.json?round=sample_facilities&v={data.fingerprint}-listed"
    assert hideout["n"] == raw["listed"].sum()
    german = (raw["country"] == "DE") & raw["listed"]
    assert bitset.decode(hideout["bits"], hideout["n"]).sum() == german.sum()


def sent_csv(sent: dict) -> pd.DataFrame:
    assert sent["type"] == "text/csv"
    assert sent["base64"] is True
    content = base64.b64decode(sent["content"])
    assert content.startswith(b"\xef\xbb\xbf")
    return pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str)


def test_download_sites(app, raw: pd.DataFrame) -> None:
    download_sites = callback(app, Ids.DOWNLOAD_SITES, "data")
    with signed_in(app, "official"):
        assert download_sites(None, None, 2021, *NO_FILTERS) is no_update
        assert download_sites(0, None, 2021, *NO_FILTERS) is no_update
        sent = download_sites(1, "sample_facilities", "2021", ["fill_finish"], None, None, ["DE"], None)
    assert sent["filename"].startswith("sites_sample_facilities_nuts2021_")
    assert sent["filename"].endswith(".csv")
    stamp = sent["filename"].removeprefix("sites_sample_facilities_nuts2021_").removesuffix(".csv")
    stamped = dt.datetime.strptime(stamp, "%Y%m%d-%H%M%S").replace(tzinfo=dt.UTC)
    assert abs(dt.datetime.now(dt.UTC) - stamped) < dt.timedelta(minutes=5)  # UTC time of the click
    rows = sent_csv(sent)
    expected = raw[raw["stages"].str.split(";").map(lambda s: "fill_finish" in s) & (raw["country"] == "DE")]
    assert rows["facility_id"].tolist() == expected["facility_id"].tolist()
    assert set(SENSITIVE) <= set(rows.columns)
    assert set(rows["role"]) == {"official"}


def test_download_sites_for_a_cluster(app, raw: pd.DataFrame) -> None:
    download_sites = callback(app, Ids.DOWNLOAD_SITES, "data")
    with signed_in(app, "cluster"):
        rows = sent_csv(download_sites(1, None, 2021, *NO_FILTERS))
    assert rows["facility_id"].tolist() == raw.loc[raw["listed"], "facility_id"].tolist()
    assert not set(SENSITIVE) & set(rows.columns)
    assert set(rows["role"]) == {"cluster"}


def test_download_regions(app, data: AtlasData) -> None:
    download_regions = callback(app, Ids.DOWNLOAD_REGIONS, "data")
    with signed_in(app, "official"):
        assert download_regions(None, None, 2021, 2, *NO_FILTERS) is no_update
        sent = download_regions(2, None, "2021", "2", None, ["vials_stoppers"], None, None, None)
    assert sent["filename"].startswith("regions_sample_facilities_nuts2021_level2_")
    rows = sent_csv(sent)
    table = data.regions(2021, 2, Filters(bottlenecks=("vials_stoppers",)), "official")
    assert rows["nuts_id"].tolist() == table.index.tolist()
    assert set(rows["filters"]) == {"bottleneck: vials_stoppers"}
    assert set(rows["role"]) == {"official"}


def test_download_regions_for_a_cluster_gives_reasons(app) -> None:
    download_regions = callback(app, Ids.DOWNLOAD_REGIONS, "data")
    with signed_in(app, "cluster"):
        rows = sent_csv(download_regions(1, None, 2021, 3, *NO_FILTERS))
    withheld = rows["facilities_withheld"].notna()
    assert withheld.any()
    assert rows.loc[withheld, "facilities"].isna().all()
    assert set(rows.loc[withheld, "facilities_withheld"]) <= set(disclosure.REASONS.values())
    assert set(rows["role"]) == {"cluster"}


@pytest.mark.parametrize(
    ("output", "args"),
    [
        ((Ids.REGION_CLASSES, "data"), (None, None, 2021, 3, "facilities", *NO_FILTERS, "quantiles", 5)),
        ((Ids.BASEMAP, "url"), (None, 2021)),
        (
            (Ids.INFO, "children"),
            ({"properties": {"id": "DE111"}}, None, None, 2021, 3, "facilities", *NO_FILTERS),
        ),
        ((Ids.SITES, "hideout"), ({"show": True, "version": 2021, "filters": list(NO_FILTERS)},)),
        ((Ids.DOWNLOAD_SITES, "data"), (1, None, 2021, *NO_FILTERS)),
        ((Ids.DOWNLOAD_REGIONS, "data"), (1, None, 2021, 2, *NO_FILTERS)),
        ((Ids.COUNTRY, "options"), (None,)),
    ],
)
def test_nothing_is_computed_without_a_role(app, output: tuple[str, str], args: tuple) -> None:
    function = callback(app, *output)
    with signed_in(app, None), pytest.raises(PreventUpdate):
        function(*args)


def find_props(node: object, component_id: str) -> dict | None:
    """The props of the component with this id in a Dash layout (JSON)."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict):
            if props.get("id") == component_id:
                return props
            return find_props(props.get("children"), component_id)
        return None
    if isinstance(node, list):
        for child in node:
            found = find_props(child, component_id)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("role", ["official", "cluster"])
def test_the_page_carries_its_first_map_for_its_role(app, data: AtlasData, role: str) -> None:
    """The shapes' URL and the classes come with the page (the browser fetches the shapes at
    once), and they are the role's own: a cluster's page holds the cluster release's classes."""
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(f"/demo/role/{role}", data={"csrf_token": token, "next": "/"})
    layout = client.get("/_dash-layout").get_json()
    expected = views.map_update(data, 2021, 2, "facilities", Filters(), "quantiles", 5, role)
    assert find_props(layout, Ids.REGIONS)["url"] == expected.regions_url
    assert find_props(layout, Ids.REGION_CLASSES)["data"] == expected.classes
    official = views.map_update(data, 2021, 2, "facilities", Filters(), "quantiles", 5, "official")
    if role == "cluster":
        assert expected.classes != official.classes  # withheld regions: not the official's map
