"""GET /api/v1/partners on the real app and the bundled sample, for each role.

What a role may see is taken from the sample file itself (public_listing, the most restrictive
answer per company), positions and region points from the GISCO files, and distances from the
WGS84 geodesic of pyproj: never from the code under test.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import geopandas as gpd
import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Point

from dashboard import matchmaking
from dashboard.api_schema import PartnersResponse
from dashboard.data import SAMPLE_FILE, AtlasData
from geodata import companies, store
from geodata.store import Store

pytestmark = pytest.mark.integration

WGS84 = Geod(ellps="WGS84")
ROLES = ("official", "cluster", "public")
RESTRICTED = ("cluster", "public")
URL = "/api/v1/partners"
#: Result keys every role gets, and those only officials get (by hand, from DATA_MODEL.md's rules).
SHARED = {
    "rank",
    "facility_id",
    "company",
    "country",
    "nuts3",
    "distance_km",
    "cross_border",
    "approximate_position",
    "stage",
    "platforms",
    "gmp_certified",
    "why",
    "lat",
    "lon",
}
OFFICIAL_ONLY = {"available_doses_per_month", "lead_time_months", "contact_consent"}
PROVENANCE = {
    "query",
    "origin",
    "origin_lat",
    "origin_lon",
    "ranking",
    "dataset",
    "round",
    "nuts_version",
    "role",
    "exported_at",
    "source",
}
ATTRIBUTION = "© EuroGeographics for the administrative boundaries"
MARBURG = (50.8021, 8.7667)
LISBON = (38.7223, -9.1393)
ORIGINS = {
    "Marburg": MARBURG,
    "Lisbon": LISBON,
    "Helsinki": (60.1699, 24.9384),
    "Valletta": (35.8989, 14.5146),
    "Dublin": (53.3498, -6.2603),
    "Nicosia": (35.1856, 33.3823),
}
AT_SEA = (45.0, -20.0)  # the Atlantic, west of France


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(real_nuts: Path) -> Flask:
    import app

    return app.create_app(SAMPLE_FILE, public=False).server


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


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    """The sample file as written, with ``listed``: every row of the company says yes."""
    frame = pd.read_csv(SAMPLE_FILE, dtype=str, keep_default_na=False)
    key = frame["company"].map(companies.normalise_name)
    if "company_id" in frame:
        key = key.where(frame["company_id"].str.strip() == "", "id:" + frame["company_id"].str.strip())
    agreed = frame["public_listing"].str.strip().str.lower().isin(["yes", "y", "true", "1"])
    frame["listed"] = agreed.groupby(key).transform("all")
    return frame.set_index("facility_id", drop=False)


@pytest.fixture(scope="module")
def listed(sample: pd.DataFrame) -> set[str]:
    return set(sample.index[sample["listed"]])


@pytest.fixture(scope="module")
def unlisted(sample: pd.DataFrame) -> list[str]:
    ids = list(sample.index[~sample["listed"]])
    assert len(ids) > 20, "the sample should have sites of companies that did not agree to be listed"
    return ids


def query(**params: object) -> str:
    return f"{URL}?{urlencode(params)}"


def get_json(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:400]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Traceback" not in text
    return response.get_json()


def search(client: FlaskClient, **params: object) -> dict[str, Any]:
    body = get_json(client, query(**params))
    PartnersResponse.model_validate(body)
    return body


def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    _fwd, _back, metres = WGS84.inv(lon1, lat1, lon2, lat2)
    return float(metres) / 1000.0


def read_csv(content: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def stages_of(sample: pd.DataFrame, facility_id: str) -> set[str]:
    return {s.strip() for s in str(sample.loc[facility_id, "stages"]).split(";")}


# --- sign-in and shape ---------------------------------------------------------------------------


def test_partners_needs_a_role(server: Flask) -> None:
    response = server.test_client().get(query(need="fill_finish", lat=50, lon=8))
    assert response.status_code == 401
    assert response.get_json()["error"] == "sign in required"
    assert "partners" not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ROLES)
def test_the_answer_is_the_documented_shape(clients: dict[str, FlaskClient], role: str) -> None:
    body = search(clients[role], need="fill_finish", lat=MARBURG[0], lon=MARBURG[1], limit=10)
    assert body["role"] == role and body["need"] == "fill_finish" and body["stage"] == "fill_finish"
    assert body["version"] == 2021
    assert ATTRIBUTION in body["source"]
    assert body["origin"]["kind"] == "point"
    assert (body["origin"]["lat"], body["origin"]["lon"]) == MARBURG
    assert body["origin"]["country"] == "DE" and body["origin"]["nuts3"] == "DE724"  # Marburg-Biedenkopf
    assert 0 < len(body["partners"]) <= 10 <= body["matched"]
    assert [row["rank"] for row in body["partners"]] == list(range(1, len(body["partners"]) + 1))
    for row in body["partners"]:
        expected = SHARED | (OFFICIAL_ONLY if role == "official" else set())
        assert set(row) == expected
        assert row["facility_id"] and row["nuts3"] and len(row["country"]) == 2
        assert isinstance(row["distance_km"], float | int) and row["distance_km"] >= 0
        assert row["cross_border"] is (row["country"] != "DE")
        assert row["stage"] == "fill_finish" and isinstance(row["platforms"], list)
    distances = [row["distance_km"] for row in body["partners"]]
    assert distances == sorted(distances)


def test_a_bottleneck_is_searched_as_its_stage(clients: dict[str, FlaskClient], sample: pd.DataFrame) -> None:
    body = search(clients["official"], need="vials_stoppers", lat=LISBON[0], lon=LISBON[1], limit=500)
    assert body["stage"] == "primary_packaging"  # DATA_MODEL.md: vials & stoppers -> primary packaging
    assert body["partners"]
    for row in body["partners"]:
        assert "primary_packaging" in stages_of(sample, row["facility_id"])
    offering = {i for i in sample.index if "primary_packaging" in stages_of(sample, i)}
    assert body["matched"] == len(offering)
    assert {row["facility_id"] for row in body["partners"]} == offering


# --- origins -------------------------------------------------------------------------------------


def test_region_origin_2021_is_the_gisco_label_point(
    clients: dict[str, FlaskClient], real_nuts: Path
) -> None:
    labels = gpd.read_file(real_nuts / "NUTS_LB_2021_4326_LEVL_3.geojson").set_index("NUTS_ID")
    point = labels.loc["DE721"].geometry
    for role in ROLES:
        body = search(clients[role], need="fill_finish", region="DE721", version=2021)
        origin = body["origin"]
        assert origin["kind"] == "region" and origin["country"] == "DE" and origin["nuts3"] == "DE721"
        assert origin["lat"] == pytest.approx(point.y, abs=1e-6)
        assert origin["lon"] == pytest.approx(point.x, abs=1e-6)
        assert "DE721" in origin["label"]
        assert not any(row["cross_border"] for row in body["partners"] if row["country"] == "DE")


def test_region_origin_2024_lies_in_the_2024_region(clients: dict[str, FlaskClient], real_nuts: Path) -> None:
    regions = gpd.read_file(real_nuts / "NUTS_RG_20M_2024_4326.geojson").set_index("NUTS_ID")
    for code in ("DE72", "PL911", "FI1D", "EL30"):
        body = search(clients["cluster"], need="qc_testing", region=code, version=2024)
        origin = body["origin"]
        assert body["version"] == 2024 and origin["country"] == code[:2]
        assert regions.loc[code].geometry.buffer(1e-9).contains(Point(origin["lon"], origin["lat"])), code
    # codes of one version only: FI1D1 is NUTS 2021 only, FI1DA NUTS 2024 only
    body = get_json(clients["cluster"], query(need="qc_testing", region="FI1D1", version=2024), 400)
    assert body["parameter"] == "region"
    body = get_json(clients["cluster"], query(need="qc_testing", region="FI1DA", version=2021), 400)
    assert body["parameter"] == "region"
    assert (
        search(clients["cluster"], need="qc_testing", region="FI1DA", version=2024)["origin"]["country"]
        == "FI"
    )
    assert (
        search(clients["cluster"], need="qc_testing", region="FI1D1", version=2021)["origin"]["nuts3"]
        == "FI1D1"
    )


def test_site_origin_is_the_site_and_never_a_result(
    clients: dict[str, FlaskClient], sample: pd.DataFrame, listed: set[str]
) -> None:
    site = "S0001"  # Sample Spruce Regulatory Partners, near Porto, listed
    assert site in listed
    row = sample.loc[site]
    for role in ROLES:
        body = search(clients[role], need="services", site=site, limit=500)
        origin = body["origin"]
        assert origin["kind"] == "site" and origin["facility_id"] == site
        assert (origin["lat"], origin["lon"]) == (float(str(row["latitude"])), float(str(row["longitude"])))
        assert origin["country"] == "PT"
        assert site not in {r["facility_id"] for r in body["partners"]}
        cross = {r["facility_id"]: r["cross_border"] for r in body["partners"]}
        assert all(cross[i] is (sample.loc[i, "country"] != "PT") for i in cross)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "lat"),
        ({"lat": 50, "lon": 8, "region": "DE721"}, "region"),
        ({"lat": 50, "lon": 8, "site": "S0001"}, "site"),
        ({"region": "DE721", "site": "S0001"}, "site"),
        ({"lat": 50}, "lon"),
        ({"lon": 8}, "lat"),
    ],
)
def test_exactly_one_origin(
    clients: dict[str, FlaskClient], params: dict[str, object], parameter: str
) -> None:
    body = get_json(clients["cluster"], query(need="fill_finish", **params), 400)
    assert body["parameter"] == parameter
    assert "origin" in body["error"] or "lat and lon" in body["error"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"region": "DE999"}, "region"),
        ({"region": "de721"}, "region"),
        ({"region": "XX"}, "region"),
        ({"region": "FI1D1", "version": 2024}, "region"),
        ({"site": "S9999"}, "site"),
        ({"site": "s0001"}, "site"),
    ],
)
def test_an_unknown_origin_is_400(
    clients: dict[str, FlaskClient], params: dict[str, object], parameter: str
) -> None:
    for role in ROLES:
        body = get_json(clients[role], query(need="fill_finish", **params), 400)
        assert body["parameter"] == parameter


@pytest.mark.parametrize("role", RESTRICTED)
def test_an_unlisted_site_as_origin_is_answered_as_if_it_did_not_exist(
    clients: dict[str, FlaskClient], unlisted: list[str], role: str
) -> None:
    """No oracle: the answer for an unlisted company's site is the one for a made-up id."""

    def answer(site: str) -> tuple[int, str]:
        response = clients[role].get(query(need="fill_finish", site=site))
        return response.status_code, response.get_data(as_text=True).replace(site, "<id>")

    made_up = answer("S9999")
    assert made_up[0] == 400
    for site in unlisted:
        assert answer(site) == made_up, site
        # with an official-only filter or a policy need as well: still the same answer
        both = clients[role].get(query(need="fill_finish", site=site, scope="same_country"))
        assert both.status_code == 400 and both.get_json()["parameter"] == "site"
    # officials may start from any site
    for site in unlisted[:5]:
        body = search(clients["official"], need="fill_finish", site=site)
        assert body["origin"]["facility_id"] == site


