"""Importing rounds: counts, rejected rows, placement, checksum reuse, publish/discard, listing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

from geodata import placement, records
from geodata.store import Store, StoreError, UnknownRound, convert


def test_import_stores_counts_rejected_rows_and_problems(atlas: Store, messy_file: Path) -> None:
    report = atlas.import_file(messy_file, "2021-03", "ana")
    loaded = records.load_facilities(messy_file)
    assert not report.reused
    info = report.round
    assert (info.name, info.status, info.sites, info.rejected, info.notes) == ("2021-03", "draft", 8, 2, 1)
    assert (info.source_name, info.imported_by) == ("messy.csv", "ana")
    # every finding, with its row, field, value and reason; the rejected rows as written
    assert report.problems == loaded.problems
    assert [(p.row, p.field, p.value) for p in report.errors] == [
        (5, "company", ""),
        (5, "latitude/longitude", ""),
        (6, "country", "XX"),
    ]
    assert_frame_equal(report.rejected_rows, loaded.rejected)
    assert_frame_equal(atlas.rejected("2021-03"), loaded.rejected)
    assert report.rejected_rows["rejection_reasons"].tolist() == [
        "company: required; the cell is empty; latitude/longitude: the site cannot be located: "
        "give coordinates, a postcode or a nuts3 code",
        "country: not a country code NUTS covers; use the two-letter Eurostat code",
    ]


def test_import_places_every_site_in_both_nuts_versions(atlas: Store, messy_file: Path) -> None:
    report = atlas.import_file(messy_file, "2021-03", "ana")
    facilities = records.load_facilities(messy_file).facilities
    for year in convert.PLACEMENT_YEARS:
        expected = placement.place(facilities, year, "20M", 10.0)
        stored = atlas.placement("2021-03", year)
        assert stored["facility_id"].tolist() == expected["facility_id"].tolist()
        for field in convert.PLACEMENT_FIELDS:
            assert stored[field].astype(object).where(stored[field].notna(), None).tolist() == (
                expected[field].astype(object).where(expected[field].notna(), None).tolist()
            ), (year, field)
        codes = dict(zip(stored["facility_id"], stored["nuts3"], strict=True))
        assert codes["M1"] == "DE212"  # München, in both versions
        assert codes["M8"] == "FR101"  # by its given code
        assert codes["M7"] == "DE300"  # Berlin, by postcode
    kinds = {(p.year, p.facility_id, p.kind) for p in report.placement_problems}
    assert kinds == {
        (year, site, kind)
        for year in (2021, 2024)
        for site, kind in (
            ("M3", "nearest"),
            ("M6", "swapped"),
            ("M9", "other_country"),
            ("M10", "unmatched"),
        )
    }
    assert report.placement_counts()[2024] == {"unmatched": 1, "swapped": 1, "nearest": 1, "other_country": 1}


def test_facilities_come_back_exactly_as_the_loader_reads_them(
    atlas: Store, sample_file: Path, messy_file: Path
) -> None:
    for path, name in ((sample_file, "sample"), (messy_file, "messy")):
        atlas.import_file(path, name, "ana")
        expected = records.load_facilities(path).facilities
        stored = atlas.facilities(name)
        assert list(stored.columns) == [*records.FIELDS, "source_row"]
        assert_frame_equal(stored, expected, check_exact=True)
    messy = atlas.facilities("messy").set_index("facility_id")
    assert messy.loc["M1", "company_id"] == "DE123456789"
    assert messy.loc["M1", "stages"] == ("fill_finish", "qc_testing")
    assert messy.loc["M3", "country"] == "EL"  # converted from ISO GR, as the loader does


def test_a_file_already_stored_reuses_its_round(atlas: Store, messy_file: Path, tmp_path: Path) -> None:
    first = atlas.import_file(messy_file, "first", "ana")
    copy = tmp_path / "renamed copy.csv"
    copy.write_bytes(messy_file.read_bytes())
    again = atlas.import_file(copy, "second", "bo", publish=True)
    assert again.reused and again.round.name == "first"
    assert again.round.status == "published" and again.round.published_by == "bo"
    assert [r.name for r in atlas.rounds()] == ["first"]
    assert again.problems == first.problems
    imports = atlas.imports()
    assert imports[["round", "imported_by", "source_name", "reused"]].values.tolist() == [
        ["first", "ana", "messy.csv", False],
        ["first", "bo", "renamed copy.csv", True],
    ]
    assert set(imports["checksum"]) == {first.round.checksum}
    # a discarded round is not reused: the file may come back as a new round
    atlas.discard("first", user="ana")
    third = atlas.import_file(messy_file, "third", "ana")
    assert not third.reused and [r.name for r in atlas.rounds()] == ["first", "third"]


def test_publish_discard_and_the_latest_published_round(
    atlas: Store, messy_file: Path, sample_file: Path
) -> None:
    atlas.import_file(sample_file, "march", "ana", publish=True)
    assert atlas.latest_published() == atlas.round_info("march")
    atlas.import_file(messy_file, "april", "ana")
    assert atlas.round_info("april").status == "draft"
    assert atlas.latest_published().name == "march"  # type: ignore[union-attr]
    published = atlas.publish("april", user="bo")
    assert (published.status, published.published_by) == ("published", "bo")
    assert atlas.publish("april", user="cy").published_by == "bo"  # publishing again changes nothing
    assert atlas.latest_published().name == "april"  # type: ignore[union-attr]
    discarded = atlas.discard("april", user="cy")
    assert (discarded.status, discarded.discarded_by) == ("discarded", "cy")
    assert atlas.latest_published().name == "march"  # type: ignore[union-attr]
    with pytest.raises(StoreError, match="was discarded"):
        atlas.publish("april")
    with pytest.raises(UnknownRound, match="no round named 'may'"):
        atlas.publish("may")
    with pytest.raises(StoreError, match="exists already"):
        atlas.import_file(messy_file, "march", "ana")  # another file under a taken name
    atlas.discard("march")
    assert atlas.latest_published() is None


def test_rounds_lists_name_status_counts_and_who_imported_when(
    atlas: Store, messy_file: Path, sample_file: Path
) -> None:
    before = dt.datetime.now(dt.UTC)
    atlas.import_file(sample_file, "march", "ana", publish=True)
    atlas.import_file(messy_file, "april", "bo")
    rounds = atlas.rounds()
    assert [(r.name, r.status, r.sites, r.rejected, r.imported_by, r.source_name) for r in rounds] == [
        ("march", "published", 350, 0, "ana", "sample_facilities.csv"),
        ("april", "draft", 8, 2, "bo", "messy.csv"),
    ]
    after = dt.datetime.now(dt.UTC)
    for info in rounds:
        assert info.imported_at.tzinfo == dt.UTC and before <= info.imported_at <= after
    assert rounds[0].published_at == rounds[0].imported_at  # published by the import itself


def test_unreadable_input_and_bad_names_store_nothing(atlas: Store, tmp_path: Path) -> None:
    from geodata.readers import InputError

    with pytest.raises(InputError, match="no such file"):
        atlas.import_file(tmp_path / "missing.csv", "x", "ana")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        atlas.import_file(empty, "x", "ana")
    with pytest.raises(StoreError, match="round name"):
        atlas.import_file(empty, "  ", "ana")
    assert atlas.rounds() == [] and atlas.imports().empty


def test_audit_log_and_introduction_requests(atlas: Store, messy_file: Path) -> None:
    atlas.import_file(messy_file, "april", "ana", publish=True)
    atlas.log("cy", "cluster", "export", "regions.csv, NUTS 2021 level 2")
    atlas.log("ana", "official", "sign-in")
    log = atlas.audit_log()
    assert log[["user_name", "role", "action", "detail"]].values.tolist() == [
        ["cy", "cluster", "export", "regions.csv, NUTS 2021 level 2"],
        ["ana", "official", "sign-in", ""],
    ]
    assert all(at.tzinfo == dt.UTC for at in log["at"])
    request = atlas.request_introduction("april", "M1", "vials_stoppers", "Vaccine Co", "need 1M vials")
    requests = atlas.introduction_requests()
    assert requests[["id", "round", "facility_id", "need", "status"]].values.tolist() == [
        [request, "april", "M1", "vials_stoppers", "open"]
    ]
    with pytest.raises(StoreError, match="no site 'M4'"):  # M4 was rejected
        atlas.request_introduction("april", "M4", "fill_finish", "Vaccine Co")


def test_long_free_text_is_stored_as_written(atlas: Store, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    long_id, city, postcode = "F" * 300, "Ort " * 200, "8" * 60
    path.write_text(
        "facility_id,company,country,city,postcode,latitude,longitude,stages\n"
        f"{long_id},{'Firma ' * 100},DE,{city},{postcode},48.137,11.575,fill_finish\n",
        encoding="utf-8",
    )
    atlas.import_file(path, "long", "ana" * 60)
    assert_frame_equal(atlas.facilities("long"), records.load_facilities(path).facilities)
    assert atlas.placement("long", 2021)["nuts3"].tolist() == ["DE212"]
