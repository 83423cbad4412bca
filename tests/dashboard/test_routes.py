"""Geometry routes through Flask's test client: sign-in, gzip, ETag, caching headers, 304, 404."""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import pandas as pd
import pytest

from dashboard import routes
from dashboard.data import SAMPLE_FILE, AtlasData

pytestmark = pytest.mark.integration

URL = "/atlas/geo/regions-2021-3.json"


@pytest.fixture(scope="module")
def app(real_nuts):
    from app import create_app

    return create_app(SAMPLE_FILE, public=False)


def demo_client(app, role: str | None):
    """A test client signed in through the demo role switcher (None: not signed in)."""
    client = app.server.test_client()
    if role is not None:
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert client.post(f"/demo/role/{role}", data={"csrf_token": token}).status_code == 302
    return client


@pytest.fixture(scope="module")
def client(app):
    return demo_client(app, "official")


@pytest.fixture(scope="module")
def data(real_nuts) -> AtlasData:
    return AtlasData(SAMPLE_FILE)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE_FILE, dtype=str)
    key = frame["company"].str.strip().str.casefold()
    frame["listed"] = ~key.isin(set(key[frame["public_listing"] != "yes"]))
    return frame


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def test_plain_response(client, data: AtlasData) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.mimetype == "application/geo+json"
    assert response.headers["ETag"] == etag_of(response.data) == f'"{data.region_geojson(2021, 3).etag}"'
    # boundaries are public GISCO data, but behind the sign-in: browsers keep them, proxies do not
    assert response.headers["Cache-Control"] == f"private, max-age={routes.CACHE_SECONDS}, immutable"
    assert routes.CACHE_SECONDS == 604800
    assert response.headers["Vary"] == "Accept-Encoding, Cookie, Authorization"
    geojson = json.loads(response.data)
    assert geojson["type"] == "FeatureCollection"
    assert len(geojson["features"]) == len(data.region_order(2021, 3))
    assert [f["properties"]["id"] for f in geojson["features"]] == data.region_order(2021, 3)


def test_gzipped_response(client) -> None:
    plain = client.get(URL)
    response = client.get(URL, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.data[:2] == b"\x1f\x8b"
    assert gzip.decompress(response.data) == plain.data
    assert len(response.data) < len(plain.data) / 3
    assert response.headers["ETag"] == plain.headers["ETag"]
    assert "max-age=604800" in response.headers["Cache-Control"]


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_matching_etag_gives_304(client, encoding: str) -> None:
    etag = client.get(URL).headers["ETag"]
    response = client.get(URL, headers={"If-None-Match": etag, "Accept-Encoding": encoding})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag


def test_other_etag_gives_the_body(client) -> None:
    response = client.get(URL, headers={"If-None-Match": '"0123456789abcdef0123"'})
    assert response.status_code == 200
    assert json.loads(response.data)["type"] == "FeatureCollection"


def test_each_version_and_level_has_its_own_etag(client) -> None:
    etags = {
        client.get(f"/atlas/geo/regions-{v}-{lv}.json").headers["ETag"] for v in (2021, 2024) for lv in (0, 3)
    }
    assert len(etags) == 4


@pytest.mark.parametrize(
    "url",
    [
        "/atlas/geo/regions-2021-4.json",
        "/atlas/geo/regions-2021-9.json",
        "/atlas/geo/regions-2020-3.json",
        "/atlas/geo/regions-2016-0.json",
        "/atlas/geo/basemap-2020.json",
        "/atlas/geo/sites-1999.json",
    ],
)
def test_bad_version_or_level_is_404(client, url: str) -> None:
    assert client.get(url).status_code == 404


def test_basemap_and_sites(client, raw: pd.DataFrame) -> None:
    basemap = client.get("/atlas/geo/basemap-2024.json")
    assert basemap.status_code == 200
    assert json.loads(basemap.data)["type"] == "FeatureCollection"
    sites = client.get("/atlas/geo/sites-2021.json", headers={"Accept-Encoding": "gzip"})
    assert sites.headers["Content-Encoding"] == "gzip"
    assert sites.headers["Cache-Control"] == "private, no-store"  # depends on the role
    features = json.loads(gzip.decompress(sites.data))["features"]
    assert len(features) == len(raw) == 350
    assert [f["properties"]["company"] for f in features] == raw["company"].tolist()
    keys = {key for f in features for key in f["properties"]}
    assert keys == {"i", "company", "city", "s", "approx"}


@pytest.mark.parametrize("role", ["cluster", "public"])
def test_restricted_roles_get_only_the_sites_of_listed_companies(app, raw: pd.DataFrame, role: str) -> None:
    response = demo_client(app, role).get("/atlas/geo/sites-2021.json")
    assert response.status_code == 200
    features = json.loads(response.data)["features"]
    assert [f["properties"]["company"] for f in features] == raw.loc[raw["listed"], "company"].tolist()
    text = response.get_data(as_text=True)
    for company in set(raw.loc[~raw["listed"], "company"]):
        assert json.dumps(company)[1:-1] not in text


@pytest.mark.parametrize(
    "url", [URL, "/atlas/geo/basemap-2021.json", "/atlas/geo/sites-2021.json", "/atlas/geo/sites-2024.json"]
)
def test_geometry_needs_sign_in(app, url: str) -> None:
    response = demo_client(app, None).get(url)
    assert response.status_code == 401
    assert response.get_json() == {"error": "sign in required"}
