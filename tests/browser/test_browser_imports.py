"""Importing a survey round in the browser: an official uploads a messy file, reads the report,
downloads the findings, publishes the round and finds it on the map; a cluster user reaches none
of it. All of it offline (127.0.0.1 only) and without console errors.

The app keeps its own survey store (a SQLite file in tmp_path): the round published here must not
become the newest round of any other test's app.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: tests/store/conftest.py's MESSY_CSV (rows as a spreadsheet numbers them, the header is row 1):
#: rows 5 and 6 are rejected; row 4 gives Greece by its ISO code (a note) and lies just off the
#: coast ('nearest'); row 7 has swapped coordinates; row 8 is placed by postcode, row 9 by its
#: nuts3 code; row 10 lies in Austria but says DE; row 11 lies in the Atlantic ('unmatched').
MESSY_CSV = """\
facility_id,company,company_id,country,city,postcode,latitude,longitude,nuts3,company_size,cluster,\
stages,platforms,capacity_doses_per_month,available_capacity_pct,lead_time_months,gmp_certified,staff,\
bottlenecks,bottleneck_notes,public_listing,contact_consent,survey_date
M1,Messy One GmbH,DE123456789,DE,München,80331,48.137,11.575,DE212,large,BioM,fill_finish;qc_testing,\
mrna;viral_vector,"1,000,000",25.5,2.5,yes,120,vials_stoppers;skilled_staff,\
"Fictional: vials, stoppers",yes,yes,2021-03-01
M2,Messy Two S.A.,,EL,Athens,,37.98,23.72,,small,,Fill & finish,,,,,no,,,,no,no,2021-03-02
M3,Messy Three,EL999,GR,Patras,,38.2466,21.7346,,micro,,raw_materials,other,0,0,0,,0,financing,,,,
M4,,,DE,,,,,,,,fill_finish,,,,,,,,,,,
M5,Bad Country,,XX,,,50,10,,,,fill_finish,,,,,,,,,,,
M6,Swapped Ltd,,DE,,,11.575,48.137,,,,formulation,,,,,,,,,,,
M7,Postcode Only,DE987,DE,Berlin,10115,,,,medium,,services,protein_subunit,,,,,,,,yes,,2021-03-05
M8,Code Only,,FR,Paris,,,,FR101,,,services,,,,,,,,,,,
M9,Over The Border,,DE,Wien,,48.2082,16.3738,,,,cold_chain_logistics,,,,,,,,,,,
M10,At Sea,,FR,,,45.0,-15.0,,,,services,,,,,,,,,,,
"""
FILE_NAME = "messy.csv"
ROUND = "2026-spring"
SAMPLE_ROUND = "sample_facilities"
SAMPLE_SITES = 350
IMPORT_WAIT = 45  # seconds: the job page refreshes every second until the import is done
#: Distinctive phrases of geodata.records' reasons for the rejected rows of MESSY_CSV.
REJECTED = {
    # M4: no company, and neither coordinates nor a postcode nor a nuts3 code
    5: {"company": "cell is empty", "latitude/longitude": "cannot be located"},
    # M5: XX is no country NUTS covers
    6: {"country": "not a country code NUTS covers"},
}
#: Round picker labels: "<name> · published DD Mon YYYY".
LABEL = re.compile(r"^(?P<name>.+) · published \d{2} [A-Z][a-z]{2} \d{4}$")

#: Installed in every document before its own scripts (the import pages are not Dash pages, and the
#: browser goes through several documents): when a document goes away, what it loaded is added to
#: the tab's sessionStorage. The URLs are those of test_browser_page.RESOURCE_URLS: resources
#: (scripts, styles, fetch/XHR), the document itself, every src/href of the page.
RECORD_URLS = """
(() => {
  const KEY = '__atlasUrls';
  const collect = () => {
    const urls = performance.getEntriesByType('resource').map(e => e.name);
    urls.push(location.href);
    document.querySelectorAll('[src], [href]').forEach(el => {
      urls.push(new URL(el.getAttribute('src') || el.getAttribute('href'), location.href).href);
    });
    return urls.filter(url => !/^(data|blob|javascript|about):/.test(url));
  };
  window.__atlasUrls = collect;
  window.addEventListener('pagehide', () => {
    try {
      const seen = JSON.parse(sessionStorage.getItem(KEY) || '[]');
      sessionStorage.setItem(KEY, JSON.stringify(seen.concat(collect())));
    } catch (e) { /* nothing to record on an opaque origin */ }
  });
})();
"""
ALL_URLS = """
const seen = JSON.parse(sessionStorage.getItem('__atlasUrls') || '[]');
return seen.concat(window.__atlasUrls ? window.__atlasUrls() : [location.href]);
"""
#: A table of a server-rendered page: its header cells and the cells of each body row, as text.
TABLE = """
const table = document.querySelector(arguments[0]);
const text = row => [...row.cells].map(cell => cell.textContent.trim());
return [text(table.tHead.rows[0]), [...table.tBodies[0].rows].map(text)];
"""
#: The HTTP status of the document shown.
STATUS = "return performance.getEntriesByType('navigation')[0].responseStatus;"
#: arguments: [path, ...], the round's name, the CSV text, callback. With a valid CSRF token (from
#: the demo's sign-in page, as a form would send it): POST each path as the upload form would.
POST_FORMS = """
const [paths, round, csv, done] = arguments;
fetch('/login', {credentials: 'same-origin'})
  .then(r => r.text())
  .then(async html => {
    const input = new DOMParser().parseFromString(html, 'text/html').querySelector('input[name=csrf_token]');
    const token = input ? input.value : '';
    const out = {token: token, status: {}};
    for (const path of paths) {
      const form = new FormData();
      form.append('csrf_token', token);
      form.append('round', round);
      form.append('file', new Blob([csv], {type: 'text/csv'}), 'messy.csv');
      const init = {method: 'POST', body: form, credentials: 'same-origin', redirect: 'manual'};
      const r = await fetch(path, init);
      out.status[path] = r.status;
    }
    done(out);
  })
  .catch(e => done({error: String(e)}));
