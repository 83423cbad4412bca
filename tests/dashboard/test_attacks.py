"""Crafted requests against the running app: what a cluster or public visitor can pull out of it.

Every request goes through the Flask test client of ``app.create_app()`` on the bundled sample,
signed in through the demo role switcher (or anonymous with public access on), straight to the
endpoints a browser uses: ``/_dash-update-component`` with bodies built from
``/_dash-dependencies``, the site points, the read API. The forbidden material is computed from
the raw sample CSV with pandas (and a geopandas point-in-polygon join for the regions), never
with the code under test:

- the capacity and available capacity of every site of an unlisted company, as exact numbers;
- the name of every company that did not agree, on every row, to a public listing;
- bottleneck notes (every filled note starts with "Fictional sample"), and the sensitive fields
  (capacity, available capacity, lead time, staff, notes, listing) as JSON keys or CSV columns;
- the true capacity of every region that fewer than three companies contribute to.

An official session gets the same requests and must see those figures, so the search can fail.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dashboard.data import SAMPLE_FILE
from dashboard.ids import Ids
from geodata import vocab

pytestmark = pytest.mark.integration

UPDATE = "/_dash-update-component"
SENSITIVE_FIELDS = (
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
    "staff",
    "bottleneck_notes",
    "public_listing",
)
SENSITIVE_KEY = re.compile('"(?:' + "|".join(SENSITIVE_FIELDS) + ')"')
NOTES = "Fictional sample:"  # every filled note starts so (the banner says "Fictional sample data")
WITHHELD_CLASS = -3
#: the largest answer the app may give to any callback request (a regions export of NUTS 3 is ~0.3 MB)
MAX_RESPONSE = 2_000_000
FILTER_IDS = (Ids.STAGE, Ids.BOTTLENECK, Ids.PLATFORM, Ids.COUNTRY, Ids.SIZE)


# --- the sample, independently ------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """The raw sample and what no restricted role may ever see of it."""

    raw: pd.DataFrame  # one row per site, with key, listed, capacity, available, n3, stage_list
    unlisted_names: tuple[str, ...]
    names_pattern: re.Pattern[str]
    site_numbers: tuple[str, ...]
    numbers_pattern: re.Pattern[str]

    def matching(self, setting: Setting) -> pd.DataFrame:
        raw = self.raw
        keep = pd.Series(True, index=raw.index)
        for column, chosen in (
            ("stage_list", setting.stages),
            ("bottleneck_list", setting.bottlenecks),
            ("platform_list", setting.platforms),
        ):
            if chosen:
                keep &= raw[column].map(lambda values, chosen=chosen: bool(set(values) & set(chosen)))
        if setting.countries:
            keep &= raw["country"].isin(setting.countries)
        if setting.sizes:
            keep &= raw["company_size"].isin(setting.sizes)
        return raw[keep]

    def withheld(self, setting: Setting, level: int) -> pd.DataFrame:
        """Regions of ``level`` with one or two companies among the matching sites: their true
        facilities and capacity (the primary rule withholds them for every restricted role)."""
        sites = self.matching(setting)
        region = sites["n3"].str.slice(0, level + 2)
        cells = sites.groupby(region).agg(
            companies=("key", "nunique"),
            facilities=("facility_id", "size"),
            capacity=("capacity", "sum"),
            available=("available", "sum"),
        )
        return cells[cells["companies"] < 3]


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def numbers_regex(values: list[str]) -> re.Pattern[str]:
    """Any of ``values`` as a whole number in JSON or CSV text (also written as 123.0)."""
    alternatives = "|".join(re.escape(v) for v in sorted(set(values), key=len, reverse=True))
    return re.compile(rf"(?<![\w.\-])(?:{alternatives})(?:\.0+)?(?![\w.])")


def split(column: pd.Series) -> pd.Series:
    return column.map(lambda text: [code for code in text.split(";") if code])


@pytest.fixture(scope="module")
def truth(real_nuts) -> Truth:
    raw = pd.read_csv(SAMPLE_FILE, dtype=str, keep_default_na=False)
    raw["key"] = raw["company"].str.strip().str.casefold()
    unlisted_keys = set(raw.loc[raw["public_listing"] != "yes", "key"])  # most restrictive per company
    raw["listed"] = ~raw["key"].isin(unlisted_keys)
    raw["capacity"] = pd.to_numeric(raw["capacity_doses_per_month"]).fillna(0)
    raw["available"] = raw["capacity"] * pd.to_numeric(raw["available_capacity_pct"]).fillna(0) / 100
    raw["stage_list"] = split(raw["stages"])
    raw["bottleneck_list"] = split(raw["bottlenecks"])
    raw["platform_list"] = split(raw["platforms"])
    polygons = gpd.read_file(os.path.join(real_nuts, "NUTS_RG_20M_2021_4326_LEVL_3.geojson"))
    located = raw["latitude"] != ""
    points = gpd.GeoDataFrame(
        index=raw.index[located],
        geometry=gpd.points_from_xy(
            raw.loc[located, "longitude"].astype(float), raw.loc[located, "latitude"].astype(float)
        ),
        crs="EPSG:4326",
    )
    joined = gpd.sjoin(points, polygons[["NUTS_ID", "geometry"]], predicate="within", how="left")
    raw["n3"] = raw["nuts3"]
    raw.loc[joined.index, "n3"] = joined["NUTS_ID"]
    assert (raw["n3"].str.len() == 5).all()

    unlisted = raw[~raw["listed"]]
    names = tuple(sorted(set(unlisted["company"])))
    listed_names = set(raw.loc[raw["listed"], "company"])
    assert not any(name in other for name in names for other in listed_names)  # no false alarms
    numbers = [number_text(v) for v in (*unlisted["capacity"], *unlisted["available"]) if v >= 1000]
    return Truth(
        raw=raw,
        unlisted_names=names,
        names_pattern=re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))),
        site_numbers=tuple(sorted(set(numbers))),
        numbers_pattern=numbers_regex(numbers),
    )


@dataclass(frozen=True)
class Setting:
    """One filter setting of the page (codes, as the dropdowns send them)."""

    stages: tuple[str, ...] = ()
    bottlenecks: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    version: int = 2021

    def values(self) -> dict[str, object]:
        chosen = (self.stages, self.bottlenecks, self.platforms, self.countries, self.sizes)
        out: dict[str, object] = {
            f"{i}.value": (list(v) or None) for i, v in zip(FILTER_IDS, chosen, strict=True)
        }
        out[f"{Ids.VERSION}.value"] = self.version
        return out

    def query(self) -> list[tuple[str, str]]:
        pairs = [("version", str(self.version))]
        for name, chosen in zip(
            ("stage", "bottleneck", "platform", "country", "size"),
            (self.stages, self.bottlenecks, self.platforms, self.countries, self.sizes),
            strict=True,
        ):
            pairs += [(name, code) for code in chosen]
        return pairs


def country_isolating(truth: Truth) -> list[Setting]:
    """A country and a stage that only one company offers there, an unlisted one with capacity."""
    sites = truth.raw.explode("stage_list")
    cells = sites.groupby(["country", "stage_list"]).agg(
        companies=("key", "nunique"), listed=("listed", "any"), capacity=("capacity", "sum")
    )
    chosen = cells[(cells["companies"] == 1) & ~cells["listed"] & (cells["capacity"] > 0)]
    assert len(chosen) >= 5
    return [Setting(stages=(stage,), countries=(country,)) for country, stage in chosen.index]


def region_isolating(truth: Truth) -> list[Setting]:
    """A stage that only one (unlisted) company offers in some NUTS 2 region, while three or more
    offer it in that country: the region's cell, not the country filter, isolates the company."""
    sites = truth.raw.explode("stage_list")
    sites["n2"] = sites["n3"].str.slice(0, 4)
    regions = sites.groupby(["n2", "stage_list"]).agg(
        companies=("key", "nunique"), listed=("listed", "any"), capacity=("capacity", "sum")
    )
    country = sites.groupby(["country", "stage_list"])["key"].nunique()
    out = []
    for (n2, stage), cell in regions.iterrows():
        if (
            cell["companies"] == 1
            and not cell["listed"]
            and cell["capacity"] > 0
            and country[(n2[:2], stage)] >= 3
        ):
            out.append(Setting(stages=(stage,)))
            out.append(Setting(stages=(stage,), countries=(n2[:2],)))
    assert len(out) >= 2
    return list(dict.fromkeys(out))


