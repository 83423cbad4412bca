"""Partner matchmaking, the pure core (geodata.partners): need -> stage, distances, ranking,
filters and the role rules, on hand-made sites at known places.

Expected values are written by hand (the bottleneck table is copied from DATA_MODEL.md) or come
from an independent reference: the WGS84 geodesic of pyproj.Geod.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from geodata import partners, vocab
from geodata.partners import NoRelievingStage, Origin, Query, Sites

WGS84 = Geod(ellps="WGS84")

#: DATA_MODEL.md, "Bottleneck types and the stage that can relieve them", copied by hand.
RELIEF_FROM_THE_DOC: dict[str, str | None] = {
    "lipids_mrna_inputs": "raw_materials",
    "media_resins": "raw_materials",
    "single_use": "consumables_equipment",
    "filters": "consumables_equipment",
    "equipment_lead_time": "consumables_equipment",
    "vials_stoppers": "primary_packaging",
    "syringes_needles": "primary_packaging",
    "fill_finish_slots": "fill_finish",
    "qc_release": "qc_testing",
    "cold_chain": "cold_chain_logistics",
    "skilled_staff": "services",
    "regulatory_gmp": "services",
    "tech_transfer_ip": "services",
    "financing": None,
    "export_restrictions": None,
}
#: DATA_MODEL.md, "Production stages", by hand.
STAGES_FROM_THE_DOC = (
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
)
#: The result columns every role gets, and the ones only officials get (by hand).
SHARED_COLUMNS = [
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
]
OFFICIAL_ONLY = ["available_doses_per_month", "lead_time_months", "contact_consent"]
RESTRICTED = ("cluster", "public")

#: WGS84 coordinates (lat, lon) of city centres.
CITIES: dict[str, tuple[float, float]] = {
    "Marburg": (50.8021, 8.7667),
    "Puurs": (51.0753, 4.2887),
    "Lisbon": (38.7223, -9.1393),
    "Warsaw": (52.2297, 21.0122),
    "Helsinki": (60.1699, 24.9384),
    "Valletta": (35.8989, 14.5146),
    "Dublin": (53.3498, -6.2603),
    "Nicosia": (35.1856, 33.3823),
    "Seville": (37.3891, -5.9845),
    "Oulu": (65.0121, 25.4651),
    "Brest": (48.3904, -4.4861),
    "Constanta": (44.1598, 28.6348),
    "Brussels": (50.8503, 4.3517),
    "Antwerp": (51.2194, 4.4025),
    "Las Palmas": (28.1235, -15.4363),
    "Utsjoki": (69.9078, 27.0265),
    "Kilpisjarvi": (69.0464, 20.7908),
}
PAIRS = [
    ("Marburg", "Puurs"),
    ("Lisbon", "Warsaw"),
    ("Helsinki", "Valletta"),
    ("Dublin", "Nicosia"),
    ("Seville", "Oulu"),
    ("Brest", "Constanta"),
    ("Brussels", "Antwerp"),
    ("Las Palmas", "Helsinki"),
    ("Utsjoki", "Kilpisjarvi"),  # east-west near 70 N, where the sphere is furthest off
]


def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    _fwd, _back, metres = WGS84.inv(lon1, lat1, lon2, lat2)
    return float(metres) / 1000.0


# --- hand-made sites -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    facility_id: str
    company: str
    lat: float
    lon: float
    country: str = "DE"
    stages: tuple[str, ...] = ("fill_finish",)
    platforms: tuple[str, ...] = ()
    gmp: bool = False
    available: float = math.nan
    lead_time: float = math.nan
    contact: bool = False
    listed: bool = True
    approximate: bool = False
    nuts3: str = ""


def make_sites(rows: Sequence[Site]) -> Sites:
    def flags(values: Sequence[tuple[str, ...]], codes: dict[str, str]) -> np.ndarray:
        return np.array([[code in row for code in codes] for row in values], dtype=bool).reshape(
            len(values), len(codes)
        )

    return Sites(
        facility_id=np.array([r.facility_id for r in rows], dtype=str),
        company=np.array([r.company for r in rows], dtype=str),
        country=np.array([r.country for r in rows], dtype=str),
        nuts3=np.array([r.nuts3 for r in rows], dtype=str),
        lat=np.array([r.lat for r in rows], dtype=float),
        lon=np.array([r.lon for r in rows], dtype=float),
        stages=flags([r.stages for r in rows], vocab.STAGES),
        platforms=flags([r.platforms for r in rows], vocab.PLATFORMS),
        gmp=np.array([r.gmp for r in rows], dtype=bool),
        available=np.array([r.available for r in rows], dtype=float),
        lead_time=np.array([r.lead_time for r in rows], dtype=float),
        contact=np.array([r.contact for r in rows], dtype=bool),
        listed=np.array([r.listed for r in rows], dtype=bool),
        approximate=np.array([r.approximate for r in rows], dtype=bool),
    )


#: The origin of most searches: 50 N 10 E, in Germany.
HOME = Origin(50.0, 10.0, "test origin", country="DE")


def platform_codes(value: object) -> list[str]:
    """A result's platforms as a list of codes (a list, or text joined by '; ')."""
    if isinstance(value, str):
        return [code for code in value.split("; ") if code]
    assert isinstance(value, list | tuple | np.ndarray), value
    return [str(code) for code in value]


