"""Rounds in the app: officials import, read the report, publish or discard; the map and the API
offer every published round and compare two; other roles cannot reach any of it.

Each test module app keeps its own survey store (a round published here must not become the
newest round of other modules' apps).
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user

from dashboard import audit, auth
from dashboard.data import SAMPLE_FILE
from dashboard.ids import Ids
from geodata import store

pytestmark = pytest.mark.integration

#: Rows as a spreadsheet numbers them: row 4 lacks the company, row 5 has no real country,
#: row 6 lies in the Atlantic (placed nowhere); rows 2 and 3 are fine.
MESSY = """\
facility_id,company,country,city,latitude,longitude,stages,public_listing
N1,Neue Impfstoff GmbH,DE,München,48.137,11.575,fill_finish,yes
N2,Nouvelle Vaccins SA,FR,Paris,48.8566,2.3522,qc_testing,yes
N3,,DE,Berlin,52.52,13.405,fill_finish,yes
N4,Nowhere Ltd,XX,,50,10,fill_finish,yes
N5,At Sea SARL,FR,,45.0,-15.0,services,yes
"""


@pytest.fixture(scope="module")
def app(real_nuts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from app import create_app

    folder = tmp_path_factory.mktemp("rounds")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATLAS_DATABASE_URL", f"sqlite:///{folder / 'atlas.sqlite'}")
        dash_app = create_app(SAMPLE_FILE, public=True)
        dash_app.server.config["dash_app"] = dash_app
        yield dash_app.server


def sign_in(server: Flask, role: str) -> FlaskClient:
    client = server.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = client.post(f"/demo/role/{role}", data={"csrf_token": token.group(1), "next": "/"})
    assert answer.status_code == 302
    return client


def csrf(client: FlaskClient, path: str = "/import") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def upload(client: FlaskClient, content: bytes, name: str, round_name: str = "") -> object:
    return client.post(
        "/import",
        data={"csrf_token": csrf(client), "round": round_name, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def finish(client: FlaskClient, job_url: str) -> str:
    """Follow a job page until it redirects to the round's report; returns the report's path."""
    for _ in range(600):
        answer = client.get(job_url)
        if answer.status_code == 303:
            return answer.headers["Location"]
        assert answer.status_code == 200
        text = answer.get_data(as_text=True)
        assert "failed" not in text, text[-800:]
        time.sleep(0.1)
    raise AssertionError("the import did not finish in 60 s")


def test_an_official_imports_reads_the_report_and_publishes(app: Flask) -> None:
    official = sign_in(app, "official")
    page = official.get("/import")
    assert page.status_code == 200
    assert 'id="upload-form"' in page.get_data(as_text=True)

    answer = upload(official, MESSY.encode(), "messy survey.csv", "2026-spring")
    assert answer.status_code == 303
    report_path = finish(official, answer.headers["Location"])
    assert report_path == "/import/rounds/2026-spring"
    report = official.get(report_path).get_data(as_text=True)
    assert "Round <strong>2026-spring</strong> (draft) from messy_survey.csv" in report
    assert "3 valid sites, 2 rejected rows" in report
    # every rejected row with its row, field and reason
    table = pd.read_html(io.StringIO(report), attrs={"id": "problems-table"})[0]
    errors = table[table["Severity"] == "error"]
    assert errors[["Row", "Field"]].values.tolist() == [[4, "company"], [5, "country"]]
    assert "not a country code NUTS covers" in errors.iloc[1]["Reason"]
    placement = pd.read_html(io.StringIO(report), attrs={"id": "placement-table"})[0]
    assert set(placement.loc[placement["Site"] == "N5", "Problem"]) == {"unmatched"}

    problems = pd.read_csv(io.BytesIO(official.get(report_path + "/problems.csv").data), encoding="utf-8-sig")
    assert problems.loc[problems["kind"] == "error", "row"].tolist() == [4, 5]
    assert "unmatched" in " ".join(problems.loc[problems["kind"] == "placement", "reason"])
    rejected = pd.read_csv(
        io.BytesIO(official.get(report_path + "/rejected.csv").data), encoding="utf-8-sig", dtype=str
    )
    assert rejected["facility_id"].tolist() == ["N3", "N4"]  # as written, to correct and import again
    assert rejected["rejection_reasons"].str.len().gt(0).all()

    # a draft is not offered to anyone, not even to officials, until published
    assert official.get("/api/v1/summary?round=2026-spring").status_code == 400
    decided = official.post(report_path + "/publish", data={"csrf_token": csrf(official, report_path)})
    assert decided.status_code == 303
    summary = official.get("/api/v1/summary?round=2026-spring").get_json()
    assert summary["round"] == "2026-spring" and summary["totals"]["facilities"] == 2  # N5 is not placed
    # published after the app started: the newest round is the default
    assert official.get("/api/v1/summary").get_json()["round"] == "2026-spring"
    assert official.get("/api/v1/summary?round=sample_facilities").get_json()["totals"]["facilities"] == 350

    # discarding takes it away again; the sample is the default once more
    official.post(report_path + "/discard", data={"csrf_token": csrf(official, report_path)})
    assert official.get("/api/v1/summary?round=2026-spring").status_code == 400
    assert official.get("/api/v1/summary").get_json()["round"] == "sample_facilities"


def test_the_same_file_again_reuses_its_round(app: Flask) -> None:
    official = sign_in(app, "official")
    answer = upload(official, SAMPLE_FILE.read_bytes(), "copy.csv", "another-name")
    report_path = finish(official, answer.headers["Location"])
    assert report_path == "/import/rounds/sample_facilities?reused=1"
    assert "nothing new was stored" in official.get(report_path).get_data(as_text=True)


@pytest.mark.parametrize(
    ("name", "content", "round_name", "message"),
    [
        ("survey.pdf", b"%PDF", "", "files of type .pdf cannot be imported"),
        ("survey.csv", b"a,b\n", "x\ty", "round name"),
        ("survey.csv", b"\xff\xfe\x00garbage", "bad-bytes", None),  # fails in the background
    ],
)
def test_bad_uploads_say_what_is_wrong(app: Flask, name: str, content: bytes, round_name: str, message):
    official = sign_in(app, "official")
    answer = upload(official, content, name, round_name)
    if message is not None:
        assert answer.status_code == 400
        assert message in answer.get_data(as_text=True)
        return
    job = answer.headers["Location"]
    for _ in range(300):
        text = official.get(job).get_data(as_text=True)
        if "failed" in text:
            break
        time.sleep(0.1)
    assert 'class="alert alert-danger"' in text and "Traceback" not in text
    assert "/tmp" not in text and "atlas-import-" not in text  # no server path in the message
    assert "bad-bytes" not in [r.name for r in store.connect().rounds()]


def test_an_upload_without_the_form_token_is_refused(app: Flask) -> None:
    official = sign_in(app, "official")
    answer = official.post(
        "/import", data={"file": (io.BytesIO(b"x"), "a.csv")}, content_type="multipart/form-data"
    )
    assert answer.status_code == 400 and "expired" in answer.get_data(as_text=True)
    assert official.post("/import/rounds/sample_facilities/discard").status_code == 400


def test_a_large_upload_is_refused_for_other_roles_before_it_is_read(app: Flask) -> None:
    cluster = sign_in(app, "cluster")
    big = b"x" * (300 * 1024)  # over the app's 256 KB limit, under the officials' upload limit
    answer = cluster.post(
        "/import", data={"file": (io.BytesIO(big), "a.csv")}, content_type="multipart/form-data"
    )
    assert answer.status_code == 413


IMPORT_PATHS = [
    ("GET", "/import"),
    ("POST", "/import"),
    ("GET", "/import/jobs/0123"),
    ("GET", "/import/rounds/sample_facilities"),
    ("GET", "/import/rounds/sample_facilities/problems.csv"),
    ("GET", "/import/rounds/sample_facilities/rejected.csv"),
    ("POST", "/import/rounds/sample_facilities/publish"),
    ("POST", "/import/rounds/sample_facilities/discard"),
    ("GET", "/import/anything/else"),
]


@pytest.mark.parametrize("role", ["cluster", "public"])
@pytest.mark.parametrize(("method", "path"), IMPORT_PATHS)
def test_other_roles_cannot_reach_the_import_pages(app: Flask, role: str, method: str, path: str) -> None:
    client = sign_in(app, role) if role != "public" else app.test_client()
    answer = client.open(path, method=method, data={"csrf_token": "x"})
    assert answer.status_code == 403, (role, path)
    text = answer.get_data(as_text=True)
    assert "sample_facilities.csv" not in text and "rejected" not in text.lower()
    assert [r.status for r in store.connect().rounds() if r.name == "sample_facilities"] == ["published"]


def test_the_map_page_links_officials_only_to_the_import_page(app: Flask) -> None:
    assert 'id="import-link"' not in sign_in(app, "cluster").get("/_dash-layout").get_data(as_text=True)
    assert '"import-link"' in sign_in(app, "official").get("/_dash-layout").get_data(as_text=True)


def test_sign_ins_exports_api_reads_and_imports_are_in_the_audit_log(app: Flask) -> None:
    official = sign_in(app, "official")
    official.get("/api/v1/summary?stage=fill_finish")
    official.get("/import/rounds/sample_facilities/problems.csv")
    sign_in(app, "cluster").get("/api/v1/regions?level=0")
    log = audit.of(app)
    assert log is not None
    log.flush()
    entries = store.connect().audit_log()
    mine = entries.tail(8)
    assert ("demo", "official", "sign-in") in set(zip(mine.user_name, mine.role, mine.action, strict=True))
    reads = entries[entries.action == "api-read"]
    assert "summary 200 stage=fill_finish" in set(reads.detail)
    assert ("cluster", "regions 200 level=0") in set(zip(reads.role, reads.detail, strict=True))
    assert "round sample_facilities" in set(entries.loc[entries.action == "export-problems", "detail"])
    refused = entries[entries.action == "refused"]
    assert refused.empty or set(refused.role) <= {"cluster", "public"}


# --- comparing two rounds -----------------------------------------------------------------------

#: Three new sites of three new companies in Munich (DE212), one in Lisbon (PT170).
LATER_ROWS = [
    "L1,Later One GmbH,DE,München,,48.137,11.575,,small,,fill_finish,mrna,1000,10,,yes,,,,yes,yes,2022-03-01",
    "L2,Later Two GmbH,DE,München,,48.14,11.58,,small,,fill_finish,mrna,2000,10,,yes,,,,yes,yes,2022-03-01",
    "L3,Later Three GmbH,DE,München,,48.13,11.56,,small,,qc_testing,mrna,,,,yes,,,,no,yes,2022-03-01",
    "L4,Later Four Lda,PT,Lisboa,,38.72,-9.14,,small,,qc_testing,mrna,,,,yes,,,,yes,yes,2022-03-01",
]


@pytest.fixture(scope="module")
def later_round(app: Flask) -> str:
    official = sign_in(app, "official")
    text = SAMPLE_FILE.read_text(encoding="utf-8").rstrip("\n")
    answer = upload(official, ("\n".join([text, *LATER_ROWS]) + "\n").encode(), "later.csv", "2022-later")
    report = finish(official, answer.headers["Location"])
    official.post(report + "/publish", data={"csrf_token": csrf(official, report)})
    return "2022-later"


def callback(server: Flask, component_id: str, prop: str):
    dash_app = server.config["dash_app"]
    output = f"{component_id}.{prop}"
    found = [e["callback"] for k, e in dash_app.callback_map.items() if output in k.strip(".").split("...")]
    assert len(found) == 1
    return found[0].__wrapped__


def update(server: Flask, role: str, *args: object):
    function = callback(server, Ids.REGION_CLASSES, "data")
    with server.test_request_context("/_dash-update-component", method="POST"):
        login_user(auth.AuthUser("demo", role, f"demo:{role}"))
        return function(*args)


def test_the_change_between_rounds_is_shown_for_officials_exactly(app: Flask, later_round: str) -> None:
    regions = update(app, "official", later_round, "sample_facilities", 2021, 0, "facilities",
                     None, None, None, None, None, "quantiles", 5)  # fmt: skip
    _url, classes, legend, _cards, status, line, badge = regions
    assert line.startswith("Round 2022-later (later.csv)")
    assert badge == {"display": "none"}  # not the sample's content: no "fictional sample" badge
    assert status == ""
    assert legend.id == "change-legend"
    assert legend.children[0].children[0].children == "Change in sites since sample_facilities"
    from dashboard.data import Atlas  # a provider of its own, on the app's store

    atlas = Atlas(store.connect(), SAMPLE_FILE)
    order = atlas.get(later_round).region_order(2021, 0)
    cls = dict(zip(order, classes["cls"], strict=True))
    # DE gained 3 sites, PT 1: both rise, DE more; every other country is unchanged (white)
    assert cls["DE"] >= cls["PT"] >= len(classes["colors"]) // 2
    assert {c for code, c in cls.items() if code not in ("DE", "PT")} <= {-1, -2}


def test_a_cluster_sees_a_change_only_where_both_rounds_show_the_figure(app: Flask, later_round: str) -> None:
    from dashboard.data import Atlas
    from layers import choropleth

    atlas = Atlas(store.connect(), SAMPLE_FILE)
    now, then = atlas.get(later_round), atlas.get("sample_facilities")
    from geodata.aggregate import Filters

    a = now.regions(2021, 3, Filters(), "cluster")
    b = then.regions(2021, 3, Filters(), "cluster")
    change = choropleth.change_table(a, b, "capacity")
    either = a["capacity"].isna() | b["capacity"].isna()
    assert change["capacity"].isna().equals(either)
    assert (change.loc[either, "capacity_withheld"] != "").all()
    shown = ~either
    assert (change.loc[shown, "capacity"] == (a.loc[shown, "capacity"] - b.loc[shown, "capacity"])).all()
    # DE212 holds the three new companies: officials see +3,000 doses there, a cluster does not
    # see a capacity change it could attribute to the two companies that gave one
    exact = choropleth.change_table(
        now.regions(2021, 3, Filters(), "official"), then.regions(2021, 3, Filters(), "official"), "capacity"
    )
    assert exact.loc["DE212", "capacity"] == 3000
    assert pd.isna(change.loc["DE212", "capacity"])


def test_a_comparison_of_other_metrics_says_what_it_covers(app: Flask, later_round: str) -> None:
    no_filters = (None, None, None, None, None)
    *_rest, status, _line, _badge = update(
        app,
        "cluster",
        later_round,
        "sample_facilities",
        2021,
        2,
        "specialisation",
        *no_filters,
        "quantiles",
        5,
    )
    assert status.startswith("A comparison of rounds covers sites, companies, capacity")
    *_rest, status, _line, _badge = update(
        app, "cluster", later_round, ["x"], 2021, 2, "facilities", *no_filters, "quantiles", 5
    )
    assert "not published" in status


# --- attacks ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def draft_round(app: Flask) -> str:
    """A round imported but not published (three sites in Munich and Paris)."""
    official = sign_in(app, "official")
    answer = upload(official, MESSY.replace("N1,", "D1,").encode(), "draft.csv", "secret-draft")
    finish(official, answer.headers["Location"])
    return "secret-draft"


def test_a_draft_round_reaches_no_one_through_any_route(app: Flask, draft_round: str) -> None:
    for role in ("official", "cluster"):
        client = sign_in(app, role)
        assert client.get(f"/api/v1/summary?round={draft_round}").status_code == 400
        assert client.get(f"/api/v1/sites?round={draft_round}").status_code == 400
        assert client.get(f"/atlas/geo/sites-2021.json?round={draft_round}").status_code == 404
        # a crafted callback asking for it gets the default round, and says so
        *_rest, status, line, _badge = update(
            app, role, draft_round, None, 2021, 2, "facilities", None, None, None, None, None, "quantiles", 5
        )
        assert f"No published round named '{draft_round}'" in status
        assert not line.startswith(f"Round {draft_round}")
        *_rest, status, line, _badge = update(
            app, role, None, draft_round, 2021, 2, "facilities", None, None, None, None, None, "quantiles", 5
        )
        assert "not published" in status


def test_hostile_file_and_round_names_are_escaped_and_confined(app: Flask) -> None:
    official = sign_in(app, "official")
    answer = upload(official, MESSY.replace("N1,", "H1,").encode(), "../../x<script>.csv", "<b>bold</b>\"'")
    report_path = finish(official, answer.headers["Location"])
    page = official.get(report_path).get_data(as_text=True)
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>" not in page
    assert "from xscript.csv" in page  # the uploaded name, made safe: no folder, no markup
    index = official.get("/import").get_data(as_text=True)
    assert "<b>bold</b>" not in index and "&lt;b&gt;bold&lt;/b&gt;" in index


def test_unknown_rounds_and_jobs_are_404_for_officials(app: Flask) -> None:
    official = sign_in(app, "official")
    assert official.get("/import/rounds/no-such-round").status_code == 404
    assert official.get("/import/rounds/no-such-round/problems.csv").status_code == 404
    assert official.get("/import/jobs/not-a-job").status_code == 404
    token = csrf(official)
    assert (
        official.post("/import/rounds/no-such-round/publish", data={"csrf_token": token}).status_code == 404
    )
