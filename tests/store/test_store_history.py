"""``Store.history`` and ``python -m geodata history``: a site, or a company's sites, followed
across the published rounds. Every expected row below is worked out by hand from the files."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from geodata import store
from geodata.store.history import COLUMNS

REPO = Path(__file__).resolve().parents[2]

HEADER = (
    "facility_id,company,company_id,country,city,postcode,latitude,longitude,nuts3,company_size,cluster,"
    "stages,platforms,capacity_doses_per_month,available_capacity_pct,lead_time_months,gmp_certified,staff,"
    "bottlenecks,bottleneck_notes,public_listing,contact_consent,survey_date\n"
)
# Real places: München 48.137,11.575 lies in DE212, Berlin 52.52,13.405 in DE300, Hamburg
# 53.55,9.993 in DE600, Paris 48.8566,2.3522 in FR101, Lyon 45.764,4.8357 in FRK26 (NUTS 2021 and 2024).
MUNICH = "DE,München,,48.137,11.575"
BERLIN = "DE,Berlin,,52.52,13.405"
HAMBURG = "DE,Hamburg,,53.55,9.993"
PARIS = "FR,Paris,,48.8566,2.3522"
LYON = "FR,Lyon,,45.764,4.8357"
ACME = "Acme Bio GmbH,DE111"

#: round name -> its file's rows: facility_id,company,company_id,place,nuts3,size,cluster,stages,
#: platforms,capacity,available %,lead time,gmp,staff,bottlenecks,notes,public_listing,consent,date
FILES = {
    # A1 and A2 are sites of company DE111; B1 gives no company_id
    "2021": [
        f"A1,{ACME},{MUNICH},,,,fill_finish,,1000000,20,,,,vials_stoppers,,yes,,",
        f"A2,{ACME},{BERLIN},,,,formulation,,500000,,,,,skilled_staff,,yes,,",
        f"B1,Beta Pharma,,{PARIS},,,,services,,,,,,,,,no,,",
    ],
    # A1 grows and adds a stage; A2 did not answer
    "2022": [
        f"A1,{ACME},{MUNICH},,,,fill_finish;qc_testing,,1500000,20,,,,vials_stoppers,,yes,,",
        f"B1,Beta Pharma,,{PARIS},,,,services,,,,,,,,,no,,",
    ],
    # published, then withdrawn: never shown
    "2022 redo": [
        f"A1,{ACME},{LYON},,,,services,,9000000,90,,,,,,yes,,",
        f"A2,{ACME},{BERLIN},,,,formulation,,500000,,,,,skilled_staff,,yes,,",
    ],
    # A1 moves to Hamburg, drops fill_finish and its bottleneck; A2 is back as it was; A3 is new
    "2023": [
        f"A1,{ACME},{HAMBURG},,,,qc_testing,,1500000,35,,,,,,yes,,",
        f"A2,{ACME},{BERLIN},,,,formulation,,500000,,,,,skilled_staff,,yes,,",
        f"A3,{ACME},{LYON},,,,services,,,,,,,,,no,,",
        f"B1,Beta Pharma,,{PARIS},,,,services,,200000,,,,,,,yes,,",
    ],
    # a draft: shown only when asked for
    "2024": [
        f"A1,{ACME},{HAMBURG},,,,qc_testing,,2000000,35,,,,,,yes,,",
    ],
}


@pytest.fixture
def rounds(atlas: store.Store, tmp_path: Path) -> store.Store:
    """The rounds of FILES. "2022" is imported before "2021" but published after it, so the
    history's order is that of publication, not of import."""
    for name in ("2022", "2021", "2022 redo", "2023", "2024"):
        path = tmp_path / f"{name.replace(' ', '_')}.csv"
        path.write_text(HEADER + "".join(row + "\n" for row in FILES[name]), encoding="utf-8")
        report = atlas.import_file(path, name, "ana")
        assert report.rejected_rows.empty, report.rejected_rows
    for name in ("2021", "2022", "2022 redo", "2023"):
        atlas.publish(name, user="bo")
    atlas.discard("2022 redo", user="bo")
    return atlas


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m geodata ARGS`` on the store at ``url``."""
    return subprocess.run(
        [sys.executable, "-m", "geodata", *args],
        cwd=REPO,
        env={**os.environ, "ATLAS_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def site(
    facility_id: str,
    nuts3: str,
    stages: list[str],
    bottlenecks: list[str],
    capacity: float | None,
    available: float | None,
    public: bool,
    company: str = "Acme Bio GmbH",
    company_id: str | None = "DE111",
) -> dict[str, Any]:
    """The expected columns of a site row, from facility_id to public_listing."""
    return {
        "facility_id": facility_id,
        "company": company,
        "company_id": company_id,
        "country": nuts3[:2],
        "nuts3_2021": nuts3,
        "nuts3_2024": nuts3,
        "stages": stages,
        "bottlenecks": bottlenecks,
        "capacity_doses_per_month": capacity,
        "available_capacity_pct": available,
        "public_listing": public,
    }


def absent(facility_id: str) -> dict[str, Any]:
    return dict.fromkeys(COLUMNS[2:-1]) | {"facility_id": facility_id}


def published(atlas: store.Store, name: str) -> dt.datetime | None:
    return atlas.round_info(name).published_at


def as_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as plain dicts, missing values as None."""
    plain = frame.astype(object).where(frame.notna(), None)
    return [dict(zip(frame.columns, values, strict=True)) for values in plain.itertuples(index=False)]