def ids(result: partners.Result) -> list[str]:
    return list(result.table["facility_id"])


def run(
    rows: Sequence[Site], role: str = "official", origin: Origin = HOME, **query: object
) -> partners.Result:
    need = str(query.pop("need", "fill_finish"))
    return partners.search(make_sites(rows), origin, Query(need, **query), role)  # type: ignore[arg-type]


#: Sites north of HOME along its meridian: 0.1, 0.5, 1 and 2 degrees of latitude away.
LADDER = [
    Site("N2", "Delta GmbH", 52.0, 10.0),
    Site("N05", "Bravo GmbH", 50.5, 10.0),
    Site("N1", "Charlie GmbH", 51.0, 10.0),
    Site("N01", "Alpha GmbH", 50.1, 10.0),
]


# --- need -> stage -------------------------------------------------------------------------------


def test_the_doc_table_covers_every_bottleneck() -> None:
    assert set(RELIEF_FROM_THE_DOC) == set(vocab.BOTTLENECKS)
    assert set(STAGES_FROM_THE_DOC) == set(vocab.STAGES)


@pytest.mark.parametrize(
    ("bottleneck", "stage"), [(b, s) for b, s in RELIEF_FROM_THE_DOC.items() if s is not None]
)
def test_every_bottleneck_maps_to_the_stage_of_the_doc(bottleneck: str, stage: str) -> None:
    assert partners.relieving_stage(bottleneck) == stage
    assert Query(bottleneck).stage == stage


@pytest.mark.parametrize("stage", STAGES_FROM_THE_DOC)
def test_a_stage_is_its_own_relief(stage: str) -> None:
    assert partners.relieving_stage(stage) == stage
    assert Query(stage).stage == stage


@pytest.mark.parametrize("bottleneck", ["financing", "export_restrictions"])
def test_policy_bottlenecks_have_no_stage(bottleneck: str) -> None:
    with pytest.raises(NoRelievingStage, match="policy matter") as raised:
        partners.relieving_stage(bottleneck)
    assert raised.value.need == bottleneck
    assert bottleneck in str(raised.value)
    assert isinstance(raised.value, ValueError)  # callers that catch ValueError still see it
    with pytest.raises(NoRelievingStage, match="policy matter"):
        Query(bottleneck)