def test_the_answers_own_origin_is_accepted_as_an_origin(clients: dict[str, FlaskClient]) -> None:
    """A client that starts a search where another one started (the origin a previous answer
    gave, as JSON wrote it) gets the same origin back, not a 400."""
    first = search(clients["cluster"], need="qc_testing", region="DE72", version=2024)
    lat, lon = first["origin"]["lat"], first["origin"]["lon"]
    again = search(clients["cluster"], need="qc_testing", lat=repr(lat), lon=repr(lon), version=2024)
    assert (again["origin"]["lat"], again["origin"]["lon"]) == (lat, lon)
    assert again["partners"] == first["partners"]
    # a coordinate as JavaScript prints it after arithmetic (17 significant digits)
    body = search(clients["cluster"], need="qc_testing", lat="50.802099999999996", lon="8.7667")
    assert body["origin"]["lat"] == pytest.approx(50.8021)


# --- hostile input -------------------------------------------------------------------------------

HOSTILE: list[tuple[str, str, str | None]] = [
    ("need=fill_finish&lat=nan&lon=8", "lat", None),
    ("need=fill_finish&lat=NaN&lon=8", "lat", None),
    ("need=fill_finish&lat=inf&lon=8", "lat", None),
    ("need=fill_finish&lat=-Infinity&lon=8", "lat", None),
    ("need=fill_finish&lat=1e400&lon=8", "lat", None),
    ("need=fill_finish&lat=0x10&lon=8", "lat", None),
    ("need=fill_finish&lat=50&lon=0x10", "lon", None),
    ("need=fill_finish&lat=91&lon=8", "lat", None),
    ("need=fill_finish&lat=50&lon=-180.5", "lon", None),
    ("need=fill_finish&lat=&lon=8", "lat", None),
    ("need=fill_finish&lat=50%00&lon=8", "lat", None),
    ("need=fill_finish&lat=50&lat=51&lon=8", "lat", None),
    ("need=fill_finish&need=services&lat=50&lon=8", "need", None),
    ("need=fill_finish&lat=50&lon=8&limit=99999999999999999999999999", "limit", None),
    ("need=fill_finish&lat=50&lon=8&limit=501", "limit", None),
    ("need=fill_finish&lat=50&lon=8&limit=0", "limit", None),
    ("need=fill_finish&lat=50&lon=8&limit=-1", "limit", None),
    ("need=fill_finish&lat=50&lon=8&limit=1e2", "limit", None),
    ("need=fill_finish&lat=50&lon=8&max_km=-1", "max_km", None),
    ("need=fill_finish&lat=50&lon=8&max_km=nan", "max_km", None),
    ("need=fill_finish&lat=50&lon=8&max_km=1e9", "max_km", None),
    ("need=fill_finish&lat=50&lon=8&max_km=99999999", "max_km", None),
    ("need=fill_finish&lat=50&lon=8&foo=1", "foo", None),
    ("need=fill_finish&lat=50&lon=8&stage=fill_finish", "stage", None),
    ("need=fill_finish&lat=50&lon=8&Need=x", "Need", None),
    ("lat=50&lon=8", "need", None),
    ("need=nope&lat=50&lon=8", "need", None),
    ("need=Fill%20%26%20finish&lat=50&lon=8", "need", None),
    ("need=financing&lat=50&lon=8", "need", "policy matter"),
    ("need=export_restrictions&lat=50&lon=8", "need", "policy matter"),
    ("need=fill_finish&lat=45&lon=-20&scope=same_country", "scope", "outside every country"),
    ("need=fill_finish&lat=45&lon=-20&scope=cross_border", "scope", "outside every country"),
    ("need=fill_finish&lat=50&lon=8&scope=world", "scope", None),
    ("need=fill_finish&lat=50&lon=8&platform=MRNA", "platform", None),
    ("need=fill_finish&lat=50&lon=8&gmp=true", "gmp", None),
    ("need=fill_finish&lat=50&lon=8&format=xml", "format", None),
    ("need=fill_finish&lat=50&lon=8&version=2023", "version", None),
    ("need=fill_finish&lat=50&lon=8&round=nope", "round", None),
    ("need=fill_finish&region=%3Cscript%3E", "region", None),
    ("need=fill_finish&region=DE721&version=2021&version=2024", "version", None),
    ("need=fill_finish&site=" + "S" * 65, "site", None),
    ("need=fill_finish&site=%27%20OR%201%3D1--", "site", None),
    ("need=fill_finish&lat=50&lon=8&" + "&".join(f"p{i}=1" for i in range(200)), "p0", None),
    ("need=" + "x" * 100_000 + "&lat=50&lon=8", "need", None),
]


