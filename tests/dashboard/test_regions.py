"""Region profiles, search, the table and the address, through the app's callbacks for each role."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pandas as pd
import pytest
from dash import no_update
from flask_login import login_user

from dashboard import auth, finding, tables
from dashboard.data import SAMPLE_FILE, AtlasData
from dashboard.ids import Ids
from geodata import disclosure, store
from geodata.aggregate import Filters

pytestmark = pytest.mark.integration
NO_FILTERS = (None, None, None, None, None)


@pytest.fixture(scope="module")
def app(real_nuts):
    from app import create_app

    return create_app(SAMPLE_FILE, public=False)


@pytest.fixture(scope="module")
def data(app) -> AtlasData:
    return AtlasData(SAMPLE_FILE, rules=disclosure.Rules.from_env(), store=store.connect())


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE_FILE, dtype=str, keep_default_na=False)
    unlisted = set(frame.loc[frame["public_listing"] != "yes", "company"])
    frame["listed"] = ~frame["company"].isin(unlisted)
    return frame


@contextlib.contextmanager
def signed_in(app, role: str | None) -> Iterator[None]:
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        if role is not None:
            login_user(auth.AuthUser("demo", role, f"demo:{role}"))
        yield


def callback(app, component_id: str, prop: str, *, index: int = 0):
    output = f"{component_id}.{prop}"
    matches = [
        entry["callback"]
        for key, entry in app.callback_map.items()
        if "callback" in entry and any(part.split("@")[0] == output for part in key.strip(".").split("..."))
    ]
    return matches[index].__wrapped__


def text_of(node: object) -> str:
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list | tuple):
        return " ".join(text_of(n) for n in node)
    children = getattr(node, "children", None)
    return text_of(children) if children is not None else ""


def test_search_finds_regions_accent_insensitively_for_everyone(app) -> None:
    search = callback(app, Ids.SEARCH, "options")
    for role in ("official", "cluster", "public"):
        with signed_in(app, role):
            options = search("lodz", None, 2021)
        assert options[0]["value"] == "region:PL71" and options[0]["label"].startswith("Łódzkie (PL71)")


def test_a_cluster_never_finds_an_unlisted_company_or_its_sites(app, raw: pd.DataFrame) -> None:
    search = callback(app, Ids.SEARCH, "options")
    unlisted = raw.loc[~raw["listed"]].iloc[0]
    listed = raw.loc[raw["listed"]].iloc[0]
    with signed_in(app, "official"):
        found = search(unlisted["company"], None, 2021)
    assert any(unlisted["company"] in o["label"] for o in found)  # it exists, officials find it
    with signed_in(app, "cluster"):
        for query in (unlisted["company"], unlisted["company"][:12], unlisted["facility_id"]):
            options = search(query, None, 2021)
            assert not any(unlisted["company"] in o["label"] for o in options), query
            assert f"site:{unlisted['facility_id']}" not in {o["value"] for o in options}
        assert any(listed["company"] in o["label"] for o in search(listed["company"], None, 2021))


def test_choosing_a_site_a_cluster_may_not_see_does_nothing(app, data: AtlasData, raw: pd.DataFrame) -> None:
    unlisted = raw.loc[~raw["listed"]].iloc[0]
    with signed_in(app, "cluster"):
        assert finding.site_place(data, "cluster", 2021, "site", unlisted["facility_id"]) is None
    with signed_in(app, "official"):
        place = finding.site_place(data, "official", 2021, "site", unlisted["facility_id"])
    assert place is not None and place[0] is not None and place[0].startswith(unlisted["country"][:2])


def test_the_profile_panel_shows_the_release_of_the_role(app, data: AtlasData) -> None:
    show = callback(app, Ids.PROFILE_BODY, "children")
    for role in ("official", "cluster"):
        table = data.regions(2021, 2, Filters(), role)
        with signed_in(app, role):
            body, hidden = show("PL71", None, 2021, *NO_FILTERS)
        assert hidden is False
        text = text_of(body)
        assert "Łódzkie (PL71)" in text
        value = table.loc["PL71", "facilities"]
        if pd.isna(value):
            assert "confidential" in text
        else:
            assert f"Sites {round(value):,} sites" in text
    with signed_in(app, "cluster"):
        assert show(None, None, 2021, *NO_FILTERS) == ([], True)
        body, hidden = show("ZZ999", None, 2021, *NO_FILTERS)
    assert "No region 'ZZ999' in NUTS 2021" in text_of(body)


def test_a_cluster_profile_of_a_small_region_says_confidential_not_zero(app, data: AtlasData) -> None:
    show = callback(app, Ids.PROFILE_BODY, "children")
    table = data.regions(2021, 3, Filters(), "cluster")
    few = table.index[table["facilities_withheld"] == "few"][0]
    with signed_in(app, "cluster"):
        body, _hidden = show(few, None, 2021, *NO_FILTERS)
    text = text_of(body)
    assert "confidential: too few companies" in text
    assert "capacity doses" not in text.lower() and "lead time" not in text.lower()


def test_the_region_page_and_an_unknown_code(app) -> None:
    route = callback(app, Ids.REGION_PAGE, "children")
    with signed_in(app, "cluster"):
        assert route("/", "") == ([], True, False)
        page, region_hidden, main_hidden = route("/region/PL711", "?version=2021")
        assert (region_hidden, main_hidden) == (False, True)
        text = text_of(page)
        assert "Miasto Łódź (PL711)" in text and "© EuroGeographics for the administrative boundaries" in text
        assert "id='region-locator'" in repr(page) and "data:image/svg+xml;base64," in repr(page)
        # a NUTS 2024 code asked for in 2021 offers the 2024 region
        missing, _h, _m = route("/region/DEG0Q", "?version=2021")  # Schmalkalden-Meiningen, new in 2024
        text = text_of(missing)
        assert "There is no region 'DEG0Q' in NUTS 2021" in text and "open DEG0Q in NUTS 2024" in text
        gone, _h, _m = route("/region/DEG04", "?version=2024")  # a 2021 code gone in 2024
        assert "There is no region 'DEG04' in NUTS 2024" in text_of(gone)
        assert "open DEG04 in NUTS 2021" in text_of(gone)
        junk, _h, _m = route("/region/<script>alert(1)</script>", "?version=2021")
        assert "There is no region" in text_of(junk)


def test_the_table_sorts_withheld_figures_last_and_by_name(app, data: AtlasData) -> None:
    frame = tables.rows(data, 2021, 3, Filters(), "cluster")
    ordered = tables.ordered(frame, "capacity", True)
    known = ordered["capacity"].notna().to_numpy()
    assert known[: known.sum()].all() and not known[known.sum() :].any()  # withheld ones last
    withheld = ordered[~ordered["capacity"].notna()]
    assert withheld["name"].tolist() == sorted(withheld["name"].tolist())  # by name: no hint of their size
    shown = ordered.loc[known, "capacity"].to_numpy()
    assert (shown[:-1] >= shown[1:]).all()


def test_the_table_callback_gives_the_role_its_release(app, data: AtlasData) -> None:
    update = callback(app, Ids.TABLE, "children")
    with signed_in(app, "cluster"):
        assert update("map", None, 2021, 2, *NO_FILTERS) is no_update
        table = update("table", None, 2021, 2, *NO_FILTERS)
    html_text = table.children
    release = data.regions(2021, 2, Filters(), "cluster")
    withheld = release[release["capacity"].isna() & (release["capacity_withheld"] != "")]
    code = withheld.index[0]
    row = html_text.split(f'data-sort="{code}"')[1].split("</tr>")[0]
    # the withheld capacity: its reason in words, and an empty sort key (nothing to sort it by)
    assert '<td class="text-end" data-sort="">withheld: one or two companies' in row or (
        '<td class="text-end" data-sort="">withheld: too few companies' in row
    )
    shown = release[release["facilities"].notna()].index[0]
    value = release.loc[shown, "facilities"]
    row = html_text.split(f'data-sort="{shown}"')[1].split("</tr>")[0]
    assert f'data-sort="{float(value)!r}">{round(value):,}</td>' in row
    assert "<script" not in html_text


def test_the_address_restores_the_controls_and_controls_write_the_address(app) -> None:
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    sync = callback(app, Ids.URL, "search")
    values = [
        "sample_facilities",
        None,
        2021,
        2,
        "facilities",
        "quantiles",
        5,
        [],
        [],
        [],
        [],
        [],
        None,
        "map",
    ]

    def run(trigger: str | None, search: str, current: list):
        context_value.set(
            AttributeDict(triggered_inputs=[{"prop_id": trigger, "value": None}] if trigger else [])
        )
        with signed_in(app, "cluster"):
            return sync(search, *current)

    restored = run("url.search", "?level=3&stage=fill_finish&region=DE212&view=table", values)
    assert restored[0] is no_update
    assert list(restored[2:]) == ["sample_facilities", None, 2021, 3, "facilities", "quantiles", 5,
                            ["fill_finish"], [], [], [], [], "DE212", "table"]  # fmt: skip
    changed = list(values)
    changed[3] = 1
    written = run("level.value", "", changed)
    assert written[0] == "?round=sample_facilities&level=1"
    hostile = run("url.search", "?level=9&metric=%3Cscript%3E", values)
    assert "Ignored NUTS level '9' (used 2)" in hostile[1] and hostile[5] == 2


def test_a_site_card_holds_the_fields_the_role_may_see(app, data: AtlasData, raw: pd.DataFrame) -> None:
    show = callback(app, Ids.SITE_CARD_BODY, "children")
    unlisted = raw.loc[~raw["listed"] & (raw["capacity_doses_per_month"] != "")].iloc[0]
    listed = raw.loc[raw["listed"] & (raw["capacity_doses_per_month"] != "")].iloc[0]
    with signed_in(app, "official"):
        body, is_open = show(unlisted["facility_id"], None, 2021)
    text = text_of(body)
    assert is_open and unlisted["company"] in text and "capacity doses per month" in text
    with signed_in(app, "cluster"):
        body, is_open = show(unlisted["facility_id"], None, 2021)
        assert is_open and text_of(body) == "No such site, or not one your role may see."
        body, _open = show(listed["facility_id"], None, 2021)
        assert listed["company"] in text_of(body)
        labels = {item.children for item in body.children if type(item).__name__ == "Dt"}
        assert "company" in labels and "city" in labels
        sensitive = {"capacity doses per month", "available capacity pct", "lead time months", "staff",
                     "bottleneck notes", "public listing"}  # fmt: skip
        assert not labels & sensitive
        assert show(None, None, 2021) == ([], False)
        assert text_of(show(["x"], None, 2021)[0]) == "No such site, or not one your role may see."