@pytest.mark.parametrize("need", ["vials", "Fill & finish", "", "FILL_FINISH", "stage"])
def test_an_unknown_need_lists_the_allowed_codes(need: str) -> None:
    with pytest.raises(ValueError, match="need must be a stage or bottleneck code") as raised:
        partners.relieving_stage(need)
    assert not isinstance(raised.value, NoRelievingStage)
    message = str(raised.value)
    for code in (*STAGES_FROM_THE_DOC, *RELIEF_FROM_THE_DOC):
        assert code in message
    assert repr(need) in message


# --- distances -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_great_circle_is_within_half_a_percent_of_the_geodesic(a: str, b: str) -> None:
    (lat1, lon1), (lat2, lon2) = CITIES[a], CITIES[b]
    expected = geodesic_km(lat1, lon1, lat2, lon2)
    got = float(partners.great_circle_km(lat1, lon1, lat2, lon2))
    assert got == pytest.approx(expected, rel=0.005)
    assert float(partners.great_circle_km(lat2, lon2, lat1, lon1)) == pytest.approx(got, rel=1e-12)


def test_known_distances_by_hand() -> None:
    # Marburg (BioNTech) to Puurs (Pfizer): about 316 km; Lisbon to Warsaw: about 2,764 km
    assert float(partners.great_circle_km(*CITIES["Marburg"], *CITIES["Puurs"])) == pytest.approx(
        316, rel=0.005
    )
    assert float(partners.great_circle_km(*CITIES["Lisbon"], *CITIES["Warsaw"])) == pytest.approx(
        2764, rel=0.005
    )
    # a quarter of a meridian on the mean sphere: pi / 2 * 6371.0088
    assert float(partners.great_circle_km(0.0, 0.0, 90.0, 0.0)) == pytest.approx(10007.557, abs=0.01)


def test_the_same_point_is_zero_km_away() -> None:
    for lat, lon in CITIES.values():
        assert float(partners.great_circle_km(lat, lon, lat, lon)) == 0.0
    assert float(partners.great_circle_km(90.0, 0.0, 90.0, 123.0)) == pytest.approx(0.0, abs=1e-9)


def test_antipodes_and_the_date_line() -> None:
    half = math.pi * partners.EARTH_RADIUS_KM
    assert float(partners.great_circle_km(0.0, 0.0, 0.0, 180.0)) == pytest.approx(half, rel=1e-9)
    # across the date line: 179.5 E to 179.5 W is one degree of longitude, not 359
    got = float(partners.great_circle_km(0.0, 179.5, 0.0, -179.5))
    assert got == pytest.approx(geodesic_km(0.0, 179.5, 0.0, -179.5), rel=0.005)
    assert got < 120


def test_great_circle_is_vectorised_and_symmetric() -> None:
    names = list(CITIES)
    lat = np.array([CITIES[n][0] for n in names])
    lon = np.array([CITIES[n][1] for n in names])
    origin = CITIES["Marburg"]
    many = partners.great_circle_km(origin[0], origin[1], lat, lon)
    assert many.shape == (len(names),) and many.dtype == float
    expected = [geodesic_km(origin[0], origin[1], la, lo) for la, lo in zip(lat, lon, strict=True)]
    np.testing.assert_allclose(many, expected, rtol=0.005, atol=1e-9)
    # element-wise, both ways round, every pair at once
    i, j = np.meshgrid(np.arange(len(names)), np.arange(len(names)))
    forward = partners.great_circle_km(lat[i], lon[i], lat[j], lon[j])
    np.testing.assert_allclose(forward, forward.T, rtol=1e-12)
    np.testing.assert_array_equal(np.diag(forward), 0.0)
    for k, name in enumerate(names):
        one = float(partners.great_circle_km(*origin, *CITIES[name]))
        assert many[k] == pytest.approx(one, rel=1e-12)