BROAD = [
    Setting(),
    Setting(version=2024),
    *[Setting(stages=(stage,)) for stage in ("drug_substance", "formulation", "fill_finish")],
    Setting(stages=("fill_finish", "formulation"), countries=("DE", "FR", "IT")),
    Setting(platforms=("mrna",)),
    Setting(bottlenecks=("vials_stoppers",)),
    Setting(sizes=("large",)),
    Setting(sizes=("micro", "small"), stages=("drug_substance",)),
    Setting(countries=("LU",)),
    Setting(stages=("fill_finish",), version=2024),
]


# --- talking to the app ---------------------------------------------------------------------------


def sign_in(app, role: str):
    """A test client signed in with ``role`` through the demo switcher (GET /login, POST the token)."""
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/demo/role/{role}", data={"csrf_token": token, "next": "/"})
    assert response.status_code == 302, response.get_data(as_text=True)[:200]
    return client


@pytest.fixture(scope="module")
def app(real_nuts):
    from app import create_app

    return create_app(public=False)


@pytest.fixture(scope="module")
def public_app(real_nuts):
    from app import create_app

    return create_app(public=True)


@pytest.fixture(scope="module")
def clients(app, public_app) -> dict[str, object]:
    return {
        "official": sign_in(app, "official"),
        "cluster": sign_in(app, "cluster"),
        "public": sign_in(app, "public"),
        "anonymous public": public_app.server.test_client(),
    }


