"""Views on the real NUTS files and the bundled sample: map payload, cards, exports, per role.

Expected figures come from the sample CSV itself (pandas), with each site placed by a spatial
join of its coordinates on the GISCO NUTS 3 polygons (geopandas), never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from dashboard import views
from dashboard.data import SAMPLE_FILE, AtlasData
from geodata import disclosure, vocab
from geodata.aggregate import Filters
from layers import bitset
from layers.choropleth import NO_DATA_CLASS, WITHHELD_CLASS, ZERO_CLASS, palette, short_number
from layers.classify import classify

pytestmark = pytest.mark.integration

NOW = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
FILL = Filters(stages=("fill_finish",))
SENSITIVE = (
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
    "staff",
    "bottleneck_notes",
)
FEW_TEXT = "confidential: too few companies"
RESTRICTED = ("cluster", "public")


@pytest.fixture(scope="module")
def raw(real_nuts) -> pd.DataFrame:
    """The sample file as plain text, with its stage lists split, a company key (case and spaces
    folded), whether the company may be named (every row of it says yes) and its NUTS 3 region
    (given, or found by a point-in-polygon join on the NUTS 2021 level 3 file)."""
    frame = pd.read_csv(SAMPLE_FILE, dtype=str, keep_default_na=False)
    frame["stage_list"] = frame["stages"].str.split(";")
    frame["key"] = frame["company"].str.strip().str.casefold()
    unlisted = set(frame.loc[frame["public_listing"] != "yes", "key"])
    frame["listed"] = ~frame["key"].isin(unlisted)
    frame["capacity"] = pd.to_numeric(frame["capacity_doses_per_month"]).fillna(0)
    frame["available"] = frame["capacity"] * pd.to_numeric(frame["available_capacity_pct"]).fillna(0) / 100
    polygons = gpd.read_file(os.path.join(real_nuts, "NUTS_RG_20M_2021_4326_LEVL_3.geojson"))
    located = frame["latitude"] != ""
    points = gpd.GeoDataFrame(
        index=frame.index[located],
        geometry=gpd.points_from_xy(
            frame.loc[located, "longitude"].astype(float), frame.loc[located, "latitude"].astype(float)
        ),
        crs="EPSG:4326",
    )
    joined = gpd.sjoin(points, polygons[["NUTS_ID", "geometry"]], predicate="within", how="left")
    assert not joined.index.duplicated().any()
    frame["n3"] = frame["nuts3"]
    frame.loc[joined.index, "n3"] = joined["NUTS_ID"]
    assert (frame["n3"].str.len() == 5).all()
    return frame


@pytest.fixture(scope="module")
def data(real_nuts) -> AtlasData:
    return AtlasData(SAMPLE_FILE, rules=disclosure.Rules(key="test-key"))


def with_stage(raw: pd.DataFrame, stage: str) -> pd.DataFrame:
    return raw[raw["stage_list"].map(lambda stages: stage in stages)]


def companies_per_region(raw: pd.DataFrame, level: int) -> pd.Series:
    return raw.groupby(raw["n3"].str.slice(0, level + 2))["key"].nunique()


def card_values(cards: list, part: int = 1) -> dict[str, str]:
    """Title -> value (part 1) or the small text under it (part 2) of each card."""
    values = {}
    for card in cards:
        parts = card.children.children
        values[parts[0].children] = parts[part].children
    return values


def geojson(payload) -> dict:
    return json.loads(gzip.decompress(payload.gzipped))


def test_independent_placement_agrees_with_the_dashboard(data: AtlasData, raw: pd.DataFrame) -> None:
    placed = data.placed(2021).set_index("facility_id")
    assert placed.loc[raw["facility_id"], "nuts3"].tolist() == raw["n3"].tolist()


@pytest.mark.parametrize("role", disclosure.ROLES)
def test_every_sample_site_is_placed(data: AtlasData, raw: pd.DataFrame, role: str) -> None:
    assert data.unplaced(2021) == 0
    assert data.index(2021).n == len(raw) == 350
    assert views.status(data, 2021, role) == ""


def test_sites_that_cannot_be_placed_are_reported_not_dropped(real_nuts, tmp_path) -> None:
    path = tmp_path / "two.csv"
    path.write_text(
        "facility_id,company,country,stages,latitude,longitude\n"
        "A,Alpha,DE,qc_testing,48.137,11.575\n"
        "B,Beta,PT,qc_testing,45.0,-20.0\n",  # mid-Atlantic: no region within 10 km
        encoding="utf-8",
    )
    data = AtlasData(path, rules=disclosure.Rules(key="test-key"))
    assert data.unplaced(2021) == 1
    assert views.status(data, 2021, "official") == (
        "1 of 2 sites could not be placed in a NUTS 2021 region and are not counted; "
        "python -m geodata assign two.csv --out placed.csv --year 2021 says why."
    )
    update = views.map_update(data, 2021, 0, "facilities", Filters(), "quantiles", 5, "official")
    assert update.status == views.status(data, 2021, "official")
    # other roles hear that sites are missing, not how many (a count of all sites)
    cluster = "Some sites could not be placed in a NUTS 2021 region and are not counted."
    assert views.status(data, 2021, "cluster") == cluster
    assert (
        views.map_update(data, 2021, 0, "facilities", Filters(), "quantiles", 5, "cluster").status == cluster
    )


@pytest.mark.parametrize(("version", "level"), [(2021, 3), (2021, 0), (2024, 2)])
@pytest.mark.parametrize("role", ["official", "cluster"])
def test_map_update_points_at_the_geometry_of_version_and_level(
    data: AtlasData, version: int, level: int, role: str
) -> None:
    update = views.map_update(data, version, level, "facilities", Filters(), "quantiles", 5, role)
    payload = data.region_geojson(version, level)
    assert update.regions_url == f"/atlas/geo/regions-{version}-{level}.json?v={payload.etag}"
    features = geojson(payload)["features"]
    order = data.region_order(version, level)
    assert update.classes["key"] == f"{version}-{level}"
    assert {f["properties"]["k"] for f in features} == {update.classes["key"]}
    assert [f["properties"]["id"] for f in features] == order
    assert len(update.classes["cls"]) == len(order)
    assert all(len(code) == level + 2 for code in order)


def test_map_classes_line_up_with_the_regions(data: AtlasData, raw: pd.DataFrame) -> None:
    update = views.map_update(data, 2021, 3, "facilities", Filters(), "quantiles", 5, "official")
    order = data.region_order(2021, 3)
    classes = dict(zip(order, update.classes["cls"], strict=True))
    with_sites = set(raw["n3"])
    covered = set(raw["country"])
    assert {"CY", "MT"} <= set(data.map_countries) - covered  # EU members without sample sites
    for code, klass in classes.items():
        if code in with_sites:
            assert klass >= 0, code
        elif code[:2] in covered:
            assert klass == ZERO_CLASS, code
        else:
            assert klass == NO_DATA_CLASS, code
    # many regions hold one site, so the quintiles collapse to fewer classes
    counts = raw["n3"].value_counts().reindex(order)
    zero = counts.isna() & pd.Series(order, index=order).str.slice(0, 2).isin(covered)
    values = counts.where(~zero, 0).to_numpy(float)
    expected = classify(values, "quantiles", 5)
    assert update.classes["cls"] == expected.klass.tolist()
    assert update.classes["colors"] == palette(expected.k)
    assert max(update.classes["cls"]) == expected.k - 1


def test_stage_filter_counts_sites_with_that_stage(data: AtlasData, raw: pd.DataFrame) -> None:
    fill = with_stage(raw, "fill_finish")
    assert len(fill) == 30
    for level in vocab.NUTS_LEVELS:
        table = data.regions(2021, level, FILL, "official")
        assert table["facilities"].sum() == len(fill)
    table = data.regions(2021, 3, FILL, "official")
    assert set(table.index[table["facilities"] > 0]) == set(fill["n3"])
    update = views.map_update(data, 2021, 3, "facilities", FILL, "natural_breaks", 4, "official")
    assert sum(k >= 0 for k in update.classes["cls"]) == fill["n3"].nunique()


def test_official_cards_count_the_matching_sites(data: AtlasData, raw: pd.DataFrame) -> None:
    fill = with_stage(raw, "fill_finish")
    values = card_values(views.cards(data, 2021, FILL, "official"))
    assert list(values) == ["Sites", "Companies", "Countries", "Capacity", "Available"]
    assert values == {
        "Sites": f"{len(fill):,}",
        "Companies": f"{fill['key'].nunique():,}",
        "Countries": f"{fill['country'].nunique():,}",
        "Capacity": short_number(fill["capacity"].sum()),
        "Available": short_number(fill["available"].sum()),
    }
    values = card_values(views.cards(data, 2021, Filters(), "official"))
    assert values["Sites"] == "350"
    assert values["Countries"] == "25"
    german = card_values(views.cards(data, 2021, Filters(countries=("DE",)), "official"))
    assert german["Sites"] == str((raw["country"] == "DE").sum())


@pytest.mark.parametrize("role", RESTRICTED)
def test_cluster_cards_are_close_to_the_truth(data: AtlasData, raw: pd.DataFrame, role: str) -> None:
    fill = with_stage(raw, "fill_finish")
    values = card_values(views.cards(data, 2021, FILL, role))
    assert list(values) == ["Sites", "Companies", "Countries", "Capacity", "Available"]
    # counts carry a noise of at most one (Rules.count_noise), but never reveal fewer than 3 companies
    assert abs(int(values["Sites"]) - len(fill)) <= 1
    assert abs(int(values["Companies"]) - fill["key"].nunique()) <= 1
    assert int(values["Companies"]) >= 3
    assert values["Countries"] == f"{fill['country'].nunique():,}"
    assert card_values(views.cards(data, 2021, FILL, role), part=2)["Sites"] == "matching the filters"


@pytest.mark.parametrize("role", RESTRICTED)
def test_cards_say_withheld_and_why_when_few_companies_match(
    data: AtlasData, raw: pd.DataFrame, role: str
) -> None:
    fill = with_stage(raw, "fill_finish")
    few = [c for c in sorted(set(fill["country"])) if fill.loc[fill["country"] == c, "key"].nunique() < 3]
    assert few
    filters = Filters(stages=("fill_finish",), countries=(few[0],))
    cards = views.cards(data, 2021, filters, role)
    assert set(card_values(cards).values()) == {"withheld"}
    assert set(card_values(cards, part=2).values()) == {FEW_TEXT}
    # the official sees the figures of the same selection
    official = card_values(views.cards(data, 2021, filters, "official"))
    assert official["Sites"] == str((fill["country"] == few[0]).sum())


def read_csv(content: bytes) -> pd.DataFrame:
    assert content.startswith(b"\xef\xbb\xbf")
    return pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_export_sites_has_the_matching_sites(data: AtlasData, raw: pd.DataFrame) -> None:
    filters = Filters(stages=("fill_finish", "formulation"), countries=("DE", "FR", "IT"))
    content, name = views.export_sites(data, 2021, filters, NOW, "official")
    assert name == "sites_sample_facilities_nuts2021_20240506-070809.csv"
    rows = read_csv(content)
    expected = raw[
        raw["stage_list"].map(lambda s: "fill_finish" in s or "formulation" in s)
        & raw["country"].isin(["DE", "FR", "IT"])
    ]
    assert len(expected) > 0
    assert rows["facility_id"].tolist() == expected["facility_id"].tolist()
    assert rows["company"].tolist() == expected["company"].tolist()
    capacity = pd.to_numeric(rows["capacity_doses_per_month"]).fillna(-1)
    assert capacity.tolist() == pd.to_numeric(expected["capacity_doses_per_month"]).fillna(-1).tolist()
    assert set(SENSITIVE) <= set(rows.columns)
    assert set(rows["filters"]) == {"stage: fill_finish, formulation; country: DE, FR, IT"}
    assert set(rows["role"]) == {"official"}


@pytest.mark.parametrize("role", RESTRICTED)
def test_cluster_export_sites_has_only_listed_companies_and_no_sensitive_fields(
    data: AtlasData, raw: pd.DataFrame, role: str
) -> None:
    content, _ = views.export_sites(data, 2021, Filters(), NOW, role)
    rows = read_csv(content)
    # only sites of companies that agreed to a public listing (on every row), by name
    listed = raw[raw["listed"]]
    assert 0 < len(listed) < len(raw)
    assert rows["facility_id"].tolist() == listed["facility_id"].tolist()
    assert rows["company"].tolist() == listed["company"].tolist()
    assert not set(SENSITIVE) & set(rows.columns)
    assert "public_listing" not in rows.columns
    assert set(rows["role"]) == {role}
    text = content.decode("utf-8-sig")
    for company in set(raw.loc[~raw["listed"], "company"]):
        assert company not in text
    assert "Fictional sample" not in text  # every filled note starts so


def test_cluster_export_sites_with_a_stage_filter(data: AtlasData, raw: pd.DataFrame) -> None:
    content, _ = views.export_sites(data, 2021, FILL, NOW, "cluster")
    expected = with_stage(raw, "fill_finish")
    assert (
        read_csv(content)["facility_id"].tolist() == expected.loc[expected["listed"], "facility_id"].tolist()
    )


@pytest.mark.parametrize("role", ["official", "cluster"])
def test_export_regions_has_the_rows_of_the_regions_table(data: AtlasData, role: str) -> None:
    content, name = views.export_regions(data, 2021, 2, FILL, NOW, role)
    assert name == "regions_sample_facilities_nuts2021_level2_20240506-070809.csv"
    rows = read_csv(content)
    table = data.regions(2021, 2, FILL, role)
    assert rows["nuts_id"].tolist() == table.index.tolist()
    assert set(rows["level"]) == {"2"}
    assert rows["name"].tolist() == data.names(2021).reindex(table.index).tolist()
    assert set(rows["role"]) == {role}


def test_cluster_withholds_regions_with_fewer_than_three_companies(
    data: AtlasData, raw: pd.DataFrame
) -> None:
    companies = companies_per_region(raw, 3)
    few = companies.index[companies < 3]
    many = companies.index[companies >= 3]
    assert len(few) and len(many)
    hidden = data.regions(2021, 3, Filters(), "cluster")
    metrics = [m for m in vocab.METRICS if m != "specialisation"]
    assert hidden.loc[few, metrics].isna().all().all()
    for metric in metrics:
        assert set(hidden.loc[few, disclosure.withheld_column(metric)]) == {"few"}
    # regions of three or more companies show their site count (noise of at most one) unless a
    # neighbouring figure must protect a confidential one
    counts = raw["n3"].value_counts()
    shown = [code for code in many if not np.isnan(hidden.loc[code, "facilities"])]
    assert shown
    for code in shown:
        assert abs(hidden.loc[code, "facilities"] - counts[code]) <= 1, code
    update = views.map_update(data, 2021, 3, "facilities", Filters(), "quantiles", 5, "cluster")
    classes = dict(zip(data.region_order(2021, 3), update.classes["cls"], strict=True))
    assert {classes[code] for code in few} == {WITHHELD_CLASS}
    assert all(classes[code] >= 0 for code in shown)
    # the official view of the same regions is not withheld
    official_update = views.map_update(data, 2021, 3, "facilities", Filters(), "quantiles", 5, "official")
    assert WITHHELD_CLASS not in official_update.classes["cls"]
    # and the cluster regions export leaves their values empty and says why
    rows = read_csv(views.export_regions(data, 2021, 3, Filters(), NOW, "cluster")[0]).set_index("nuts_id")
    for code in few[:5]:
        assert rows.loc[code, "facilities"] == ""
        assert rows.loc[code, "capacity"] == ""
        assert rows.loc[code, "facilities_withheld"] == FEW_TEXT
        assert rows.loc[code, "capacity_withheld"] == FEW_TEXT


def test_region_info_for_a_withheld_region(data: AtlasData, raw: pd.DataFrame) -> None:
    companies = companies_per_region(raw, 3)
    code = companies.index[companies < 3][0]
    name = data.names(2021)[code]
    lines = [div.children for div in views.region_info(data, 2021, 3, "capacity", Filters(), code, "cluster")]
    assert lines == [f"{name} ({code})", f"Capacity: withheld ({FEW_TEXT})", "Sites: withheld"]
    lines = [
        div.children for div in views.region_info(data, 2021, 3, "facilities", Filters(), code, "official")
    ]
    sites = int((raw["n3"] == code).sum())
    assert lines == [
        f"{name} ({code})",
        f"Sites: {sites} sites",
        "Not shown to other roles (too few companies)",
    ]


def test_official_specialisation_without_stage_is_never_withheld(data: AtlasData, raw: pd.DataFrame) -> None:
    update = views.map_update(data, 2021, 3, "specialisation", Filters(), "quantiles", 5, "official")
    assert set(update.classes["cls"]) == {NO_DATA_CLASS}
    companies = companies_per_region(raw, 3)
    code = companies.index[companies < 3][0]
    lines = [
        div.children
        for div in views.region_info(data, 2021, 3, "specialisation", Filters(), code, "official")
    ]
    assert lines[1] == "Specialisation (location quotient): select a production stage"


def test_sites_hideout_bits_mark_the_matching_sites(data: AtlasData, raw: pd.DataFrame) -> None:
    hideout = views.sites_hideout(data, 2021, FILL, "official")
    assert hideout["n"] == 350
    mask = bitset.decode(hideout["bits"], hideout["n"])
    placed = data.placed(2021)
    rows = data.index(2021).row
    ids = placed.iloc[rows[mask]]["facility_id"].tolist()
    assert ids == with_stage(raw, "fill_finish")["facility_id"].tolist()


def test_cluster_sites_hideout_covers_only_listed_sites(data: AtlasData, raw: pd.DataFrame) -> None:
    hideout = views.sites_hideout(data, 2021, FILL, "cluster")
    assert hideout["n"] == int(raw["listed"].sum())
    mask = bitset.decode(hideout["bits"], hideout["n"])
    features = geojson(data.sites_payload(2021, "cluster"))["features"]
    assert len(features) == hideout["n"]  # one bit per point the role holds
    listed = raw[raw["listed"]].reset_index(drop=True)
    fill = listed["stage_list"].map(lambda s: "fill_finish" in s).to_numpy()
    assert mask.tolist() == fill.tolist()


@pytest.mark.parametrize("role", RESTRICTED)
def test_cluster_site_points_are_only_of_listed_companies(
    data: AtlasData, raw: pd.DataFrame, role: str
) -> None:
    features = geojson(data.sites_payload(2021, role))["features"]
    listed = raw[raw["listed"]]
    assert [f["properties"]["company"] for f in features] == listed["company"].tolist()
    hidden = raw[~raw["listed"] & (raw["latitude"] != "")]
    secret_points = set(zip(hidden["longitude"].astype(float), hidden["latitude"].astype(float), strict=True))
    assert secret_points
    assert not {tuple(f["geometry"]["coordinates"]) for f in features} & secret_points
    assert not any("capacity" in key for f in features for key in f["properties"])


def test_official_site_points_name_every_company(data: AtlasData, raw: pd.DataFrame) -> None:
    features = geojson(data.sites_payload(2021, "official"))["features"]
    assert [f["properties"]["company"] for f in features] == raw["company"].tolist()
    assert not any("capacity" in key for f in features for key in f["properties"])


def test_sites_url_names_the_role_group(data: AtlasData) -> None:
    assert (
        views.sites_url(data, 2021, "official") == f"/atlas/geo/sites-2021.json?v={data.fingerprint}-official"
    )
    listed = f"/atlas/geo/sites-2021.json?v={data.fingerprint}-listed"
    assert views.sites_url(data, 2021, "cluster") == views.sites_url(data, 2021, "public") == listed


def test_basemap_flags_the_mapped_countries(data: AtlasData) -> None:
    features = geojson(data.basemap_geojson(2021))["features"]
    covered = {f["properties"]["id"] for f in features if f["properties"]["covered"]}
    assert covered == set(data.map_countries) == set(vocab.EU_MEMBER_STATES)
    assert len(features) > len(covered)  # neighbours are drawn too


def test_geo_url() -> None:
    assert views.geo_url("regions", 2021, 3, "abc") == "/atlas/geo/regions-2021-3.json?v=abc"
    assert views.geo_url("basemap", 2024, None, "e") == "/atlas/geo/basemap-2024.json?v=e"


def test_filters_from_treats_empty_inputs_as_all() -> None:
    assert views.filters_from(None, [], None, ["de"], None) == Filters(countries=("DE",))


def test_warm_builds_every_region_shape_before_the_first_request(real_nuts) -> None:
    data = AtlasData(SAMPLE_FILE, rules=disclosure.Rules(key="test-key"))
    shapes = data.shapes
    assert shapes.region_geojson.cache_info().currsize == 0
    data.warm()
    assert shapes.region_geojson.cache_info().currsize == 8  # 2 versions x 4 levels
    assert shapes.basemap_geojson.cache_info().currsize == 2
    hits = shapes.region_geojson.cache_info().hits
    views.map_update(data, 2021, 3, "facilities", Filters(), "quantiles", 5, "cluster")
    assert shapes.region_geojson.cache_info().hits == hits + 1  # served from what warm() built
    # another round drawing the same countries shares the shapes: nothing is built twice
    other = AtlasData(SAMPLE_FILE, rules=disclosure.Rules(key="test-key"), shapes=shapes)
    assert other.shapes is shapes
