"""Read facility files (CSV, XLSX, GeoPackage, GeoParquet) into a table of text cells.

Every cell is kept exactly as written (as text) so that nothing is altered before validation;
each row carries ``source_row``: its row number as a spreadsheet shows it (header = row 1),
or the feature number for GeoPackage/GeoParquet.

CSV bytes are decoded line by line: a file that is valid UTF-8 is UTF-8; otherwise each row that
is not valid UTF-8 is read as Windows-1252 where that reading gives letters and punctuation, and
rejected where it does not. ``RawTable.encoding`` and ``RawTable.notes`` say what was done, and
to which rows, so that nothing is changed silently.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

SOURCE_ROW = "source_row"
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
GPKG_SUFFIXES = (".gpkg",)
PARQUET_SUFFIXES = (".parquet", ".geoparquet")


class InputError(ValueError):
    """The file as a whole cannot be read; the message names the file and what to do."""


@dataclass(frozen=True)
class ReadNote:
    """A finding of the reader that rejects nothing: how a row was decoded, text that looks damaged.

    ``field`` is a column name as written, "(file)" for the file as a whole or "(encoding)" for a
    row's bytes; ``severity`` is "note" (a conversion) or "warning" (a person should look).
    """

    row: int
    field: str
    value: str
    reason: str
    severity: str = "note"


@dataclass
class RawTable:
    """A file's rows as text, its original column names, and how it was read.

    ``encoding`` is "utf-8", "utf-8-sig" (with BOM), "windows-1252", "mixed: utf-8 except rows 7, 12
    read as windows-1252", "xlsx" or "geo"; ``windows_1252_rows`` are the rows whose bytes made
    the reader leave UTF-8.
    """

    path: Path
    frame: pd.DataFrame  # all columns str, plus SOURCE_ROW (int)
    columns: list[str]  # original column names, in file order
    encoding: str = ""
    delimiter: str = ""
    decimal_comma: bool = False
    row_problems: list[tuple[int, str]] = field(default_factory=list)  # (row, reason): rejects the row
    notes: list[ReadNote] = field(default_factory=list)
    windows_1252_rows: list[int] = field(default_factory=list)


def read_table(path: str | Path) -> RawTable:
    """Read a facility file of any supported format into text cells.

    Raises InputError (naming the file) when it is missing, empty or not a supported format.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _read_csv(path)
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path)
    if suffix in GPKG_SUFFIXES or suffix in PARQUET_SUFFIXES:
        return _read_geo(path)
    allowed = ", ".join(CSV_SUFFIXES + EXCEL_SUFFIXES + GPKG_SUFFIXES + PARQUET_SUFFIXES)
    raise InputError(f"{path}: unsupported file type {suffix!r}; use one of {allowed}.")


def detect_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one that splits the header into most fields consistently."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t").delimiter
    except csv.Error:
        header = lines[0]
        return max((",", ";", "\t"), key=header.count)


UTF8_BOM = b"\xef\xbb\xbf"
#: Bytes Windows-1252 leaves undefined (Windows maps them to C1 control codes).
UNDEFINED_1252 = frozenset(b"\x81\x8d\x8f\x90\x9d")


@dataclass(frozen=True)
class DecodedLine:
    """One physical line of a CSV file as text, and how its bytes were read.

    ``cp1252`` lists (bytes, column, text) for each run of bytes that is not valid UTF-8 and was
    read as Windows-1252; ``undecodable`` the first (bytes, column) that is neither, kept in the
    text as backslash escapes (``\\x81``). Columns count characters from 1.
    """

    text: str
    cp1252: tuple[tuple[bytes, int, str], ...] = ()
    undecodable: tuple[bytes, int] | None = None
    utf8_non_ascii: bool = False  # the line holds valid UTF-8 beyond ASCII: evidence for UTF-8


