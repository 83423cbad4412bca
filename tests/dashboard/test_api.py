"""The read API on the real app (the bundled sample is a demo: a test client picks its role).

Figures are compared with what the disclosure engine releases through a separate AtlasData of
the same file (the engine is deterministic: the same request always gets the same answer).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import api, views
from dashboard.data import SAMPLE_FILE, AtlasData
from geodata import companies, disclosure, records, store, vocab
from geodata.aggregate import Filters
from geodata.disclosure.engine import OFFICIAL_SITE_FIELDS

pytestmark = pytest.mark.integration

ROLES = ("official", "cluster", "public")
SENSITIVE = (
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
    "staff",
    "bottleneck_notes",
)
FILTERS = Filters(stages=("fill_finish", "qc_testing"))
FILTER_QUERY = "stage=fill_finish&stage=qc_testing"


@pytest.fixture(scope="module")
def server(real_nuts: object) -> Flask:
    import app

    return app.create_app(SAMPLE_FILE, public=False).server


@pytest.fixture(scope="module")
def data(server: Flask) -> AtlasData:
    """The app's round, read back from the survey store on its own (the same file: the same round)."""
    return AtlasData(SAMPLE_FILE, store=store.connect())


def sign_in(server: Flask, role: str) -> FlaskClient:
    """A test client signed in to the demo as ``role`` (the switcher's form, with its CSRF token)."""
    client = server.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "the demo sign-in page has no CSRF token"
    answer = client.post(f"/demo/role/{role}", data={"csrf_token": token.group(1), "next": "/"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:200]
    return client


@pytest.fixture(scope="module")
def clients(server: Flask) -> dict[str, FlaskClient]:
    return {role: sign_in(server, role) for role in ROLES}


def get_json(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "private, no-store"
    return response.get_json()


def read_csv(content: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    return frame.drop(columns="exported_at")


def same(value: object, expected: float) -> bool:
    return value is None if np.isnan(expected) else value == pytest.approx(expected)


# --- sign-in -------------------------------------------------------------------------------------


def test_every_route_needs_a_role(server: Flask) -> None:
    anonymous = server.test_client()
    for path in ("regions", "summary", "sites", "openapi.json"):
        response = anonymous.get(f"/api/v1/{path}")
        assert response.status_code == 401
        assert response.get_json()["error"]


# --- regions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_regions_json_is_the_release(clients: dict[str, FlaskClient], data: AtlasData, role: str) -> None:
    body = get_json(clients[role], f"/api/v1/regions?version=2021&level=2&{FILTER_QUERY}")
    expected = data.release(2021, FILTERS, role).table(2)
    assert body["role"] == role and body["version"] == 2021 and body["level"] == 2
    assert body["filters"]["stage"] == ["fill_finish", "qc_testing"]
    assert "Eurostat GISCO" in body["source"] and "© EuroGeographics" in body["source"]
    assert [r["nuts_id"] for r in body["regions"]] == list(expected.index)
    for region in body["regions"]:
        row = expected.loc[region["nuts_id"]]
        for metric in vocab.METRICS:
            assert same(region[metric], row[metric]), (region["nuts_id"], metric)
            reason = disclosure.reason_text(row[disclosure.withheld_column(metric)])
            if region[metric] is None and reason:
                assert region["withheld"][metric] == reason
            else:
                assert metric not in region["withheld"]


def test_cluster_gets_null_and_a_reason_where_officials_get_numbers(clients: dict[str, FlaskClient]) -> None:
    url = f"/api/v1/regions?level=3&{FILTER_QUERY}"
    cluster, official = (get_json(clients[r], url)["regions"] for r in ("cluster", "official"))
    withheld = [(c, o) for c, o in zip(cluster, official, strict=True) if c["withheld"]]
    assert withheld, "the sample should have confidential cells at NUTS 3"
    reasons = set(disclosure.REASONS.values())
    for c, o in withheld:
        for metric, reason in c["withheld"].items():
            assert c[metric] is None and reason in reasons
            assert o[metric] is not None, "officials see every figure"
            if metric != "specialisation":  # a ratio: 'derived' from a withheld figure for others only
                assert o["confidential"][metric], "and are told which ones others do not see"
        assert not o["withheld"]
    assert all("confidential" not in c for c in cluster)


@pytest.mark.parametrize("role", ROLES)
def test_regions_csv_is_the_export(clients: dict[str, FlaskClient], data: AtlasData, role: str) -> None:
    response = clients[role].get(f"/api/v1/regions?level=1&format=csv&{FILTER_QUERY}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "private, no-store"
    exported, _name = views.export_regions(data, 2021, 1, FILTERS, dt.datetime.now(dt.UTC), role)
    got = read_csv(response.data)
    pd.testing.assert_frame_equal(got, read_csv(exported))
    expected = data.release(2021, FILTERS, role).table(1)
    assert list(got["nuts_id"]) == list(expected.index)
    for metric in vocab.METRICS:
        numbers = pd.to_numeric(got[metric].replace("", np.nan)).to_numpy(float)
        np.testing.assert_allclose(numbers, expected[metric].to_numpy(float), equal_nan=True)


def test_metric_selects_the_columns(clients: dict[str, FlaskClient]) -> None:
    body = get_json(clients["cluster"], "/api/v1/regions?level=0&metric=capacity&metric=companies")
    assert {k for k in body["regions"][0] if k in vocab.METRICS} == {"capacity", "companies"}
    response = clients["cluster"].get("/api/v1/regions?level=0&metric=capacity&format=csv")
    columns = read_csv(response.data).columns
    assert "capacity" in columns and "capacity_withheld" in columns and "facilities" not in columns


# --- summary -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_summary_is_the_cards(clients: dict[str, FlaskClient], data: AtlasData, role: str) -> None:
    query = "version=2024&country=DE&country=FR&stage=drug_substance"
    body = get_json(clients[role], f"/api/v1/summary?{query}")
    filters = Filters(stages=("drug_substance",), countries=("DE", "FR"))
    totals, why = data.summary(2024, filters, role)
    assert set(body["totals"]) == set(totals)
    for key, value in totals.items():
        assert body["totals"][key] == (None if value is None else pytest.approx(value))
        if value is None:
            assert body["withheld"][key] == disclosure.reason_text(why[key])
    assert body["version"] == 2024 and body["filters"]["country"] == ["DE", "FR"]


def test_summary_withholds_with_a_reason(clients: dict[str, FlaskClient]) -> None:
    """One country with one stage leaves few companies: the cards say why, not what."""
    seen = False
    for country in ("LU", "EE", "LV", "SI", "HR", "BG"):
        body = get_json(clients["cluster"], f"/api/v1/summary?country={country}&stage=formulation")
        for key, reason in body["withheld"].items():
            seen = True
            assert body["totals"][key] is None and reason.startswith("confidential")
        official = get_json(clients["official"], f"/api/v1/summary?country={country}&stage=formulation")
        assert all(value is not None for value in official["totals"].values())
    assert seen, "some small country should have withheld totals"


# --- sites ---------------------------------------------------------------------------------------


def listed_sample_sites() -> set[str]:
    """Facility ids of companies that agreed to be listed on every row (most restrictive answer)."""
    sample = pd.read_csv(SAMPLE_FILE, dtype=str, keep_default_na=False)
    key = sample["company"].map(companies.normalise_name)
    if "company_id" in sample:
        key = key.where(sample["company_id"].str.strip() == "", "id:" + sample["company_id"].str.strip())
    agreed = sample["public_listing"].str.strip().str.lower().isin(["yes", "y", "true", "1"])
    every_row = agreed.groupby(key).transform("all")
    return set(sample.loc[every_row, "facility_id"])


def all_sites(client: FlaskClient, query: str = "") -> list[dict[str, Any]]:
    body = get_json(client, f"/api/v1/sites?limit=5000&{query}")
    assert body["total"] == len(body["sites"])
    return body["sites"]


def test_cluster_sees_only_sites_of_listed_companies(clients: dict[str, FlaskClient]) -> None:
    sites = all_sites(clients["cluster"])
    listed = listed_sample_sites()
    assert sites and {s["facility_id"] for s in sites} == listed
    for site in sites:
        assert not set(site) & {*SENSITIVE, "public_listing", "latitude", "longitude", "postcode"}
    response = clients["cluster"].get("/api/v1/sites?limit=5000&format=csv")
    frame = read_csv(response.data)
    assert not set(frame.columns) & set(OFFICIAL_SITE_FIELDS)
    assert set(frame["facility_id"]) == listed


def test_public_sees_what_a_cluster_sees(clients: dict[str, FlaskClient]) -> None:
    public, cluster = all_sites(clients["public"]), all_sites(clients["cluster"])
    assert public == cluster


def test_officials_see_every_site_with_capacity(clients: dict[str, FlaskClient]) -> None:
    sites = all_sites(clients["official"])
    sample = pd.read_csv(SAMPLE_FILE, dtype=str)
    assert len(sites) == len(sample)
    assert any(site["capacity_doses_per_month"] for site in sites)
    assert all(set(OFFICIAL_SITE_FIELDS) <= set(site) for site in sites)


@pytest.mark.parametrize("role", ("cluster", "official"))
def test_sites_filtered_match_the_dashboard(
    clients: dict[str, FlaskClient], data: AtlasData, role: str
) -> None:
    sites = all_sites(clients[role], f"version=2024&{FILTER_QUERY}&size=small&size=medium")
    filters = Filters(stages=FILTERS.stages, sizes=("small", "medium"))
    visible, match = views.shown_sites(data, 2024, filters, role)
    index = data.index(2024)
    assert [s["facility_id"] for s in sites] == list(index.facility_id[visible[match]])
    for site in sites:
        assert set(site["stages"]) & set(FILTERS.stages)
        assert site["company_size"] in ("small", "medium")
    response = clients[role].get(
        f"/api/v1/sites?version=2024&{FILTER_QUERY}&size=small&size=medium&format=csv"
    )
    exported, _ = views.export_sites(data, 2024, filters, dt.datetime.now(dt.UTC), role)
    pd.testing.assert_frame_equal(read_csv(response.data), read_csv(exported))
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")


def test_sites_are_paged(clients: dict[str, FlaskClient]) -> None:
    client = clients["cluster"]
    everything = all_sites(client)
    page = get_json(client, "/api/v1/sites?limit=7&offset=5")
    assert page["sites"] == everything[5:12]
    assert (page["limit"], page["offset"], page["total"]) == (7, 5, len(everything))
    assert get_json(client, "/api/v1/sites")["limit"] == 1000
    assert get_json(client, "/api/v1/sites?offset=100000")["sites"] == []
    response = client.get("/api/v1/sites?limit=3&offset=2&format=csv")
    assert response.headers["X-Total-Count"] == str(len(everything))
    assert list(read_csv(response.data)["facility_id"]) == [s["facility_id"] for s in everything[2:5]]


# --- bad requests ----------------------------------------------------------------------------------

BAD = [
    ("regions?level=9", "level", [0, 1, 2, 3]),
    ("regions?level=-1", "level", [0, 1, 2, 3]),
    ("regions?version=1999", "version", [2021, 2024]),
    ("summary?version=2021.0", "version", [2021, 2024]),
    ("regions?stage=nope", "stage", list(vocab.STAGES)),
    ("regions?stage=fill_finish&stage=Fill%20%26%20finish", "stage", list(vocab.STAGES)),
    ("sites?bottleneck=cold", "bottleneck", list(vocab.BOTTLENECKS)),
    ("summary?platform=MRNA", "platform", list(vocab.PLATFORMS)),
    ("sites?size=huge", "size", list(vocab.COMPANY_SIZES)),
    ("regions?country=1", "country", None),
    ("regions?country=de%27%22%3Cscript%3Ealert(1)%3C/script%3E", "country", None),
    ("regions?country=de", "country", None),
    ("regions?country=US", "country", None),
    ("regions?format=xml", "format", ["json", "csv"]),
    ("regions?metric=capacity_per_staff", "metric", list(vocab.METRICS)),
    ("regions?version=2021&version=2024", "version", [2021, 2024]),
    ("sites?limit=0", "limit", ["1..5000"]),
    ("sites?limit=5001", "limit", ["1..5000"]),
    ("sites?limit=ten", "limit", ["1..5000"]),
    ("sites?offset=-3", "offset", None),
    ("summary?level=2", "level", None),
    ("summary?format=csv", "format", None),
    ("regions?foo=1", "foo", None),
    ("regions?Stage=fill_finish", "Stage", None),
    ("regions?stage=" + "x" * 100_000, "stage", list(vocab.STAGES)),
    ("regions?" + "&".join(["stage=fill_finish"] * 65), "stage", list(vocab.STAGES)),
    ("sites?" + "x" * 5000 + "=1", "x" * 40, None),
]


@pytest.mark.parametrize(("url", "parameter", "allowed"), BAD, ids=[u[:50] for u, _, _ in BAD])
def test_bad_parameters_get_400_naming_them(
    clients: dict[str, FlaskClient], data: AtlasData, url: str, parameter: str, allowed: list[object] | None
) -> None:
    response = clients["cluster"].get(f"/api/v1/{url}")
    text = response.get_data(as_text=True)
    assert response.status_code == 400, text[:300]
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert body["parameter"] == parameter
    if allowed is not None:
        assert body["allowed"] == allowed
    if parameter == "country":  # every country NUTS covers (rounds differ in theirs)
        assert body["allowed"] == sorted(records.NUTS_COUNTRIES)
    assert len(body["error"]) < 400 and "xxxxx" * 10 not in text
    assert "<script" not in text and "Traceback" not in text


def test_an_internal_failure_is_a_short_json_error(
    clients: dict[str, FlaskClient], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(api.views, "shown_sites", broken)
    with caplog.at_level(logging.INFO):
        response = clients["cluster"].get("/api/v1/sites")
    text = response.get_data(as_text=True)
    assert response.status_code == 500 and response.get_json()["error"]
    assert "secret detail" not in text and "Traceback" not in text
    assert "api sites role=cluster failed: RuntimeError" in caplog.text
    assert "secret detail" not in caplog.text


def test_each_read_is_one_log_line(clients: dict[str, FlaskClient], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        clients["official"].get("/api/v1/summary?country=DE")
        clients["official"].get("/api/v1/summary?country=nope")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("api ")]
    assert len(lines) == 2
    assert lines[0].startswith("api summary role=official status=200")
    assert lines[1].startswith("api summary role=official status=400")
    assert not any("DE" in line or "nope" in line for line in lines)


def test_other_api_paths_and_methods_answer_json(clients: dict[str, FlaskClient]) -> None:
    client = clients["cluster"]
    assert client.get("/api/v1/nothing").status_code == 404
    assert client.get("/api/v1/nothing").get_json() == {"error": "not found"}
    assert client.get("/api/v2/regions").status_code == 404
    response = client.post("/api/v1/regions")
    assert response.status_code == 405 and response.get_json()["error"]
    assert "GET" in response.headers["Allow"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(["regions", "summary", "sites"]),
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["stage", "country", "level", "version", "limit", "format", "size"]) | st.text(),
            st.sampled_from(["fill_finish", "DE", "2", "2024", "csv", "small"]) | st.text(),
        ),
        max_size=6,
    ),
)
def test_random_query_strings_never_fail(
    clients: dict[str, FlaskClient], route: str, pairs: list[tuple[str, str]]
) -> None:
    response = clients["cluster"].get(f"/api/v1/{route}", query_string=pairs)
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    assert "Traceback" not in response.get_data(as_text=True)


# --- the OpenAPI document ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(clients: dict[str, FlaskClient]) -> dict[str, Any]:
    return get_json(clients["cluster"], "/api/v1/openapi.json")


def test_openapi_is_valid_and_made_from_the_models(openapi: dict[str, Any], data: AtlasData) -> None:
    from openapi_spec_validator import validate

    validate(openapi)
    assert openapi["openapi"].startswith("3.1")
    assert set(openapi["paths"]) == {
        f"/api/v1/{p}" for p in ("regions", "summary", "sites", "partners", "openapi.json")
    }
    parameters = {p["name"]: p for p in openapi["paths"]["/api/v1/regions"]["get"]["parameters"]}
    assert parameters["stage"]["schema"]["items"]["enum"] == list(vocab.STAGES)
    assert parameters["stage"]["explode"] is True and parameters["stage"]["schema"]["maxItems"] == 64
    assert parameters["country"]["schema"]["items"]["enum"] == sorted(records.NUTS_COUNTRIES)
    assert parameters["level"]["schema"]["enum"] == [0, 1, 2, 3]
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["cookieSession"] == {"type": "apiKey", "in": "cookie", "name": "atlas_session"}
    assert schemes["bearerToken"]["scheme"] == "bearer"


def test_responses_follow_the_document(clients: dict[str, FlaskClient], openapi: dict[str, Any]) -> None:
    import jsonschema

    components = openapi["components"]["schemas"]
    for url, name in (
        (f"/api/v1/regions?level=3&{FILTER_QUERY}", "RegionsResponse"),
        ("/api/v1/summary", "SummaryResponse"),
        ("/api/v1/sites?limit=20", "SitesResponse"),
        ("/api/v1/sites?stage=nope", "ErrorResponse"),
    ):
        for role in ("official", "cluster"):
            response = clients[role].get(url)
            schema = {**components[name], "components": {"schemas": components}}
            jsonschema.validate(response.get_json(), schema, cls=jsonschema.Draft202012Validator)


# --- schemathesis over every route, signed in as a cluster ----------------------------------------
# Its pytest plugin's lazy loader (schemathesis.pytest.from_fixture) does not run on pytest 9
# (it sets Function._nodeid), so the cases come from schema.as_strategy() under @given.


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_schemathesis_finds_no_server_error(
    openapi: dict[str, Any], server: Flask, clients: dict[str, FlaskClient], mode: str
) -> None:
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    # Without the security requirement: the cases then carry no made-up cookie or token, and the
    # signed-in cluster session is what every request is served for.
    schema = schemathesis.openapi.from_dict({**openapi, "security": []})
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]

    @given(case=schema.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        # identity: the app compresses, and the test client hands back the bytes as sent
        response = case.call(app=server, session=clients["cluster"], headers={"Accept-Encoding": "identity"})
        assert response.status_code != 401, "the cases should run signed in"
        case.validate_response(response, checks=checks)
        assert "Traceback" not in response.text

    run()
