"""The bottleneck overview on the real NUTS 2021 files and a small hand-made survey.

The official's figures below are worked out by hand from FACILITIES_CSV; the other roles' are
checked against the disclosure engine's release (the map's summary totals and tables) and the
listing rule, never against counts of the sites. Distances were measured once with the
haversine formula from the coordinates below and GISCO's NUTS 2021 label points (DE30 Berlin
52.5005 N 13.4022 E, DE21 Oberbayern 48.1065 N 11.7436 E) and are written here as numbers.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dash import Dash, html, no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate
from flask_login import login_user
from plotly.utils import PlotlyJSONEncoder

from dashboard import auth, overview, overview_parts, overview_view
from dashboard.data import Atlas, AtlasData
from dashboard.ids import Ids
from geodata import disclosure, store, vocab
from geodata.aggregate import Filters

pytestmark = pytest.mark.integration

HEADER = (
    "facility_id,company,country,latitude,longitude,stages,capacity_doses_per_month,"
    "available_capacity_pct,bottlenecks,public_listing\n"
)
#: Berlin (DE300): Alpha (2 sites), Bravo, Delta report vials; Charlie (not listed) makes vials
#: (primary packaging) and reports financing. Potsdam (DE404): Echo makes vials. Leipzig (DED51):
#: Foxtrot makes vials, offers cold chain and reports a cold-chain bottleneck. Frankfurt (DE712):
#: Golf (not listed) makes vials. München (DE212): Hotel reports vials. Paris (FR101): Juliett
#: (not listed) and Kilo report syringes.
SITES = {
    "a1": "Alpha,DE,52.5219,13.4132,fill_finish,1000,50,vials_stoppers,yes",
    "a2": "Alpha,DE,52.51,13.39,fill_finish;qc_testing,2000,10,vials_stoppers;skilled_staff,yes",
    "b1": "Bravo,DE,52.53,13.45,fill_finish,,,vials_stoppers,yes",
    "d1": "Delta,DE,52.48,13.40,qc_testing,,,vials_stoppers,yes",
    "c1": "Charlie,DE,52.46,13.32,primary_packaging,4000,25,financing,no",
    "e1": "Echo,DE,52.3906,13.0645,primary_packaging,2000,50,,yes",
    "f1": "Foxtrot,DE,51.3397,12.3731,primary_packaging;cold_chain_logistics,3000,10,cold_chain,yes",
    "g1": "Golf,DE,50.1109,8.6821,primary_packaging,5000,20,,no",
    "h1": "Hotel,DE,48.1372,11.5756,fill_finish,,,vials_stoppers,yes",
    "j1": "Juliett,FR,48.8566,2.3522,fill_finish,,,syringes_needles,no",
    "k1": "Kilo,FR,48.86,2.34,fill_finish,,,syringes_needles,yes",
}
#: The two unlisted vial makers moved within their NUTS 3 regions (so every engine figure stays).
MOVED = {
    "c1": "Charlie,DE,52.56,13.24,primary_packaging,4000,25,financing,no",
    "g1": "Golf,DE,50.12,8.73,primary_packaging,5000,20,,no",
}
VIALS, SYRINGES, COLD, STAFF, MONEY = (
    "vials_stoppers", "syringes_needles", "cold_chain", "skilled_staff", "financing",
)  # fmt: skip
FEW = "few"


def csv_text(sites: dict[str, str]) -> str:
    return HEADER + "".join(f"{fid},{row}\n" for fid, row in sites.items())


# --- by hand ----------------------------------------------------------------------------------------
#: Official matrix: (stage, bottleneck) -> sites offering the stage that report the bottleneck.
MATRIX = {
    ("fill_finish", VIALS): 4,  # a1 a2 b1 h1
    ("qc_testing", VIALS): 2,  # a2 d1
    ("fill_finish", STAFF): 1,  # a2
    ("qc_testing", STAFF): 1,  # a2
    ("fill_finish", SYRINGES): 2,  # j1 k1
    ("primary_packaging", MONEY): 1,  # c1
    ("primary_packaging", COLD): 1,  # f1
    ("cold_chain_logistics", COLD): 1,  # f1
}
REPORTS = {VIALS: 5, SYRINGES: 2, COLD: 1, STAFF: 1, MONEY: 1}  # any stage
RELIEVING = {"primary_packaging": 4, "fill_finish": 6, "qc_testing": 2, "cold_chain_logistics": 1}
BY_COUNTRY = {(VIALS, "DE"): 5, (SYRINGES, "FR"): 2, (COLD, "DE"): 1, (STAFF, "DE"): 1, (MONEY, "DE"): 1}
#: Bottlenecks of one or two companies: withheld (too few companies) for every other role.
FEW_COMPANIES = (SYRINGES, COLD, STAFF, MONEY)
#: Relief of vials (primary packaging) within 100 / 250 / 500 km of another site reporting vials.
#: Officials: c1 5.9 km (d1), e1 24.8 km (d1), f1 145.0 km (d1), g1 304.1 km (h1); available
#: capacity c1 1000, e1 1000, f1 300, g1 1000 doses/month. Others: e1 and f1 only (listed).
VIALS_OFFICIAL = {100: (2, 2000.0), 250: (3, 2300.0), 500: (4, 3300.0)}
VIALS_CLUSTER = {100: (1, None), 250: (2, None), 500: (2, None)}
#: Syringes (Paris): officials g1 at 477.9 km; listed vial makers are 766 km and more away.
SYRINGES_OFFICIAL = {100: (0, 0.0), 250: (0, 0.0), 500: (1, 1000.0)}
#: Need regions of vials (NUTS 2) and the distance from their point to the nearest vial maker:
#: officials Berlin 4 sites, c1 at 7.2 km; Oberbayern 1 site, g1 at 315.1 km; the others measure
#: to listed makers only: Berlin e1 at 25.9 km, Oberbayern f1 at 362.3 km (Hotel alone: withheld).
NEED_OFFICIAL = [("DE30", 4.0, 7.2), ("DE21", 1.0, 315.1)]
NEED_CLUSTER_KM = {"DE30": 25.9, "DE21": 362.3}
#: Berlin's distance once Charlie has moved (officials only): 12.8 km.
BERLIN_MOVED_KM = 12.8
OFFICIAL_ORDER = [
    VIALS, SYRINGES, COLD, STAFF, MONEY, "lipids_mrna_inputs", "media_resins", "single_use", "filters",
    "equipment_lead_time", "fill_finish_slots", "qc_release", "regulatory_gmp", "tech_transfer_ip",
    "export_restrictions",
]  # fmt: skip
#: Ranked by least relief within 250 km: relief 0 by reports (syringes 2, cold chain 1, staff 1, the
#: unreported in vocabulary order), then vials (3), then the policy bottlenecks.
RELIEF_ORDER_250 = [
    SYRINGES, COLD, STAFF, "lipids_mrna_inputs", "media_resins", "single_use", "filters",
    "equipment_lead_time", "fill_finish_slots", "qc_release", "regulatory_gmp", "tech_transfer_ip",
    VIALS, MONEY, "export_restrictions",
]  # fmt: skip


@pytest.fixture(scope="module")
def data(real_nuts: Path, tmp_path_factory: pytest.TempPathFactory) -> AtlasData:
    path = tmp_path_factory.mktemp("overview") / "survey.csv"
    path.write_text(csv_text(SITES), encoding="utf-8")
    atlas = AtlasData(path, rules=disclosure.Rules(key="test-key"))
    assert atlas.unplaced(2021) == 0
    return atlas


@pytest.fixture(scope="module")
def moved(real_nuts: Path, tmp_path_factory: pytest.TempPathFactory) -> AtlasData:
    path = tmp_path_factory.mktemp("overview-moved") / "survey.csv"
    path.write_text(csv_text({**SITES, **MOVED}), encoding="utf-8")
    return AtlasData(path, rules=disclosure.Rules(key="test-key"))


@pytest.fixture(scope="module")
def official(data: AtlasData) -> overview.Overview:
    return overview.overview(data, 2021, "official")


@pytest.fixture(scope="module")
def cluster(data: AtlasData) -> overview.Overview:
    return overview.overview(data, 2021, "cluster")


def dumped(value: object) -> str:
    return json.dumps(value, cls=PlotlyJSONEncoder, sort_keys=True)


# --- the matrix and the countries -------------------------------------------------------------------


def test_official_matrix_by_hand(official: overview.Overview) -> None:
    for b in vocab.BOTTLENECKS:
        assert official.reports[b].value == REPORTS.get(b, 0), b
        for s in vocab.STAGES:
            assert official.matrix[(s, b)].value == MATRIX.get((s, b), 0), (s, b)
    for s in vocab.STAGES:
        assert official.relieving[s].value == RELIEVING.get(s, 0), s
    assert official.countries == ("DE", "FR")
    for b in vocab.BOTTLENECKS:
        for c in ("DE", "FR"):
            assert official.by_country[b][c].value == BY_COUNTRY.get((b, c), 0), (b, c)
    # an official sees every figure, and learns which ones other roles do not see
    assert official.reports[SYRINGES].reason == FEW
    assert official.reports[SYRINGES].value == 2


@pytest.mark.parametrize("role", ["official", "cluster", "public"])
def test_every_cell_is_what_the_map_summary_shows(data: AtlasData, role: str) -> None:
    """A cell is the summary total of its filter setting for the role (the map's summary for
    stage s and bottleneck b), withheld exactly where it is, with the same reason."""
    found = overview.overview(data, 2021, role)
    for b in vocab.BOTTLENECKS:
        for stages, figure in [((), found.reports[b]), *(((s,), found.matrix[(s, b)]) for s in vocab.STAGES)]:
            totals, why = data.summary(2021, Filters(stages=stages, bottlenecks=(b,)), role)
            assert figure.value == totals["bottleneck_reports"], (stages, b)
            assert figure.reason == why["bottleneck_reports"], (stages, b)
        table = data.regions(2021, 0, Filters(bottlenecks=(b,)), role)
        for c in found.countries:
            assert found.by_country[b][c].value == (
                None if pd.isna(table.at[c, "bottleneck_reports"]) else table.at[c, "bottleneck_reports"]
            )
            assert found.by_country[b][c].reason == table.at[c, "bottleneck_reports_withheld"]
    for s in vocab.STAGES:
        totals, _why = data.summary(2021, Filters(stages=(s,)), role)
        assert found.relieving[s].value == totals["facilities"]


def test_a_cluster_never_gets_a_count_the_engine_withholds(cluster: overview.Overview) -> None:
    for b in FEW_COMPANIES:
        assert cluster.reports[b] == overview.Figure(None, FEW, "confidential: too few companies"), b
        for s in vocab.STAGES:
            figure = cluster.matrix[(s, b)]
            if MATRIX.get((s, b)):
                assert figure.value is None and figure.reason == FEW, (s, b)
    assert cluster.by_country[SYRINGES]["FR"].value is None
    assert cluster.by_country[SYRINGES]["FR"].reason == FEW
    figure = overview_parts.matrix_figure(cluster)
    row = list(vocab.BOTTLENECKS).index(SYRINGES)
    texts = figure.data[1].text[row]  # the grey layer's: "c"; the coloured layer writes nothing there
    assert texts[0] == "c" and texts[1 + list(vocab.STAGES).index("fill_finish")] == "c"
    assert figure.data[0].text[row][0] == ""
    assert "withheld (too few companies)" in figure.data[0].hovertext[row][0]
    assert figure.data[0].z[row][0] is None and figure.data[1].z[row][0] == 1.0  # grey, not 0


def test_an_official_matrix_marks_what_others_do_not_see(official: overview.Overview) -> None:
    figure = overview_parts.matrix_figure(official)
    row = list(vocab.BOTTLENECKS).index(SYRINGES)
    assert figure.data[0].text[row][0] == "2*"
    assert "not shown to other roles (too few companies)" in figure.data[0].hovertext[row][0]
    assert all(z is None for z in figure.data[1].z[row])  # nothing grey for an official


# --- distances, relief, the ranked list -------------------------------------------------------------


@pytest.mark.parametrize("km", [100, 250, 500])
def test_relief_within_a_distance(official: overview.Overview, cluster: overview.Overview, km: int) -> None:
    assert official.relief[VIALS].within(km) == VIALS_OFFICIAL[km]
    assert cluster.relief[VIALS].within(km) == VIALS_CLUSTER[km]
    assert official.relief[SYRINGES].within(km) == SYRINGES_OFFICIAL[km]
    assert cluster.relief[SYRINGES].within(km) == (0, None)
    # Foxtrot both offers cold chain and reports it: a site never relieves itself
    assert official.relief[COLD].within(km) == (0, 0.0) and cluster.relief[COLD].within(km) == (0, None)
    assert official.relief["fill_finish_slots"].within(km) == (0, 0.0)  # nobody reports it
    assert MONEY not in official.relief and "export_restrictions" not in official.relief


def test_the_ranked_list(official: overview.Overview, cluster: overview.Overview) -> None:
    rows = overview.ranked(official, 250)
    assert [r.bottleneck for r in rows] == OFFICIAL_ORDER
    vials = rows[0]
    assert (vials.stage, vials.reports.value, vials.within, vials.capacity) == (
        "primary_packaging",
        5,
        3,
        2300,
    )
    assert vials.relieving is not None and vials.relieving.value == 4
    money = next(r for r in rows if r.bottleneck == MONEY)
    assert (money.stage, money.relieving, money.within, money.capacity) == (None, None, None, None)
    assert [r.bottleneck for r in overview.ranked(official, 250, "relief")] == RELIEF_ORDER_250
    # the others: figures they do not see rank last, whatever their true size
    rows = overview.ranked(cluster, 250)
    assert rows[0].bottleneck == VIALS and rows[0].within == 2 and rows[0].capacity is None
    assert [r.bottleneck for r in rows[-4:]] == [SYRINGES, COLD, STAFF, MONEY]
    assert all(r.reports.value is None for r in rows[-4:])
    assert all(r.reports.value is not None for r in rows[:-4])
    table = dumped(overview_parts.ranked_table(cluster, 250, "reports"))
    assert "withheld: too few companies" in table and "available capacity" not in table.lower()
    assert "Their available capacity" in dumped(overview_parts.ranked_table(official, 250, "reports"))
    with pytest.raises(ValueError, match="by must be one of"):
        overview.ranked(official, 250, "secret")


def test_need_regions_and_their_distance_to_relief(
    data: AtlasData, official: overview.Overview, cluster: overview.Overview
) -> None:
    names = data.names(2021)
    found = overview.need_regions(official, VIALS, names)
    assert [(r.code, r.reports.value) for r in found] == [(c, n) for c, n, _km in NEED_OFFICIAL]
    for row, (_code, _n, km) in zip(found, NEED_OFFICIAL, strict=True):
        assert row.nearest_km == pytest.approx(km, abs=0.1)
    found = overview.need_regions(cluster, VIALS, names)
    assert [r.code for r in found] == ["DE30", "DE21"]  # the withheld one last
    assert found[1].reports == overview.Figure(None, FEW, "confidential: too few companies")
    for row in found:
        assert row.nearest_km == pytest.approx(NEED_CLUSTER_KM[row.code], abs=0.1)
    money = overview.need_regions(official, MONEY, names)
    assert [(r.code, r.nearest_km) for r in money] == [("DE30", None)]  # no stage relieves it


def test_a_policy_bottleneck_has_no_supply_map(data: AtlasData, cluster: overview.Overview) -> None:
    chosen = overview_parts.chosen(data, cluster, MONEY)
    assert chosen.supply_hidden and chosen.supply == {}
    assert "No production stage relieves it" in dumped(chosen.header)
    vials = overview_parts.chosen(data, cluster, VIALS)
    assert not vials.supply_hidden
    order = list(cluster.regions)
    tips = dict(zip(order, vials.need["tips"], strict=True))  # type: ignore[arg-type]
    assert tips["DE21"].startswith("withheld (too few companies)")
    assert "nearest site offering Primary packaging components: 362 km" in tips["DE21"]
    supply = dict(zip(order, vials.supply["tips"], strict=True))  # type: ignore[arg-type]
    assert supply["DE40"] == "withheld (too few companies)"  # Echo alone in Brandenburg
    with pytest.raises(ValueError, match="bottleneck must be one of"):
        overview_parts.chosen(data, cluster, "nope")


def test_distances_use_only_the_sites_a_role_sees_one_by_one(data: AtlasData) -> None:
    ids = data.index(2021).facility_id
    listed = overview.sites_of(data, 2021, "cluster")
    assert set(ids[listed.position]) == set(SITES) - {"c1", "g1", "j1"}
    assert set(ids[overview.sites_of(data, 2021, "official").position]) == set(SITES)


def test_moving_an_unlisted_site_changes_nothing_a_cluster_gets(
    data: AtlasData, moved: AtlasData, official: overview.Overview
) -> None:
    """Charlie and Golf (not listed) move within their NUTS 3 regions: every figure of the engine
    stays, the officials' distances change, and everything a cluster gets is byte for byte the same."""
    now = dt.datetime(2021, 3, 1, tzinfo=dt.UTC)

    def everything(atlas: AtlasData, role: str) -> list[object]:
        found = overview.overview(atlas, 2021, role)
        out: list[object] = [
            overview_parts.matrix_figure(found).to_json(),
            overview_parts.countries_figure(found).to_json(),
            overview_parts.note(found),
        ]
        for b in vocab.BOTTLENECKS:
            chosen = overview_parts.chosen(atlas, found, b)
            out += [chosen.header, chosen.need, chosen.need_legend, chosen.supply, chosen.need_table]
        for km in overview.DISTANCES_KM:
            for by in overview.RANK_BY:
                out.append(overview_parts.ranked_table(found, km, by))
                out.append(overview_parts.ranked_export(atlas, found, km, by, role, now)[0].to_csv())
        out.append(overview_parts.matrix_export(atlas, found, role, now)[0].to_csv())
        return out

    for role in ("cluster", "public"):
        assert dumped(everything(data, role)) == dumped(everything(moved, role))
    assert dumped(everything(data, "official")) != dumped(everything(moved, "official"))
    berlin = overview.need_regions(overview.overview(moved, 2021, "official"), VIALS, moved.names(2021))[0]
    assert berlin.code == "DE30" and berlin.nearest_km == pytest.approx(BERLIN_MOVED_KM, abs=0.1)
    assert official.need[VIALS].equals(overview.overview(moved, 2021, "official").need[VIALS])