# --- ranking -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["official", *RESTRICTED])
def test_nearest_first_with_distances_and_ranks(role: str) -> None:
    result = run(LADDER, role)
    assert ids(result) == ["N01", "N05", "N1", "N2"]
    assert list(result.table["rank"]) == [1, 2, 3, 4]
    assert result.matched == 4 and result.left_out == {}
    for row in result.table.itertuples():
        expected = geodesic_km(HOME.lat, HOME.lon, float(row.lat), float(row.lon))  # type: ignore[arg-type]
        assert float(row.distance_km) == pytest.approx(expected, rel=0.005, abs=0.05)  # type: ignore[arg-type]
    # one degree of latitude on the mean sphere is 111.19 km
    assert list(result.table["distance_km"]) == [11.1, 55.6, 111.2, 222.4]


def test_official_ties_go_by_most_available_capacity_then_company() -> None:
    # the same distance: the same point, and its mirror image across HOME's meridian
    tied = [
        Site("Z", "Zeta Pharma", 50.0, 11.0, available=200.0),
        Site("A", "Alpha Pharma", 50.0, 9.0, available=300.0),
        Site("M", "Mu Pharma", 50.0, 11.0, available=100.0),
        Site("B", "Beta Pharma", 50.0, 9.0, available=100.0),
        Site("Q", "Quiet Pharma", 50.0, 11.0),  # available capacity not reported: last of the tie
        Site("far", "Aardvark", 50.0, 12.0, available=10_000.0),
    ]
    for order in itertools.permutations(range(len(tied))):
        result = run([tied[k] for k in order], "official")
        assert ids(result) == ["A", "Z", "B", "M", "Q", "far"], order
    assert partners.ranking_text("official") == (
        "nearest first; equal distances by most available capacity, then company name"
    )


@pytest.mark.parametrize("role", RESTRICTED)
def test_restricted_ties_go_by_company_name_only(role: str) -> None:
    """Attack: if ties went by capacity, the order of two listed sites at one distance would
    tell a competitor whose free capacity is larger."""
    tied = [
        Site("Z", "Zeta Pharma", 50.0, 11.0, available=900.0, lead_time=1.0),
        Site("A", "Alpha Pharma", 50.0, 9.0, available=100.0, lead_time=9.0),
        Site("M", "Mu Pharma", 50.0, 11.0, available=500.0, lead_time=5.0),
    ]
    for order in itertools.permutations(range(len(tied))):
        rows = [tied[k] for k in order]
        assert ids(run(rows, role)) == ["A", "M", "Z"], order
    # swapping the capacities changes nothing for a restricted role
    swapped = [replace(tied[0], available=100.0), replace(tied[1], available=900.0), tied[2]]
    assert ids(run(swapped, role)) == ["A", "M", "Z"]
    assert ids(run(tied, "official")) == ["Z", "M", "A"]
    assert ids(run(swapped, "official")) == ["A", "M", "Z"]
    assert partners.ranking_text(role) == "nearest first; equal distances by company name"
    assert run(tied, role).ranking == partners.ranking_text(role)


def test_distances_equal_as_shown_are_ties() -> None:
    """10.02 km and 10.04 km are both shown as 10.0 km: the list orders them as equal."""
    km_per_degree = math.pi / 180 * partners.EARTH_RADIUS_KM
    rows = [
        Site("z", "Zeta Pharma", 50.0 + 10.02 / km_per_degree, 10.0, available=1.0),
        Site("a", "Alpha Pharma", 50.0 + 10.04 / km_per_degree, 10.0, available=9.0),
        Site("m", "Mu Pharma", 50.0 + 10.16 / km_per_degree, 10.0, available=99.0),
    ]
    for role in RESTRICTED:
        result = run(rows, role)
        assert list(result.table["distance_km"]) == [10.0, 10.0, 10.2]
        assert ids(result) == ["a", "z", "m"]
    assert ids(run(rows, "official")) == ["a", "z", "m"]
    assert ids(run([replace(rows[0], available=10.0), *rows[1:]], "official")) == ["z", "a", "m"]