@pytest.fixture(scope="module")
def deps(clients) -> dict[str, dict]:
    """The server-side callbacks of the page by one of their outputs ("id.property")."""
    response = clients["cluster"].get("/_dash-dependencies")
    assert response.status_code == 200
    out = {}
    for dep in response.get_json():
        if dep.get("clientside_function"):
            continue
        for target in outputs_of(dep["output"]):
            out[f"{target['id']}.{target['property']}"] = dep
    return out


def outputs_of(output: str) -> list[dict[str, str]]:
    """'..a.b...c.d..' (several outputs) or 'a.b' (one) as [{id, property}, ...]."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in parts]


def body(dep: dict, values: dict[str, object]) -> dict[str, object]:
    """The request Dash's renderer would send for ``dep`` with the given "id.property" values."""
    targets = outputs_of(dep["output"])

    def fill(items: list[dict]) -> list[dict]:
        return [{**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in items]

    inputs = fill(dep["inputs"])
    return {
        "output": dep["output"],
        "outputs": targets if dep["output"].startswith("..") else targets[0],
        "inputs": inputs,
        "state": fill(dep.get("state", [])),
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"] if inputs else [],
    }


def strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def downloads_in(value: object) -> Iterator[str]:
    """The text of every file a dcc.Download answer carries (base64 inside the JSON)."""
    if isinstance(value, dict):
        if value.get("base64") is True and isinstance(value.get("content"), str):
            yield base64.b64decode(value["content"]).decode("utf-8-sig")
        for item in value.values():
            yield from downloads_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from downloads_in(item)


@dataclass
class Answer:
    status: int
    text: str  # the body as sent
    payload: object  # parsed JSON, or None
    files: list[str]  # decoded downloads

    @property
    def haystack(self) -> str:
        return "\n".join([self.text, *strings_in(self.payload), *self.files])

    def output(self, component: str, prop: str) -> object:
        assert self.status == 200, (self.status, self.text[:300])
        return self.payload["response"][component][prop]


def answer(response) -> Answer:
    text = response.get_data(as_text=True)
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if response.mimetype.startswith("text/csv"):
        return Answer(response.status_code, text, None, [text.lstrip("\ufeff")])
    return Answer(response.status_code, text, payload, list(downloads_in(payload)))


def call(client, dep: dict, values: dict[str, object]) -> Answer:
    return answer(client.post(UPDATE, json=body(dep, values)))


def leaks(truth: Truth, found: Answer, numbers: re.Pattern[str] | None = None) -> list[str]:
    """What a restricted role must not see and ``found`` contains."""
    text = found.haystack
    problems = []
    if match := truth.names_pattern.search(text):
        problems.append(f"unlisted company name {match.group(0)!r}")
    if match := truth.numbers_pattern.search(text):
        problems.append(f"a site's capacity figure {match.group(0)!r}")
    if numbers is not None and (match := numbers.search(text)):
        problems.append(f"a withheld region's true figure {match.group(0)!r}")
    if NOTES in text:
        problems.append("bottleneck notes")
    if match := SENSITIVE_KEY.search(text):
        problems.append(f"sensitive field {match.group(0)}")
    for content in found.files:
        header = pd.read_csv(io.StringIO(content), nrows=0).columns
        if set(header) & set(SENSITIVE_FIELDS):
            problems.append(f"sensitive columns {sorted(set(header) & set(SENSITIVE_FIELDS))}")
    return problems


def withheld_numbers(truth: Truth, setting: Setting) -> re.Pattern[str] | None:
    values = []
    for level in vocab.NUTS_LEVELS:
        cells = truth.withheld(setting, level)
        values += [number_text(v) for v in (*cells["capacity"], *cells["available"]) if v >= 1000]
    return numbers_regex(values) if values else None


# --- one sweep of every callback for one setting ------------------------------------------------


@dataclass
class Sweep:
    answers: list[tuple[str, Answer]] = field(default_factory=list)
    classes: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)  # (level, metric)
    regions_csv: dict[int, pd.DataFrame] = field(default_factory=dict)
    regions_api: dict[int, dict[str, dict]] = field(default_factory=dict)  # level -> code -> row
    cards: list[str] = field(default_factory=list)
    sites: tuple[str, dict] | None = None