def decode_line(data: bytes) -> DecodedLine:
    """Decode one line: UTF-8 where it is valid, Windows-1252 for the bytes that are not, when
    each such byte is a letter, digit, punctuation or symbol in Windows-1252 (not an undefined
    byte such as 0x81 or 0x9D)."""
    parts: list[str] = []
    cp1252: list[tuple[bytes, int, str]] = []
    undecodable: tuple[bytes, int] | None = None
    utf8_non_ascii = False
    column = 1  # of the next character, as an editor counts it
    pos = 0
    while pos < len(data):
        try:
            good, run, pos_next = data[pos:].decode("utf-8"), b"", len(data)
        except UnicodeDecodeError as exc:
            good = data[pos : pos + exc.start].decode("utf-8")
            run, pos_next = data[pos + exc.start : pos + exc.end], pos + exc.end
        parts.append(good)
        utf8_non_ascii = utf8_non_ascii or not good.isascii()
        column += len(good)
        if run:
            chars = [_plausible_1252(byte) for byte in run]
            if all(chars):
                cp1252.append((run, column, "".join(chars)))
                parts.append("".join(chars))
            else:
                undecodable = undecodable or (run, column)
                parts.append(run.decode("cp1252", errors="backslashreplace"))
            column += len(run)
        pos = pos_next
    return DecodedLine("".join(parts), tuple(cp1252), undecodable, utf8_non_ascii)


def _plausible_1252(byte: int) -> str:
    """The byte's Windows-1252 character if it is one text plausibly holds, else ''."""
    if byte in UNDEFINED_1252:
        return ""
    char = bytes([byte]).decode("cp1252")
    plausible = unicodedata.category(char)[0] in "LNPS" or char in "\xa0\xad"  # no-break/soft hyphen
    return char if plausible else ""


def _in_row(lines: list[DecodedLine]) -> list[tuple[bytes, int, str]]:
    """The bytes of a row read as Windows-1252, with columns counted from the row's start."""
    found, offset = [], 0
    for line in lines:
        found += [(run, offset + column, text) for run, column, text in line.cp1252]
        offset += len(line.text)
    return found


def _first_undecodable(lines: list[DecodedLine]) -> str:
    offset = 0
    for line in lines:
        if not line.undecodable:
            offset += len(line.text)
        else:
            bytes_, column = line.undecodable
            column += offset
            return (
                f"bytes {hex_bytes(bytes_)} at column {column} are not valid UTF-8 or Windows-1252 "
                "text; save the file as UTF-8 (Excel: Save As > CSV UTF-8) and import again"
            )
    return ""


#: Windows-1252 text of the bytes 0x80-0xBF (UTF-8 continuation bytes); undefined ones as C1 codes.
_CONTINUATION = "".join(
    chr(b) if b in UNDEFINED_1252 else bytes([b]).decode("cp1252") for b in range(0x80, 0xC0)
)
_C = f"[{re.escape(_CONTINUATION)}]"
_DOUBLE_ENCODED = re.compile(f"[\u00c2-\u00df]{_C}|[\u00e0-\u00ef]{_C}{{2}}|[\u00f0-\u00f4]{_C}{{3}}")


def undo_double_encoding(text: str) -> str:
    """``text`` with each 'Ã¥'-like sequence (UTF-8 bytes read as Windows-1252) read back as UTF-8.

    Returns ``text`` unchanged when it holds no such sequence.
    """

    def undo(match: re.Match[str]) -> str:
        raw = bytes(ord(c) if ord(c) in UNDEFINED_1252 else c.encode("cp1252")[0] for c in match[0])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:  # e.g. an overlong form: not something an encoder writes
            return match[0]

    return _DOUBLE_ENCODED.sub(undo, text)


def hex_bytes(data: bytes) -> str:
    """b'\\xfc' -> '0xFC'; several bytes separated by spaces."""
    return " ".join(f"0x{b:02X}" for b in data)


def _hold(rows: str) -> str:
    return f"{rows} holds" if rows.startswith("row ") else f"{rows} hold"