def test_limit_cuts_after_ranking_and_matched_counts_all() -> None:
    result = run(LADDER, limit=2)
    assert ids(result) == ["N01", "N05"] and result.matched == 4
    assert ids(run(LADDER, limit=1)) == ["N01"]
    assert ids(run(LADDER, limit=500)) == ["N01", "N05", "N1", "N2"]


def test_max_km_keeps_sites_within_the_distance() -> None:
    assert ids(run(LADDER, max_km=100)) == ["N01", "N05"]
    assert run(LADDER, max_km=100).matched == 2
    assert ids(run(LADDER, max_km=112)) == ["N01", "N05", "N1"]
    assert ids(run(LADDER, max_km=5)) == []
    assert run(LADDER, max_km=5).matched == 0
    assert ids(run(LADDER, max_km=0.0)) == []
    at_home = [*LADDER, Site("here", "Here GmbH", 50.0, 10.0)]
    assert ids(run(at_home, max_km=0.0)) == ["here"]


def test_nothing_offers_the_need() -> None:
    result = run(LADDER, need="services")
    assert result.matched == 0 and result.table.empty
    assert list(result.table.columns) == SHARED_COLUMNS + OFFICIAL_ONLY


def test_a_bottleneck_searches_the_stage_that_relieves_it() -> None:
    rows = [
        Site("vials", "Glass AG", 50.1, 10.0, stages=("primary_packaging",)),
        Site("fill", "Fill AG", 50.2, 10.0, stages=("fill_finish",)),
        Site("both", "Both AG", 50.3, 10.0, stages=("fill_finish", "primary_packaging")),
    ]
    result = run(rows, need="vials_stoppers")
    assert ids(result) == ["vials", "both"]
    assert set(result.table["stage"]) == {"primary_packaging"}
    assert all("Glass vials & rubber stoppers" in why for why in result.table["why"])
    assert ids(run(rows, need="fill_finish_slots")) == ["fill", "both"]


def test_platform_and_gmp_filters() -> None:
    rows = [
        Site("mrna", "A", 50.1, 10.0, platforms=("mrna",), gmp=True),
        Site("vector", "B", 50.2, 10.0, platforms=("viral_vector",), gmp=True),
        Site("both", "C", 50.3, 10.0, platforms=("mrna", "viral_vector")),
        Site("none", "D", 50.4, 10.0),
    ]
    assert ids(run(rows, platform="mrna")) == ["mrna", "both"]
    assert ids(run(rows, platform="viral_vector")) == ["vector", "both"]
    assert ids(run(rows, platform="inactivated")) == []
    assert ids(run(rows, gmp_only=True)) == ["mrna", "vector"]
    assert ids(run(rows, gmp_only=True, platform="mrna")) == ["mrna"]
    table = run(rows).table.set_index("facility_id")
    assert platform_codes(table.loc["both", "platforms"]) == ["mrna", "viral_vector"]
    assert platform_codes(table.loc["none", "platforms"]) == []
    assert list(table["gmp_certified"]) == [True, True, False, False]


def test_scope_same_country_and_cross_border() -> None:
    rows = [
        Site("de", "A", 50.5, 10.0, country="DE"),
        Site("fr", "B", 50.1, 10.0, country="FR"),  # not where it would be: only the code counts
        Site("be", "C", 50.2, 10.0, country="BE"),
        Site("de2", "D", 51.0, 10.0, country="DE"),
    ]
    everything = run(rows)
    assert ids(everything) == ["fr", "be", "de", "de2"]
    assert list(everything.table["cross_border"]) == [True, True, False, False]
    same = run(rows, scope="same_country")
    assert ids(same) == ["de", "de2"] and same.matched == 2
    assert not same.table["cross_border"].any()
    cross = run(rows, scope="cross_border")
    assert ids(cross) == ["fr", "be"] and cross.table["cross_border"].all()


