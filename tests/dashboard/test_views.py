"""Views on the real NUTS files and the bundled sample: map payload, cards, exports, disclosure."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json

import pandas as pd
import pytest

from dashboard import views
from dashboard.data import SAMPLE_FILE, AtlasData
from geodata import vocab
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


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The sample file as plain text, with its stage lists split."""
    frame = pd.read_csv(SAMPLE_FILE, dtype=str)
    frame["stage_list"] = frame["stages"].str.split(";")
    return frame


@pytest.fixture(scope="module")
def official(real_nuts) -> AtlasData:
    return AtlasData(SAMPLE_FILE, audience="official")


@pytest.fixture(scope="module")
def public(real_nuts) -> AtlasData:
    return AtlasData(SAMPLE_FILE, audience="public")


def with_stage(raw: pd.DataFrame, stage: str) -> pd.DataFrame:
    return raw[raw["stage_list"].map(lambda stages: stage in stages)]


def card_values(cards: list) -> dict[str, str]:
    values = {}
    for card in cards:
        title, value, _ = card.children.children
        values[title.children] = value.children
    return values


def geojson(payload) -> dict:
    return json.loads(gzip.decompress(payload.gzipped))


def test_every_sample_site_is_placed(official: AtlasData, raw: pd.DataFrame) -> None:
    assert official.unplaced(2021) == 0
    assert official.index(2021).n == len(raw) == 350
    assert views.status(official, 2021) == ""


def test_sites_that_cannot_be_placed_are_reported_not_dropped(real_nuts, tmp_path) -> None:
    path = tmp_path / "two.csv"
    path.write_text(
        "facility_id,company,country,stages,latitude,longitude\n"
        "A,Alpha,DE,qc_testing,48.137,11.575\n"
        "B,Beta,PT,qc_testing,45.0,-20.0\n",  # mid-Atlantic: no region within 10 km
        encoding="utf-8",
    )
    data = AtlasData(path, audience="official")
    assert data.unplaced(2021) == 1
    assert views.status(data, 2021) == (
        "1 of 2 sites could not be placed in a NUTS 2021 region and are not counted; "
        "python -m geodata assign two.csv --out placed.csv --year 2021 says why."
    )
    assert views.map_update(data, 2021, 0, "facilities", Filters(), "quantiles", 5).status == views.status(
        data, 2021
    )


@pytest.mark.parametrize(("version", "level"), [(2021, 3), (2021, 0), (2024, 2)])
def test_map_update_points_at_the_geometry_of_version_and_level(
    official: AtlasData, version: int, level: int
) -> None:
    update = views.map_update(official, version, level, "facilities", Filters(), "quantiles", 5)
    payload = official.region_geojson(version, level)
    assert update.regions_url == f"/atlas/geo/regions-{version}-{level}.json?v={payload.etag}"
    features = geojson(payload)["features"]
    order = official.region_order(version, level)
    assert update.classes["key"] == f"{version}-{level}"
    assert {f["properties"]["k"] for f in features} == {update.classes["key"]}
    assert [f["properties"]["id"] for f in features] == order
    assert len(update.classes["cls"]) == len(order)
    assert all(len(code) == level + 2 for code in order)


def test_map_classes_line_up_with_the_regions(official: AtlasData) -> None:
    update = views.map_update(official, 2021, 3, "facilities", Filters(), "quantiles", 5)
    order = official.region_order(2021, 3)
    classes = dict(zip(order, update.classes["cls"], strict=True))
    placed = official.placed(2021)
    with_sites = set(placed["nuts3"])
    covered = set(official.countries)
    assert {"CY", "MT"} <= set(official.map_countries) - covered  # EU members without sample sites
    for code, klass in classes.items():
        if code in with_sites:
            assert klass >= 0, code
        elif code[:2] in covered:
            assert klass == ZERO_CLASS, code
        else:
            assert klass == NO_DATA_CLASS, code
    # many regions hold one site, so the quintiles collapse to fewer classes
    values = official.regions(2021, 3, Filters())["facilities"].reindex(order).to_numpy(float)
    expected = classify(values, "quantiles", 5)
    assert update.classes["cls"] == expected.klass.tolist()
    assert update.classes["colors"] == palette(expected.k)
    assert max(update.classes["cls"]) == expected.k - 1


def test_stage_filter_counts_sites_with_that_stage(official: AtlasData, raw: pd.DataFrame) -> None:
    expected = len(with_stage(raw, "fill_finish"))
    assert expected > 0
    for level in vocab.NUTS_LEVELS:
        table = official.regions(2021, level, FILL)
        assert table["facilities"].sum() == expected
    table = official.regions(2021, 3, FILL)
    sites = official.placed(2021)
    regions_with_stage = sites.loc[sites["stages"].map(lambda s: "fill_finish" in s), "nuts3"]
    assert set(table.index[table["facilities"] > 0]) == set(regions_with_stage)
    update = views.map_update(official, 2021, 3, "facilities", FILL, "natural_breaks", 4)
    assert sum(k >= 0 for k in update.classes["cls"]) == regions_with_stage.nunique()


