"""Decoding CSV bytes row by row: UTF-8, plausible Windows-1252, rejected bytes, double encoding."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from geodata import cli
from geodata.readers import (
    DecodedLine,
    InputError,
    ReadNote,
    decode_line,
    read_table,
    row_list,
    undo_double_encoding,
)
from geodata.records import Problem, load_facilities

HEADER = b"facility_id,company,country,city,nuts3,stages\n"
UNDECODABLE = (
    "are not valid UTF-8 or Windows-1252 text; save the file as UTF-8 (Excel: Save As > CSV UTF-8) "
    "and import again"
)


def write(tmp_path: Path, *lines: bytes, name: str = "sites.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(lines))
    return path


def column(path: Path, name: str) -> list[str]:
    return read_table(path).frame[name].tolist()


# -- one line -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"Jena", DecodedLine("Jena")),
        (b"Sk\xc3\xa5ne l\xc3\xa4n", DecodedLine("Skåne län", utf8_non_ascii=True)),
        (b"M\xfcnchen", DecodedLine("München", cp1252=((b"\xfc", 2, "ü"),))),
        (
            b"\x93Bio\x94 \x80 5",
            DecodedLine("“Bio” € 5", cp1252=((b"\x93", 1, "“"), (b"\x94", 5, "”"), (b"\x80", 7, "€"))),
        ),
        # 0xE9 0x80 starts a UTF-8 sequence that never ends: both bytes are read as Windows-1252
        (b"caf\xe9\x80", DecodedLine("café€", cp1252=((b"\xe9\x80", 4, "é€"),))),
        # valid UTF-8 stays UTF-8 even in a line that also holds a stray byte
        (b"Sk\xc3\xa5ne \xff", DecodedLine("Skåne ÿ", cp1252=((b"\xff", 7, "ÿ"),), utf8_non_ascii=True)),
        # undefined in Windows-1252: kept visible as an escape, never replaced silently
        (b"Bad\x81co", DecodedLine("Bad\\x81co", undecodable=(b"\x81", 4))),
        (b"a\xe9\x9db", DecodedLine("aé\\x9db", undecodable=(b"\xe9\x9d", 2))),
        (b"no\xa0break", DecodedLine("no\xa0break", cp1252=((b"\xa0", 3, "\xa0"),))),
    ],
)
def test_decode_line(data: bytes, expected: DecodedLine) -> None:
    assert decode_line(data) == expected


@pytest.mark.parametrize("byte", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_every_undefined_windows_1252_byte_is_undecodable(byte: int) -> None:
    assert decode_line(bytes([0x41, byte])).undecodable == (bytes([byte]), 2)


@pytest.mark.parametrize(
    ("text", "undone"),
    [
        ("SkÃ¥ne lÃ¤n", "Skåne län"),
        ("SociÃ©tÃ© GÃ©nÃ©rale", "Société Générale"),
        ("â‚¬ 5", "€ 5"),
        ("Ã\x81vila", "Ávila"),  # 0x81 has no Windows-1252 letter: Windows shows the C1 code
        ("1Â\xa0000", "1\xa0000"),
        ("Skåne län", "Skåne län"),
        ("München", "München"),
        ("Â", "Â"),
        ("Ã", "Ã"),
    ],
)
def test_undo_double_encoding(text: str, undone: str) -> None:
    assert undo_double_encoding(text) == undone


@pytest.mark.parametrize(
    ("rows", "text"),
    [
        ([7], "row 7"),
        ([7, 12], "rows 7, 12"),
        ([2, 3, 4, 9], "rows 2-4, 9"),
        ([2, 4, 6, 8], "rows 2, 4, 6, ... (4 rows in all)"),
    ],
)
def test_row_list(rows: list[int], text: str) -> None:
    assert row_list(rows, limit=3) == text


# -- whole files ----------------------------------------------------------------------------------


def test_utf8_file_with_one_stray_byte_reads_only_that_row_as_windows_1252(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        b"f1,Region Sk\xc3\xa5ne,SE,Sk\xc3\xa5ne l\xc3\xa4n,SE224,fill_finish\n",
        b"f2,Acme\xff,DE,Jena,DEG03,fill_finish\n",
        b"f3,Beta,SE,Malm\xc3\xb6,SE224,fill_finish\n",
    )
    table = read_table(path)
    assert table.frame["company"].tolist() == ["Region Skåne", "Acmeÿ", "Beta"]
    assert table.frame["city"].tolist() == ["Skåne län", "Jena", "Malmö"]
    assert table.encoding == "mixed: utf-8 except row 3 read as windows-1252"
    assert table.windows_1252_rows == [3]
    assert table.row_problems == []
    assert table.notes == [
        ReadNote(
            1,
            "(file)",
            "",
            "mixed: utf-8 except row 3 read as windows-1252: the other rows are UTF-8; "
            "see the notes on row 3",
        ),
        ReadNote(
            3,
            "(encoding)",
            "",
            "read as Windows-1252: bytes 0xFF at column 8 (read as 'ÿ') are not valid UTF-8; the rest "
            "of the file is UTF-8, so check this row and correct the text if it is wrong",
        ),
    ]


def test_many_utf8_rows_stay_utf8_around_a_stray_byte(tmp_path: Path) -> None:
    utf8_rows = [
        b"f%d,Region Sk\xc3\xa5ne,SE,Sk\xc3\xa5ne l\xc3\xa4n,SE224,fill_finish\n" % i for i in range(60)
    ]
    path = write(tmp_path, HEADER, *utf8_rows[:30], b"x,Acme\xff,DE,Jena,DEG03,fill\n", *utf8_rows[30:])
    table = read_table(path)
    assert table.frame["city"].tolist() == ["Skåne län"] * 30 + ["Jena"] + ["Skåne län"] * 30
    assert table.windows_1252_rows == [32]


def test_windows_1252_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        b"facility_id;company;city;latitude\n",
        b"f1;Acme;Jena;50,9\n",
        b"f2;Bayern Bio;M\xfcnchen;48,137\n",
        b"f3;Soci\xe9t\xe9 G\xe9n\xe9rale;Lyon;45,76\n",
    )
    table = read_table(path)
    assert (table.encoding, table.delimiter, table.decimal_comma) == ("windows-1252", ";", True)
    expected = pd.DataFrame(
        {
            "facility_id": ["f1", "f2", "f3"],
            "company": ["Acme", "Bayern Bio", "Société Générale"],
            "city": ["Jena", "München", "Lyon"],
            "latitude": ["50,9", "48,137", "45,76"],
        },
        dtype=str,
    )
    expected["source_row"] = [2, 3, 4]
    assert_frame_equal(table.frame, expected)
    assert table.windows_1252_rows == [3, 4]
    assert table.notes == [
        ReadNote(
            1,
            "(file)",
            "",
            "read as Windows-1252, not UTF-8: rows 3-4 hold bytes that are not valid UTF-8 (first: 0xFC "
            "at column 16 of row 3, read as 'ü'); check that accented letters look right, or save the "
            "file as CSV UTF-8 and import again",
        )
    ]


def test_a_short_row_read_as_windows_1252_still_counts_for_the_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, b"facility_id,company,city\n", b"f1,Acme,Malm\xc3\xb6\n", b"f2,M\xfcller\n")
    table = read_table(path)
    assert table.frame["company"].tolist() == ["Acme", "Müller"]
    assert table.encoding == "mixed: utf-8 except row 3 read as windows-1252"
    assert table.row_problems == [(3, "row has 2 fields but the header has 3")]


def test_row_with_undefined_windows_1252_bytes_is_rejected_with_the_message(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        b"f1,Acme,DE,Jena,DEG03,fill_finish\n",
        b"f2,Bad\x81co,DE,Jena,DEG03,fill_finish\n",
    )
    table = load_facilities(path)
    assert table.raw.encoding == "utf-8"  # the rejected row decides nothing
    assert table.raw.row_problems == [(3, f"bytes 0x81 at column 7 {UNDECODABLE}")]
    assert table.problems == [Problem("sites.csv", 3, "(row)", "", f"bytes 0x81 at column 7 {UNDECODABLE}")]
    assert str(table.problems[0]) == f"sites.csv, row 3, (row): bytes 0x81 at column 7 {UNDECODABLE}"
    assert table.facilities["facility_id"].tolist() == ["f1"]
    assert table.rejected["company"].tolist() == ["Bad\\x81co"]  # visible, not replaced
    assert table.rejected["rejection_reasons"].tolist() == [f"(row): bytes 0x81 at column 7 {UNDECODABLE}"]


def test_undecodable_header_raises_naming_file_and_row(tmp_path: Path) -> None:
    path = write(tmp_path, b"facility_id,comp\x9dany\n", b"f1,Acme\n")
    with pytest.raises(
        InputError, match=r"sites\.csv: row 1 \(the header\): bytes 0x9D at column 17 are not"
    ):
        read_table(path)


def test_columns_count_from_the_start_of_a_row_spanning_lines(tmp_path: Path) -> None:
    path = write(tmp_path, b"facility_id,company,city\n", b'f1,"Acme\nBio",M\xfcnchen\n', b"f2,B\x90,Graz\n")
    table = read_table(path)
    assert table.frame["city"].tolist() == ["München", "Graz"]
    assert table.encoding == "windows-1252"
    assert table.notes[0].reason.startswith(
        "read as Windows-1252, not UTF-8: row 2 holds bytes that are not valid UTF-8 (first: 0xFC at "
        "column 16 of row 2"
    )
    assert table.row_problems == [(3, f"bytes 0x90 at column 5 {UNDECODABLE}")]


def test_double_encoded_cells_are_kept_and_warned_about(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        b"f1,Acme,DE,Jena,DEG03,fill_finish\n",
        "f2,Region SkÃ¥ne,SE,SkÃ¥ne lÃ¤n,SE224,fill_finish\n".encode(),
    )
    table = load_facilities(path)
    assert table.raw.encoding == "utf-8"
    assert table.facilities["city"].tolist() == ["Jena", "SkÃ¥ne lÃ¤n"]  # not "fixed" silently
    assert table.problems == [
        Problem(
            "sites.csv",
            1,
            "(file)",
            "",
            "row 3 holds text that looks double-encoded: UTF-8 that was opened as Windows-1252 and saved "
            "again ('SkÃ¥ne' for 'Skåne'). The cells are kept as written; export the file again from "
            "the original as CSV UTF-8, or correct those cells, and import again",
            "warning",
        ),
        Problem(
            "sites.csv",
            3,
            "city",
            "SkÃ¥ne lÃ¤n",
            "looks double-encoded: probably 'Skåne län'; kept as written",
            "warning",
        ),
        Problem(
            "sites.csv",
            3,
            "company",
            "Region SkÃ¥ne",
            "looks double-encoded: probably 'Region Skåne'; kept as written",
            "warning",
        ),
    ]
    assert table.errors == []


def test_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf", HEADER, b"f1,Acme,SE,Sk\xc3\xa5ne,SE224,fill_finish\n")
    table = read_table(path)
    assert table.columns[0] == "facility_id"  # no BOM glued to the first name
    assert (table.encoding, table.notes, table.windows_1252_rows) == ("utf-8-sig", [], [])
    assert column(path, "city") == ["Skåne"]


def test_bom_is_evidence_for_utf8_so_windows_1252_rows_make_the_file_mixed(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf", HEADER, b"f1,Acme,DE,M\xfcnchen,DE212,fill_finish\n")
    table = read_table(path)
    assert table.encoding == "mixed: utf-8 except row 2 read as windows-1252"
    assert column(path, "city") == ["München"]
    assert [(n.row, n.field) for n in table.notes] == [(1, "(file)"), (2, "(encoding)")]


def test_validate_prints_the_encoding_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        b"facility_id,company,country,nuts3,stages\n",
        b"f1,Acme\xff,DE,DEG03,fill_finish\n",
        b"f2,Beta,SE,SE224,fill_finish\n",
        b"f3,Sk\xc3\xa5ne Bio,SE,SE224,fill_finish\n",
    )
    assert cli.main(["validate", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "note: sites.csv, row 1, (file): mixed: utf-8 except row 2 read as windows-1252: the other rows "
        "are UTF-8; see the notes on row 2",
        "note: sites.csv, row 2, (encoding): read as Windows-1252: bytes 0xFF at column 8 (read as 'ÿ') "
        "are not valid UTF-8; the rest of the file is UTF-8, so check this row and correct the text if "
        "it is wrong",
    ]