def test_the_origin_site_is_never_a_candidate() -> None:
    rows = [*LADDER, Site("home", "Home GmbH", 50.0, 10.0)]
    origin = Origin(50.0, 10.0, "site home", country="DE", facility_id="home", kind="site")
    for role in ("official", *RESTRICTED):
        result = run(rows, role, origin)
        assert "home" not in ids(result) and result.matched == 4
    # from another site, it is the nearest
    other = Origin(50.0, 10.0, "site N01", country="DE", facility_id="N01", kind="site")
    assert ids(run(rows, origin=other))[0] == "home"


def test_min_available_leaves_out_sites_that_do_not_report_it() -> None:
    rows = [
        Site("big", "A", 50.1, 10.0, available=1000.0),
        Site("exact", "B", 50.2, 10.0, available=500.0),
        Site("small", "C", 50.3, 10.0, available=499.0),
        Site("silent", "D", 50.4, 10.0),
        Site("silent2", "E", 50.5, 10.0),
        Site("zero", "F", 50.6, 10.0, available=0.0),
    ]
    result = run(rows, min_available=500)
    assert ids(result) == ["big", "exact"] and result.matched == 2
    assert result.left_out == {"available capacity not reported": 2}
    zero = run(rows, min_available=0)
    assert ids(zero) == ["big", "exact", "small", "zero"]
    assert zero.left_out == {"available capacity not reported": 2}


def test_max_lead_time_leaves_out_sites_that_do_not_report_it() -> None:
    rows = [
        Site("soon", "A", 50.1, 10.0, lead_time=1.0),
        Site("exact", "B", 50.2, 10.0, lead_time=3.0),
        Site("late", "C", 50.3, 10.0, lead_time=3.5),
        Site("silent", "D", 50.4, 10.0),
        Site("now", "E", 50.5, 10.0, lead_time=0.0),
    ]
    result = run(rows, max_lead_time=3)
    assert ids(result) == ["soon", "exact", "now"] and result.matched == 3
    assert result.left_out == {"lead time not reported": 1}
    both = run(
        [*rows, Site("both", "F", 50.6, 10.0, lead_time=2.0, available=10.0)],
        max_lead_time=3,
        min_available=5,
    )
    assert ids(both) == ["both"]
    assert both.left_out["available capacity not reported"] == 5


def test_left_out_counts_only_sites_the_search_would_otherwise_return() -> None:
    """A site that does not report its capacity but lies beyond max_km, or in another country
    under scope same_country, was not left out for its missing figure."""
    rows = [
        Site("near", "A", 50.1, 10.0, available=1000.0, lead_time=1.0),
        Site("far-silent", "B", 55.0, 10.0),  # ~556 km away
        Site("abroad-silent", "C", 50.2, 10.0, country="FR"),
        Site("near-silent", "D", 50.3, 10.0),
    ]
    available = run(rows, min_available=1, max_km=100, scope="same_country")
    assert ids(available) == ["near"]
    assert available.left_out == {"available capacity not reported": 1}
    lead = run(rows, max_lead_time=12, max_km=100, scope="same_country")
    assert ids(lead) == ["near"]
    assert lead.left_out == {"lead time not reported": 1}


# --- role rules ----------------------------------------------------------------------------------


def test_restricted_roles_search_listed_sites_only() -> None:
    rows = [*LADDER, Site("secret", "Secret AG", 50.01, 10.0, listed=False, available=1e6)]
    official = run(rows, "official")
    assert ids(official)[0] == "secret" and official.matched == 5
    for role in RESTRICTED:
        result = run(rows, role)
        assert ids(result) == ["N01", "N05", "N1", "N2"] and result.matched == 4
        assert "Secret AG" not in set(result.table["company"])


