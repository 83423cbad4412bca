"""Region profiles on the real NUTS 2021 files and a small hand-made survey in four German regions.

The expected official figures are worked out by hand below from FACILITIES_CSV; restricted roles
are checked against the disclosure engine's release and the listing rule, never against counts
of the sites.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard import profile
from dashboard.data import AtlasData
from geodata import disclosure, vocab
from geodata.aggregate import Filters

pytestmark = pytest.mark.integration

ALL_STAGES = ";".join(vocab.STAGES)
ALL_BOTTLENECKS = ";".join(vocab.BOTTLENECKS)
#: Berlin (DE300): Alpha (2 sites), Bravo, Charlie (not listed), Delta: 5 sites of 4 companies.
#: München (DE212): Echo, Foxtrot, Golf: 3 sites of 3 companies.
#: Darmstadt (DE711): Hotel and India (not listed), each one site offering every stage and
#: reporting every bottleneck: 2 companies, fewer than the 3 the rules ask for.
#: Stuttgart (DE111): Juliett, one fill & finish site.
FACILITIES_CSV = f"""\
facility_id,company,country,nuts3,stages,capacity_doses_per_month,available_capacity_pct,\
staff,bottlenecks,bottleneck_notes,public_listing
a1,Alpha,DE,DE300,fill_finish;qc_testing,1000,50,10,vials_stoppers,secret a1,yes
a2,Alpha,DE,DE300,fill_finish,3000,10,20,,,yes
a3,Bravo,DE,DE300,fill_finish,2000,0,30,vials_stoppers;skilled_staff,,yes
a4,Charlie,DE,DE300,raw_materials,,,5,,,no
a5,Delta,DE,DE300,qc_testing,,,7,financing,,yes
b1,Echo,DE,DE212,fill_finish,,,,,,yes
b2,Foxtrot,DE,DE212,raw_materials;fill_finish,,,,,,yes
b3,Golf,DE,DE212,raw_materials,,,,,,yes
c1,Hotel,DE,DE711,{ALL_STAGES},5000,20,40,{ALL_BOTTLENECKS},secret c1,yes
c2,India,DE,DE711,{ALL_STAGES},7000,50,60,{ALL_BOTTLENECKS},secret c2,no
d1,Juliett,DE,DE111,fill_finish,,,,,,yes
"""
BERLIN, MUENCHEN, DARMSTADT, STUTTGART = "DE300", "DE212", "DE711", "DE111"
EMPTY = "DE112"  # Böblingen: a German region without any site
FEW = "few"
FEW_TEXT = "confidential: too few companies"
SENSITIVE = (
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
    "staff",
    "bottleneck_notes",
    "public_listing",
)

# --- by hand ------------------------------------------------------------------------------------
# All sites: 5 + 3 + 2 + 1 = 11. Sites per stage (Berlin, München, Darmstadt, Stuttgart; all):
#   fill_finish    3 (a1 a2 a3), 2 (b1 b2), 2, 1  -> 8
#   raw_materials  1 (a4),       2 (b2 b3), 2, 0  -> 5
#   qc_testing     2 (a1 a5),    0,         2, 0  -> 4
#   the 7 others   0,            0,         2, 0  -> 2
# Location quotient (docs/DATA_MODEL.md; engine._specialisation):
#   (region's sites of the stage / region's sites) / (all sites of the stage / all sites).
ALL = 11
STAGE_SITES = {  # stage -> (Berlin, München, Darmstadt, Stuttgart)
    "fill_finish": (3, 2, 2, 1),
    "raw_materials": (1, 2, 2, 0),
    "qc_testing": (2, 0, 2, 0),
}
OTHER_STAGES = [s for s in vocab.STAGES if s not in STAGE_SITES]
for _stage in OTHER_STAGES:
    STAGE_SITES[_stage] = (0, 0, 2, 0)
REGION_SITES = (5, 3, 2, 1)
REGIONS = (BERLIN, MUENCHEN, DARMSTADT, STUTTGART)


def lq(stage: str, region: int) -> Fraction:
    total = sum(STAGE_SITES[stage])
    return Fraction(STAGE_SITES[stage][region], REGION_SITES[region]) / Fraction(total, ALL)


# Berlin: fill 33/40, raw 11/25, qc 11/10; München: fill 11/12, raw 22/15; Darmstadt: fill 11/8,
# raw 11/5, qc 11/4, the others 11/2; Stuttgart: fill 11/8.
assert lq("fill_finish", 0) == Fraction(33, 40) and lq("qc_testing", 0) == Fraction(11, 10)
assert lq("raw_materials", 1) == Fraction(22, 15) and lq("services", 2) == Fraction(11, 2)
#: Competition ranks by sites of the stage among regions with at least one ('1224'):
#:   fill_finish: Berlin 3 -> 1, München 2 -> 2, Darmstadt 2 -> 2, Stuttgart 1 -> 4 (of 4)
#:   raw_materials: München 2, Darmstadt 2 -> 1; Berlin 1 -> 3 (of 3)
#:   qc_testing: Berlin 2, Darmstadt 2 -> 1 (of 2); the others: Darmstadt 1 (of 1)
RANKS = {
    "fill_finish": ({BERLIN: 1, MUENCHEN: 2, DARMSTADT: 2, STUTTGART: 4}, 4),
    "raw_materials": ({MUENCHEN: 1, DARMSTADT: 1, BERLIN: 3}, 3),
    "qc_testing": ({BERLIN: 1, DARMSTADT: 1}, 2),
    **{stage: ({DARMSTADT: 1}, 1) for stage in OTHER_STAGES},
}
#: Companies per stage in Berlin: fill Alpha, Bravo; raw Charlie; qc Alpha, Delta.
BERLIN_COMPANIES = {"fill_finish": 2, "raw_materials": 1, "qc_testing": 2}
#: Berlin's bottleneck reports: vials a1 a3, staff a3, financing a5.
BERLIN_BOTTLENECKS = {"vials_stoppers": 2, "skilled_staff": 1, "financing": 1}


@pytest.fixture(scope="module")
def data(real_nuts: Path, tmp_path_factory: pytest.TempPathFactory) -> AtlasData:
    path = tmp_path_factory.mktemp("profile") / "survey.csv"
    path.write_text(FACILITIES_CSV, encoding="utf-8")
    atlas = AtlasData(path, rules=disclosure.Rules(key="test-key"))
    assert atlas.unplaced(2021) == 0
    return atlas


@pytest.fixture(scope="module")
def official(data: AtlasData) -> dict[str, profile.Profile]:
    out = {}
    for code in (*REGIONS, EMPTY):
        found = profile.region_profile(data, 2021, code, Filters(), "official")
        assert found is not None
        out[code] = found
    return out


def value(figure: profile.Figure) -> float | None:
    return figure.value


# --- identity -------------------------------------------------------------------------------------


def test_identity_and_parents_come_from_the_nuts_codes_of_the_version(
    official: dict[str, profile.Profile],
) -> None:
    munich = official[MUENCHEN]
    assert (munich.code, munich.name, munich.level, munich.version) == (
        MUENCHEN,
        "München, Kreisfreie Stadt",
        3,
        2021,
    )
    assert munich.role == "official" and munich.filters == Filters()
    assert munich.country == profile.Region("DE", "Germany")
    assert munich.parents == (
        profile.Region("DE21", "Oberbayern"),
        profile.Region("DE2", "Bayern"),
        profile.Region("DE", "Deutschland"),
    )
    assert [p.code for p in official[DARMSTADT].parents] == ["DE71", "DE7", "DE"]
    assert munich.covered


def test_a_country_has_no_parents(data: AtlasData) -> None:
    germany = profile.region_profile(data, 2021, "DE", Filters(), "official")
    assert germany is not None
    assert (germany.level, germany.parents, germany.country.code) == (0, (), "DE")
    # every site and company of the survey is in Germany
    assert value(germany.figures["facilities"]) == 11
    assert value(germany.figures["companies"]) == 10
    fill = germany.stage("fill_finish")
    assert (value(fill.sites), value(fill.share), value(fill.specialisation)) == (8, 1.0, 1.0)
    assert (fill.rank, fill.ranked) == (1, 1)


@pytest.mark.parametrize("code", ["XX999", "DE3001", "D", "", "DEG0Q"])
def test_a_code_not_in_the_version_has_no_profile(data: AtlasData, code: str) -> None:
    # DEG0Q is a NUTS 2024 code only
    assert profile.region_profile(data, 2021, code, Filters(), "official") is None


def test_a_code_of_the_other_version(data: AtlasData) -> None:
    found = profile.region_profile(data, 2024, "DEG0Q", Filters(), "cluster")
    assert found is not None and found.version == 2024 and found.level == 3
    assert value(found.figures["facilities"]) == 0  # a German region without sites


def test_unknown_role_or_version_is_an_error(data: AtlasData) -> None:
    with pytest.raises(ValueError):
        profile.region_profile(data, 2021, BERLIN, Filters(), "admin")
    with pytest.raises(ValueError):
        profile.region_profile(data, 2016, BERLIN, Filters(), "official")


def test_a_region_of_a_country_without_answers_has_no_data(data: AtlasData) -> None:
    france = profile.region_profile(data, 2021, "FR101", Filters(), "cluster")
    assert france is not None and not france.covered
    figures = [*france.figures.values()]
    figures += [f for s in france.stages for f in (s.sites, s.companies, s.share, s.specialisation)]
    figures += [b.reports for b in france.bottlenecks]
    assert all(f == profile.Figure(None) for f in figures)
    assert all(s.rank is None for s in france.stages)
    assert france.sites == () and france.sites_total == 0


# --- official figures, by hand --------------------------------------------------------------------


def test_official_headline_figures(official: dict[str, profile.Profile]) -> None:
    berlin = official[BERLIN].figures
    assert {m: value(f) for m, f in berlin.items()} == {
        "facilities": 5,
        "companies": 4,
        "capacity": 1000 + 3000 + 2000,
        "available_capacity": 500 + 300 + 0,
        "bottleneck_reports": 3,  # a1, a3, a5
    }
    darmstadt = official[DARMSTADT].figures
    assert value(darmstadt["capacity"]) == 12000
    assert value(darmstadt["available_capacity"]) == 1000 + 3500
    # officials see the figure, and why other roles do not
    assert darmstadt["companies"] == profile.Figure(2.0, FEW, FEW_TEXT)
    assert not darmstadt["companies"].withheld


@pytest.mark.parametrize("stage", list(vocab.STAGES))
@pytest.mark.parametrize("region", range(4))
def test_official_stage_figures(official: dict[str, profile.Profile], stage: str, region: int) -> None:
    code = REGIONS[region]
    found = official[code].stage(stage)
    assert found.label == vocab.STAGES[stage]
    sites = STAGE_SITES[stage][region]
    assert value(found.sites) == sites
    assert value(found.share) == pytest.approx(sites / sum(STAGE_SITES[stage]), abs=1e-12)
    assert value(found.specialisation) == pytest.approx(float(lq(stage, region)), abs=1e-12)
    ranks, ranked = RANKS[stage]
    assert (found.rank, found.ranked) == (ranks.get(code), ranked)


def test_official_companies_per_stage(official: dict[str, profile.Profile]) -> None:
    berlin = official[BERLIN]
    for stage in vocab.STAGES:
        assert value(berlin.stage(stage).companies) == BERLIN_COMPANIES.get(stage, 0)
    assert all(value(official[DARMSTADT].stage(stage).companies) == 2 for stage in vocab.STAGES)


def test_ranks_share_the_best_place_on_ties(official: dict[str, profile.Profile]) -> None:
    fill = [official[code].stage("fill_finish").rank for code in REGIONS]
    assert fill == [1, 2, 2, 4]  # '1224'
    raw = [official[code].stage("raw_materials").rank for code in REGIONS]
    assert raw == [3, 1, 1, None]  # Stuttgart has no raw materials site: no rank
    empty = official[EMPTY]
    assert all(s.rank is None and value(s.sites) == 0 for s in empty.stages)
    assert [s.ranked for s in empty.stages] == [s.ranked for s in official[BERLIN].stages]


def test_strengths_are_the_stages_above_average_highest_first(official: dict[str, profile.Profile]) -> None:
    assert official[BERLIN].strengths == ("qc_testing",)  # 11/10; fill 33/40 and raw 11/25 below 1
    assert official[MUENCHEN].strengths == ("raw_materials",)  # 22/15; fill 11/12
    # 11/2 for each stage only Darmstadt offers (in stage order), then qc 11/4, raw 11/5, fill 11/8
    assert official[DARMSTADT].strengths == (*OTHER_STAGES, "qc_testing", "raw_materials", "fill_finish")
    assert official[STUTTGART].strengths == ("fill_finish",)  # 11/8
    assert official[EMPTY].strengths == ()


def test_official_bottlenecks(official: dict[str, profile.Profile]) -> None:
    berlin = official[BERLIN]
    assert [b.bottleneck for b in berlin.bottlenecks] == list(vocab.BOTTLENECKS)
    for code, label in vocab.BOTTLENECKS.items():
        found = berlin.bottleneck(code)
        assert (found.label, found.relieved_by) == (label, vocab.BOTTLENECK_RELIEF[code])
        assert value(found.reports) == BERLIN_BOTTLENECKS.get(code, 0)
    assert all(value(b.reports) == 2 for b in official[DARMSTADT].bottlenecks)
    assert all(value(b.reports) == 0 for b in official[MUENCHEN].bottlenecks)


def test_official_site_list_has_every_site_and_field(official: dict[str, profile.Profile]) -> None:
    berlin = official[BERLIN]
    assert berlin.sites_total == 5 and not berlin.sites_truncated
    assert [s["facility_id"] for s in berlin.sites] == ["a1", "a2", "a3", "a4", "a5"]  # by company
    assert berlin.site_columns == (*disclosure.site_fields("official"), "nuts3", "nuts3_name")
    assert all(set(s) == set(berlin.site_columns) for s in berlin.sites)
    first = berlin.sites[0]
    assert (first["company"], first["capacity_doses_per_month"], first["staff"]) == ("Alpha", 1000, 10)
    assert (first["bottleneck_notes"], first["public_listing"], first["nuts3_name"]) == (
        "secret a1",
        "yes",
        "Berlin",
    )
    assert berlin.sites[1]["bottleneck_notes"] is None  # missing is None, not NaN
    assert [s["company"] for s in official[DARMSTADT].sites] == ["Hotel", "India"]


def test_profile_under_filters(data: AtlasData) -> None:
    fill = Filters(stages=("fill_finish",))
    berlin = profile.region_profile(data, 2021, BERLIN, fill, "official")
    assert berlin is not None
    assert value(berlin.figures["facilities"]) == 3 and value(berlin.figures["companies"]) == 2
    # each stage row replaces the stage filter; the others are kept
    assert value(berlin.stage("qc_testing").sites) == 2
    assert value(berlin.bottleneck("vials_stoppers").reports) == 2  # a1, a3: both fill & finish
    assert value(berlin.bottleneck("financing").reports) == 0  # a5 is a QC site
    assert [s["facility_id"] for s in berlin.sites] == ["a1", "a2", "a3"]
    listed = Filters(platforms=("mrna",))  # no site names a platform
    none = profile.region_profile(data, 2021, BERLIN, listed, "official")
    assert none is not None and value(none.figures["facilities"]) == 0 and none.sites_total == 0
    assert none.strengths == () and all(s.rank is None for s in none.stages)
    assert all(value(s.share) is None and s.share.reason == "" for s in none.stages)  # share of nothing


def test_site_list_is_capped(data: AtlasData, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile, "SITE_LIMIT", 2)
    berlin = profile.region_profile(data, 2021, BERLIN, Filters(), "official")
    assert berlin is not None
    assert [s["facility_id"] for s in berlin.sites] == ["a1", "a2"]
    assert berlin.sites_total == 5 and berlin.sites_truncated


# --- restricted roles -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["cluster", "public"])
def test_a_region_of_two_companies_shows_no_figure(data: AtlasData, role: str) -> None:
    darmstadt = profile.region_profile(data, 2021, DARMSTADT, Filters(), role)
    assert darmstadt is not None and darmstadt.covered
    figures = [*darmstadt.figures.values()]
    figures += [f for s in darmstadt.stages for f in (s.sites, s.companies, s.share, s.specialisation)]
    figures += [b.reports for b in darmstadt.bottlenecks]
    assert len(figures) == 5 + 4 * len(vocab.STAGES) + len(vocab.BOTTLENECKS)
    withheld = profile.Figure(None, FEW, FEW_TEXT)
    assert all(f == withheld for f in figures)  # never 0
    assert all(f.withheld for f in figures)
    assert all(s.rank is None for s in darmstadt.stages)
    assert darmstadt.strengths == ()
    # only the listed company's site, without any sensitive field
    assert darmstadt.sites_total == 1
    assert [s["facility_id"] for s in darmstadt.sites] == ["c1"]
    assert darmstadt.site_columns == (*disclosure.site_fields(role), "nuts3", "nuts3_name")
    assert not set(SENSITIVE) & set(darmstadt.site_columns)
    assert not set(SENSITIVE) & set(darmstadt.sites[0])
    text = repr(darmstadt)
    assert "India" not in text and "c2" not in text and "5000" not in text and "secret" not in text


@pytest.mark.parametrize("code", [*REGIONS, EMPTY])
def test_restricted_figures_are_the_engines(data: AtlasData, code: str) -> None:
    """Every figure of a cluster profile is the release's: a withheld one is None with its reason,
    a shown one the released (noisy) value; ranks order released counts only."""
    found = profile.region_profile(data, 2021, code, Filters(), "cluster")
    assert found is not None

    def check(figure: profile.Figure, table: pd.DataFrame, metric: str) -> None:
        released = float(table.loc[code, metric])  # type: ignore[arg-type]
        reason = str(table.loc[code, disclosure.withheld_column(metric)])
        if np.isnan(released):
            assert figure == profile.Figure(None, reason, disclosure.reason_text(reason))
            assert reason or (metric == "specialisation" and code == EMPTY)  # no sites: no quotient
        else:
            assert figure.value == released

    table = data.release(2021, Filters(), "cluster").table(3)
    for metric in profile.HEADLINE:
        check(found.figures[metric], table, metric)
    for stage in found.stages:
        result = data.release(2021, Filters(stages=(stage.stage,)), "cluster")
        table = result.table(3)
        for metric, figure in (
            ("facilities", stage.sites),
            ("companies", stage.companies),
            ("specialisation", stage.specialisation),
        ):
            check(figure, table, metric)
        known = table["facilities"].dropna()
        assert stage.ranked == int((known > 0).sum())
        if stage.sites.value:
            assert stage.rank == 1 + int((known > stage.sites.value).sum())
            assert stage.share.value == stage.sites.value / result.totals["facilities"]  # type: ignore[operator]
        else:
            assert stage.rank is None
    for bottleneck in found.bottlenecks:
        table = data.release(2021, Filters(bottlenecks=(bottleneck.bottleneck,)), "cluster").table(3)
        check(bottleneck.reports, table, "bottleneck_reports")
    # sites: those of listed companies only (Charlie and India are not listed)
    assert all(s["company"] not in ("Charlie", "India") for s in found.sites)


def test_cluster_site_list_of_berlin(data: AtlasData) -> None:
    berlin = profile.region_profile(data, 2021, BERLIN, Filters(), "cluster")
    assert berlin is not None
    assert [s["facility_id"] for s in berlin.sites] == ["a1", "a2", "a3", "a5"]  # not Charlie's a4
    assert berlin.sites_total == 4
    assert all(set(s) == set(berlin.site_columns) for s in berlin.sites)
    assert not set(SENSITIVE) & set(berlin.site_columns)


# --- warming ----------------------------------------------------------------------------------------


def test_warm_profiles_builds_every_release_a_profile_reads(
    real_nuts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(FACILITIES_CSV, encoding="utf-8")
    atlas = AtlasData(path, rules=disclosure.Rules(key="test-key"))
    profile.warm_profiles(atlas, 2021, "cluster")
    computed: list[Filters] = []
    real = disclosure.release

    def counting(*args: object, **kwargs: object) -> disclosure.Release:
        computed.append(args[1])  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(disclosure, "release", counting)
    assert profile.region_profile(atlas, 2021, BERLIN, Filters(), "public") is not None
    assert profile.region_profile(atlas, 2021, MUENCHEN, Filters(), "cluster") is not None
    assert computed == []
    assert profile.region_profile(atlas, 2021, BERLIN, Filters(), "official") is not None
    assert len(computed) == 1 + len(vocab.STAGES) + len(vocab.BOTTLENECKS)