"""


@pytest.fixture
def own_store(atlas_env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A survey store of this test's own for the app started next. (The browser conftest's
    atlas_env takes every ATLAS_* variable away, the root conftest's temporary store included.)"""
    path = tmp_path / "store" / "atlas.sqlite"
    path.parent.mkdir()
    atlas_env.setenv("ATLAS_DATABASE_URL", f"sqlite:///{path}")
    return path


def rows_of(page: Any, selector: str, header: list[str]) -> list[dict[str, str]]:
    """The rows of a table with the columns ``header``, as {column: cell text}."""
    heads, rows = page.js(TABLE, selector)
    assert heads == header, f"{selector}: columns {heads}"
    return [dict(zip(heads, row, strict=True)) for row in rows]


def read_csv(got: dict[str, Any]) -> pd.DataFrame:
    assert got["status"] == 200, got
    assert got["type"].startswith("text/csv"), got["type"]
    return pd.read_csv(io.StringIO(got["text"].lstrip("\ufeff")), dtype=str, keep_default_na=False)


#: React's development build (Dash's debug mode) warns about a deprecation inside dcc.Markdown's
#: renderer; not an error of the page, and absent from the production build users get.
REACT_DEV_DEPRECATION = "Support for defaultProps will be removed from function components"


def severe_logs(page: Any) -> list[dict[str, Any]]:
    """The browser's SEVERE console entries since the last call (chromedriver hands each out once)."""
    return [
        entry
        for entry in page.duo.get_logs()
        if entry.get("level") == "SEVERE" and REACT_DEV_DEPRECATION not in str(entry.get("message"))
    ]


def data_line_start(truth: Any, round_name: str, file_name: str) -> str:
    totals = truth.totals(2021)
    return (
        f"Round {round_name} ({file_name}) · {round(totals['facilities']):,} sites of "
        f"{round(totals['companies']):,} companies · "
    )