@pytest.mark.parametrize("role", RESTRICTED)
def test_an_unlisted_site_changes_nothing_a_restricted_role_sees(role: str) -> None:
    """Differencing: adding, moving or changing an unlisted site must not change any part of a
    restricted answer, not even the count of matches."""
    base = run(LADDER, role, max_km=100, limit=1)
    for lat, lon in ((50.0, 10.0), (50.05, 10.0), (50.9, 10.0), (53.0, 10.0), (50.0, 10.000001)):
        for stages in (("fill_finish",), ("services",)):
            secret = Site("secret", "Secret AG", lat, lon, stages=stages, listed=False, available=5e5)
            for rows in ([*LADDER, secret], [secret, *LADDER]):
                result = run(rows, role, max_km=100, limit=1)
                assert result.matched == base.matched == 2
                pd.testing.assert_frame_equal(result.table, base.table)
                assert result.left_out == base.left_out == {}


@pytest.mark.parametrize("role", RESTRICTED)
def test_restricted_results_have_no_official_columns(role: str) -> None:
    rows = [Site("a", "A", 50.1, 10.0, available=10.0, lead_time=1.0, contact=True)]
    assert list(run(rows, role).table.columns) == SHARED_COLUMNS
    official = run(rows, "official").table
    assert list(official.columns) == SHARED_COLUMNS + OFFICIAL_ONLY
    assert official.loc[0, "available_doses_per_month"] == 10.0
    assert official.loc[0, "lead_time_months"] == 1.0
    assert bool(official.loc[0, "contact_consent"]) is True


