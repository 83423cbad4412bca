"""Regions in the browser: the search box, the profile beside the map, the region page (on screen and
printed), the view in the address (back and forward, a link opened in a new browser, hostile
queries), the table view, what a cluster user may see of a region, and axe-core's accessibility
check of the map, the table and a region page.

Every figure asserted is worked out here for the role by conftest's ``Truth`` (an official's true
figures, the disclosure engine's release for a cluster), never read from the dashboard's own data
class. Every test runs offline
(each document and request of the session on 127.0.0.1) and ends without console errors, Dash
error pop-ups or a script of the page's data run (alert/confirm/prompt trapped).
"""

from __future__ import annotations

import base64
import csv
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import axe
import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from test_browser_imports import ALL_URLS, RECORD_URLS, severe_logs
from test_browser_roles import ALERT_TRAP

from geodata import nuts
from geodata.companies import normalise_name
from layers import choropleth

pytestmark = [pytest.mark.browser, pytest.mark.integration]

LODZ = "PL71"
LODZ_TITLE = "Łódzkie (PL71)"
TABLE_LEVEL = 1  # the table tests' NUTS level: 90 rows
FILL_FINISH = ("fill_finish",)
FEW = "confidential: too few companies"
#: Site fields no one but an official may see (DATA_MODEL.md), as the site list's headers read.
OFFICIAL_ONLY = ("capacity", "available capacity", "lead time", "staff", "bottleneck notes", "public listing")
#: Dash's dev tools validate every prop against the layout (and show callback errors on the page).
DEBUG = {"debug": True, "use_reloader": False, "dev_tools_hot_reload": False}
HEALTH = "/healthz"  # an open page without data (conftest's sign-in target)
PANEL = "#region-profile-body"
PAGE = "#region-page"

#: Installed in every document: the server's answers to the search box (the options callback), as
#: {query, options}, in window.__searchAnswers. An empty answer then says "nothing found for this
#: query", not "not answered yet".
SEARCH_ANSWERS = """
(() => {
  const original = window.fetch;
  window.__searchAnswers = [];
  window.fetch = function (input, init) {
    const promise = original.apply(this, arguments);
    try {
      const body = init && typeof init.body === 'string' ? JSON.parse(init.body) : null;
      if (body && body.output === 'search.options') {
        const asked = (body.inputs || []).find(i => i.id === 'search' && i.property === 'search_value');
        promise.then(r => r.clone().json()).then(answer => window.__searchAnswers.push(
          {query: asked ? asked.value : null, options: answer.response.search.options})).catch(() => {});
      }
    } catch (e) { /* not a callback request */ }
    return promise;
  };
})();
"""
#: No callback of the page pending (the renderer's redux store; dash testing's own check).
IDLE = """
const store = window.store;
if (!store) { return false; }
return Object.values(store.getState().callbacks).every(v => !Array.isArray(v) || v.length === 0);
"""
#: The headline figures of a profile: [dt, dd] pairs of the first dl.atlas-profile-figures under
#: arguments[0] (pairs: the driver hands objects back with their keys sorted).
FIGURES = """
const dl = document.querySelector(arguments[0] + ' dl.atlas-profile-figures');
if (!dl) { return null; }
return [...dl.querySelectorAll('dt')].map(dt => {
  const dd = dt.nextElementSibling;
  return [dt.textContent.trim(), dd && dd.tagName === 'DD' ? dd.textContent.trim() : null];
});
"""
#: The region table: header cells (text, aria-sort) and body rows (cell texts).
REGION_TABLE = """
const table = document.getElementById('region-table-element');
if (!table) { return null; }
const text = cell => cell.innerText.replace(/\\s+/g, ' ').trim();
return {
  head: [...table.tHead.rows[0].cells].map(cell => [text(cell), cell.getAttribute('aria-sort')]),
  rows: [...table.tBodies[0].rows].map(row => [...row.cells].map(text)),
};
"""
#: Whether an element is rendered (under the media shown): displayed, with a box.
SHOWN = """
const el = document.querySelector(arguments[0]);
if (!el) { return null; }
const box = el.getBoundingClientRect();
return getComputedStyle(el).display !== 'none' && box.width > 0 && box.height > 0;
"""


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def open_atlas(
    atlas: Any, dash_duo: Any, role: str = "official", path: str | None = "/", **server: Any
) -> Any:
    """Start the demo server, trap dialogs and record every URL of every document, sign in as
    ``role`` and land on ``path`` (None: on a plain page, the test opens the next one itself)."""
    dash_duo.server.host = "127.0.0.1"  # dash testing's default URL host is "localhost"
    page = atlas(sign_in=False, **(server or DEBUG))
    page.driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_URLS + ALERT_TRAP + SEARCH_ANSWERS}
    )
    page.sign_in_demo(role, next_=path or HEALTH)
    if path is not None:
        page.wait_for_start()
    return page


