"""Region metrics on a hand-made placed table: counts, capacity, filters (true figures only;
disclosure control is geodata.disclosure's, tested in test_disclosure.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from geodata.aggregate import Filters, SiteIndex, aggregate, summary

NAN = np.nan


def placed_table() -> pd.DataFrame:
    """Seven placed sites in DE111 (A twice, B, C), DE112 (D), FR101 (E, F), one unplaced (G)."""
    rows = [
        # id, company, nuts3, stages, platforms, bottlenecks, size, capacity, pct
        ("f1", "A", "DE111", ("fill_finish",), ("mrna",), ("vials_stoppers",), "small", 1000, 50),
        ("f2", "a ", "DE111", ("qc_testing",), (), (), "small", 3000, 10),
        (
            "f3",
            "B",
            "DE111",
            ("fill_finish", "qc_testing"),
            ("viral_vector",),
            ("financing",),
            "large",
            None,
            None,
        ),
        ("f4", "C", "DE111", ("raw_materials",), (), (), "medium", 500, 100),
        ("f5", "D", "DE112", ("fill_finish",), (), ("vials_stoppers", "cold_chain"), "micro", 2000, 0),
        ("f6", "E", "FR101", ("drug_substance",), ("mrna",), ("filters",), "large", 10000, 20),
        ("f7", "F", "FR101", ("fill_finish",), (), (), None, 100, 50),
        ("f8", "G", None, ("fill_finish",), (), ("vials_stoppers",), "large", 99999, 100),
    ]
    columns = [
        "facility_id",
        "company",
        "nuts3",
        "stages",
        "platforms",
        "bottlenecks",
        "company_size",
        "capacity_doses_per_month",
        "available_capacity_pct",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["nuts3"] = frame["nuts3"].astype("string")
    frame["country"] = frame["nuts3"].str.slice(0, 2).fillna("DE")
    for level, width in ((0, 2), (1, 3), (2, 4)):
        frame[f"nuts{level}"] = frame["nuts3"].str.slice(0, width)
    frame["company_size"] = frame["company_size"].astype("string")
    for c in ("capacity_doses_per_month", "available_capacity_pct"):
        frame[c] = frame[c].astype("Float64")
    return frame


@pytest.fixture
def index() -> SiteIndex:
    return SiteIndex.from_placed(placed_table())


def expected(rows: dict[str, list], name: str = "nuts3") -> pd.DataFrame:
    """Metric table from {code: [facilities, companies, capacity, available, reports, LQ]}."""
    columns = [
        "facilities",
        "companies",
        "capacity",
        "available_capacity",
        "bottleneck_reports",
        "specialisation",
    ]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    frame.index.name = name
    for c in ("facilities", "companies", "bottleneck_reports"):
        frame[c] = frame[c].astype(np.int64)
    for c in ("capacity", "available_capacity", "specialisation"):
        frame[c] = frame[c].astype(float)
    return frame


def test_index_skips_unplaced_sites_and_merges_company_spellings(index: SiteIndex) -> None:
    assert index.n == 7
    assert index.row.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert index.company.tolist() == [0, 0, 1, 2, 3, 4, 5]  # "A" and "a " are one company
    assert index.available.tolist() == [500.0, 300.0, 0.0, 500.0, 0.0, 2000.0, 50.0]
    assert index.region_codes[2].tolist() == ["DE11", "FR10"]


def test_level3_all_sites(index: SiteIndex) -> None:
    table = aggregate(index, 3)
    assert_frame_equal(
        table,
        expected(
            {
                # A has two sites in DE111 and counts once
                "DE111": [4, 3, 4500, 1300, 2, NAN],
                "DE112": [1, 1, 2000, 0, 1, NAN],
                "FR101": [2, 2, 10100, 2050, 1, NAN],
            }
        ),
    )


def test_aggregate_has_the_true_figures_only(index: SiteIndex) -> None:
    table = aggregate(index, 3)
    assert list(table.columns) == [
        "facilities",
        "companies",
        "capacity",
        "available_capacity",
        "bottleneck_reports",
        "specialisation",
    ]
    # one- and two-company regions keep their figures: withholding is the disclosure engine's job
    assert table.loc["DE112", "capacity"] == 2000
    assert table.loc["FR101", "facilities"] == 2


def test_level0_totals(index: SiteIndex) -> None:
    table = aggregate(index, 0)
    assert_frame_equal(
        table,
        expected(
            {
                "DE": [5, 4, 6500, 1300, 3, NAN],
                "FR": [2, 2, 10100, 2050, 1, NAN],
            },
            name="nuts0",
        ),
    )


def test_stage_filter_and_location_quotient(index: SiteIndex) -> None:
    table = aggregate(index, 3, Filters(stages=("fill_finish",)))
    # 4 of the 7 sites offer fill & finish; DE111 2 of 4, DE112 1 of 1, FR101 1 of 2
    overall = 4 / 7
    assert_frame_equal(
        table,
        expected(
            {
                "DE111": [2, 2, 1000, 500, 2, (2 / 4) / overall],
                "DE112": [1, 1, 2000, 0, 1, (1 / 1) / overall],
                "FR101": [1, 1, 100, 50, 0, (1 / 2) / overall],
            }
        ),
    )
    assert table["specialisation"].tolist() == pytest.approx([0.875, 1.75, 0.875])


def test_several_stages_mean_any_of_them(index: SiteIndex) -> None:
    table = aggregate(index, 3, Filters(stages=("qc_testing", "raw_materials")))
    assert table["facilities"].tolist() == [3, 0, 0]  # f2, f3, f4
    assert table["specialisation"].tolist() == pytest.approx([(3 / 4) / (3 / 7), 0.0, 0.0])


def test_bottleneck_reports_with_and_without_a_bottleneck_filter(index: SiteIndex) -> None:
    assert aggregate(index, 3)["bottleneck_reports"].tolist() == [2, 1, 1]
    table = aggregate(index, 3, Filters(bottlenecks=("vials_stoppers",)))
    assert table["bottleneck_reports"].tolist() == [1, 1, 0]
    assert table["facilities"].tolist() == [1, 1, 0]  # regions with sites stay, with zeros
    assert table["capacity"].tolist() == [1000, 2000, 0]
    table = aggregate(index, 3, Filters(bottlenecks=("filters", "financing")))
    assert table["bottleneck_reports"].tolist() == [1, 0, 1]


def test_platform_filter(index: SiteIndex) -> None:
    table = aggregate(index, 3, Filters(platforms=("mrna",)))
    assert table["facilities"].tolist() == [1, 0, 1]
    assert table["capacity"].tolist() == [1000, 0, 10000]


def test_size_filter(index: SiteIndex) -> None:
    table = aggregate(index, 3, Filters(sizes=("large", "micro")))
    assert table["facilities"].tolist() == [1, 1, 1]  # f3, f5, f6
    assert table["available_capacity"].tolist() == [0, 0, 2000]


def test_country_filter_leaves_out_other_countries(index: SiteIndex) -> None:
    table = aggregate(index, 3, Filters(countries=("fr",)))
    assert_frame_equal(table, expected({"FR101": [2, 2, 10100, 2050, 1, NAN]}))
    assert aggregate(index, 1, Filters(countries=("DE",))).index.tolist() == ["DE1"]


def test_location_quotient_with_a_country_filter_compares_within_it(index: SiteIndex) -> None:
    table = aggregate(index, 3, Filters(stages=("fill_finish",), countries=("DE",)))
    overall = 3 / 5  # f1, f3, f5 of the five German sites
    assert table["specialisation"].tolist() == pytest.approx([(2 / 4) / overall, 1 / overall])


def test_filters_reject_unknown_codes_naming_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"unknown stage 'baking'; allowed: raw_materials, .*, services"):
        Filters(stages=("baking",))
    with pytest.raises(ValueError, match=r"unknown bottleneck 'x'; allowed: lipids_mrna_inputs"):
        Filters(bottlenecks=("x",))
    with pytest.raises(ValueError, match=r"unknown platform 'dna'; allowed: mrna"):
        Filters(platforms=("dna",))
    with pytest.raises(
        ValueError, match=r"unknown company size 'huge'; allowed: micro, small, medium, large"
    ):
        Filters(sizes=("huge",))


def test_filters_are_normalised_and_described() -> None:
    filters = Filters(stages=("qc_testing", "fill_finish", "qc_testing"), countries=("fr", "DE"))
    assert filters == Filters(stages=("fill_finish", "qc_testing"), countries=("DE", "FR"))
    assert filters.describe() == "stage: fill_finish, qc_testing; country: DE, FR"
    assert Filters().describe() == "all sites"


def test_aggregate_rejects_a_bad_level(index: SiteIndex) -> None:
    with pytest.raises(ValueError, match=r"level must be one of \(0, 1, 2, 3\); got 4"):
        aggregate(index, 4)


def test_summary(index: SiteIndex) -> None:
    assert summary(index) == {
        "facilities": 7,
        "companies": 6,
        "countries": 2,
        "capacity": 16600.0,
        "available_capacity": 3350.0,
        "largest_company_share": 10000 / 16600,  # E's drug-substance site
    }
    assert summary(index, Filters(stages=("fill_finish",), countries=("DE",))) == {
        "facilities": 3,
        "companies": 3,
        "countries": 1,
        "capacity": 3000.0,
        "available_capacity": 500.0,
        "largest_company_share": 2000 / 3000,  # D of A 1000, B (none), D 2000
    }


@pytest.mark.integration
def test_sample_data_aggregates(sample_facilities: pd.DataFrame, real_nuts) -> None:
    from geodata import placement

    placed = placement.place(sample_facilities)
    index = SiteIndex.from_placed(placed)
    table = aggregate(index, 0)
    assert table["facilities"].sum() == index.n == summary(index)["facilities"]


def test_all_regions_adds_zero_rows_in_covered_countries(index: SiteIndex) -> None:
    table = aggregate(index, 3, all_regions=["DE111", "DE113", "FR102", "NL337"])
    assert table.index.tolist() == ["DE111", "DE112", "DE113", "FR101", "FR102"]  # no NL site: no NL row
    counts = ["facilities", "companies", "capacity", "bottleneck_reports"]
    assert table.loc["DE113", counts].tolist() == [0, 0, 0, 0]
    assert table.loc["DE111", "facilities"] == 4
    assert table["facilities"].dtype == np.int64