def test_cards_count_the_matching_sites(official: AtlasData, public: AtlasData, raw: pd.DataFrame) -> None:
    fill = with_stage(raw, "fill_finish")
    values = card_values(views.cards(official, 2021, FILL))
    assert list(values) == ["Sites", "Companies", "Countries", "Capacity", "Available"]
    assert values["Sites"] == f"{len(fill):,}"
    assert values["Companies"] == f"{fill['company'].str.strip().str.casefold().nunique():,}"
    assert values["Countries"] == f"{fill['country'].nunique():,}"
    values = card_values(views.cards(official, 2021, Filters()))
    assert values["Sites"] == "350"
    assert values["Countries"] == "25"
    assert card_values(views.cards(official, 2021, Filters(countries=("DE",))))["Sites"] == str(
        (raw["country"] == "DE").sum()
    )
    public_values = card_values(views.cards(public, 2021, FILL))
    assert public_values == {
        "Sites": f"{len(fill):,}",
        "Companies": f"{fill['company'].str.strip().str.casefold().nunique():,}",
        "Countries": f"{fill['country'].nunique():,}",
        "Capacity": short_number(public.summary(2021, FILL)["capacity"]),
        "Available": short_number(public.summary(2021, FILL)["available_capacity"]),
    }
    # a selection with fewer than 3 companies: the public capacity totals are withheld
    few = [c for c in sorted(set(fill["country"])) if fill.loc[fill["country"] == c, "company"].nunique() < 3]
    assert few
    small = card_values(views.cards(public, 2021, Filters(stages=("fill_finish",), countries=(few[0],))))
    assert (small["Capacity"], small["Available"]) == ("withheld", "withheld")


def test_official_capacity_card(official: AtlasData, raw: pd.DataFrame) -> None:
    capacity = pd.to_numeric(raw["capacity_doses_per_month"]).fillna(0)
    available = capacity * pd.to_numeric(raw["available_capacity_pct"]).fillna(0) / 100
    summary = official.summary(2021, Filters())
    assert summary["capacity"] == pytest.approx(capacity.sum())
    assert summary["available_capacity"] == pytest.approx(available.sum())
    cards = card_values(views.cards(official, 2021, Filters()))
    assert cards["Capacity"] == short_number(capacity.sum())
    assert cards["Available"] == short_number(available.sum())


def read_csv(content: bytes) -> pd.DataFrame:
    assert content.startswith(b"\xef\xbb\xbf")
    return pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_export_sites_has_the_matching_sites(official: AtlasData, raw: pd.DataFrame) -> None:
    filters = Filters(stages=("fill_finish", "formulation"), countries=("DE", "FR", "IT"))
    content, name = views.export_sites(official, 2021, filters, NOW)
    assert name == "sites_sample_facilities_nuts2021_20240506-070809.csv"
    rows = read_csv(content)
    expected = raw[
        raw["stage_list"].map(lambda s: "fill_finish" in s or "formulation" in s)
        & raw["country"].isin(["DE", "FR", "IT"])
    ]
    assert len(expected) > 0
    assert rows["facility_id"].tolist() == expected["facility_id"].tolist()
    assert rows["company"].tolist() == expected["company"].tolist()
    assert set(SENSITIVE) <= set(rows.columns)
    assert set(rows["filters"]) == {"stage: fill_finish, formulation; country: DE, FR, IT"}
    assert set(rows["audience"]) == {"official"}


def test_public_export_sites_hides_names_and_capacity(public: AtlasData, raw: pd.DataFrame) -> None:
    content, _ = views.export_sites(public, 2021, Filters(), NOW)
    rows = read_csv(content)
    # the public sees only sites of companies that agreed to a public listing, by name
    listed = raw[raw["public_listing"].eq("yes")]
    assert len(listed) < len(raw)
    assert rows["facility_id"].tolist() == listed["facility_id"].tolist()
    assert rows["company"].tolist() == listed["company"].tolist()
    assert not set(SENSITIVE) & set(rows.columns)
    assert "public_listing" not in rows.columns


@pytest.mark.parametrize("audience", ["official", "public"])
def test_export_regions_has_the_rows_of_the_regions_table(
    official: AtlasData, public: AtlasData, audience: str
) -> None:
    data = official if audience == "official" else public
    content, name = views.export_regions(data, 2021, 2, FILL, NOW)
    assert name == "regions_sample_facilities_nuts2021_level2_20240506-070809.csv"
    rows = read_csv(content)
    table = data.regions(2021, 2, FILL)
    assert rows["nuts_id"].tolist() == table.index.tolist()
    assert set(rows["level"]) == {"2"}
    names = data.names(2021)
    assert rows["name"].tolist() == names.reindex(table.index).tolist()