def assert_clean(page: Any) -> None:
    """Offline, no dialog opened by the page, no console error, no Dash error on screen."""
    urls = page.js(ALL_URLS)
    assert any(urlsplit(url).path == "/_dash-update-component" for url in urls), "no URL was recorded"
    foreign = sorted({url for url in urls if urlsplit(url).hostname != "127.0.0.1"})
    assert not foreign, f"the browser went to other hosts: {foreign}"
    assert page.js("return window.__alerted === undefined;"), "the page called alert/confirm/prompt"
    logged = severe_logs(page)
    assert logged == [], logged
    assert not count(page, ".dash-debug-alert, .dash-fe-error__title")


def count(page: Any, selector: str) -> int:
    """How many elements match, now (a driver's find_elements waits for one to appear)."""
    return int(page.js("return document.querySelectorAll(arguments[0]).length;", selector))


def idle(page: Any) -> bool:
    return bool(page.js(IDLE))


def settle(page: Any, what: str = "the callbacks to finish") -> None:
    """Wait until no callback is pending, twice 0.2 s apart (a callback may start the next one)."""
    page.wait_until(lambda: idle(page) and (time.sleep(0.2) or idle(page)), what=what)


def query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.driver.current_url).query)


def figures(page: Any, scope: str) -> dict[str, str]:
    got = page.wait_until(lambda: page.js(FIGURES, scope), what=f"the figures in {scope}")
    return dict(got)  # pairs, in the order shown


def value_text(text: str) -> str:
    """A figure's text without its note for officials (" · not shown to other roles")."""
    return text.split(" · ")[0]


def show_profile(page: Any, title: str) -> None:
    """Wait until the panel beside the map shows the profile titled ``title``."""
    page.wait_until(
        lambda: (
            not page.js("return document.getElementById('region-profile').hidden;")
            and page.text(f"{PANEL} h2") == title
        ),
        what=f"the profile of {title}",
    )
    settle(page, f"the profile of {title} to be complete")


def type_search(page: Any, text: str) -> None:
    """Type ``text`` into the search box (what was typed before is removed)."""
    if not count(page, "input.dash-dropdown-search"):
        page.duo.find_element("#search").click()  # opens it (a click on an open one closes it)
    box = page.wait_until(
        lambda: page.driver.find_element(By.CSS_SELECTOR, "input.dash-dropdown-search"),
        what="the search box's input",
    )
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    box.send_keys(text)


def search_options(page: Any, text: str) -> list[dict[str, Any]]:
    """Type ``text`` and return the options the server answered the whole query with."""
    type_search(page, text)

    def answered() -> tuple[list[dict[str, Any]]] | None:
        answers = page.js("return window.__searchAnswers;") or []
        found = [answer["options"] for answer in answers if answer["query"] == text]
        return (found[-1],) if found else None

    (options,) = page.wait_until(answered, what=f"the server's answer to the search {text!r}")
    settle(page)
    assert all(option.get("search") == text for option in options), (text, options)
    assert page.prop("search", "options") == options, "the search box shows the last answer"
    return options