def expected(atlas: store.Store, *rows: tuple[str, dict[str, Any], str]) -> list[dict[str, Any]]:
    return [
        {"round": name, "published_at": published(atlas, name), **values, "change": change}
        for name, values, change in rows
    ]


A1_2021 = site("A1", "DE212", ["fill_finish"], ["vials_stoppers"], 1_000_000, 20, True)
A1_2022 = site("A1", "DE212", ["fill_finish", "qc_testing"], ["vials_stoppers"], 1_500_000, 20, True)
A1_2023 = site("A1", "DE600", ["qc_testing"], [], 1_500_000, 35, True)
A1_2024 = site("A1", "DE600", ["qc_testing"], [], 2_000_000, 35, True)
A2 = site("A2", "DE300", ["formulation"], ["skilled_staff"], 500_000, None, True)
A3 = site("A3", "FRK26", ["services"], [], None, None, False)
B1_OLD = site("B1", "FR101", ["services"], [], None, None, False, "Beta Pharma", None)
B1_NEW = site("B1", "FR101", ["services"], [], 200_000, None, True, "Beta Pharma", None)
A1_2022_CHANGE = "capacity 1.0 M → 1.5 M; stages added: qc_testing"
A1_2023_CHANGE = (
    "moved to DE600; available 20% → 35%; stages removed: fill_finish; bottlenecks removed: vials_stoppers"
)


def test_a_site_across_the_published_rounds(rounds: store.Store) -> None:
    history = rounds.history(facility_id="A1")
    assert list(history.columns) == list(COLUMNS)
    assert isinstance(history["published_at"].dtype, pd.DatetimeTZDtype)
    assert str(history["published_at"].dtype.tz) == "UTC"
    assert as_rows(history) == expected(
        rounds,
        ("2021", A1_2021, "new"),
        ("2022", A1_2022, A1_2022_CHANGE),
        ("2023", A1_2023, A1_2023_CHANGE),
    )
    assert as_rows(rounds.history(facility_id="B1")) == expected(
        rounds,
        ("2021", B1_OLD, "new"),
        ("2022", B1_OLD, "unchanged"),
        ("2023", B1_NEW, "capacity — → 200.0 k; now publicly listed"),
    )


def test_a_round_between_appearances_without_the_site_gives_an_absent_row(rounds: store.Store) -> None:
    # the discarded round "2022 redo" holds A2, but is not shown: A2 stays absent in 2022
    assert as_rows(rounds.history(facility_id="A2")) == expected(
        rounds,
        ("2021", A2, "new"),
        ("2022", absent("A2"), "absent"),
        ("2023", A2, "unchanged"),
    )


