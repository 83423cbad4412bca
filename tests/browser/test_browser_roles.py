"""Roles in the browser: the real sign-in form, what an official and a cluster user see of the same
filters, signing out, anonymous requests refused, markup in the data shown as text, the demo's
role switcher."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from geodata import disclosure, nuts
from layers import choropleth

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample_facilities.csv"
STAGE = ("drug_substance",)
COUNTRIES = ("AT", "BE")
#: Where the point is on the map (lat, lon) to hover each country at NUTS level 0.
INSIDE = {"AT": (47.6, 14.1), "BE": (50.6, 4.6)}
#: Site fields no one but an official may see (DATA_MODEL.md, "Commercially sensitive fields").
OFFICIAL_ONLY = (
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
    "staff",
    "bottleneck_notes",
    "public_listing",
)
#: What a site point may carry (layers.geometry.sites_geojson).
POINT_PROPERTIES = {"i", "company", "city", "s", "approx"}
#: Requests that carry data; the sign-in guard answers each with 401 before anything is computed.
DATA_ROUTES = (
    ("GET", "/_dash-layout", None),
    ("GET", "/_dash-dependencies", None),
    (
        "POST",
        "/_dash-update-component",
        {
            "output": "summary.children",
            "outputs": {"id": "summary", "property": "children"},
            "inputs": [{"id": "version", "property": "value", "value": 2021}],
            "changedPropIds": ["version.value"],
        },
    ),
    ("GET", "/atlas/geo/sites-2021.json", None),
    ("GET", "/atlas/geo/regions-2021-2.json", None),
    ("GET", "/api/v1/regions", None),
    ("GET", "/api/v1/summary", None),
    ("GET", "/api/v1/sites", None),
)
#: Installed in every document before its own scripts: any alert/confirm/prompt leaves a mark.
ALERT_TRAP = (
    "window.__alerted = undefined;"
    "window.alert = window.confirm = window.prompt = () => { window.__alerted = true; };"
)
#: Open the tooltip of the site point(s) of company arguments[0]; returns how many.
OPEN_TOOLTIP = """
let opened = 0;
window.__atlasMap.eachLayer(layer => {
  const p = layer.feature && layer.feature.properties;
  if (p && p.company === arguments[0] && layer.getTooltip && layer.getTooltip()) {
    layer.openTooltip(); opened++;
  }
});
return opened;
"""
EVIL_COMPANY = "<img src=x onerror=alert(1)> GmbH"
EVIL_NOTES = "<script>alert(2)</script>"
EVIL_CITY = "<svg onload=alert(3)>"


@pytest.fixture
def survey(tmp_path: Path, accounts) -> Path:
    """The sample under another name: not the demo, so the server needs the users file."""
    path = tmp_path / "survey_2021.csv"
    shutil.copyfile(SAMPLE, path)
    return path


def small_region_setting(path: Path) -> None:
    """The setting the roles are compared on: in the file, AT has fewer than 3 companies with a
    drug-substance site (too few for anyone but an official), BE has more."""
    frame = pd.read_csv(path, dtype=str)
    offers = frame["stages"].str.split(";").map(lambda codes: STAGE[0] in codes)
    companies = frame[offers & frame["country"].isin(COUNTRIES)].groupby("country")["company"].nunique()
    assert 1 <= companies["AT"] < 3 <= companies["BE"], companies.to_dict()


def set_filters(page, truth) -> dict:
    """Level 0, drug substance, Austria and Belgium, as a person would; wait for that map."""
    page.radio("level", 0)
    page.choose("stage", "Drug substance manufacturing")
    page.choose("country", "Austria (AT)")
    page.choose("country", "Belgium (BE)")
    hideout = page.wait_for_regions(truth.hideout(2021, 0, "facilities", STAGE, COUNTRIES))
    page.assert_drawn(hideout, truth.order(2021, 0))  # shapes loaded: hover can hit them
    return hideout


def hover_text(page, code: str) -> list[str]:
    page.hover(*INSIDE[code])
    title = f"{nuts.names(2021)[code]} ({code})"
    page.duo.wait_for_text_to_equal("#region-info .info-title", title)
    return page.text("#region-info").splitlines()


def cards(page) -> dict[str, tuple[str, str]]:
    """Card name -> (value, small print)."""
    return {
        name: (page.card(name), page.text(f"#card-{name} small"))
        for name in ("sites", "companies", "countries", "capacity", "available")
    }


def site_points(page) -> tuple[str, dict]:
    """Switch the site layer on; the URL it loads and that GeoJSON, fetched with the page's cookies."""
    page.duo.find_element("#show-sites").click()
    url = page.wait_until(lambda: page.prop("sites", "url"), what="the site layer's URL")
    got = page.fetch(url)
    assert got["status"] == 200, got
    return url, json.loads(got["text"])