def pick_option(page: Any, starts: str) -> None:
    """Click the search option whose label starts with ``starts``."""

    def option() -> Any:
        for element in page.driver.find_elements(
            By.CSS_SELECTOR, ".dash-dropdown-options .dash-dropdown-option"
        ):
            if element.text.strip().startswith(starts):
                return element
        return None

    page.wait_until(option, what=f"a search option {starts!r}").click()


def click_view(page: Any, label: str) -> None:
    """The Map/Table switch: its radio inputs are hidden behind button-like labels."""
    labels = page.driver.find_elements(By.CSS_SELECTOR, "#view label")
    matching = [element for element in labels if element.text.strip() == label]
    assert matching, [element.text for element in labels]
    matching[0].click()


def wait_for_charts(page: Any, scope: str) -> None:
    page.wait_until(
        lambda: count(page, f"{scope} .dash-graph") and not count(page, f"{scope} .dash-graph--pending"),
        what=f"the charts of {scope}",
    )


def unlisted_in_sample(path: Any) -> tuple[set[str], dict[str, set[str]]]:
    """Companies of the sample file not to be named (a row with public_listing other than yes), and
    their facility ids: read from the file itself."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = {row["company"] for row in rows if row["public_listing"].strip().casefold() != "yes"}
    sites: dict[str, set[str]] = {}
    for row in rows:
        if row["company"] in names:
            sites.setdefault(row["company"], set()).add(row["facility_id"])
    return names, sites


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def test_search_opens_the_profile_and_the_region_page(atlas, dash_duo, official_truth):
    truth = official_truth.table(2021, 2).loc[LODZ]
    page = open_atlas(atlas, dash_duo)
    assert page.js("return document.getElementById('region-profile').hidden;"), "no profile before a choice"

    # accents and case: "lodz" finds Łódzkie; the options come from the server
    type_search(page, "lodz")
    pick_option(page, f"{LODZ_TITLE} ·")
    show_profile(page, LODZ_TITLE)
    assert page.prop("selected-region", "data") == LODZ
    assert query(page).get("region") == [LODZ], page.driver.current_url

    panel = figures(page, PANEL)
    assert list(panel) == ["Sites", "Companies", "Capacity", "Available capacity", "Bottleneck reports"]
    for label, metric in (("Sites", "facilities"), ("Companies", "companies"), ("Capacity", "capacity")):
        assert value_text(panel[label]) == choropleth.format_value(metric, truth[metric]), (label, panel)
    assert panel["Sites"].startswith(f"{round(truth['facilities']):,} "), panel

    link = page.duo.find_element("#region-page-link")
    assert urlsplit(link.get_attribute("href"))[2:4] == (f"/region/{LODZ}", "version=2021")
    link.click()
    page.wait_until(lambda: page.path() == f"/region/{LODZ}", what="the region page")
    page.wait_until(lambda: page.js(SHOWN, PAGE), what="the region page shown")
    page.wait_until(lambda: page.text(f"{PAGE} h2") == LODZ_TITLE, what="the region page's title")
    assert not page.js(SHOWN, "#main-page"), "the map page is hidden behind the region page"
    shown = figures(page, PAGE)
    assert shown["Sites"] == panel["Sites"], (shown, panel)
    assert shown == panel
    assert_clean(page)


def test_back_and_forward_restore_the_view(atlas, dash_duo, official_truth):
    truth = official_truth
    page = open_atlas(atlas, dash_duo)
    page.wait_for_regions(truth.hideout(2021, 2))
    start = page.driver.current_url
    assert query(page) == {}

    page.choose("stage", "Fill & finish")
    page.wait_until(lambda: query(page).get("stage") == ["fill_finish"], what="the stage in the address")
    page.wait_for_regions(truth.hideout(2021, 2, "facilities", FILL_FINISH))
    staged = page.driver.current_url
    assert "level" not in query(page)

    page.radio("level", 3)
    page.wait_until(lambda: query(page).get("level") == ["3"], what="the level in the address")
    assert query(page).get("stage") == ["fill_finish"]
    page.wait_for_regions(truth.hideout(2021, 3, "facilities", FILL_FINISH))
    deepest = page.driver.current_url

    def shows(url: str, level: int, stages: tuple[str, ...]) -> None:
        page.wait_until(lambda: page.driver.current_url == url, what=f"the address {url}")
        page.wait_until(
            lambda: page.prop("level", "value") == level and page.prop("stage", "value") == list(stages),
            what=f"level {level} and stages {stages}",
        )
        page.wait_for_regions(truth.hideout(2021, level, "facilities", stages))
        assert page.duo.find_element(f"#level input[value='{level}']").is_selected()
        assert ("Fill & finish" in page.text("#stage")) == bool(stages)
        assert page.text("#url-notice") == ""

    page.driver.back()
    shows(staged, 2, FILL_FINISH)
    page.driver.back()
    shows(start, 2, ())
    page.driver.forward()
    shows(staged, 2, FILL_FINISH)
    page.driver.forward()
    shows(deepest, 3, FILL_FINISH)
    assert_clean(page)


def test_a_link_opens_its_view_in_a_new_browser(atlas, dash_duo, official_truth):
    """dash_duo's browser is a new one for each test: signing in is its first request, with the
    link as where to go next."""
    link = "/?level=3&stage=fill_finish&region=DE212"
    page = open_atlas(atlas, dash_duo, path=link)
    title = f"{nuts.names(2021)['DE212']} (DE212)"
    show_profile(page, title)
    assert page.prop("level", "value") == 3
    assert page.prop("stage", "value") == ["fill_finish"]
    assert page.prop("selected-region", "data") == "DE212"
    assert page.duo.find_element("#level input[value='3']").is_selected()
    assert "Fill & finish" in page.text("#stage")
    page.wait_for_regions(official_truth.hideout(2021, 3, "facilities", FILL_FINISH))
    expected = official_truth.table(2021, 3, FILL_FINISH).loc["DE212"]
    panel = figures(page, PANEL)
    assert value_text(panel["Sites"]) == choropleth.format_value("facilities", expected["facilities"]), panel
    assert value_text(panel["Companies"]) == choropleth.format_value("companies", expected["companies"])
    assert page.text("#url-notice") == ""
    got = query(page)
    assert (got["level"], got["stage"], got["region"]) == (["3"], ["fill_finish"], ["DE212"]), got
    assert_clean(page)


def test_hostile_addresses_fall_back_with_a_notice(atlas, dash_duo, official_truth):
    evil = "<script>window.__xss=1</script>"  # a parameter's name: echoed in the notice
    addresses = {
        "/?level=9&metric=%3Cscript%3E": ("'9'", "'<script>'"),
        # markup a browser would run if it were inserted as HTML
        "/?level=9&metric=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
        "&%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E=1": (
            "'9'",
            "'<img src=x onerror=alert(1)>'",
            f"'{evil}'",
        ),
    }
    page = open_atlas(atlas, dash_duo, path=None)
    for address, echoed in addresses.items():
        page.open(address)
        page.wait_for_start()
        page.wait_until(lambda: page.text("#url-notice"), what=f"a notice for {address}")
        settle(page)
        notice = page.text("#url-notice")
        assert "level" in notice and "metric" in notice, notice
        for text in echoed:
            assert text in notice, (text, notice)  # shown as text, not markup
        assert page.prop("level", "value") == 2
        assert page.prop("metric", "value") == "facilities"
        assert page.duo.find_element("#level input[value='2']").is_selected()
        page.wait_for_regions(official_truth.hideout(2021, 2))
        assert not count(page, "#url-notice *"), "the notice is plain text"
        assert not page.js("return [...document.scripts].some(e => e.textContent.includes('__xss'));")
        assert not count(page, "img[src='x']")
        assert page.js("return window.__xss === undefined && window.__alerted === undefined;")
        with pytest.raises(NoAlertPresentException):
            page.driver.switch_to.alert.text  # noqa: B018 - only asks whether a dialog is open
    assert_clean(page)


def test_cluster_profiles_name_only_listed_companies(atlas, dash_duo, cluster_truth, official_truth):
    truth = cluster_truth
    unlisted, unlisted_sites = unlisted_in_sample(truth.path)
    assert unlisted and unlisted == truth.unlisted_companies(2021), "the file's answer is the engine's"

    released = truth.table(2021, 2)
    placed = truth.placed(2021)
    region_of = placed["nuts3"].astype(str).str[:4]
    hidden_rows = placed.assign(region=region_of)[placed["company"].isin(unlisted)]
    hidden_here = hidden_rows.groupby("region")["company"]
    listed = truth.listed(2021)
    listed_here = listed.assign(region=listed["nuts3"].astype(str).str[:4]).groupby("region")["company"]
    # the region with the most unlisted companies whose site count the cluster sees
    candidates = sorted(
        (-hidden_here.get_group(code).nunique(), code)
        for code in hidden_here.groups
        if code in released.index and released.loc[code, "facilities_withheld"] == ""
        and code in listed_here.groups
    )  # fmt: skip
    assert candidates, "the sample should have regions with unlisted companies and released figures"
    code = candidates[0][1]
    hidden = set(hidden_here.get_group(code))
    names = nuts.names(2021)

    # a region with one or two companies, the largest (easy to click on the map)
    companies = official_truth.table(2021, 2)["companies"]
    regions = nuts.load(2021, 2).set_index("NUTS_ID")
    few = [
        c
        for c in companies.index
        if 1 <= companies[c] <= 2 and released.loc[c, "facilities_withheld"] == "few"
    ]
    assert few, "the sample should have NUTS 2 regions with only one or two companies"
    area = regions.loc[few].to_crs(3035).area
    small = str(area.idxmax())
    inside = regions.loc[small].geometry.representative_point()

    page = open_atlas(atlas, dash_duo, role="cluster")
    assert page.text("#role-badge").startswith("Cluster view")

    # --- a click on the map: a region of too few companies ------------------------------------
    page.leaflet(
        "window.__atlasMap.setView([arguments[0], arguments[1]], 6, {animate: false});", inside.y, inside.x
    )
    page.wait_until(lambda: idle(page), what="the map to settle")
    x, y = page.viewport_xy(inside.y, inside.x)
    ActionChains(page.driver).move_to_location(int(x), int(y)).click().perform()
    show_profile(page, f"{names[small]} ({small})")
    assert page.prop("selected-region", "data") == small
    shown = figures(page, PANEL)
    assert shown["Sites"] == FEW, shown
    for label, metric in (("Sites", "facilities"), ("Companies", "companies"), ("Capacity", "capacity")):
        assert released.loc[small, f"{metric}_withheld"] == "few"
        assert shown[label] == FEW, (label, shown)
    assert not any(re.search(r"\d", text) for text in shown.values()), shown

    # --- the search: a region with unlisted companies ------------------------------------------
    options = search_options(page, code)
    assert any(option["value"] == f"region:{code}" for option in options), options
    pick_option(page, f"{names[code]} ({code}) ·")
    show_profile(page, f"{names[code]} ({code})")
    shown = figures(page, PANEL)
    assert shown["Sites"] == choropleth.format_value("facilities", released.loc[code, "facilities"]), shown
    assert shown["Companies"] == choropleth.format_value("companies", released.loc[code, "companies"]), shown

    heads = [h.text.strip().casefold() for h in page.duo.find_elements(f"{PANEL} .atlas-site-table thead th")]
    assert heads and heads[0] == "company", heads
    assert not [h for h in heads if any(field in h for field in OFFICIAL_ONLY)], heads
    listed_rows = page.js(
        "return [...document.querySelectorAll(arguments[0])].map(r => r.cells[0].textContent.trim());",
        f"{PANEL} .atlas-site-table tbody tr",
    )
    assert sorted(listed_rows, key=str.casefold) == sorted(listed_here.get_group(code), key=str.casefold)
    text = page.js("return document.getElementById('region-profile').textContent;").casefold()
    assert not [name for name in unlisted if name.casefold() in text], hidden

    # --- the search: a listed company is found, an unlisted one is not --------------------------
    known = sorted(listed_here.get_group(code))[0]
    options = search_options(page, known)
    assert any(option["label"].startswith(f"{known} · Company") for option in options), options
    secret = sorted(hidden)[0]
    options = search_options(page, secret)
    labels = [option["label"] for option in options]
    assert not [label for label in labels if secret.casefold() in label.casefold()], labels
    values = {option["value"] for option in options}
    assert f"company:{normalise_name(secret)}" not in values, values
    assert not values & {f"site:{site}" for site in unlisted_sites[secret]}, values
    shown_options = [e.text for e in page.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")]
    assert not [label for label in shown_options if secret.casefold() in label.casefold()], shown_options
    assert_clean(page)


def test_table_view_shows_the_release_and_sorts(atlas, dash_duo, official_truth):
    """At NUTS level 1 (the same markup at every level: one HTML fragment, sorted in the browser)."""
    truth = official_truth
    expected = truth.table(2021, TABLE_LEVEL)
    surveyed = set(truth.facilities["country"].dropna())
    codes = {code for code in expected.index if code[:2] in surveyed}
    page = open_atlas(atlas, dash_duo, path=f"/?level={TABLE_LEVEL}", debug=False)
    page.wait_for_regions(truth.hideout(2021, TABLE_LEVEL))

    click_view(page, "Table")
    page.wait_until(lambda: page.js(REGION_TABLE), what="the region table")
    page.wait_until(lambda: query(page).get("view") == ["table"], what="view=table in the address")
    assert page.js("return document.getElementById('map-view').hidden;")
    assert not page.js("return document.getElementById('table-view').hidden;")
    table = page.js(REGION_TABLE)
    heads = [text for text, _sort in table["head"]]
    assert heads[:3] == ["Region", "NUTS code", "Sites sites"], heads
    assert table["head"][0][1] == "ascending"  # by region name, as the server sends it
    # an official's figure other roles do not see carries a note: "1 (not shown to other roles)"
    sites = {row[1]: row[2].split(" (")[0] for row in table["rows"]}
    assert set(sites) == codes
    want = {code: f"{round(expected.loc[code, 'facilities']):,}" for code in codes}
    assert sites == want
    assert sites[LODZ[:3]] == f"{round(expected.loc[LODZ[:3], 'facilities']):,}"

    header = next(
        button
        for button in page.duo.find_elements("#region-table-element thead button")
        if button.text.startswith("Sites")
    )
    header.click()

    def sorted_by_sites() -> list[list[str]] | None:
        got = page.js(REGION_TABLE)
        return got["rows"] if got and got["head"][2][1] == "descending" else None

    rows = page.wait_until(sorted_by_sites, what="the table sorted by sites, descending")
    counts = [int(row[2].split(" (")[0].replace(",", "")) for row in rows]
    assert counts == sorted(counts, reverse=True), counts[:20]
    assert counts[0] == max(int(expected.loc[code, "facilities"]) for code in codes)
    assert {row[1]: row[2].split(" (")[0] for row in rows} == want
    assert page.js(REGION_TABLE)["head"][0][1] == "none"
    assert_clean(page)


def test_region_page_prints_alone(atlas, dash_duo, official_truth):
    truth = official_truth.table(2021, 2).loc[LODZ]
    placed = official_truth.placed(2021)
    companies = set(placed.loc[placed["nuts3"].astype(str).str.startswith(LODZ), "company"])
    # as served (Dash's dev tools would add their own menu to the printed page)
    page = open_atlas(atlas, dash_duo, path=f"/region/{LODZ}?version=2021", debug=False)
    page.wait_until(lambda: page.text(f"{PAGE} h2") == LODZ_TITLE, what="the region page")
    wait_for_charts(page, PAGE)
    settle(page)
    shown = figures(page, PAGE)
    assert value_text(shown["Sites"]) == choropleth.format_value("facilities", truth["facilities"]), shown

    pdf = base64.b64decode(page.driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})["data"])
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    assert pages >= 1
    print(f"the region page of {LODZ} prints on {pages} page(s)")

    # what the printed page holds: the page under print media (the PDF's text is glyph codes)
    page.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert page.js("return matchMedia('print').matches;")
        assert not page.js(SHOWN, "#main-page"), "the map page is not printed"
        assert page.js(SHOWN, PAGE)
        assert not page.js(SHOWN, f"{PAGE} .d-print-none"), "the link back to the map is not printed"
        assert page.js(SHOWN, f"{PAGE} dl.atlas-profile-figures")
        assert page.js(SHOWN, f"{PAGE} .atlas-page-footer")
        footer = page.js(
            "return document.querySelector(arguments[0]).innerText;", f"{PAGE} .atlas-page-footer"
        )
        assert nuts.ATTRIBUTION in footer, footer
        assert "sample_facilities" in footer and "NUTS 2021" in footer, footer
        assert re.search(r"published \d{2} [A-Z][a-z]{2} \d{4}", footer), footer
        printed = page.js("return document.body.innerText;")  # rendered text only
        for text in (LODZ_TITLE, nuts.ATTRIBUTION, *shown.values(), *companies):
            assert text in printed, text
        assert "Hover over a region" not in printed and "Copy link" not in printed
    finally:
        page.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert not page.js("return matchMedia('print').matches;")

    # an unknown code: an alert, offering the region of the other NUTS version where there is one
    only_2024 = sorted(set(nuts.load(2024, 2)["NUTS_ID"]) - set(nuts.load(2021, 2)["NUTS_ID"]))[0]
    page.open(f"/region/{only_2024}?version=2021")
    page.wait_until(lambda: page.duo.find_elements("#region-missing"), what="the missing-region alert")
    other = page.duo.find_element("#other-version")
    assert urlsplit(other.get_attribute("href"))[2:4] == (f"/region/{only_2024}", "version=2024")
    assert_clean(page)


def test_accessibility_axe(atlas, dash_duo):
    """axe-core finds no serious or critical problem on the map (profile open), the table view
    (NUTS level 1, as test_table_view_shows_the_release_and_sorts) and a region page. Without
    Dash's dev tools: their own buttons are not the app's."""
    page = open_atlas(atlas, dash_duo, path=f"/?level={TABLE_LEVEL}&region={LODZ}", debug=False)
    show_profile(page, LODZ_TITLE)
    wait_for_charts(page, PANEL)
    found: dict[str, list[dict[str, Any]]] = {"map with the profile": axe.run(page.driver)}

    click_view(page, "Table")
    page.wait_until(lambda: page.js(REGION_TABLE), what="the region table")
    settle(page)
    found["table view"] = axe.run(page.driver)

    page.open(f"/region/{LODZ}?version=2021")
    page.wait_until(lambda: page.text(f"{PAGE} h2") == LODZ_TITLE, what="the region page")
    wait_for_charts(page, PAGE)
    settle(page)
    found["region page"] = axe.run(page.driver)

    report = "\n".join(
        f"{where} (axe-core {axe.version(page.driver)}):\n{axe.describe(violations)}"
        for where, violations in found.items()
    )
    print(report)
    blocking = {where: [v["id"] for v in axe.blocking(violations)] for where, violations in found.items()}
    assert not any(blocking.values()), f"serious or critical accessibility violations: {blocking}\n{report}"
    assert_clean(page)