@pytest.mark.parametrize(("url", "parameter", "says"), HOSTILE, ids=[h[0][:60] for h in HOSTILE])
@pytest.mark.parametrize("role", ["official", "cluster"])
def test_hostile_input_gets_400_naming_the_parameter(
    clients: dict[str, FlaskClient], role: str, url: str, parameter: str, says: str | None
) -> None:
    response = clients[role].get(f"{URL}?{url}")
    text = response.get_data(as_text=True)
    assert response.status_code == 400, text[:300]
    body = response.get_json()
    assert body["parameter"] == parameter, body
    assert len(body["error"]) < 600 and "Traceback" not in text and "<script" not in text
    assert "x" * 50 not in text
    if says:
        assert says in body["error"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "need",
                    "lat",
                    "lon",
                    "region",
                    "site",
                    "version",
                    "limit",
                    "max_km",
                    "scope",
                    "min_available",
                    "format",
                ]
            )
            | st.text(max_size=8),
            st.sampled_from(
                [
                    "fill_finish",
                    "financing",
                    "50",
                    "-20",
                    "8.5",
                    "DE721",
                    "S0001",
                    "2024",
                    "csv",
                    "same_country",
                ]
            )
            | st.text(max_size=12)
            | st.floats().map(str),
        ),
        max_size=7,
    ),
    role=st.sampled_from(ROLES),
)
def test_random_query_strings_never_fail(
    clients: dict[str, FlaskClient], pairs: list[tuple[str, str]], role: str
) -> None:
    response = clients[role].get(URL, query_string=pairs)
    assert response.status_code in (200, 400, 403), response.get_data(as_text=True)[:300]
    assert "Traceback" not in response.get_data(as_text=True)