def row_list(rows: list[int], limit: int = 10) -> str:
    """[7] -> 'row 7'; [2, 3, 4, 9] -> 'rows 2-4, 9'; runs beyond ``limit`` summarised."""
    runs: list[list[int]] = []
    for row in rows:
        if runs and row == runs[-1][-1] + 1:
            runs[-1].append(row)
        else:
            runs.append([row])
    shown = [f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs[:limit]]
    if len(runs) > limit:
        shown.append(f"... ({len(rows)} rows in all)")
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(shown)


def _read_csv(path: Path) -> RawTable:
    data = path.read_bytes()
    bom = data.startswith(UTF8_BOM)
    lines = [decode_line(line) for line in data[len(UTF8_BOM) if bom else 0 :].splitlines(keepends=True)]
    text = "".join(line.text for line in lines)
    if not text.strip():
        raise InputError(f"{path}: the file is empty; it needs a header row and data rows.")
    delimiter = detect_delimiter(text)
    records = _records(lines, delimiter)
    (header, header_lines), body = records[0], records[1:]
    if undecodable := _first_undecodable(header_lines):
        raise InputError(f"{path}: row 1 (the header): {undecodable}")
    header = [h.strip() for h in header]
    _check_header(path, header)
    rows: list[list[str]] = []
    numbers: list[int] = []
    problems: list[tuple[int, str]] = []
    undecodable_rows: set[int] = set()
    read_lines = {1: header_lines}
    for index, (row, row_lines) in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line: nothing to keep
        if undecodable := _first_undecodable(row_lines):
            problems.append((index, undecodable))
            undecodable_rows.add(index)
        if len(row) != len(header):
            problems.append((index, f"row has {len(row)} fields but the header has {len(header)}"))
            row = (row + [""] * len(header))[: len(header)]
        rows.append(row)
        numbers.append(index)
        read_lines[index] = row_lines
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame[SOURCE_ROW] = numbers
    windows_1252 = [
        r for r, ls in read_lines.items() if r not in undecodable_rows and any(x.cp1252 for x in ls)
    ]
    utf8_seen = bom or any(x.utf8_non_ascii for ls in read_lines.values() for x in ls)
    encoding, notes = _encoding_notes(read_lines, windows_1252, utf8_seen, bom)
    notes += _double_encoding_notes([(1, header), *zip(numbers, rows, strict=True)], header)
    return RawTable(
        path,
        frame,
        header,
        encoding=encoding,
        delimiter=delimiter,
        decimal_comma=delimiter == ";",
        row_problems=problems,
        notes=notes,
        windows_1252_rows=windows_1252,
    )


def _records(lines: list[DecodedLine], delimiter: str) -> list[tuple[list[str], list[DecodedLine]]]:
    """CSV records with the physical lines each spans (a quoted cell may hold line breaks)."""
    reader = csv.reader((line.text for line in lines), delimiter=delimiter)
    records = []
    consumed = 0
    for row in reader:
        records.append((row, lines[consumed : reader.line_num]))
        consumed = reader.line_num
    return records