def card_texts(children: list) -> list[str]:
    """The value line of each summary card in a serialised update."""
    return [card["props"]["children"]["props"]["children"][1]["props"]["children"] for card in children]


def sweep(client, deps: dict[str, dict], setting: Setting, levels: tuple[int, ...] = (0, 1, 2, 3)) -> Sweep:
    """Every callback of the page for one filter setting, as the browser would call them."""
    out = Sweep()
    values = setting.values()
    for level in levels:
        metrics = ["facilities", "capacity"] + (
            ["available_capacity", "specialisation"] if level == 3 else []
        )
        for metric in metrics:
            chosen = {**values, "level.value": level, "metric.value": metric, "scheme.value": "quantiles"}
            chosen[f"{Ids.K}.value"] = 5
            found = call(client, deps[f"{Ids.REGION_CLASSES}.data"], chosen)
            out.answers.append((f"map level {level} {metric}", found))
            classes = found.output(Ids.REGION_CLASSES, "data")
            order = region_order(client, found.output(Ids.REGIONS, "url"))
            out.classes[(level, metric)] = dict(zip(order, classes["cls"], strict=True))
            out.cards = card_texts(found.output(Ids.SUMMARY, "children"))
        chosen = {**values, "level.value": level, f"{Ids.EXPORT_REGIONS}.n_clicks": 1}
        found = call(client, deps[f"{Ids.DOWNLOAD_REGIONS}.data"], chosen)
        out.answers.append((f"regions export level {level}", found))
        out.regions_csv[level] = pd.read_csv(
            io.StringIO(found.files[0]), dtype=str, keep_default_na=False
        ).set_index("nuts_id")
        for code in withheld_codes(out, level)[:3]:
            hover = {**values, "level.value": level, "metric.value": "capacity"}
            hover[f"{Ids.REGIONS}.hoverData"] = {"properties": {"id": code}}
            out.answers.append((f"hover {code}", call(client, deps[f"{Ids.INFO}.children"], hover)))
    found = call(client, deps[f"{Ids.DOWNLOAD_SITES}.data"], {**values, f"{Ids.EXPORT_SITES}.n_clicks": 1})
    out.answers.append(("sites export", found))
    query = {"show": True, "version": setting.version, "filters": [values[f"{i}.value"] for i in FILTER_IDS]}
    found = call(client, deps[f"{Ids.SITES}.hideout"], {f"{Ids.SITES_QUERY}.data": query})
    out.answers.append(("site layer", found))
    out.sites = (found.output(Ids.SITES, "url"), found.output(Ids.SITES, "hideout"))
    for level in levels:
        found = answer(client.get("/api/v1/regions", query_string=[*setting.query(), ("level", str(level))]))
        out.answers.append((f"api regions level {level}", found))
        assert found.status == 200, (setting, level, found.text[:300])
        out.regions_api[level] = {row["nuts_id"]: row for row in found.payload["regions"]}
    out.answers.append(("api summary", answer(client.get("/api/v1/summary", query_string=setting.query()))))
    for form in ("json", "csv"):
        response = client.get("/api/v1/sites", query_string=[*setting.query(), ("format", form)])
        out.answers.append((f"api sites {form}", answer(response)))
    return out


def withheld_codes(found: Sweep, level: int) -> list[str]:
    table = found.regions_csv[level]
    return table.index[table["capacity_withheld"] != ""].tolist()


_ORDERS: dict[str, list[str]] = {}


def region_order(client, url: str) -> list[str]:
    """The region codes of the geometry at ``url``, in the order the browser colours them."""
    if url not in _ORDERS:
        response = client.get(url)
        assert response.status_code == 200, url
        _ORDERS[url] = [f["properties"]["id"] for f in response.get_json(force=True)["features"]]
    return _ORDERS[url]