# --- official-only filters -----------------------------------------------------------------------


@pytest.mark.parametrize("role", RESTRICTED)
@pytest.mark.parametrize(
    ("extra", "parameter"),
    [
        ({"min_available": 0}, "min_available"),
        ({"min_available": 100000}, "min_available"),
        ({"max_lead_time": 6}, "max_lead_time"),
        ({"min_available": 5, "max_lead_time": 6}, "min_available"),
    ],
)
def test_official_filters_are_403_for_others(
    clients: dict[str, FlaskClient], role: str, extra: dict[str, object], parameter: str
) -> None:
    body = get_json(clients[role], query(need="fill_finish", lat=50, lon=8, **extra), 403)
    assert body["parameter"] == parameter
    assert "officials" in body["error"]
    csv = clients[role].get(query(need="fill_finish", lat=50, lon=8, format="csv", **extra))
    assert csv.status_code == 403 and csv.headers["Content-Type"] == "application/json"
    assert csv.get_json()["parameter"] == parameter


def test_officials_filter_by_available_capacity_and_lead_time(
    clients: dict[str, FlaskClient], sample: pd.DataFrame
) -> None:
    def number(value: str) -> float:
        return float(value) if value.strip() else math.nan

    cap = sample["capacity_doses_per_month"].map(number)
    pct = sample["available_capacity_pct"].map(number)
    lead = sample["lead_time_months"].map(number)
    available = cap * pct / 100
    body = search(
        clients["official"],
        need="fill_finish",
        lat=MARBURG[0],
        lon=MARBURG[1],
        min_available=100000,
        limit=500,
    )
    offering = [i for i in sample.index if "fill_finish" in stages_of(sample, i)]
    reporting = [i for i in offering if not math.isnan(available[i])]
    expected = {i for i in reporting if available[i] >= 100000}
    assert {r["facility_id"] for r in body["partners"]} == expected and expected
    assert body["matched"] == len(expected)
    assert body["left_out"] == {"available capacity not reported": len(offering) - len(reporting)}
    for row in body["partners"]:
        assert row["available_doses_per_month"] == pytest.approx(
            round(available[row["facility_id"]]), abs=0.5
        )
        assert row["available_doses_per_month"] >= 100000
    body = search(
        clients["official"], need="fill_finish", lat=MARBURG[0], lon=MARBURG[1], max_lead_time=3, limit=500
    )
    expected = {i for i in offering if not math.isnan(lead[i]) and lead[i] <= 3}
    assert {r["facility_id"] for r in body["partners"]} == expected and expected
    assert body["left_out"] == {"lead time not reported": sum(math.isnan(lead[i]) for i in offering)}
    for row in body["partners"]:
        assert row["lead_time_months"] == pytest.approx(lead[row["facility_id"]])