# --- exports ------------------------------------------------------------------------------------------


def test_exports_carry_the_released_figures_and_provenance(
    data: AtlasData, official: overview.Overview, cluster: overview.Overview
) -> None:
    now = dt.datetime(2021, 3, 1, 12, 0, tzinfo=dt.UTC)
    table, name = overview_parts.matrix_export(data, cluster, "public", now)
    assert name == "bottlenecks_matrix_survey_nuts2021_20210301-120000.csv"
    assert len(table) == len(vocab.BOTTLENECKS) * (1 + len(vocab.STAGES) + 2)
    row = table[(table["bottleneck"] == SYRINGES) & (table["country"] == "FR")].iloc[0]
    assert (
        np.isnan(row["sites_reporting"])
        and row["sites_reporting_withheld"] == "confidential: too few companies"
    )
    cell = table[(table["bottleneck"] == VIALS) & (table["stage"] == "fill_finish")].iloc[0]
    assert cell["filters"] == "stage: fill_finish; bottleneck: vials_stoppers"
    assert cell["role"] == "public" and "EuroGeographics" in cell["source"]
    assert cell["nuts_version"] == "NUTS 2021" and cell["exported_at"] == "2021-03-01T12:00:00Z"
    ranked, name = overview_parts.ranked_export(data, cluster, 100, "reports", "cluster", now)
    assert name == "bottlenecks_ranked_survey_nuts2021_100km_20210301-120000.csv"
    assert "available_capacity_within" not in ranked.columns
    assert ranked.iloc[0][["bottleneck", "relieving_sites_within", "within_km"]].tolist() == [VIALS, 1, 100]
    assert set(ranked["distances_to"]) == {overview.SITES_USED["cluster"]}
    ranked, _name = overview_parts.ranked_export(data, official, 100, "reports", "official", now)
    assert ranked.iloc[0]["available_capacity_within"] == 2000
    assert ranked.iloc[1]["sites_reporting_withheld"] == "confidential: too few companies"  # for others


