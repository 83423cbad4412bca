"""Company identity: normalised names, company_id precedence, listing per company, warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_series_equal

from geodata.companies import (
    ListingConflict,
    NearDuplicate,
    Site,
    company_keys,
    listed,
    listing_conflicts,
    near_duplicates,
    normalise_name,
)


def frame(**columns: list) -> pd.DataFrame:
    """Facility rows f1, f2, ... with the given columns; source rows 2, 3, ... as a file numbers them."""
    n = len(next(iter(columns.values())))
    return pd.DataFrame(
        {
            "facility_id": [f"f{i + 1}" for i in range(n)],
            **columns,
            "source_row": list(range(2, n + 2)),
        }
    )


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("X GmbH", "x"),
        ("X  GmbH", "x"),
        ("x gmbh.", "x"),
        ("X G.m.b.H.", "x"),
        ("  Acme Biologics GmbH & Co. KG ", "acme biologics"),
        ("Acme AG & Co. KGaA", "acme"),
        ("Acme Ges.m.b.H.", "acme"),
        ("Acme UG (haftungsbeschränkt)", "acme"),
        ("Acme e.K.", "acme"),
        ("Łódź Pharma Sp. z o.o.", "lodz pharma"),
        ("BioNTech SE", "biontech"),
        ("Biontech  se", "biontech"),
        ("Novo Nordisk A/S", "novo nordisk"),
        ("Novo Nordisk AS", "novo nordisk"),
        ("Novo Nordisk A / S", "novo nordisk"),
        ("Ørsted Bio ApS", "orsted bio"),
        ("Sanitas AB (publ)", "sanitas"),
        ("AB Sanitas", "sanitas"),
        ("UAB Acme", "acme"),
        ("SIA Grindeks", "grindeks"),
        ("S.C. Antibiotice S.A.", "antibiotice"),
        ("S.C. Acme S.R.L.", "acme"),
        ("Acme S.p.A.", "acme"),
        ("Acme S. A.", "acme"),
        ("Laboratorios Acme S.L.U.", "laboratorios acme"),
        ("Acme s.r.o.", "acme"),
        ("Acme spol. s r.o.", "acme"),
        ("Acme d.o.o.", "acme"),
        ("Richter Gedeon Nyrt.", "richter gedeon"),
        ("Acme Kft.", "acme"),
        ("Acme Oyj", "acme"),
        ("Acme OÜ", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme N.V.", "acme"),
        ("Acme Lda", "acme"),
        ("Acme Ltd.", "acme"),
        ("Acme Limited", "acme"),
        ("Acme PLC", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("Acme, Inc.", "acme"),
        ("Acme Corp.", "acme"),
        ("Acme LLC", "acme"),
        ("Société Générale de Vaccins SAS", "societe generale de vaccins"),
        ("Straße Pharma GmbH", "strasse pharma"),
        ("Dr. Reddy's Laboratories Ltd", "dr reddys laboratories"),
        ("Acme-Bio GmbH", "acme bio"),
        ("ＡＣＭＥ ｇｍｂｈ", "acme"),  # full-width letters
        ("<img src=x onerror=alert(1)> GmbH", "img src x onerror alert 1"),
        # a legal form in the middle is part of the name
        ("AG Pharma Holding", "ag pharma holding"),
        ("Smith & Co", "smith co"),
        # nothing but a legal form: kept, never empty
        ("GmbH", "gmbh"),
        ("S.A.", "sa"),
        ("GmbH & Co. KG", "gmbh co kg"),
        ("", ""),
        ("...", ""),
    ],
)
def test_normalise_name(name: str, normalised: str) -> None:
    assert normalise_name(name) == normalised


def test_company_keys_by_normalised_name_without_company_id() -> None:
    facilities = frame(company=["X GmbH", "X  GmbH", "x gmbh.", "Y AG", None])
    expected = pd.Series(
        ["name:x", "name:x", "name:x", "name:y", "name:"], dtype="string", name="company_key"
    )
    assert_series_equal(company_keys(facilities), expected)


def test_company_id_takes_precedence_and_is_folded() -> None:
    facilities = frame(
        company=["Acme GmbH", "Acme Pharma GmbH", "Other AG", "Other AG"],
        company_id=[" de 123 456 ", "DE123456", "", None],
    )
    keys = company_keys(facilities)
    # one id makes one company whatever the names say
    assert keys.tolist() == ["id:DE123456", "id:DE123456", "name:other", "name:other"]


def test_rows_without_id_join_the_single_id_used_by_their_name() -> None:
    facilities = frame(
        company=["Acme GmbH", "ACME  gmbh", "Acme G.m.b.H.", "Beta AG"],
        company_id=["DE1", "", None, "DE2"],
    )
    assert company_keys(facilities).tolist() == ["id:DE1", "id:DE1", "id:DE1", "id:DE2"]


def test_several_ids_under_one_name_stay_separate_companies() -> None:
    facilities = frame(
        company=["Merck KGaA", "Merck & Co., Inc.", "Merck", "Merck GmbH"],
        company_id=["DE111", "US222", "", ""],
    )
    assert company_keys(facilities).tolist() == ["id:DE111", "id:US222", "name:merck", "name:merck"]


def test_company_keys_keep_the_index_and_need_a_company_column() -> None:
    facilities = pd.DataFrame({"company": ["A GmbH", "B SA"]}, index=[10, 7])
    assert company_keys(facilities).index.tolist() == [10, 7]
    with pytest.raises(ValueError, match="'company' column"):
        company_keys(pd.DataFrame({"facility_id": ["f1"]}))


def test_listed_applies_the_most_restrictive_answer_of_the_company() -> None:
    facilities = frame(
        company=["Acme GmbH", "ACME GmbH", "Beta AG", "Beta AG", "Gamma SA", "Delta", "Delta BV"],
        company_id=["", "", "", "", "", "NL9", ""],
        public_listing=pd.array([True, False, True, True, True, True, None], dtype="boolean"),
    )
    got = listed(facilities)
    assert got.dtype == bool
    # Acme: one row says no; Delta: one row has no answer (joins NL9 by its name)
    np.testing.assert_array_equal(got, [False, False, True, True, True, False, False])


def test_listed_without_public_listing_column_lists_nobody() -> None:
    np.testing.assert_array_equal(listed(frame(company=["A", "B"])), [False, False])
    assert listed(frame(company=[])).shape == (0,)


def test_listed_refuses_yes_no_text() -> None:
    with pytest.raises(ValueError, match="public_listing must hold True, False or missing"):
        listed(frame(company=["A"], public_listing=["yes"]))


def test_near_duplicates_finds_similar_names_of_different_companies() -> None:
    facilities = frame(
        company=["Pharmaco GmbH", "Pharmacco GmbH", "Pharmaco GmbH", "Vialtec SA", "Biolab Oy"],
        public_listing=[True, True, True, False, False],
    )
    found = near_duplicates(facilities)
    assert found == [
        NearDuplicate(
            names=("Pharmaco GmbH", "Pharmacco GmbH"),
            keys=("name:pharmaco", "name:pharmacco"),
            sites=((Site("f1", 2), Site("f3", 4)), (Site("f2", 3),)),
            score=pytest.approx(94.1, abs=0.1),
        )
    ]
    assert str(found[0]) == (
        "company names 'Pharmaco GmbH' (facilities f1 (row 2), f3 (row 4)) and 'Pharmacco GmbH' "
        "(facility f2 (row 3)) are very similar (similarity 94%) but count as two companies; "
        "give both rows the same company_id if they are one company"
    )


def test_near_duplicates_ignores_word_order_and_respects_the_threshold() -> None:
    facilities = frame(company=["Vaccine Works Nord AB", "Nord Vaccine Works", "Vaccine Works Sud"])
    found = near_duplicates(facilities)
    assert [(d.names, d.score) for d in found] == [(("Vaccine Works Nord AB", "Nord Vaccine Works"), 100.0)]
    assert len(near_duplicates(facilities, threshold=80)) == 3
    with pytest.raises(ValueError, match="threshold must be"):
        near_duplicates(facilities, threshold=0)


def test_near_duplicates_trusts_two_different_company_ids() -> None:
    facilities = frame(
        company=["Pharmaco GmbH", "Pharmacco GmbH", "Pharmaco GmbH", "Pharmaco AG"],
        company_id=["DE1", "DE2", "AT3", ""],
    )
    # DE1 and DE2 and AT3: three ids, three companies; the id-less "Pharmaco AG" could be any of them
    found = near_duplicates(facilities)
    assert [d.keys for d in found] == [
        ("id:DE1", "name:pharmaco"),
        ("id:DE2", "name:pharmaco"),
        ("id:AT3", "name:pharmaco"),
    ]
    assert [d.sites[1] for d in found] == [(Site("f4", 5),)] * 3


def test_same_company_is_no_near_duplicate_of_itself() -> None:
    facilities = frame(company=["X GmbH", "X  GmbH", "x gmbh.", "X G.m.b.H."])
    assert near_duplicates(facilities) == []


def test_listing_conflicts_name_the_rows_that_disagree() -> None:
    facilities = frame(
        company=["Acme GmbH", "Beta AG", "ACME  GmbH", "Acme G.m.b.H.", "Beta AG"],
        public_listing=pd.array([True, True, False, None, True], dtype="boolean"),
    )
    found = listing_conflicts(facilities)
    assert found == [
        ListingConflict(
            name="Acme GmbH",
            key="name:acme",
            listed=(Site("f1", 2),),
            not_listed=(Site("f3", 4), Site("f4", 5)),
        )
    ]
    assert str(found[0]) == (
        "company 'Acme GmbH' (name:acme): public_listing is yes on facility f1 (row 2) but no or empty "
        "on facilities f3 (row 4), f4 (row 5), so the company is shown by name nowhere; if it agreed, "
        "write yes on all its rows; if these are different companies, give them different company_ids"
    )


def test_listing_conflicts_follow_company_ids_and_shorten_long_lists() -> None:
    facilities = pd.DataFrame(
        {
            "facility_id": [f"s{i}" for i in range(8)],
            "company": ["Big Pharma SE"] + ["Big Pharma Deutschland GmbH"] * 7,
            "company_id": ["EU1"] * 8,
            "public_listing": [True] + [False] * 7,
        }
    )
    (conflict,) = listing_conflicts(facilities)
    assert conflict.key == "id:EU1"
    assert conflict.not_listed[0] == Site("s1")  # no source_row column: no row number
    assert "on facilities s1, s2, s3, s4, s5 and 2 more, so" in str(conflict)


def test_no_conflict_when_the_company_answers_alike() -> None:
    facilities = frame(company=["A AG", "A AG", "B SA"], public_listing=[False, False, True])
    assert listing_conflicts(facilities) == []