# --- differencing attacks ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def positions(clients: dict[str, FlaskClient], sample: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Every site's map position (facility_id -> lat, lon), as officials see it."""
    found: dict[str, tuple[float, float]] = {}
    for stage in (
        "raw_materials",
        "consumables_equipment",
        "drug_substance",
        "formulation",
        "fill_finish",
        "primary_packaging",
        "qc_testing",
        "packaging_labelling",
        "cold_chain_logistics",
        "services",
    ):
        body = search(clients["official"], need=stage, lat=MARBURG[0], lon=MARBURG[1], limit=500)
        assert body["matched"] <= 500
        found.update({r["facility_id"]: (r["lat"], r["lon"]) for r in body["partners"]})
    assert set(found) == set(sample.index)
    return found


@pytest.mark.parametrize("role", RESTRICTED)
@pytest.mark.parametrize("need", ["fill_finish", "services", "cold_chain"])
def test_stepping_max_km_never_reveals_an_unlisted_site(
    clients: dict[str, FlaskClient],
    positions: dict[str, tuple[float, float]],
    listed: set[str],
    role: str,
    need: str,
) -> None:
    listed_places = {positions[i] for i in listed}
    hidden_places = {p for i, p in positions.items() if i not in listed} - listed_places
    assert hidden_places
    everything = search(clients[role], need=need, lat=MARBURG[0], lon=MARBURG[1], max_km=2000, limit=500)
    full = {r["facility_id"]: r["distance_km"] for r in everything["partners"]}
    assert set(full) <= listed and len(full) == everything["matched"]
    previous = 0
    for step in range(0, 2001, 50):
        body = search(clients[role], need=need, lat=MARBURG[0], lon=MARBURG[1], max_km=step, limit=500)
        got = {r["facility_id"] for r in body["partners"]}
        assert got <= listed, got - listed
        assert not {(r["lat"], r["lon"]) for r in body["partners"]} & hidden_places
        assert body["matched"] == len(got) >= previous
        previous = body["matched"]
        # exactly the listed sites within the distance (0.1 km of slack for the rounding)
        assert (
            {i for i, d in full.items() if d < step - 0.1}
            <= got
            <= {i for i, d in full.items() if d <= step + 0.1}
        )
        assert body["left_out"] == {}
    # the count a restricted role gets is the count of listed sites, whatever officials see
    official = search(clients["official"], need=need, lat=MARBURG[0], lon=MARBURG[1], max_km=2000, limit=500)
    assert everything["matched"] == len({r["facility_id"] for r in official["partners"]} & listed)
    assert official["matched"] > everything["matched"]