def _encoding_notes(
    read_lines: dict[int, list[DecodedLine]], windows_1252: list[int], utf8_seen: bool, bom: bool
) -> tuple[str, list[ReadNote]]:
    """The file's encoding label and the notes that say which rows decided it."""
    if not windows_1252:
        return ("utf-8-sig" if bom else "utf-8"), []
    rows = row_list(windows_1252)
    if not utf8_seen:
        first = windows_1252[0]
        bytes_, column, chars = _in_row(read_lines[first])[0]
        reason = (
            f"read as Windows-1252, not UTF-8: {_hold(rows)} bytes that are not valid UTF-8 (first: "
            f"{hex_bytes(bytes_)} at column {column} of row {first}, read as {chars!r}); check that "
            "accented letters look right, or save the file as CSV UTF-8 and import again"
        )
        return "windows-1252", [ReadNote(1, "(file)", "", reason)]
    encoding = f"mixed: utf-8 except {rows} read as windows-1252"
    notes = [ReadNote(1, "(file)", "", f"{encoding}: the other rows are UTF-8; see the notes on {rows}")]
    for row in windows_1252:
        found = _in_row(read_lines[row])
        shown = ", ".join(f"{hex_bytes(b)} at column {c} (read as {t!r})" for b, c, t in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        reason = (
            f"read as Windows-1252: bytes {shown}{more} are not valid UTF-8; the rest of the file is "
            "UTF-8, so check this row and correct the text if it is wrong"
        )
        notes.append(ReadNote(row, "(encoding)", "", reason))
    return encoding, notes


def _double_encoding_notes(rows: list[tuple[int, list[str]]], header: list[str]) -> list[ReadNote]:
    """Warnings for cells that look like UTF-8 read as Windows-1252 and saved again ('SkÃ¥ne')."""
    notes = []
    for row, cells in rows:
        for name, cell in zip(header, cells, strict=False):
            if cell.isascii() or (undone := undo_double_encoding(cell)) == cell:
                continue
            field_name = "(header)" if row == 1 else name
            reason = f"looks double-encoded: probably {undone!r}; kept as written"
            notes.append(ReadNote(row, field_name, cell, reason, "warning"))
    if notes:
        rows_named = row_list(sorted({n.row for n in notes}))
        reason = (
            f"{_hold(rows_named)} text that looks double-encoded: UTF-8 that was opened as Windows-1252 "
            "and saved again ('SkÃ¥ne' for 'Skåne'). The cells are kept as written; export the file "
            "again from the original as CSV UTF-8, or correct those cells, and import again"
        )
        notes.insert(0, ReadNote(1, "(file)", "", reason, "warning"))
    return notes


def _read_excel(path: Path) -> RawTable:
    try:
        # header=None: pandas would rename a repeated column to 'name.1' and hide the duplicate
        frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl", header=None)
    except Exception as exc:  # openpyxl raises many types for damaged workbooks
        raise InputError(f"{path}: not a readable Excel workbook ({exc}).") from exc
    header = [str(c).strip() for c in frame.iloc[0]] if len(frame) else []
    _check_header(path, header)
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = header
    frame = frame.fillna("").astype(str)
    frame[SOURCE_ROW] = range(2, len(frame) + 2)
    blank = (frame[header].apply(lambda col: col.str.strip()) == "").all(axis=1)
    return RawTable(path, frame[~blank].reset_index(drop=True), header, encoding="xlsx")


def _read_geo(path: Path) -> RawTable:
    import geopandas as gpd

    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            gdf = gpd.read_parquet(path)
        else:
            gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio/pyarrow raise many types
        raise InputError(f"{path}: not a readable GeoPackage/GeoParquet file ({exc}).") from exc
    header = [c for c in gdf.columns if c != gdf.geometry.name]
    frame = pd.DataFrame(gdf[header]).astype(object)
    frame = frame.where(frame.notna(), "").astype(str)
    columns = list(header)
    lowered = {c.strip().lower() for c in header}
    if gdf.geometry is not None and not ({"latitude", "longitude"} & lowered):
        geom = gdf.geometry
        if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
            geom = geom.to_crs(4326)
        is_point = geom.geom_type == "Point"
        frame["longitude"] = [f"{g.x:.7f}" if ok else "" for g, ok in zip(geom, is_point, strict=True)]
        frame["latitude"] = [f"{g.y:.7f}" if ok else "" for g, ok in zip(geom, is_point, strict=True)]
        columns += ["latitude", "longitude"]
    frame[SOURCE_ROW] = range(1, len(frame) + 1)
    return RawTable(path, frame, columns, encoding="geo")


def _check_header(path: Path, header: list[str]) -> None:
    if not any(header):
        raise InputError(f"{path}: the first row must name the columns.")
    seen: set[str] = set()
    for name in header:
        key = canonical_column(name)
        if key and key in seen:
            raise InputError(f"{path}: column {name!r} appears twice in the header.")
        seen.add(key)


def canonical_column(name: str) -> str:
    """Column name folded for matching: 'Facility ID' -> 'facility_id'."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
