"""CSV downloads through dcc.Download: the filtered sites and regions, names, provenance, safety."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from geodata import nuts

pytestmark = pytest.mark.browser

PROVENANCE = ("dataset", "round", "nuts_version", "filters", "role", "exported_at", "source")


def check_provenance(frame: pd.DataFrame, dataset: str, role: str, filters: str) -> None:
    assert list(frame.columns[-len(PROVENANCE) :]) == list(PROVENANCE)
    assert set(frame["dataset"]) == {dataset}
    assert set(frame["round"]) == {dataset.removesuffix(".csv")}  # the file's round in the store
    assert set(frame["nuts_version"]) == {"NUTS 2021"}
    assert set(frame["filters"]) == {filters}
    assert set(frame["role"]) == {role}
    (stamp,) = set(frame["exported_at"])
    exported = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs(dt.datetime.now(dt.UTC) - exported) < dt.timedelta(minutes=5)
    (source,) = set(frame["source"])
    assert nuts.ATTRIBUTION in source and "GISCO" in source


def test_exports_follow_the_filters(atlas, official_truth):
    page = atlas()
    page.choose("stage", "Fill & finish")
    matching = official_truth.matching(2021, ("fill_finish",))
    page.duo.wait_for_text_to_equal("#card-sites .card-value", f"{len(matching):,}")

    sites = page.download("export-sites", "sites_sample_facilities_nuts2021_")
    regions = page.download("export-regions", "regions_sample_facilities_nuts2021_level2_")

    # sites: exactly the matching ones, with codes and names at every NUTS level
    assert sorted(sites["facility_id"]) == sorted(matching["facility_id"])
    assert sites["stages"].str.split(";").map(lambda codes: "fill_finish" in codes).all()
    names = nuts.names(2021)
    by_id = matching.set_index("facility_id")
    for level in range(4):
        codes = sites[f"nuts{level}"]
        assert (codes.str.len() == level + 2).all(), f"nuts{level} codes"
        assert list(codes) == [str(by_id.loc[f, f"nuts{level}"]) for f in sites["facility_id"]]
        assert list(sites[f"nuts{level}_name"]) == [str(names[code]) for code in codes]
    assert "capacity_doses_per_month" in sites.columns  # task-force view: the figures are there
    check_provenance(sites, "sample_facilities.csv", "official", "stage: fill_finish")

    # regions: the aggregated table on the map
    table = official_truth.table(2021, 2, ("fill_finish",))
    assert sorted(regions["nuts_id"]) == sorted(table.index)
    assert set(regions["level"]) == {"2"}
    assert list(regions["name"]) == [str(names[code]) for code in regions["nuts_id"]]
    facilities = regions.set_index("nuts_id")["facilities"].astype(float)
    assert facilities.sum() == len(matching)
    assert (facilities == table["facilities"].reindex(facilities.index)).all()
    check_provenance(regions, "sample_facilities.csv", "official", "stage: fill_finish")


def test_public_export_neutralises_formulas(atlas, tmp_path):
    with open(Path(__file__).resolve().parents[2] / "data" / "sample_facilities.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    chosen = rows[:6]
    chosen[0] = dict(
        chosen[0],
        company='=HYPERLINK("http://x","y") Sample',
        city="@SUM(A1)",
        cluster="-2+3",
        public_listing="yes",
    )
    chosen[1] = dict(chosen[1], company="+Sample Plus AG", public_listing="yes")
    chosen[2] = dict(chosen[2], company="Sample Unlisted GmbH", public_listing="no")
    path = tmp_path / "evil.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)

    # anonymous visitors of a public server: the public role
    page = atlas(path, public=True, sign_in=False)
    assert page.text("#role-badge").startswith("Public view")
    assert page.text("#account-text") == "Public view (not signed in)"
    sites = page.download("export-sites", "sites_evil_nuts2021_").set_index("facility_id")

    first, second, third = (row["facility_id"] for row in chosen[:3])
    assert sites.loc[first, "company"] == '\'=HYPERLINK("http://x","y") Sample'
    assert sites.loc[first, "city"] == "'@SUM(A1)"
    assert sites.loc[first, "cluster"] == "'-2+3"
    assert sites.loc[second, "company"] == "'+Sample Plus AG"
    # the public sees only sites of companies that agreed to a public listing
    listed = [row["facility_id"] for row in chosen if row["public_listing"] == "yes"]
    assert third not in listed
    assert sorted(sites.index) == sorted(listed)
    for column in sites.columns:
        assert not sites[column].str.match(r"[=+\-@\t\r]").any(), f"risky cell left in {column}"
    for hidden in ("capacity_doses_per_month", "staff", "bottleneck_notes", "public_listing"):
        assert hidden not in sites.columns
    check_provenance(sites.reset_index(), "evil.csv", "public", "all sites")


def test_region_counts_are_whole_numbers(atlas):
    page = atlas()
    regions = page.download("export-regions", "regions_sample_facilities_nuts2021_level2_")
    for column in ("facilities", "companies", "bottleneck_reports"):
        assert regions[column].str.fullmatch(r"\d*").all(), f"{column}: {sorted(set(regions[column]))[:5]}"