def assert_safe(truth: Truth, found: Sweep, setting: Setting) -> None:
    """No leak in any answer; every region of one or two companies withheld everywhere."""
    numbers = withheld_numbers(truth, setting)
    for what, single in found.answers:
        assert single.status in (200, 204), (setting, what, single.status, single.text[:300])
        problems = leaks(truth, single, numbers)
        assert not problems, (setting, what, problems)
    if setting.version != 2021:
        return  # the independent placement is of NUTS 2021
    for level in found.regions_csv:
        cells = truth.withheld(setting, level)
        for (lv, metric), classes in found.classes.items():
            if lv != level or (metric == "specialisation" and not setting.stages):
                continue
            shown = {code: classes.get(code) for code in cells.index if classes.get(code) != WITHHELD_CLASS}
            assert not shown, (setting, level, metric, shown)
        rows = found.regions_csv[level].reindex(cells.index)
        api = [found.regions_api[level][code] for code in cells.index]
        for metric in ("facilities", "companies", "capacity", "available_capacity", "bottleneck_reports"):
            assert (rows[metric] == "").all(), (setting, level, metric, rows[metric].to_dict())
            assert (rows[f"{metric}_withheld"] != "").all(), (setting, level, metric)
            assert all(row[metric] is None and row["withheld"].get(metric) for row in api), (setting, metric)


# --- the tests ------------------------------------------------------------------------------------


RESTRICTED = ("cluster", "public", "anonymous public")


def test_the_forbidden_material_is_there_to_find(truth: Truth) -> None:
    assert len(truth.unlisted_names) >= 50
    assert len(truth.site_numbers) >= 20
    assert truth.raw["bottleneck_notes"].str.startswith(NOTES).sum() >= 50


@pytest.mark.parametrize("role", RESTRICTED)
def test_isolating_a_company_by_country_and_stage_reveals_nothing(
    clients, deps, truth: Truth, role: str
) -> None:
    for setting in country_isolating(truth):
        found = sweep(clients[role], deps, setting, levels=(0, 3))
        assert_safe(truth, found, setting)
        # one company: the totals themselves are withheld
        assert set(found.cards) == {"withheld"}, (setting, found.cards)


@pytest.mark.parametrize("role", RESTRICTED)
def test_isolating_a_company_by_region_and_stage_reveals_nothing(
    clients, deps, truth: Truth, role: str
) -> None:
    for setting in region_isolating(truth):
        found = sweep(clients[role], deps, setting, levels=(2, 3))
        assert_safe(truth, found, setting)


def test_broad_settings_reveal_nothing_to_a_cluster(clients, deps, truth: Truth) -> None:
    for setting in BROAD:
        found = sweep(clients["cluster"], deps, setting)
        assert_safe(truth, found, setting)


def test_an_official_gets_what_the_others_do_not(clients, deps, truth: Truth) -> None:
    """The same requests as an official: names, site figures and withheld cells are there."""
    for setting in country_isolating(truth)[:3]:
        found = sweep(clients["official"], deps, setting, levels=(0,))
        exports = dict(found.answers)
        sites = exports["sites export"].haystack
        company = truth.matching(setting)
        assert set(company["company"]) <= set(truth.names_pattern.findall(sites)), setting
        assert truth.numbers_pattern.search(sites), setting
        assert withheld_numbers(truth, setting).search(exports["regions export level 0"].haystack), setting
        assert WITHHELD_CLASS not in found.classes[(0, "capacity")].values()
        assert "withheld" not in found.cards
        problems = leaks(truth, exports["sites export"])
        assert any("sensitive columns" in p for p in problems)


@pytest.mark.parametrize("role", ["cluster", "anonymous public"])
def test_site_points_hold_only_listed_companies(clients, deps, truth: Truth, role: str) -> None:
    client = clients[role]
    query = {"show": True, "version": 2021, "filters": [None] * 5}
    found = call(client, deps[f"{Ids.SITES}.hideout"], {f"{Ids.SITES_QUERY}.data": query})
    url = found.output(Ids.SITES, "url")
    hideout = found.output(Ids.SITES, "hideout")
    listed = truth.raw[truth.raw["listed"]]
    assert hideout["n"] == len(listed)
    official_url = url.rsplit("-", 1)[0] + "-official"  # what an official's page would ask for
    for path in (url, "/atlas/geo/sites-2021.json", official_url):
        points = answer(client.get(path))
        assert points.status == 200
        features = points.payload["features"]
        assert [f["properties"]["company"] for f in features] == listed["company"].tolist()
        assert not leaks(truth, points), leaks(truth, points)
        coordinates = {tuple(f["geometry"]["coordinates"]) for f in features}
        hidden = truth.raw[~truth.raw["listed"] & (truth.raw["latitude"] != "")]
        secret = set(zip(hidden["longitude"].astype(float), hidden["latitude"].astype(float), strict=True))
        assert not coordinates & secret