def expected_cards(truth) -> dict[str, str]:
    totals = truth.totals(2021, STAGE, COUNTRIES)
    out = {}
    for name, key in (("sites", "facilities"), ("companies", "companies"), ("countries", "countries")):
        out[name] = "withheld" if totals[key] is None else f"{round(totals[key]):,}"
    for name, key in (("capacity", "capacity"), ("available", "available_capacity")):
        out[name] = "withheld" if totals[key] is None else choropleth.short_number(totals[key])
    return out


def test_official_and_cluster_see_what_their_role_may(atlas, survey, accounts, make_truth):
    small_region_setting(survey)
    rules = disclosure.Rules.from_env()  # the server's: its disclosure key is ATLAS_SECRET_KEY
    truth = {role: make_truth(survey, role, rules) for role in ("official", "cluster")}
    unlisted = truth["cluster"].unlisted_companies(2021)
    listed_ids = set(truth["cluster"].listed(2021)["facility_id"])
    assert unlisted and listed_ids

    page = atlas(survey, sign_in=False)
    page.open("/")
    assert page.path() == "/login", "nobody signed in: the page is the sign-in form"
    assert page.duo.find_elements("#username") and page.duo.find_elements("#password")
    assert not page.duo.find_elements("form[action^='/demo/']"), "no role switcher off the demo"

    seen = {}
    for role in ("official", "cluster"):
        account = accounts[role]
        page.sign_in(account.name, account.password)  # back to "/": the map
        page.wait_for_start()
        layout = page.fetch("/_dash-layout")
        set_filters(page, truth[role])
        seen[role] = {
            "badge": page.text("#role-badge"),
            "account": page.text("#account-text"),
            "action": page.text("#account-action"),
            "layout": layout,
            "AT": hover_text(page, "AT"),
            "BE": hover_text(page, "BE"),
            "legend": page.text("#legend").splitlines(),
            "cards": cards(page),
            "regions": page.download("export-regions", "regions_survey_2021_nuts2021_level0_"),
            "sites": page.download("export-sites", "sites_survey_2021_nuts2021_"),
            "points": site_points(page),
        }
        page.sign_out()
        # signed out: the map and its data are gone with the session
        page.open("/")
        assert page.path() == "/login"
        assert page.fetch("/api/v1/regions")["status"] == 401

    official, cluster = seen["official"], seen["cluster"]
    few = disclosure.reason_text("few")
    secondary = disclosure.reason_text("secondary")

    # who is looking
    assert official["badge"].startswith("Task-force view")
    assert cluster["badge"].startswith("Cluster view")
    assert official["account"] == "Signed in as olga (official)"
    assert cluster["account"] == "Signed in as claus (cluster)"
    assert official["action"] == cluster["action"] == "Sign out"

    # hover: the official sees Austria's one site (and that others do not), the cluster the reason
    assert official["AT"][1:] == ["Sites: 1 site", "Not shown to other roles (too few companies)"]
    assert official["BE"][1] == "Sites: 5 sites"
    assert cluster["AT"][1:] == [f"Sites: withheld ({few})"]
    # Belgium's five companies are shown, with the count's noise of at most one site: the noise is what
    # keeps Austria's count from being worked out as total minus Belgium
    be_sites = cluster["BE"][1].removeprefix("Sites: ").removesuffix(" sites")
    assert abs(int(be_sites) - 5) <= 1, cluster["BE"]

    # legend: withheld regions only for the cluster
    assert "withheld (confidential)" not in official["legend"]
    rows = cluster["legend"]
    assert int(rows[rows.index("withheld (confidential)") + 1]) >= 1

    # cards: the official's figures, the cluster's release (withheld with the reason, or perturbed)
    for role, look in seen.items():
        values = {name: value for name, (value, _small) in look["cards"].items()}
        assert values == expected_cards(truth[role]), role
    assert official["cards"]["sites"][0] == "6"
    assert abs(int(cluster["cards"]["sites"][0]) - 6) <= 1  # perturbed, not exact

    # regions CSV: figures for the official, empty cells with the reason for the cluster
    regions = {role: look["regions"].set_index("nuts_id") for role, look in seen.items()}
    assert float(regions["official"].loc["AT", "facilities"]) == 1
    assert float(regions["official"].loc["AT", "capacity"]) > 0
    assert regions["cluster"].loc["AT", ["facilities", "capacity"]].tolist() == ["", ""]
    assert regions["cluster"].loc["AT", "facilities_withheld"] == few
    # Austria's capacity would be total minus Belgium: one of the two is withheld too
    be_capacity = regions["cluster"].loc["BE", "capacity_withheld"]
    assert be_capacity == secondary or cluster["cards"]["capacity"][0] == "withheld"

    # sites CSV: every matching site and its figures for the official; listed companies only,
    # without facility figures, for the cluster
    sites = {role: look["sites"] for role, look in seen.items()}
    assert "capacity_doses_per_month" in sites["official"].columns
    assert set(sites["official"]["company"]) & unlisted, "the official sees unlisted companies"
    assert not set(OFFICIAL_ONLY) & set(sites["cluster"].columns)
    assert not set(sites["cluster"]["company"]) & unlisted
    assert set(sites["cluster"]["facility_id"]) <= listed_ids
    assert len(sites["cluster"]) < len(sites["official"])
    assert set(sites["cluster"]["role"]) == {"cluster"}

    # site points: the GeoJSON the cluster's browser gets holds nothing of unlisted companies
    official_url, official_points = official["points"]
    cluster_url, cluster_points = cluster["points"]
    assert official_url != cluster_url, "one role's cached points must never serve another"
    assert len(official_points["features"]) == len(truth["official"].matching(2021))
    assert len(cluster_points["features"]) == len(listed_ids)
    for feature in cluster_points["features"]:
        assert set(feature["properties"]) <= POINT_PROPERTIES
        assert feature["properties"]["company"] not in unlisted
    text = json.dumps(cluster_points, ensure_ascii=False)
    assert not [name for name in unlisted if name in text]

    # the page itself (Dash's layout) names no unlisted company for the cluster
    assert cluster["layout"]["status"] == 200
    assert not [name for name in unlisted if name in cluster["layout"]["text"]]


