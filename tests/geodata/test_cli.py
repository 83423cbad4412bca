"""``python -m geodata`` as a user runs it, against the hand-made NUTS files (conftest.tiny_nuts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

REPO = Path(__file__).resolve().parents[2]


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geodata", *map(str, args)],
        cwd=REPO,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_text_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


ASSIGN_INPUT = """\
Site;Country;Lat;Lon;Remark
in west;DE;50.500;10,5;first
in east;de;50,25;11.75;
near;DE;51.03;10.5;3 km north
swapped;DE;10.5;50.5;
far;DE;51.45;10.5;
no position;FR;;;"quoted; with delimiter"
bad number;FR;abc;2.5;
greek iso;GR;46.5;2.5;stated GR but in FR
"""


def test_assign_writes_every_row_unchanged_plus_nuts_columns(tiny_nuts: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(ASSIGN_INPUT, encoding="utf-8")
    out = tmp_path / "out" / "assigned.csv"
    result = run("assign", source, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "8 rows" in result.stderr
    assert "within 3, nearest 1, unmatched 4 (swapped coordinates 1)" in result.stderr
    assert "region in another country than stated 1" in result.stderr
    written = read_text_csv(out)
    original = pd.read_csv(source, sep=";", dtype=str, keep_default_na=False)
    assert_frame_equal(written[list(original.columns)], original)  # every cell as it was, in order
    expected = pd.DataFrame(
        {
            "nuts0": ["DE", "DE", "DE", "", "", "", "", "FR"],
            "nuts1": ["DE1", "DE1", "DE1", "", "", "", "", "FR1"],
            "nuts2": ["DE11", "DE11", "DE11", "", "", "", "", "FR10"],
            "nuts3": ["DE111", "DE112", "DE111", "", "", "", "", "FR101"],
            "nuts_match": [
                "within",
                "within",
                "nearest",
                "unmatched",
                "unmatched",
                "unmatched",
                "unmatched",
                "within",
            ],
            "nuts_note": [
                "",
                "",
                "outside every polygon; nearest region 3.2 km away",
                "latitude and longitude look swapped: as given the point lies in no region, "
                "swapped it lies in DE (DE111); correct the file",
                "no NUTS 2021 region within 10 km of the coordinates",
                "no coordinates, postcode or nuts3 to place the site",
                "latitude 'abc' is not a number; no coordinates, postcode or nuts3 to place the site",
                "region lies in FR but the record states EL",
            ],
        }
    )
    assert list(written.columns) == [*original.columns, *expected.columns]
    assert_frame_equal(written[list(expected.columns)], expected)


def test_assign_on_a_bare_coordinate_csv(tiny_nuts: Path, tmp_path: Path) -> None:
    source = tmp_path / "points.csv"
    source.write_text("latitude,longitude\n50.5,11.5\n46.5,2.5\n0,0\n", encoding="utf-8")
    out = tmp_path / "points_nuts.csv"
    result = run("assign", source, "--out", out, "--year", "2024", "--tolerance-km", "0")
    assert result.returncode == 0, result.stderr
    written = read_text_csv(out)
    assert written.columns.tolist() == [
        "latitude",
        "longitude",
        "nuts0",
        "nuts1",
        "nuts2",
        "nuts3",
        "nuts_match",
        "nuts_note",
    ]
    assert written["nuts3"].tolist() == ["DE113", "FR101", ""]
    assert written["nuts_match"].tolist() == ["within", "within", "unmatched"]
    assert written.loc[2, "nuts_note"] == "no NUTS 2024 region within 0 km of the coordinates"


def test_assign_missing_file_exits_2(tiny_nuts: Path, tmp_path: Path) -> None:
    result = run("assign", tmp_path / "nope.csv", "--out", tmp_path / "out.csv")
    assert result.returncode == 2
    assert f"error: {tmp_path / 'nope.csv'}: no such file." in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_assign_without_coordinate_columns_exits_2(tiny_nuts: Path, tmp_path: Path) -> None:
    source = tmp_path / "names.csv"
    source.write_text("company,city\nAcme,Jena\n", encoding="utf-8")
    result = run("assign", source, "--out", tmp_path / "out.csv")
    assert result.returncode == 2
    assert "names.csv: no latitude/longitude columns (nor postcode or nuts3)" in result.stderr
    assert "Columns found: company, city" in result.stderr


def test_assign_without_nuts_data_exits_2_saying_how_to_get_it(tiny_nuts: Path, tmp_path: Path) -> None:
    (tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_3.geojson").unlink()
    source = tmp_path / "points.csv"
    source.write_text("lat,lon\n50.5,10.5\n", encoding="utf-8")
    unreachable = (tmp_path / "no-mirror").as_uri() + "/{name}"
    result = run(
        "assign", source, "--out", tmp_path / "out.csv", env={**os.environ, "NUTS_DOWNLOAD_URL": unreachable}
    )
    assert result.returncode == 2
    assert "NUTS_RG_20M_2021_4326_LEVL_3.geojson" in result.stderr
    assert "NUTS_DATA_DIR" in result.stderr
    assert "python -m geodata fetch-nuts" in result.stderr
    assert "The download failed too" in result.stderr
    assert "Traceback" not in result.stderr


def test_assign_downloads_missing_boundaries_into_the_cache(tiny_nuts: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    level3 = tiny_nuts / "NUTS_RG_20M_2021_4326_LEVL_3.geojson"
    (mirror / level3.name).write_bytes(level3.read_bytes())
    level3.unlink()
    source = tmp_path / "points.csv"
    source.write_text("lat,lon\n50.5,10.5\n", encoding="utf-8")
    env = {**os.environ, "NUTS_DOWNLOAD_URL": mirror.as_uri() + "/{name}"}
    result = run("assign", source, "--out", tmp_path / "out.csv", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cache" / "vaccine-capacity-atlas" / "nuts" / level3.name).is_file()
    assert "DE111" in (tmp_path / "out.csv").read_text(encoding="utf-8")


VALIDATE_INPUT = """\
facility_id,company,country,latitude,longitude,stages,available_capacity_pct
f1,Acme,DE,50.5,10.5,fill_finish,20
f2,Beta,GR,46.5,2.5,Fill & finish;baking,20
f3,Gamma,DE,50.5,,qc,150
"""


def test_validate_reports_file_row_field_and_writes_rejected_rows(tiny_nuts: Path, tmp_path: Path) -> None:
    source = tmp_path / "survey.csv"
    source.write_text(VALIDATE_INPUT, encoding="utf-8")
    rejected = tmp_path / "rejected.csv"
    result = run("validate", source, "--rejected", rejected)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "note: survey.csv, row 3, country = 'GR': ISO code converted to Eurostat code EL",
        "error: survey.csv, row 3, stages = 'baking': unknown value; use codes or labels of: "
        "raw_materials, consumables_equipment, drug_substance, formulation, fill_finish, "
        "primary_packaging, qc_testing, packaging_labelling, cold_chain_logistics, services "
        "(separate with ';')",
        "error: survey.csv, row 4, available_capacity_pct = '150': must be between 0 and 100",
        "error: survey.csv, row 4, longitude: give both latitude and longitude, or neither",
    ]
    assert "3 rows, 1 valid, 2 rejected (3 errors, 0 warnings, 1 notes)" in result.stderr
    written = read_text_csv(rejected)
    original = read_text_csv(source)
    assert_frame_equal(written[list(original.columns)], original.iloc[1:].reset_index(drop=True))
    assert written["source_row"].tolist() == ["3", "4"]
    assert written.loc[0, "rejection_reasons"].startswith("stages: unknown value; use codes or labels of:")
    assert written.loc[1, "rejection_reasons"] == (
        "longitude: give both latitude and longitude, or neither; "
        "available_capacity_pct: must be between 0 and 100"
    )


def test_validate_clean_file_exits_0(tiny_nuts: Path, tmp_path: Path) -> None:
    source = tmp_path / "clean.csv"
    source.write_text(VALIDATE_INPUT.splitlines()[0] + "\n" + VALIDATE_INPUT.splitlines()[1] + "\n")
    result = run("validate", source)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "1 rows, 1 valid, 0 rejected" in result.stderr


def test_in_process_main_returns_the_exit_code(tiny_nuts: Path, tmp_path: Path, capsys) -> None:
    from geodata.cli import main

    source = tmp_path / "empty.csv"
    source.write_text("")
    assert main(["validate", str(source)]) == 2
    assert "empty.csv: the file is empty" in capsys.readouterr().err


def test_fetch_nuts_skips_files_already_there(tiny_nuts: Path, capsys) -> None:
    from geodata.cli import main

    assert main(["fetch-nuts", "--year", "2021"]) == 0
    err = capsys.readouterr().err
    assert "NUTS_RG_20M_2021_4326_LEVL_3.geojson: already at" in err
    assert "© EuroGeographics for the administrative boundaries" in err


def test_unknown_year_is_refused_by_argparse(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        from geodata.cli import main

        main(["assign", "x.csv", "--out", str(tmp_path / "o.csv"), "--year", "2016"])
    assert info.value.code == 2


COMPANY_INPUT = """\
facility_id,company,company_id,country,nuts3,stages,public_listing
f1,Pharmaco GmbH,,DE,DE111,fill_finish,yes
f2,Pharmacco GmbH,,DE,DE111,fill_finish,yes
f3,PHARMACO  G.m.b.H.,,DE,DE112,qc_testing,no
f4,Vialtec SA,FR 555,FR,FR101,primary_packaging,yes
f5,Vialtec Packaging SA,fr555,FR,FR101,primary_packaging,yes
"""


def test_validate_warns_about_near_duplicate_names_and_listing_conflicts(
    tiny_nuts: Path, tmp_path: Path
) -> None:
    source = tmp_path / "companies.csv"
    source.write_text(COMPANY_INPUT, encoding="utf-8")
    result = run("validate", source)
    assert result.returncode == 0, result.stdout + result.stderr  # warnings never fail validation
    assert result.stdout.splitlines() == [
        "warning: company names 'Pharmaco GmbH' (facilities f1 (row 2), f3 (row 4)) and 'Pharmacco GmbH' "
        "(facility f2 (row 3)) are very similar (similarity 94%) but count as two companies; "
        "give both rows the same company_id if they are one company",
        "warning: company 'Pharmaco GmbH' (name:pharmaco): public_listing is yes on facility f1 (row 2) "
        "but no or empty on facility f3 (row 4), so the company is shown by name nowhere; if it agreed, "
        "write yes on all its rows; if these are different companies, give them different company_ids",
    ]
    assert "5 rows, 5 valid, 0 rejected (0 errors, 0 warnings, 0 notes)" in result.stderr
    assert "2 company warning(s): near-duplicate names or public_listing conflicts" in result.stderr


def test_validate_warnings_follow_errors_and_keep_exit_code_1(
    tiny_nuts: Path, tmp_path: Path, capsys
) -> None:
    from geodata.cli import main

    source = tmp_path / "mixed.csv"
    source.write_text(COMPANY_INPUT + "f6,Acme,,DE,DE111,baking,yes\n", encoding="utf-8")
    assert main(["validate", str(source)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["error", "warning", "warning"]
    assert out[0].startswith("error: mixed.csv, row 7, stages = 'baking': unknown value")