@pytest.mark.parametrize("role", RESTRICTED)
def test_no_query_returns_an_unlisted_site(
    clients: dict[str, FlaskClient], listed: set[str], sample: pd.DataFrame, role: str
) -> None:
    seen: set[str] = set()
    for name, (lat, lon) in ORIGINS.items():
        for need in ("raw_materials", "drug_substance", "qc_testing", "syringes_needles", "skilled_staff"):
            for scope in ("any", "same_country", "cross_border"):
                body = search(clients[role], need=need, lat=lat, lon=lon, scope=scope, limit=500)
                got = {r["facility_id"] for r in body["partners"]}
                assert got <= listed, (name, need, scope, got - listed)
                seen |= got
                for row in body["partners"]:
                    assert not set(row) & OFFICIAL_ONLY
                    assert row["company"] == sample.loc[row["facility_id"], "company"]
    assert len(seen) > 50


# --- CSV -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_csv_is_the_json_with_provenance(clients: dict[str, FlaskClient], role: str) -> None:
    params: dict[str, object] = {"need": "qc_release", "lat": LISBON[0], "lon": LISBON[1], "limit": 40}
    body = search(clients[role], **params)
    response = clients[role].get(query(format="csv", **params))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="partners_qc_release_') and disposition.endswith(
        '.csv"'
    )
    frame = read_csv(response.data)
    rows = body["partners"]
    assert list(frame["facility_id"]) == [r["facility_id"] for r in rows] and rows
    keys = set(rows[0])
    assert set(frame.columns) == keys | {"nuts3_name"} | PROVENANCE
    if role != "official":
        assert not set(frame.columns) & OFFICIAL_ONLY
    else:
        assert set(frame.columns) >= OFFICIAL_ONLY
    for csv_row, row in zip(frame.to_dict("records"), rows, strict=True):
        assert float(csv_row["distance_km"]) == pytest.approx(row["distance_km"])
        assert float(csv_row["lat"]) == pytest.approx(row["lat"]) and float(csv_row["lon"]) == pytest.approx(
            row["lon"]
        )
        for key in ("company", "country", "nuts3", "stage", "why"):
            assert csv_row[key] == row[key], key
        # a list of codes, ';'-separated as in DATA_MODEL.md's flat files
        assert [c.strip() for c in csv_row["platforms"].split(";") if c.strip()] == row["platforms"]
        assert csv_row["cross_border"] == str(row["cross_border"])
    first = frame.iloc[0]
    assert ATTRIBUTION in first["source"]
    assert first["role"] == role
    assert first["query"] == body["query"] and "need: qc_release" in first["query"]
    assert first["ranking"] == body["ranking"]
    assert first["origin"] == body["origin"]["label"]
    assert frame["query"].nunique() == 1 and frame["source"].nunique() == 1


