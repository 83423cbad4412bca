"""``python -m geodata import | rounds | publish | discard | export-store | import-store`` as a
user runs them, against the store that ATLAS_DATABASE_URL names."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from geodata import store

REPO = Path(__file__).resolve().parents[2]


def run(url: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geodata", *map(str, args)],
        cwd=REPO,
        env={**os.environ, "ATLAS_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_prints_rejected_rows_and_placement_problems(atlas: store.Store, messy_file: Path) -> None:
    url = atlas.engine.url.render_as_string(hide_password=False)
    result = run(url, "import", messy_file, "--round", "2021 March", "--user", "ana")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == (
        "round '2021 March' (draft): 8 valid sites, 2 rejected rows (3 errors, 1 notes) from messy.csv, "
        f"imported {atlas.rounds()[0].imported_at:%Y-%m-%d %H:%M} UTC by ana"
    )
    assert (
        "  messy.csv, row 6, country = 'XX': not a country code NUTS covers; use the two-letter Eurostat code"
        in out
    )
    assert "  messy.csv, row 5, company: required; the cell is empty" in out
    assert "placement in NUTS 2021: unmatched 1, swapped 1, nearest 1, other country 1" in out
    assert any(
        line.startswith("  NUTS 2024, row 7, M6: swapped: latitude and longitude look swapped")
        for line in out
    )
    assert any(line.startswith("  NUTS 2021, row 10, M9: other_country: region lies in AT") for line in out)
    assert out[-1] == (
        "publish it with `python -m geodata publish '2021 March'`, "
        "or discard it with `python -m geodata discard '2021 March'`"
    )
    assert "stored 8/8 sites of round '2021 March'" in result.stderr

    missing = run(url, "import", messy_file.with_name("missing.csv"), "--round", "x")
    assert missing.returncode == 2 and "missing.csv: no such file." in missing.stderr
    taken = run(url, "import", REPO / "data" / "sample_facilities.csv", "--round", "2021 March")
    assert taken.returncode == 2 and "a round named '2021 March' exists already" in taken.stderr
    assert [r.name for r in atlas.rounds()] == ["2021 March"]


def test_rounds_publish_export_and_restore(
    atlas: store.Store, empty_database: Callable[[], str], messy_file: Path, sample_file: Path, tmp_path: Path
) -> None:
    url = atlas.engine.url.render_as_string(hide_password=False)
    assert run(url, "rounds").stderr.endswith(
        "no rounds yet; add one with `python -m geodata import FILE --round NAME`\n"
    )
    atlas.import_file(sample_file, "march", "ana", publish=True)
    atlas.import_file(messy_file, "april", "bo")
    published = run(url, "publish", "april", "--user", "cy")
    assert published.returncode == 0 and published.stdout == "round 'april': published\n"
    listed = run(url, "rounds")
    when = [f"{r.imported_at:%Y-%m-%d %H:%M}" for r in atlas.rounds()]
    assert listed.stdout.splitlines() == [
        "round  status     sites  rejected  imported (UTC)    by   file",
        f"march  published    350         0  {when[0]}  ana  sample_facilities.csv",
        f"april  published      8         2  {when[1]}  bo   messy.csv",
    ]
    assert run(url, "discard", "nothing").returncode == 2

    out = tmp_path / "store.gpkg"
    exported = run(url, "export-store", out, "--user", "dee")
    assert exported.returncode == 0 and exported.stdout == f"2 rounds written to {out}\n"
    assert atlas.audit_log()[["user_name", "action", "detail"]].values.tolist() == [
        ["dee", "export-store", "store.gpkg"]
    ]
    other = empty_database()
    restored = run(other, "import-store", out)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout == f"{out}: rounds added: 'april', 'march'\n"
    assert run(other, "rounds").stdout == listed.stdout