@pytest.mark.parametrize("role", RESTRICTED)
@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"min_available": 0}, "min_available"),
        ({"max_lead_time": 6}, "max_lead_time"),
        ({"min_available": 1000, "max_lead_time": 6}, "min_available and max_lead_time"),
    ],
)
def test_official_filters_are_refused_to_restricted_roles(
    role: str, filters: dict[str, float], named: str
) -> None:
    query = Query("fill_finish", **filters)  # type: ignore[arg-type]
    with pytest.raises(PermissionError, match=named):
        partners.check_role(query, role)
    with pytest.raises(PermissionError, match="only task-force officials"):
        partners.search(make_sites(LADDER), HOME, query, role)
    partners.check_role(query, "official")  # no error
    official = partners.search(make_sites(LADDER), HOME, query, "official")
    assert official.matched == 0  # no LADDER site reports capacity or lead time
    assert next(iter(official.left_out.values())) == 4


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        partners.search(make_sites(LADDER), HOME, Query("fill_finish"), "admin")


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (91.0, 0.0, "lat must be a number of degrees between -90 and 90; got 91.0"),
        (-90.5, 0.0, "lat must be a number of degrees between -90 and 90"),
        (math.nan, 0.0, "lat must be a number of degrees between -90 and 90; got nan"),
        (math.inf, 0.0, "lat must be a number of degrees"),
        (0.0, 180.5, "lon must be a number of degrees between -180 and 180; got 180.5"),
        (0.0, -math.inf, "lon must be a number of degrees between -180 and 180"),
        (0.0, math.nan, "lon must be a number"),
        ("50", 8.0, "lat must be a number"),
        (None, 8.0, "lat must be a number"),
    ],
)
def test_origin_refuses_what_is_not_a_place(lat: object, lon: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        Origin(lat, lon, "x")  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_origin_accepts_the_edges() -> None:
    for lat, lon in ((90.0, 180.0), (-90.0, -180.0), (0, 0), (np.float64(50.5), np.float64(8.2))):
        assert Origin(lat, lon, "edge").lat == lat


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_km": -1.0}, "max_km must be a number >= 0; got -1.0"),
        ({"max_km": math.nan}, "max_km must be a number >= 0"),
        ({"max_km": math.inf}, "max_km must be a number >= 0"),
        ({"min_available": -5}, "min_available must be a number >= 0"),
        ({"max_lead_time": math.nan}, "max_lead_time must be a number >= 0"),
        ({"max_km": "10"}, "max_km must be a number >= 0"),
        ({"limit": 0}, "limit must be a whole number from 1 to 500; got 0"),
        ({"limit": 501}, "limit must be a whole number from 1 to 500; got 501"),
        ({"limit": 2.5}, "limit must be a whole number from 1 to 500"),
        (
            {"platform": "rna"},
            "platform must be one of mrna, viral_vector, protein_subunit, inactivated, other",
        ),
        ({"platform": "mRNA"}, "platform must be one of"),
        ({"scope": "world"}, "scope must be one of any, same_country, cross_border; got 'world'"),
        ({"scope": "cross-border"}, "scope must be one of any, same_country, cross_border"),
    ],
)
def test_query_refuses_bad_values_saying_what_is_allowed(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        Query("fill_finish", **fields)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_query_edges_and_description() -> None:
    assert Query("fill_finish", limit=1).limit == 1
    assert Query("fill_finish", limit=500).limit == 500
    assert Query("fill_finish").limit == 25
    full = Query(
        "vials_stoppers",
        platform="mrna",
        gmp_only=True,
        min_available=1e6,
        max_lead_time=3,
        scope="cross_border",
        max_km=250,
        limit=10,
    )
    assert full.describe() == (
        "need: vials_stoppers; relieved by stage: primary_packaging; platform: mrna; "
        "GMP-certified only; min available: 1e+06 doses/month; max lead time: 3 months; "
        "cross border; within 250 km; limit 10"
    )
    assert Query("fill_finish").describe() == "need: fill_finish; limit 25"


# --- building the arrays from a placed table -----------------------------------------------------


def test_sites_build_from_a_placed_table() -> None:
    placed = pd.DataFrame(
        {
            "facility_id": pd.array(["P1", "P2", "P3", "P4"], dtype="string"),
            "company": pd.array(["One", "Two", "Three", "Four"], dtype="string"),
            "country": pd.array(["DE", "FR", "BE", "DE"], dtype="string"),
            "nuts3": pd.array(["DE212", None, "BE211", "DE300"], dtype="string"),
            "stages": [("fill_finish",), ("services", "qc_testing"), (), ("fill_finish",)],
            "platforms": [("mrna",), (), ("other", "mrna"), ()],
            "capacity_doses_per_month": pd.array([1_000_000, None, 200, 50], dtype="Float64"),
            "available_capacity_pct": pd.array([25.0, 50.0, None, 100.0], dtype="Float64"),
            "lead_time_months": pd.array([2.5, None, 1.0, 0.0], dtype="Float64"),
            "gmp_certified": pd.array([True, None, False, True], dtype="boolean"),
            "contact_consent": pd.array([True, False, None, False], dtype="boolean"),
            "placed_by": ["coordinates", "nuts3", "postcode", None],
            "map_lat": [48.137, 49.0, 51.2, np.nan],
            "map_lon": [11.575, 2.0, 4.4, np.nan],
        }
    )
    built = Sites.build(placed, np.array([True, False, True, True]))
    assert len(built) == 3  # P4 has no map position
    assert list(built.facility_id) == ["P1", "P2", "P3"]
    assert list(built.nuts3) == ["DE212", "", "BE211"]
    np.testing.assert_allclose(built.lat, [48.137, 49.0, 51.2])
    np.testing.assert_allclose(built.available, [250_000.0, np.nan, np.nan])
    np.testing.assert_allclose(built.lead_time, [2.5, np.nan, 1.0])
    assert list(built.gmp) == [True, False, False]
    assert list(built.contact) == [True, False, False]
    assert list(built.listed) == [True, False, True]
    assert list(built.approximate) == [False, True, True]
    assert list(built.extra["row"]) == [0, 1, 2]
    stage = list(vocab.STAGES)
    assert built.stages[1, stage.index("services")] and built.stages[1, stage.index("qc_testing")]
    assert built.stages.sum() == 3 and built.platforms.sum() == 3
    result = partners.search(built, HOME, Query("fill_finish"), "cluster")
    assert ids(result) == ["P1"]
    assert bool(result.table.loc[0, "approximate_position"]) is False