def test_drafts_only_when_asked_for(rounds: store.Store) -> None:
    assert list(rounds.history(facility_id="A1")["round"]) == ["2021", "2022", "2023"]
    with_drafts = as_rows(rounds.history(facility_id="A1", include_drafts=True))
    assert with_drafts == expected(
        rounds,
        ("2021", A1_2021, "new"),
        ("2022", A1_2022, A1_2022_CHANGE),
        ("2023", A1_2023, A1_2023_CHANGE),
        ("2024", A1_2024, "capacity 1.5 M → 2.0 M"),
    )
    assert with_drafts[-1]["published_at"] is None


def test_company_id_groups_its_sites(rounds: store.Store) -> None:
    assert as_rows(rounds.history(company_id="DE111")) == expected(
        rounds,
        ("2021", A1_2021, "new"),
        ("2021", A2, "new"),
        ("2022", A1_2022, A1_2022_CHANGE),
        ("2022", absent("A2"), "absent"),
        ("2023", A1_2023, A1_2023_CHANGE),
        ("2023", A2, "unchanged"),
        ("2023", A3, "new"),
    )


def test_unknown_site_and_bad_arguments(rounds: store.Store) -> None:
    nothing = rounds.history(facility_id="ZZ")
    assert nothing.empty and list(nothing.columns) == list(COLUMNS)
    assert rounds.history(company_id="A1").empty  # a facility_id is not a company_id
    with pytest.raises(ValueError, match="exactly one of facility_id or company_id"):
        rounds.history()
    with pytest.raises(ValueError, match="exactly one of facility_id or company_id"):
        rounds.history(facility_id="A1", company_id="DE111")
    with pytest.raises(ValueError, match="company_id must not be empty"):
        rounds.history(company_id=" ")


def test_cli_prints_the_history(rounds: store.Store) -> None:
    url = rounds.engine.url.render_as_string(hide_password=False)
    when = {name: f"{published(rounds, name):%Y-%m-%d %H:%M}" for name in ("2021", "2022", "2023")}
    result = run(url, "history", "--facility", "A2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "round  published (UTC)   facility  company        company_id  country  nuts3 2021  nuts3 2024  "
        "stages       bottlenecks    doses/month  available  public  change",
        f"2021   {when['2021']}  A2        Acme Bio GmbH  DE111       DE       DE300       DE300       "
        "formulation  skilled_staff      500,000             yes     new",
        # an absent row: blank from facility to change, which starts after 13 columns of widths
        # 5+16+8+13+10+7+10+10+11+13+11+9+6 = 129 and 13 separators of 2: at 155
        f"2022   {when['2022']}  A2" + " " * (155 - 27) + "absent",
        f"2023   {when['2023']}  A2        Acme Bio GmbH  DE111       DE       DE300       DE300       "
        "formulation  skilled_staff      500,000             yes     unchanged",
    ]

    company = run(url, "history", "--company", "DE111", "--include-drafts")
    assert company.returncode == 0, company.stderr
    lines = company.stdout.splitlines()
    rounds_shown = [line.split()[0] for line in lines[1:]]
    assert rounds_shown == ["2021", "2021", "2022", "2022", "2023", "2023", "2023", "2024"]
    assert lines[-1].startswith("2024   draft ")
    assert lines[-1].endswith("  2,000,000        35%  yes     capacity 1.5 M → 2.0 M")


def test_cli_bad_arguments_exit_2(rounds: store.Store) -> None:
    url = rounds.engine.url.render_as_string(hide_password=False)
    neither = run(url, "history")
    assert neither.returncode == 2
    assert "error: one of the arguments --facility --company is required" in neither.stderr
    both = run(url, "history", "--facility", "A1", "--company", "DE111")
    assert both.returncode == 2
    assert "error: argument --company: not allowed with argument --facility" in both.stderr
    blank = run(url, "history", "--facility", "")
    assert blank.returncode == 2 and blank.stderr.endswith("error: facility_id must not be empty\n")
    unknown = run(url, "history", "--facility", "ZZ")
    assert unknown.returncode == 0 and unknown.stdout == ""
    assert unknown.stderr.endswith("no published round holds site 'ZZ'\n")