def test_csv_origin_coordinates_are_numbers(clients: dict[str, FlaskClient]) -> None:
    """A negative longitude (Lisbon) is written as a number, not as text a spreadsheet shows."""
    response = clients["cluster"].get(query(need="qc_release", lat=LISBON[0], lon=LISBON[1], format="csv"))
    frame = read_csv(response.data)
    assert float(str(frame.loc[0, "origin_lat"])) == pytest.approx(LISBON[0])
    assert float(str(frame.loc[0, "origin_lon"])) == pytest.approx(LISBON[1])


# --- distances -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["official", "cluster"])
def test_distances_agree_with_the_geodesic(clients: dict[str, FlaskClient], role: str) -> None:
    checked = 0
    for lat, lon in ORIGINS.values():
        body = search(clients[role], need="services", lat=lat, lon=lon, limit=500)
        for row in body["partners"]:
            expected = geodesic_km(lat, lon, row["lat"], row["lon"])
            assert row["distance_km"] == pytest.approx(expected, rel=0.005, abs=0.1), row["facility_id"]
            checked += 1
    assert checked > 100


def test_the_openapi_document_has_the_partners_route(clients: dict[str, FlaskClient]) -> None:
    from openapi_spec_validator import validate

    document = get_json(clients["cluster"], "/api/v1/openapi.json")
    validate(document)
    operation = document["paths"]["/api/v1/partners"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"need", "lat", "lon", "region", "site", "min_available", "max_lead_time", "max_km"} <= names
    assert {"200", "400", "401", "403"} <= set(operation["responses"])
    assert "PartnersResponse" in document["components"]["schemas"]


# --- introduction requests (dashboard.matchmaking on the app's stored round) ---------------------


@pytest.fixture(scope="module")
def survey(server: Flask) -> tuple[Store, AtlasData]:
    """The store the app uses, and its round of the sample read back on its own."""
    opened = store.connect()
    return opened, AtlasData(SAMPLE_FILE, store=opened)


def test_introduction_requests_follow_the_role_rules(
    survey: tuple[Store, AtlasData], listed: set[str], unlisted: list[str]
) -> None:
    atlas, data = survey
    assert data.round is not None
    site, hidden = sorted(listed)[0], unlisted[0]
    with pytest.raises(PermissionError):
        matchmaking.request_introduction(atlas, data, 2021, "public", "anon", site, "fill_finish", "hi")
    # an unlisted company's site: the answer for a site that does not exist
    with pytest.raises(ValueError) as made_up:
        matchmaking.request_introduction(atlas, data, 2021, "cluster", "cy-1", "S9999", "fill_finish", "")
    with pytest.raises(ValueError) as hidden_site:
        matchmaking.request_introduction(atlas, data, 2021, "cluster", "cy-1", hidden, "fill_finish", "")
    assert str(hidden_site.value) == str(made_up.value)
    with pytest.raises(ValueError, match="need"):
        matchmaking.request_introduction(atlas, data, 2021, "cluster", "cy-1", site, "vials", "")
    with pytest.raises(ValueError, match="message: at most 1000 characters"):
        matchmaking.request_introduction(
            atlas, data, 2021, "cluster", "cy-1", site, "fill_finish", "x" * 1001
        )
    mine = matchmaking.request_introduction(
        atlas, data, 2021, "cluster", "cy-1", site, "vials_stoppers", " hi "
    )
    theirs = matchmaking.request_introduction(
        atlas, data, 2021, "official", "ana-1", hidden, "fill_finish", ""
    )
    rows = atlas.introduction_requests().set_index("id")
    assert (rows.loc[mine, "requester_role"], rows.loc[mine, "message"]) == ("cluster", "hi")
    assert (rows.loc[theirs, "requester_role"], rows.loc[theirs, "facility_id"]) == ("official", hidden)
    own = matchmaking.requests_of(atlas, "cy-1", "cluster")
    assert list(own["id"]) == [mine]
    assert list(own.columns) == ["id", "created_at", "round", "need", "facility_id", "status"]
    assert matchmaking.requests_of(atlas, "cy-1", "official").empty  # the same name under another role