@pytest.mark.parametrize("demo", [True, False], ids=["demo", "accounts"])
def test_anonymous_requests_are_refused(atlas, request, demo):
    page = atlas(None if demo else request.getfixturevalue("survey"), sign_in=False)
    page.open("/login")  # an open page of the same origin, nobody signed in
    for method, route, body in DATA_ROUTES:
        got = page.fetch(route, method, body)
        assert got["status"] == 401, (method, route, got)
        assert json.loads(got["text"]) == {"error": "sign in required"}, (route, got["text"][:200])
    # pages send the browser to the sign-in page
    page.open("/")
    assert page.path() == "/login"
    assert not page.duo.find_elements("#react-entry-point")


def evil_file(path: Path) -> dict[str, str]:
    """One site per country from the sample, one of them carrying markup; returns that row."""
    with open(SAMPLE, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    chosen: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["latitude"] and row["public_listing"] == "yes":
            chosen.setdefault(row["country"], row)
    picked = [chosen[c] for c in ("PT", "ES", "FR", "DE", "IT", "PL", "SE", "AT")]
    evil = dict(
        picked[3], company=EVIL_COMPANY, city=EVIL_CITY, bottleneck_notes=EVIL_NOTES, public_listing="yes"
    )
    picked[3] = evil
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(picked)
    return evil


def test_markup_in_the_data_is_shown_as_text(atlas, accounts, tmp_path):
    evil = evil_file(tmp_path / "markup.csv")
    page = atlas(tmp_path / "markup.csv", sign_in=False)
    page.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ALERT_TRAP})
    official = accounts["official"]
    page.sign_in(official.name, official.password)
    page.wait_for_start()
    page.duo.wait_for_text_to_equal("#card-sites .card-value", "8")

    # the site layer, zoomed on the site, and its tooltip (opened as the mouse would open it: the
    # points cannot be hovered yet, see test_browser_map.test_site_points_are_above_the_regions)
    lat, lon = float(evil["latitude"]), float(evil["longitude"])
    page.leaflet("window.__atlasMap.setView([arguments[0], arguments[1]], 9, {animate: false});", lat, lon)
    page.duo.find_element("#show-sites").click()
    page.wait_until(lambda: page.site_counts()["singles"] >= 1, what="the site's point")
    assert page.leaflet(OPEN_TOOLTIP, EVIL_COMPANY) == 1
    tooltip = page.duo.find_element(".leaflet-tooltip")
    assert EVIL_COMPANY in tooltip.text
    assert EVIL_CITY in tooltip.text
    page.hover(lat + 0.3, lon + 0.3)  # the region around it: its hover text too
    page.wait_until(lambda: "(" in page.text("#region-info .info-title"), what="the region's hover text")

    # the export: the same text, literally
    sites = page.download("export-sites", "sites_markup_nuts2021_").set_index("facility_id")
    assert sites.loc[evil["facility_id"], "company"] == EVIL_COMPANY
    assert sites.loc[evil["facility_id"], "bottleneck_notes"] == EVIL_NOTES

    assert page.js("return window.__alerted === undefined && typeof window.alert === 'function';")
    assert page.js("return document.querySelectorAll('img[src=\"x\"], svg[onload]').length;") == 0
    assert not page.js("return [...document.scripts].some(s => s.textContent.includes('alert(2)'));")

    # the sign-in page repeats ``next`` in its "Back to the map" link: as text, not markup
    page.open('/login?next=/"><img src=x onerror=alert(4)>')
    assert page.duo.find_element("a[href^='/']").text == "Back to the map"
    assert page.js("return document.querySelectorAll('img').length;") == 0

    # a sign-in link that would run script afterwards lands on the map instead
    page.duo.find_element("a[href='/logout']").click()  # the sign-in page's "Sign out"
    page.wait_until(lambda: page.path() == "/login", what="the sign-in page after signing out")
    page.open("/login?next=javascript:alert(1)")
    assert page.duo.find_element("input[name='next']").get_attribute("value") == "/"
    assert not page.js("return document.querySelectorAll('a[href^=\"javascript\"]').length;")
    page.duo.find_element("#username").send_keys(official.name)
    page.duo.find_element("#password").send_keys(official.password)
    page.duo.find_element("form[action='/login'] button[type='submit']").click()
    page.wait_until(lambda: page.path() == "/", what="the map after signing in")
    assert page.driver.current_url == page.base + "/"
    page.wait_for_start()
    assert page.js("return window.__alerted === undefined;")


def test_demo_switches_roles(atlas, official_truth, cluster_truth):
    page = atlas()  # the demo, as an official
    assert page.text("#account-text") == "Demo on fictional data: official view"
    set_filters(page, official_truth)
    official = cards(page)
    assert official["sites"][0] == "6"

    page.duo.find_element("#account-action").click()  # "Switch role"
    page.wait_until(lambda: page.path() == "/login", what="the role switcher")
    buttons = page.duo.find_elements("form[action^='/demo/role/'] button[type='submit']")
    assert [button.text for button in buttons] == ["Official", "Cluster association", "Public"]
    assert "Current view: official." in page.text("body")
    page.duo.find_element("form[action='/demo/role/cluster'] button[type='submit']").click()
    page.wait_until(lambda: page.path() == "/", what="the map after switching")
    page.wait_for_start()

    assert page.text("#account-text") == "Demo on fictional data: cluster view"
    assert page.text("#role-badge").startswith("Cluster view")
    set_filters(page, cluster_truth)
    cluster = cards(page)
    assert abs(int(cluster["sites"][0]) - 6) <= 1  # the cluster's count carries the noise
    assert {name: value for name, (value, _small) in cluster.items()} == expected_cards(cluster_truth)
    assert cluster != official