def test_official_site_points_hold_every_company(clients, truth: Truth) -> None:
    points = answer(clients["official"].get("/atlas/geo/sites-2021.json"))
    assert [f["properties"]["company"] for f in points.payload["features"]] == truth.raw["company"].tolist()
    assert any("unlisted company name" in p for p in leaks(truth, points))


@pytest.mark.parametrize("role", RESTRICTED)
def test_the_page_itself_reveals_nothing(clients, truth: Truth, role: str) -> None:
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        found = answer(clients[role].get(path))
        assert found.status == 200, (path, found.status)
        assert not leaks(truth, found), (path, leaks(truth, found))


DATA_PATHS = [
    ("GET", "/_dash-layout"),
    ("GET", "/_dash-dependencies"),
    ("POST", UPDATE),
    ("GET", "/atlas/geo/sites-2021.json"),
    ("GET", "/atlas/geo/regions-2021-2.json"),
    ("GET", "/api/v1/regions"),
    ("GET", "/api/v1/sites"),
    ("GET", "/api/v1/summary"),
]


@pytest.mark.parametrize(("method", "path"), DATA_PATHS)
def test_anonymous_requests_are_refused_without_data(app, deps, truth: Truth, method: str, path: str) -> None:
    client = app.server.test_client()  # a fresh client: no session; public access is off
    if method == "POST":
        payload = body(deps[f"{Ids.DOWNLOAD_SITES}.data"], {f"{Ids.EXPORT_SITES}.n_clicks": 1})
        response = client.post(path, json=payload)
    else:
        response = client.get(path)
    assert response.status_code in (401, 302, 303), (path, response.status_code)
    if response.status_code == 401:
        assert response.get_json() == {"error": "sign in required"}
    else:
        assert response.headers["Location"].startswith("/login")
    text = response.get_data(as_text=True)
    assert len(text) < 1000
    for marker in ("Sample ", "FeatureCollection", "facility_id", "capacity", "nuts_id", "multi"):
        assert marker not in text, (path, marker)


# --- fuzzing the callback endpoint ----------------------------------------------------------------