# --- built once, in the background ----------------------------------------------------------------------


def test_prepare_builds_once_in_the_background(
    real_nuts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(csv_text(SITES), encoding="utf-8")
    atlas = AtlasData(path, rules=disclosure.Rules(key="test-key"))
    started = threading.Event()
    go_on = threading.Event()
    calls: list[str] = []
    real = overview.build

    def slow(*args: object, **kwargs: object) -> overview.Overview:
        calls.append(str(args[2]))
        started.set()
        go_on.wait(30)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(overview, "build", slow)
    assert overview.prepare(atlas, 2021, "public") is None
    assert started.wait(30)
    assert overview.prepare(atlas, 2021, "cluster") is None  # the same group: no second build
    state = overview.progress(atlas, 2021, "cluster")
    assert state is not None and state.total == len(overview.settings()) == 176
    assert overview.cached(atlas, 2021, "cluster") is None
    go_on.set()
    assert state.finished.wait(60) and state.error is None
    assert calls == ["cluster"]
    found = overview.prepare(atlas, 2021, "public")
    assert found is not None and found.group == "cluster"
    assert overview.progress(atlas, 2021, "cluster") is None
    assert overview.cached(atlas, 2021, "official") is None


def test_a_failed_build_says_so_and_is_tried_again(
    real_nuts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(csv_text(SITES), encoding="utf-8")
    atlas = AtlasData(path, rules=disclosure.Rules(key="test-key"))
    monkeypatch.setattr(overview, "build", lambda *a, **k: (_ for _ in ()).throw(MemoryError("boom")))
    with pytest.raises(RuntimeError, match="could not be built"):
        overview.overview(atlas, 2021, "official")
    state = overview.progress(atlas, 2021, "official")
    assert state is not None and state.error == "MemoryError"
    text = dumped(overview_parts.preparing(state, atlas, 2021))
    assert "could not be prepared" in text and "boom" not in text
    assert overview.prepare(atlas, 2021, "official", retry=False) is None  # no new build
    assert overview.progress(atlas, 2021, "official") is state


# --- the callbacks, signed in ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(real_nuts: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Dash, Atlas]:
    folder = tmp_path_factory.mktemp("overview-app")
    path = folder / "survey.csv"
    path.write_text(csv_text(SITES), encoding="utf-8")
    # a store of its own: a round published into the session's store would become the default
    # round of every later test's app
    atlas = Atlas(
        store.connect(f"sqlite:///{folder / 'atlas.sqlite'}"), path, rules=disclosure.Rules(key="test-key")
    )
    dash_app = Dash(__name__)
    dash_app.layout = html.Div(overview_view.layout())
    auth.configure(dash_app.server, demo=True, public=False)
    overview_view.register(dash_app, atlas)
    for role in ("official", "cluster"):
        overview.overview(atlas.get(None), 2021, role)
    return dash_app, atlas


@contextlib.contextmanager
def signed_in(dash_app: Dash, role: str | None, trigger: str | None = None) -> Iterator[None]:
    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": trigger, "value": 1}] if trigger else []))
    with dash_app.server.test_request_context("/_dash-update-component", method="POST"):
        if role is not None:
            login_user(auth.AuthUser("demo", role, f"demo:{role}"))
        yield


def callback(dash_app: Dash, component_id: str, prop: str):
    output = f"{component_id}.{prop}"
    for key, entry in dash_app.callback_map.items():
        parts = [part.split("@")[0] for part in key.strip(".").split("...")]
        if "callback" in entry and parts[0] == output:
            return entry["callback"].__wrapped__
    raise LookupError(output)


READY = {"round": "forged", "version": 2021, "role": "official", "group": "official"}


def test_the_status_while_hidden_preparing_and_ready(
    app: tuple[Dash, Atlas], monkeypatch: pytest.MonkeyPatch
) -> None:
    dash_app, atlas = app
    status = callback(dash_app, Ids.OVERVIEW_STATUS, "children")
    with signed_in(dash_app, "cluster", "view.value"):
        assert status("map", None, 2021, None) == (no_update, True, no_update, no_update)
        text, disabled, ready, hidden = status("bottlenecks", None, 2021, None)
    name = atlas.get(None).round
    assert (text, disabled, hidden) == ("", True, False) and ready == {"round": name, "version": 2021}
    with signed_in(dash_app, "cluster", "view.value"):
        text, disabled, ready, hidden = status("bottlenecks", "<b>nope</b>", "2099", None)
    assert "No published round named '<b>nope</b>'" in text and "NUTS version" in text
    assert ready == {"round": name, "version": 2021}
    # a version not built yet: being prepared, with progress, polling until it is built
    go_on = threading.Event()
    real = overview.build

    def slow(atlas_data: AtlasData, version: int, role: str, progress=None) -> overview.Overview:
        progress(40, 176)
        go_on.wait(30)
        return dataclasses.replace(real(atlas_data, 2021, role), version=version)

    monkeypatch.setattr(overview, "build", slow)
    with signed_in(dash_app, "official", "view.value"):
        shown, disabled, ready, hidden = status("bottlenecks", None, 2024, None)
    assert "Preparing the bottleneck overview" in dumped(shown) and disabled is False
    assert ready is None and hidden is True
    state = overview.progress(atlas.get(None), 2024, "official")
    assert state is not None
    with signed_in(dash_app, "official", "overview-poll.n_intervals"):
        shown, disabled, ready, hidden = status("bottlenecks", None, 2024, 1)
    assert "40 of 176 filter settings done" in dumped(shown) and (disabled, ready, hidden) == (
        False,
        None,
        True,
    )
    go_on.set()
    assert state.finished.wait(60) and state.error is None
    with signed_in(dash_app, "official", "overview-poll.n_intervals"):
        _text, disabled, ready, hidden = status("bottlenecks", None, 2024, 3)
    assert disabled is True and ready == {"round": name, "version": 2024} and hidden is False
    with signed_in(dash_app, None, "view.value"), pytest.raises(PreventUpdate):
        status("bottlenecks", None, 2021, None)  # nobody signed in: nothing computed


def test_callbacks_answer_for_the_signed_in_role_whatever_the_payload(app: tuple[Dash, Atlas]) -> None:
    dash_app, atlas = app
    data = atlas.get(None)
    ranked = callback(dash_app, Ids.OVERVIEW_RANKED, "children")
    figures = callback(dash_app, Ids.OVERVIEW_MATRIX, "figure")
    for role in ("cluster", "public"):
        with signed_in(dash_app, role):
            got = ranked(READY, 250, "reports", None, 2021)
            matrix, _countries, note, pick = figures(READY, None, 2021, None)
        expected = overview_parts.ranked_table(overview.overview(data, 2021, "cluster"), 250, "reports")
        assert dumped(got) == dumped([expected])
        assert "Their available capacity" not in dumped(got)
        assert "only the sites of publicly listed companies" in dumped(note)
        assert (
            matrix.to_json()
            == overview_parts.matrix_figure(overview.overview(data, 2021, "cluster")).to_json()
        )
        assert pick == VIALS  # the most reported one the role sees
    with signed_in(dash_app, "official"):
        got = ranked({"group": "cluster"}, 250, "reports", None, 2021)
    assert "Their available capacity" in dumped(got)
    with signed_in(dash_app, "cluster"), pytest.raises(PreventUpdate):
        ranked(None, 250, "reports", None, 2021)  # not ready: nothing


@pytest.mark.parametrize(
    ("distance", "by"),
    [("999", "reports"), (250.0, "<img src=x>"), (None, None), ([1, 2], {"a": 1}), (True, 3)],
)
def test_hostile_ranked_inputs_get_the_defaults(
    app: tuple[Dash, Atlas], distance: object, by: object
) -> None:
    dash_app, atlas = app
    ranked = callback(dash_app, Ids.OVERVIEW_RANKED, "children")
    with signed_in(dash_app, "cluster"):
        got = ranked(READY, distance, by, ["junk"], {"x": 1})
    assert "The distance must be one of 100, 250, 500 km; showing 250 km." in dumped(got)
    expected = overview_parts.ranked_table(
        overview.overview(atlas.get(None), 2021, "cluster"), 250, "reports"
    )
    assert dumped(got[-1]) == dumped(expected)


@pytest.mark.parametrize("bottleneck", ["nope", 7, None, ["filters"], "<script>alert(1)</script>"])
def test_an_unknown_bottleneck_says_so(app: tuple[Dash, Atlas], bottleneck: object) -> None:
    dash_app, _atlas = app
    chosen = callback(dash_app, Ids.OVERVIEW_CHOSEN, "children")
    with signed_in(dash_app, "cluster"):
        got = chosen(bottleneck, READY, None, 2021)
    assert "Pick a bottleneck from the list." in dumped(got[0])
    assert got[1] is None and got[4] is True
    assert "script" not in dumped(got)


def test_choosing_a_bottleneck_fills_both_maps(app: tuple[Dash, Atlas]) -> None:
    dash_app, atlas = app
    chosen = callback(dash_app, Ids.OVERVIEW_CHOSEN, "children")
    with signed_in(dash_app, "cluster"):
        header, url, need, legend, supply_hidden, supply_url, supply, _legend, table = chosen(
            VIALS, READY, None, 2021
        )
    assert "Glass vials &amp; rubber stoppers" in dumped(header) or "Glass vials & rubber stoppers" in dumped(
        header
    )
    assert "Bottleneck reports" in dumped(legend) and supply["key"] == "2021-2"
    assert (
        url.startswith("/atlas/geo/regions-2021-2.json?v=") and supply_url == url and supply_hidden is False
    )
    assert need["key"] == "2021-2" and len(need["cls"]) == len(atlas.get(None).region_order(2021, 2))
    assert "362 km" in dumped(table) and "315 km" not in dumped(table)  # listed vial makers only
    with signed_in(dash_app, "official"):
        got = chosen(VIALS, READY, None, 2021)
    assert "315 km" in dumped(got[-1]) and "7 km" in dumped(got[-1])
    with signed_in(dash_app, "official"):
        got = chosen(MONEY, READY, None, 2021)
    assert got[4] is True and got[5] is None and "policy matter" in dumped(got[0])


@pytest.mark.parametrize(
    ("trigger", "args", "expected"),
    [
        ("overview-matrix.clickData", ({"points": [{"customdata": "filters"}]}, None, []), "filters"),
        ("overview-countries.clickData", (None, {"points": [{"customdata": SYRINGES}]}, []), SYRINGES),
        ('{"code":"cold_chain","type":"overview-pick"}.n_clicks', (None, None, [1]), COLD),
        ('{"code":"nope","type":"overview-pick"}.n_clicks', (None, None, [1]), None),
        ("overview-matrix.clickData", ({"points": [{"customdata": "<svg onload=x>"}]}, None, []), None),
        ("overview-matrix.clickData", ("junk", None, []), None),
        ("overview-matrix.clickData", ({"points": "x"}, None, []), None),
        ("overview-countries.clickData", (None, {"points": [7]}, []), None),
    ],
)
def test_a_click_picks_a_bottleneck(
    app: tuple[Dash, Atlas], trigger: str, args: tuple, expected: str | None
) -> None:
    dash_app, _atlas = app
    pick = callback(dash_app, Ids.OVERVIEW_BOTTLENECK, "value")
    with signed_in(dash_app, "cluster", trigger):
        if expected is None:
            with pytest.raises(PreventUpdate):
                pick(*args)
        else:
            assert pick(*args) == expected


def test_downloads_are_the_roles(app: tuple[Dash, Atlas]) -> None:
    dash_app, _atlas = app
    matrix = callback(dash_app, Ids.OVERVIEW_DOWNLOAD_MATRIX, "data")
    ranked = callback(dash_app, Ids.OVERVIEW_DOWNLOAD_RANKED, "data")
    with signed_in(dash_app, "cluster"), pytest.raises(PreventUpdate):
        matrix(None, None, 2021)
    with signed_in(dash_app, "cluster"):
        sent = ranked(1, None, "2021", "500", "relief")
    assert sent["filename"].startswith(f"bottlenecks_ranked_{_atlas.get(None).stem}_nuts2021_250km_")
    table = pd.read_csv(io.BytesIO(base64.b64decode(sent["content"])), encoding="utf-8-sig")
    assert set(table["role"]) == {"cluster"} and "available_capacity_within" not in table.columns
    assert table["ranked_by"].iloc[0] == overview.RANK_BY["relief"]
    with signed_in(dash_app, "official"):
        sent = matrix(1, None, 2021)
    table = pd.read_csv(io.BytesIO(base64.b64decode(sent["content"])), encoding="utf-8-sig")
    assert set(table["role"]) == {"official"}
    assert table.loc[(table["bottleneck"] == SYRINGES) & (table["stage"].isna()) & table["country"].isna(),
                     "sites_reporting"].tolist() == [2]  # fmt: skip