def test_official_imports_a_round_and_others_cannot(atlas, own_store, dash_duo, tmp_path, make_truth):
    messy = tmp_path / FILE_NAME
    messy.write_text(MESSY_CSV, encoding="utf-8")
    messy_truth = make_truth(messy, "official")
    assert len(messy_truth.facilities) == 8, "MESSY_CSV: ten rows, two of them rejected"

    dash_duo.server.host = "127.0.0.1"  # dash testing's default URL host is "localhost"
    # debug: Dash's dev tools check the callbacks and props in the browser (and its error handler,
    # which answered a 403 with a 500 traceback page before hardening handled HTTP errors itself)
    page = atlas(sign_in=False, debug=True, use_reloader=False, dev_tools_hot_reload=False)
    page.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_URLS})
    duo = page.duo

    # --- the official: the map on the sample, then the import page -------------------------------
    page.sign_in_demo("official", next_="/")
    page.wait_for_start(SAMPLE_SITES)
    page.wait_until(
        lambda: page.text("#data-line").startswith(f"Round {SAMPLE_ROUND} ({SAMPLE_ROUND}.csv) · "),
        what="the sample round's data line",
    )
    assert [option["value"] for option in page.prop("round", "options")] == [SAMPLE_ROUND]
    duo.find_element("#import-link").click()
    page.wait_until(lambda: page.path() == "/import", what="the import page")
    assert duo.find_elements("#upload-form")
    duo.find_element("#file").send_keys(str(messy))
    duo.find_element("#round").send_keys(ROUND)
    duo.find_element("#upload").click()
    report = f"/import/rounds/{ROUND}"
    page.wait_until(lambda: page.path() == report, timeout=IMPORT_WAIT, what="the round's report")

    summary = page.text("#round-summary")
    assert summary.startswith(f"Round {ROUND} (draft) from {FILE_NAME}: "), summary
    assert "8 valid sites, 2 rejected rows" in summary, summary

    # rejected rows: row numbers, fields and reasons as records.py gives them for MESSY_CSV
    problems = rows_of(page, "#problems-table", ["Row", "Field", "Value", "Reason", "Severity"])
    errors = [row for row in problems if row["Severity"] == "error"]
    assert {int(row["Row"]) for row in errors} == set(REJECTED), errors
    for number, fields in REJECTED.items():
        found = {row["Field"]: row for row in errors if row["Row"] == str(number)}
        assert set(found) == set(fields), (number, found)
        for field, phrase in fields.items():
            assert phrase in found[field]["Reason"], (number, field, found[field])
    assert next(row for row in errors if row["Row"] == "6")["Value"] == "XX"
    # row 4's ISO country code is converted, not rejected: a note
    notes = [row for row in problems if row["Row"] == "4" and row["Field"] == "country"]
    assert [(row["Value"], row["Severity"]) for row in notes] == [("GR", "note")], notes

    # placement: the site at sea placed nowhere, the swapped one recognised, in both NUTS versions
    placement = rows_of(page, "#placement-table", ["NUTS", "Row", "Site", "Problem", "Note"])
    kinds = {(row["NUTS"], row["Row"], row["Site"], row["Problem"]) for row in placement}
    for year in ("2021", "2024"):
        assert (year, "11", "M10", "unmatched") in kinds, placement
        assert (year, "7", "M6", "swapped") in kinds, placement
    swapped = next(row for row in placement if row["Site"] == "M6")
    assert "swapped" in swapped["Note"], swapped

    # the downloads: the CSV routes, fetched with the browser's own session
    links = {
        name: page.js(
            "return document.getElementById(arguments[0]).getAttribute('href');", f"download-{name}"
        )
        for name in ("problems", "rejected")
    }
    assert links == {"problems": f"{report}/problems.csv", "rejected": f"{report}/rejected.csv"}
    rejected = read_csv(page.fetch(links["rejected"])).set_index("source_row")
    assert sorted(rejected.index) == ["5", "6"]
    assert rejected.loc["5", "facility_id"] == "M4"
    assert rejected.loc["5", "company"] == ""
    assert "cannot be located" in rejected.loc["5", "rejection_reasons"]
    assert rejected.loc["6", "country"] == "XX"
    findings = read_csv(page.fetch(links["problems"]))
    row5 = findings[findings["row"] == "5"]
    assert set(row5["field"]) == set(REJECTED[5]), row5
    at_sea = findings[(findings["kind"] == "placement") & (findings["value"] == "M10")]
    assert set(at_sea["row"]) == {"11"} and all(at_sea["reason"].str.startswith("unmatched")), at_sea

    # --- publish, then the map shows the new round -------------------------------------------
    duo.find_element("#publish").click()
    page.wait_until(lambda: duo.find_elements("#open-map"), what="the published round's report")
    assert "published" in page.text("#import-message")
    assert page.text("#round-summary").startswith(f"Round {ROUND} (published) from {FILE_NAME}: ")
    assert not duo.find_elements("#publish")
    duo.find_element("#open-map").click()
    page.wait_until(lambda: page.path() == "/", what="the map")
    page.wait_for_start()
    new_line = data_line_start(messy_truth, ROUND, FILE_NAME)
    page.wait_until(lambda: page.text("#data-line").startswith(new_line), what=f"a data line {new_line!r}")
    assert page.prop("round", "value") == ROUND
    options = page.prop("round", "options")
    assert [option["value"] for option in options] == [ROUND, SAMPLE_ROUND], "newest first"
    for option in options:
        label = LABEL.match(option["label"])
        assert label and label["name"] == option["value"], option
    assert ROUND in page.text("#round")

    # the sample round, picked in the round picker
    sample_label = next(option["label"] for option in options if option["value"] == SAMPLE_ROUND)
    page.choose("round", sample_label)
    page.wait_until(
        lambda: page.text("#data-line").startswith(f"Round {SAMPLE_ROUND} ({SAMPLE_ROUND}.csv) · 350 sites "),
        what="the sample round's data line again",
    )
    duo.wait_for_text_to_equal("#card-sites .card-value", f"{SAMPLE_SITES:,}")
    assert not duo.find_elements(".dash-debug-alert, .dash-fe-error__title")
    official_errors = severe_logs(page)
    assert official_errors == [], official_errors

    # --- a cluster user: no link, 403 on every import path --------------------------------------
    page.sign_in_demo("cluster", next_="/")
    page.wait_for_start()
    assert page.text("#role-badge").startswith("Cluster view")
    assert not duo.find_elements("#import-link")
    page.open("/import")
    assert page.path() == "/import"
    assert page.js(STATUS) == 403
    assert "Forbidden" in page.text("body")
    assert not duo.find_elements("#upload-form, #file")
    for path in (
        "/import",
        report,
        f"{report}/problems.csv",
        f"{report}/rejected.csv",
        "/import/jobs/0123456789abcdef0123456789abcdef",
    ):
        got = page.fetch(path)
        assert got["status"] == 403, (path, got)
        assert "M4" not in got["text"] and "Messy" not in got["text"], path
    posted = page.driver.execute_async_script(
        POST_FORMS, ["/import", f"{report}/publish", f"{report}/discard"], "2026-autumn", MESSY_CSV
    )
    assert posted.get("token"), f"the sign-in page gave no CSRF token: {posted}"
    assert posted["status"] == {"/import": 403, f"{report}/publish": 403, f"{report}/discard": 403}
    # nothing changed: the cluster's map still opens on the published round
    page.open("/")
    page.wait_for_start()
    page.wait_until(
        lambda: page.text("#data-line").startswith(f"Round {ROUND} ({FILE_NAME}) · "),
        what="the published round, still the default",
    )
    assert [option["value"] for option in page.prop("round", "options")] == [ROUND, SAMPLE_ROUND]

    # the console: nothing but Chromium's network line for each refusal this part asked for
    refusal = re.compile(
        re.escape(page.base) + r"/import(/\S*)? - Failed to load resource: the server responded with a "
        r"status of 403\b"
    )
    logged = severe_logs(page)
    unexpected = [e for e in logged if not (e.get("source") == "network" and refusal.match(e["message"]))]
    assert unexpected == [], unexpected
    assert logged, "the refusals should show as failed loads in the console"
    assert not duo.find_elements(".dash-debug-alert, .dash-fe-error__title")

    # --- offline: every document and request of the whole session went to 127.0.0.1 ----------
    urls = page.js(ALL_URLS)
    paths = {urlsplit(url).path for url in urls}
    for seen in ("/login", "/import", report, f"{report}/rejected.csv", "/_dash-update-component"):
        assert seen in paths, f"{seen} was not recorded: {sorted(paths)}"
    assert any(path.startswith("/import/jobs/") for path in paths), sorted(paths)
    assert own_store.is_file(), "the app kept its rounds in this test's own store"
    foreign = sorted({url for url in urls if urlsplit(url).hostname != "127.0.0.1"})
    assert not foreign, f"the browser went to other hosts: {foreign}"