HOSTILE_STRINGS = [
    "",
    "@long@",
    "DE",
    "de",
    "ZZ",
    "2021",
    "3",
    "fill_finish",
    "capacity",
    "<script>alert(1)</script>",
    "'; DROP TABLE sites; --",
    "../../etc/passwd",
    "\x00\x01\u202e",
    "NaN",
    "Infinity",
    "__proto__",
    "{{7*7}}",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(
        [
            *vocab.STAGES,
            *vocab.BOTTLENECKS,
            *vocab.PLATFORMS,
            *vocab.COMPANY_SIZES,
            *vocab.METRICS,
            "DE",
            "AT",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


#: Placeholders swapped after json.dumps: nesting deeper than Python's recursion limit (which
#: json.dumps cannot write), and a 100 KB string (kept out of Hypothesis' reports).
DEEP = {"@deep50@": "[" * 50 + '"x"' + "]" * 50, "@deep5000@": "[" * 5000 + '"x"' + "]" * 5000}
SWAPS = {**DEEP, "@long@": '"' + "y" * 100_000 + '"'}


def encode(payload: object) -> bytes:
    text = json.dumps(payload, allow_nan=True)
    for marker, value in SWAPS.items():
        text = text.replace(f'"{marker}"', value)
    return text.encode()


@st.composite
def hostile_bodies(draw, deps: list[dict]) -> bytes:
    """A callback request body: mostly a real callback with hostile values, sometimes broken whole.

    ``outputs`` of a one-output callback is never dropped or made a list: that known 500 has its
    own test (test_one_output_callback_without_its_output_object_is_a_bad_request)."""
    kind = draw(st.sampled_from(["values", "values", "values", "shape", "junk"]))
    dep = draw(st.sampled_from(deps))
    names = [f"{i['id']}.{i['property']}" for i in (*dep["inputs"], *dep.get("state", []))]
    values = {name: draw(VALUES) for name in names}
    if names and draw(st.booleans()):
        name = draw(st.sampled_from(names))
        values[name] = draw(st.sampled_from([*DEEP, "@long@", [["z" * 1000] * 50], ["@long@"] * 3]))
    payload = body(dep, values)
    if kind == "shape":
        change = draw(
            st.sampled_from(["drop_input", "drop_key", "output", "outputs", "extra_input", "types"])
        )
        if change == "drop_input" and payload["inputs"]:
            payload["inputs"] = payload["inputs"][:-1]
        elif change == "drop_key":
            payload.pop(draw(st.sampled_from(sorted(payload))))
        elif change == "output":
            payload["output"] = draw(
                st.sampled_from(
                    ["nope.children", "..a.b...c.d..", "x" * 5000, ".", "...", dep["output"] + "."]
                )
            )
        elif change == "outputs":
            payload["outputs"] = draw(
                st.sampled_from(
                    [
                        {"id": "ghost", "property": "children"},
                        {"id": "regions", "property": "nope"},
                        {"id": {"type": "x", "index": 1}, "property": "data"},
                        [{"id": "ghost", "property": "children"}] * 5,
                        [],
                        [payload["outputs"]],
                    ]
                )
                if not dep["output"].startswith("..")
                else st.one_of(VALUES, st.just(payload["outputs"][:1]), st.just(payload["outputs"][::-1]))
            )
        elif change == "extra_input":
            payload["inputs"] = [*payload["inputs"], {"id": "ghost", "property": "value", "value": 1}]
        else:
            payload[draw(st.sampled_from(["inputs", "state", "changedPropIds"]))] = draw(VALUES)
    if kind == "junk":
        return draw(
            st.one_of(
                st.binary(max_size=200),
                st.sampled_from(
                    [
                        b"",
                        b"{",
                        b"null",
                        b"[]",
                        b'{"output": 1}',
                        b"\xff\xfe",
                        b'"x"' * 10,
                        b'{"output": NaN}',
                    ]
                ),
                VALUES.map(encode),
            )
        )
    return encode(payload)


@pytest.fixture(scope="module")
def every_callback(clients) -> list[dict]:
    """Every callback of /_dash-dependencies, the browser-side ones too (no server function)."""
    return clients["cluster"].get("/_dash-dependencies").get_json()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(data=st.data())
def test_hostile_callback_requests_never_break_the_server(clients, every_callback, data) -> None:
    raw_body = data.draw(hostile_bodies(every_callback), label="body")
    response = clients["cluster"].post(UPDATE, data=raw_body, content_type="application/json")
    text = response.get_data(as_text=True)
    event(f"status {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code < 500, (response.status_code, text[:300], raw_body[:300])
    assert "Traceback" not in text
    assert len(response.data) <= MAX_RESPONSE
    assert "y" * 100 not in text and "z" * 100 not in text  # nothing long is echoed back


@pytest.mark.parametrize("outputs", ["missing", "empty", "same"])
@pytest.mark.parametrize(
    "output",
    [
        f"{Ids.DOWNLOAD_REGIONS}.data",
        f"{Ids.DOWNLOAD_SITES}.data",
        f"{Ids.BASEMAP}.url",
        f"{Ids.INFO}.children",
    ],
)
def test_one_output_callback_without_its_output_object_is_a_bad_request(
    clients, deps, truth: Truth, output: str, outputs: str
) -> None:
    dep = deps[output]
    values = {
        f"{Ids.EXPORT_REGIONS}.n_clicks": 1,
        f"{Ids.EXPORT_SITES}.n_clicks": 1,
        f"{Ids.VERSION}.value": 2021,
        f"{Ids.REGIONS}.hoverData": {"properties": {"id": "DE212"}},
    }
    payload = body(dep, values)
    if outputs == "missing":
        del payload["outputs"]
    else:
        payload["outputs"] = [] if outputs == "empty" else [payload["outputs"]]
    found = answer(clients["cluster"].post(UPDATE, json=payload))
    assert not leaks(truth, found)
    assert "Traceback" not in found.text
    assert found.status == 400, (found.status, found.text[:200])


# --- partner search --------------------------------------------------------------------------------

PARTNER_ORIGINS = ("region:DE71", "region:PL91", "region:ES30", "region:SE11")
RELIEVABLE = [*vocab.STAGES, *(b for b, stage in vocab.BOTTLENECK_RELIEF.items() if stage)]


def partner_values(need: str, origin: str, **extra: object) -> dict[str, object]:
    values: dict[str, object] = {
        f"{Ids.VIEW}.value": "partners",
        f"{Ids.PARTNER_NEED}.value": need,
        f"{Ids.PARTNER_ORIGIN}.value": origin,
        f"{Ids.PARTNER_SCOPE}.value": "any",
        f"{Ids.PARTNER_LIMIT}.value": 100,
        f"{Ids.PARTNER_GMP}.value": False,
        f"{Ids.VERSION}.value": 2021,
        f"{Ids.PARTNER_EXPORT}.n_clicks": 1,
    }
    values.update({f"{key}.value": value for key, value in extra.items()})
    return values


def partner_rows(found: Answer) -> list[dict]:
    assert found.status == 200, found.text[:300]
    return found.payload["response"][Ids.PARTNER_GRID]["rowData"]


def test_partner_search_names_only_listed_companies_to_a_cluster(clients, deps, truth: Truth) -> None:
    """Every need from four regions, the list and its CSV: no unlisted company, no site figure, no
    sensitive column; and an official's same searches do name unlisted companies."""
    search, export = deps[f"{Ids.PARTNER_GRID}.rowData"], deps[f"{Ids.PARTNER_DOWNLOAD}.data"]
    listed_ids = set(truth.raw.loc[truth.raw["listed"], "facility_id"])
    official_names: set[str] = set()
    for need in RELIEVABLE:
        for origin in PARTNER_ORIGINS:
            values = partner_values(need, origin)
            for role in ("cluster", "public"):
                found = call(clients[role], search, values)
                assert {row["facility_id"] for row in partner_rows(found)} <= listed_ids
                assert not leaks(truth, found), (role, need, origin, leaks(truth, found))
                assert "available_doses_per_month" not in found.text and "contact" not in found.text
            if origin == PARTNER_ORIGINS[0]:
                csv = call(clients["cluster"], export, values)
                assert csv.files and not leaks(truth, csv), (need, leaks(truth, csv))
                assert "available_doses_per_month" not in csv.files[0] and "Sample" in csv.files[0]
            official_names |= set(truth.names_pattern.findall(call(clients["official"], search, values).text))
    assert official_names, (
        "the official's searches must reach unlisted companies (else this test proves nothing)"
    )


@pytest.mark.parametrize("field", [Ids.PARTNER_MIN_AVAILABLE, Ids.PARTNER_MAX_LEAD])
def test_a_cluster_cannot_filter_partners_by_confidential_figures(clients, deps, field: str) -> None:
    """Moving a threshold on free capacity or lead time until a site drops out would reveal its
    figure: the filter is refused, whatever the page sends."""
    search = deps[f"{Ids.PARTNER_GRID}.rowData"]
    for threshold in (0, 1, 50_000):
        found = call(
            clients["cluster"], search, partner_values("fill_finish", "region:DE71", **{field: threshold})
        )
        assert partner_rows(found) == []
        assert "only task-force officials" in found.text
    generous = 0 if field == Ids.PARTNER_MIN_AVAILABLE else 36  # every reported figure passes
    official = call(
        clients["official"], search, partner_values("fill_finish", "region:DE71", **{field: generous})
    )
    assert partner_rows(official)
    assert "only task-force officials" not in official.text


def test_an_unlisted_site_is_neither_an_origin_nor_a_request_target(clients, deps, truth: Truth) -> None:
    """An unlisted site's id as the start (its distances would place it) or as the target of an
    introduction request gets the same answer as an id that does not exist."""
    search, send = deps[f"{Ids.PARTNER_GRID}.rowData"], deps[f"{Ids.INTRO_RESULT}.children"]
    unlisted = truth.raw.loc[~truth.raw["listed"], "facility_id"].iloc[0]
    said = []
    for site in (unlisted, "NO-SUCH-SITE"):
        found = call(clients["cluster"], search, partner_values("fill_finish", f"site:{site}"))
        assert partner_rows(found) == []
        summary = json.dumps(found.output(Ids.PARTNER_SUMMARY, "children"))
        assert "that you may see" in summary
        said.append(summary.replace(site, "<id>"))
    assert said[0] == said[1]
    answers = []
    for target in (unlisted, "NO-SUCH-SITE"):
        values = {
            f"{Ids.INTRO_SEND}.n_clicks": 1,
            f"{Ids.PARTNER_GRID}.selectedRows": [{"facility_id": target}],
            f"{Ids.PARTNER_NEED}.value": "fill_finish",
            f"{Ids.INTRO_MESSAGE}.value": "hello",
            f"{Ids.VERSION}.value": 2021,
        }
        answers.append(
            call(clients["cluster"], send, values).payload["response"][Ids.INTRO_RESULT]["children"]
        )
    assert answers[0] == answers[1]
    assert "no such site" in json.dumps(answers[0])