def test_public_withholds_regions_with_fewer_than_three_companies(
    official: AtlasData, public: AtlasData
) -> None:
    shown = official.regions(2021, 3, Filters())
    hidden = public.regions(2021, 3, Filters())
    assert hidden.index.tolist() == shown.index.tolist()
    few = (shown["companies"] > 0) & (shown["companies"] < 3)
    assert few.any()
    assert (~few & (shown["companies"] >= 3)).any()
    assert hidden.loc[few, list(vocab.METRICS)].isna().all().all()
    assert (hidden.loc[few, "suppressed"] == "fewer than 3 companies").all()
    many = shown["companies"] >= 3
    assert hidden.loc[many, "facilities"].tolist() == shown.loc[many, "facilities"].astype(float).tolist()
    update = views.map_update(public, 2021, 3, "facilities", Filters(), "quantiles", 5)
    classes = dict(zip(public.region_order(2021, 3), update.classes["cls"], strict=True))
    assert {classes[code] for code in shown.index[few]} == {WITHHELD_CLASS}
    assert all(classes[code] >= 0 for code in shown.index[many])
    # the official view of the same regions is not withheld
    official_update = views.map_update(official, 2021, 3, "facilities", Filters(), "quantiles", 5)
    assert WITHHELD_CLASS not in official_update.classes["cls"]
    # and the public regions export leaves their values empty
    rows = read_csv(views.export_regions(public, 2021, 3, Filters(), NOW)[0]).set_index("nuts_id")
    code = shown.index[few][0]
    assert rows.loc[code, "facilities"] == ""
    assert rows.loc[code, "suppressed"] == "fewer than 3 companies"


def test_region_info_for_a_withheld_region(public: AtlasData, official: AtlasData) -> None:
    shown = official.regions(2021, 3, Filters())
    code = shown.index[(shown["companies"] > 0) & (shown["companies"] < 3)][0]
    name = public.names(2021)[code]
    lines = [div.children for div in views.region_info(public, 2021, 3, "capacity", Filters(), code)]
    assert lines == [f"{name} ({code})", "Capacity: withheld (fewer than 3 companies)", "Sites: withheld"]
    lines = [div.children for div in views.region_info(official, 2021, 3, "facilities", Filters(), code)]
    assert lines == [f"{name} ({code})", f"Sites: {int(shown.loc[code, 'facilities'])} sites"]


def test_official_specialisation_without_stage_is_never_withheld(official: AtlasData) -> None:
    update = views.map_update(official, 2021, 3, "specialisation", Filters(), "quantiles", 5)
    assert set(update.classes["cls"]) == {NO_DATA_CLASS}
    shown = official.regions(2021, 3, Filters())
    code = shown.index[(shown["companies"] > 0) & (shown["companies"] < 3)][0]
    lines = [div.children for div in views.region_info(official, 2021, 3, "specialisation", Filters(), code)]
    assert lines[1] == "Specialisation (location quotient): select a production stage"


def test_sites_hideout_bits_mark_the_matching_sites(official: AtlasData, raw: pd.DataFrame) -> None:
    hideout = views.sites_hideout(official, 2021, FILL)
    assert hideout["n"] == 350
    mask = bitset.decode(hideout["bits"], hideout["n"])
    placed = official.placed(2021)
    rows = official.index(2021).row
    ids = placed.iloc[rows[mask]]["facility_id"].tolist()
    assert ids == with_stage(raw, "fill_finish")["facility_id"].tolist()


def test_public_site_points_name_only_listed_companies(public: AtlasData, raw: pd.DataFrame) -> None:
    features = geojson(public.sites_geojson(2021))["features"]
    assert len(features) == len(raw)
    listed = raw["public_listing"].eq("yes").tolist()
    companies = [f["properties"]["company"] for f in features]
    assert companies == [c if ok else None for c, ok in zip(raw["company"], listed, strict=True)]
    assert not any("capacity" in key for f in features for key in f["properties"])


def test_basemap_flags_the_mapped_countries(official: AtlasData) -> None:
    features = geojson(official.basemap_geojson(2021))["features"]
    covered = {f["properties"]["id"] for f in features if f["properties"]["covered"]}
    assert covered == set(official.map_countries) == set(vocab.EU_MEMBER_STATES)
    assert len(features) > len(covered)  # neighbours are drawn too


def test_geo_url() -> None:
    assert views.geo_url("regions", 2021, 3, "abc") == "/atlas/geo/regions-2021-3.json?v=abc"
    assert views.geo_url("basemap", 2024, None, "e") == "/atlas/geo/basemap-2024.json?v=e"


def test_filters_from_treats_empty_inputs_as_all() -> None:
    assert views.filters_from(None, [], None, ["de"], None) == Filters(countries=("DE",))


def test_warm_builds_every_region_shape_before_the_first_request(real_nuts) -> None:
    data = AtlasData(SAMPLE_FILE, audience="public")
    assert data.region_geojson.cache_info().currsize == 0
    data.warm()
    assert data.region_geojson.cache_info().currsize == 8  # 2 versions x 4 levels
    assert data.basemap_geojson.cache_info().currsize == 2
    hits = data.region_geojson.cache_info().hits
    views.map_update(data, 2021, 3, "facilities", Filters(), "quantiles", 5)
    assert data.region_geojson.cache_info().hits == hits + 1  # served from what warm() built
