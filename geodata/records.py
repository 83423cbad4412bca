"""Validate facility rows against DATA_MODEL.md into one typed table, reporting every problem.

Every input row ends up either in ``facilities`` (valid, typed) or in ``rejected`` (as written,
with its reasons); each problem names file, row, field, value and what to do. Nothing is dropped
or altered silently: conversions (ISO GR -> EL, labels -> codes) are recorded as notes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from geodata import vocab
from geodata.readers import SOURCE_ROW, RawTable, canonical_column, read_table

#: Model fields in output order (list fields hold tuples of codes).
FIELDS: tuple[str, ...] = (
    "facility_id",
    "company",
    "company_id",
    "country",
    "city",
    "postcode",
    "latitude",
    "longitude",
    "nuts3",
    "company_size",
    "cluster",
    "stages",
    "platforms",
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
    "gmp_certified",
    "staff",
    "bottlenecks",
    "bottleneck_notes",
    "public_listing",
    "contact_consent",
    "survey_date",
)
REQUIRED: tuple[str, ...] = ("facility_id", "company", "country", "stages")
SENSITIVE: tuple[str, ...] = (
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
    "staff",
    "bottleneck_notes",
)
LIST_FIELDS = {"stages": "stages", "platforms": "platforms", "bottlenecks": "bottlenecks"}
COLUMN_ALIASES = {
    "lat": "latitude",
    "lon": "longitude",
    "lng": "longitude",
    "long": "longitude",
    "zip": "postcode",
    "postal_code": "postcode",
    "zip_code": "postcode",
    "nuts_3": "nuts3",
    "nuts3_code": "nuts3",
    "size": "company_size",
    "company_name": "company",
    "site_id": "facility_id",
    "id": "facility_id",
}
#: Country codes NUTS covers: EU Member States plus EFTA and candidate countries.
NUTS_COUNTRIES = frozenset(vocab.EU_MEMBER_STATES) | {
    "NO", "CH", "IS", "LI", "UK", "TR", "MK", "RS", "ME", "AL", "BA", "XK", "UA", "MD",
}  # fmt: skip
YES = {"yes", "y", "true", "1", "ja", "oui", "si", "x"}
NO = {"no", "n", "false", "0", "nein", "non", ""}
NUTS3_PATTERN = re.compile(r"^[A-Z]{2}[0-9A-Z]{3}$")


@dataclass(frozen=True)
class Problem:
    """One finding about one cell: errors reject the row, notes record a conversion (or how the
    file was decoded), warnings ask a person to look at text kept as written."""

    file: str
    row: int
    field: str
    value: str
    reason: str
    severity: str = "error"  # "error" rejects the row; "note" records a conversion; "warning" flags

    def __str__(self) -> str:
        shown = f" = {self.value!r}" if self.value else ""
        return f"{self.file}, row {self.row}, {self.field}{shown}: {self.reason}"


@dataclass
class FacilityTable:
    """The outcome of reading one file."""

    source: Path
    facilities: pd.DataFrame  # valid rows, typed, FIELDS + source_row
    rejected: pd.DataFrame  # rejected rows as written, + source_row + reasons
    problems: list[Problem]
    raw: RawTable

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def load_facilities(path: str | Path, *, decimal_comma: bool | None = None) -> FacilityTable:
    """Read and validate a facility file (CSV, XLSX, GeoPackage, GeoParquet).

    Raises readers.InputError when the file cannot be read at all or lacks required columns.
    """
    raw = read_table(path)
    return validate(raw, decimal_comma=decimal_comma)


def map_columns(raw: RawTable) -> dict[str, str]:
    """Model field -> original column name, matching names case-insensitively with aliases."""
    mapping: dict[str, str] = {}
    for column in raw.columns:
        key = canonical_column(column)
        key = COLUMN_ALIASES.get(key, key)
        if key in FIELDS and key not in mapping:
            mapping[key] = column
    return mapping


def validate(raw: RawTable, *, decimal_comma: bool | None = None) -> FacilityTable:
    """Check every row of ``raw`` against the data model; see module docstring."""
    from geodata.readers import InputError

    name = raw.path.name
    mapping = map_columns(raw)
    missing = [f for f in REQUIRED if f not in mapping]
    if missing:
        raise InputError(
            f"{raw.path}: required column(s) {', '.join(missing)} missing. "
            f"Columns found: {', '.join(raw.columns)}. See docs/DATA_MODEL.md for the field names."
        )
    comma = raw.decimal_comma if decimal_comma is None else decimal_comma
    problems: list[Problem] = [Problem(name, r, "(row)", "", why) for r, why in raw.row_problems]
    problems += [Problem(name, n.row, n.field, n.value, n.reason, n.severity) for n in raw.notes]
    records: list[dict[str, Any]] = []
    bad_rows = {r for r, _ in raw.row_problems}
    columns = {f: raw.frame[c].tolist() for f, c in mapping.items()}
    rows = raw.frame[SOURCE_ROW].tolist()
    for i, row_number in enumerate(rows):
        cells = {f: str(values[i]).strip() for f, values in columns.items()}
        record, row_problems = _check_row(name, row_number, cells, comma)
        problems.extend(row_problems)
        if any(p.severity == "error" for p in row_problems):
            bad_rows.add(row_number)
        records.append(record)
    problems.extend(_duplicate_ids(name, rows, columns["facility_id"]))
    bad_rows |= {p.row for p in problems if p.severity == "error"}

    facilities = pd.DataFrame.from_records(records, columns=[*FIELDS, SOURCE_ROW])
    keep = ~facilities[SOURCE_ROW].isin(bad_rows)
    facilities = _typed(facilities[keep].reset_index(drop=True))
    rejected = raw.frame[raw.frame[SOURCE_ROW].isin(bad_rows)].copy()
    reasons = pd.Series(
        {
            r: "; ".join(f"{p.field}: {p.reason}" for p in problems if p.row == r and p.severity == "error")
            for r in bad_rows
        },
        dtype=str,
    )
    rejected["rejection_reasons"] = rejected[SOURCE_ROW].map(reasons)
    problems.sort(key=lambda p: (p.row, p.field))
    return FacilityTable(raw.path, facilities, rejected.reset_index(drop=True), problems, raw)


def _duplicate_ids(name: str, rows: list[int], ids: list[str]) -> list[Problem]:
    first: dict[str, int] = {}
    found = []
    for row, value in zip(rows, ids, strict=True):
        key = str(value).strip()
        if not key:
            continue
        if key in first:
            found.append(
                Problem(
                    name,
                    row,
                    "facility_id",
                    key,
                    f"duplicate: the same facility_id is on row {first[key]}; give each site its own id",
                )
            )
        else:
            first[key] = row
    return found


def _check_row(
    name: str, row: int, cells: dict[str, str], comma: bool
) -> tuple[dict[str, Any], list[Problem]]:
    problems: list[Problem] = []

    def report(field: str, value: str, reason: str, severity: str = "error") -> None:
        problems.append(Problem(name, row, field, value, reason, severity))

    record: dict[str, Any] = {SOURCE_ROW: row}
    # company_id is kept as written (trimmed); companies.company_keys folds case and spaces
    for field in ("facility_id", "company", "company_id", "city", "postcode", "cluster", "bottleneck_notes"):
        record[field] = cells.get(field, "") or None
    for field in ("facility_id", "company"):
        if not record[field]:
            report(field, "", "required; the cell is empty")
    record["country"] = _country(cells.get("country", ""), report)
    record["stages"] = _codes("stages", cells.get("stages", ""), report, required=True)
    record["platforms"] = _codes("platforms", cells.get("platforms", ""), report)
    record["bottlenecks"] = _codes("bottlenecks", cells.get("bottlenecks", ""), report)
    size = cells.get("company_size", "")
    record["company_size"] = _single_code("company_size", size, report)
    _coordinates(cells, comma, report, record)
    nuts3 = cells.get("nuts3", "").upper().replace(" ", "")
    if nuts3 and not NUTS3_PATTERN.match(nuts3):
        report("nuts3", cells["nuts3"], "not a NUTS 3 code (two letters and three characters, e.g. DE254)")
    record["nuts3"] = nuts3 or None
    numbers: dict[str, tuple[float, float | None, bool]] = {
        "capacity_doses_per_month": (0, None, False),
        "available_capacity_pct": (0, 100, False),
        "lead_time_months": (0, None, False),
        "staff": (0, None, True),
    }
    for field, (low, high, integer) in numbers.items():
        record[field] = _number(field, cells.get(field, ""), comma, low, high, integer, report)
    record["gmp_certified"] = _yes_no("gmp_certified", cells.get("gmp_certified", ""), report, None)
    record["public_listing"] = _yes_no("public_listing", cells.get("public_listing", ""), report, False)
    record["contact_consent"] = _yes_no("contact_consent", cells.get("contact_consent", ""), report, False)
    record["survey_date"] = _date(cells.get("survey_date", ""), report)
    located = record["latitude"] is not None or record["postcode"] or record["nuts3"]
    if not located and not any(p.field in ("latitude", "longitude", "nuts3") for p in problems):
        report(
            "latitude/longitude",
            "",
            "the site cannot be located: give coordinates, a postcode or a nuts3 code",
        )
    return record, problems


Reporter = Callable[..., None]


def _country(value: str, report: Reporter) -> str | None:
    code = value.strip().upper()
    if not code:
        report("country", "", "required; give the Eurostat country code, e.g. DE, FR, EL")
        return None
    if code in vocab.ISO_TO_EUROSTAT:
        converted = vocab.ISO_TO_EUROSTAT[code]
        report("country", value, f"ISO code converted to Eurostat code {converted}", "note")
        code = converted
    if code not in NUTS_COUNTRIES:
        report("country", value, "not a country code NUTS covers; use the two-letter Eurostat code")
        return None
    return code


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;|\n]", value) if part.strip()]


def _codes(field: str, value: str, report: Reporter, required: bool = False) -> tuple[str, ...]:
    items = _split_list(value)
    if required and not items:
        report(field, "", f"required; list at least one of: {', '.join(vocab.VOCABULARIES[field])}")
    codes: list[str] = []
    for item in items:
        code = vocab.to_code(field, item)
        if code is None:
            allowed = ", ".join(vocab.VOCABULARIES[field])
            report(field, item, f"unknown value; use codes or labels of: {allowed} (separate with ';')")
        elif code not in codes:
            codes.append(code)
    return tuple(codes)


def _single_code(field: str, value: str, report: Reporter) -> str | None:
    if not value:
        return None
    code = vocab.to_code(field, value)
    if code is None:
        report(field, value, f"unknown value; use one of: {', '.join(vocab.VOCABULARIES[field])}")
    return code


def parse_number(text: str, decimal_comma: bool) -> float:
    """Parse '1 234,5', '1.234,5', '1,234.5', '48,137' (decimal comma) or '48.137'.

    Raises ValueError when the text is not a number.
    """
    t = re.sub(r"[\s\u00a0\u202f']", "", text)
    if "," in t and "." in t:
        decimal = "," if t.rfind(",") > t.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        t = t.replace(thousands, "").replace(decimal, ".")
    elif "." in t and (
        re.fullmatch(r"[-+]?\d{1,3}(\.\d{3}){2,}", t)
        or (decimal_comma and re.fullmatch(r"[-+]?\d{1,3}\.\d{3}", t))
    ):
        t = t.replace(".", "")  # dots as thousands separators: 1.000.000, or 1.000 in a ';' file
    elif "," in t:
        if decimal_comma or not re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+", t):
            t = t.replace(",", ".") if t.count(",") == 1 else t
        else:
            t = t.replace(",", "")
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", t):
        raise ValueError(text)
    return float(t)


def _number(
    field: str,
    value: str,
    comma: bool,
    low: float,
    high: float | None,
    integer: bool,
    report: Reporter,
) -> float | None:
    if not value:
        return None
    try:
        number = parse_number(value, comma)
    except ValueError:
        report(field, value, "not a number")
        return None
    if number < low or (high is not None and number > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        report(field, value, f"must be {bound}")
        return None
    if integer and number != int(number):
        report(field, value, "must be a whole number")
        return None
    return number


def _coordinates(cells: dict[str, str], comma: bool, report: Reporter, record: dict[str, Any]) -> None:
    record["latitude"] = record["longitude"] = None
    lat_text, lon_text = cells.get("latitude", ""), cells.get("longitude", "")
    if not lat_text and not lon_text:
        return
    if not lat_text or not lon_text:
        field = "latitude" if not lat_text else "longitude"
        report(field, "", "give both latitude and longitude, or neither")
        return
    values = {}
    for field, text, limit in (("latitude", lat_text, 90), ("longitude", lon_text, 180)):
        try:
            # A comma in degrees is decimal; a dot never groups thousands (|degrees| <= 180),
            # so '48.137' in a ';' file is 48.137, not 48137.
            number = parse_number(text, "," in text)
        except ValueError:
            report(field, text, "not a number in decimal degrees (WGS84)")
            continue
        if not -limit <= number <= limit:
            report(field, text, f"outside -{limit}..{limit} decimal degrees")
            continue
        values[field] = number
    if len(values) == 2:
        record["latitude"], record["longitude"] = values["latitude"], values["longitude"]


def _yes_no(field: str, value: str, report: Reporter, default: bool | None) -> bool | None:
    folded = value.strip().lower()
    if not folded:
        return default
    if folded in YES:
        return True
    if folded in NO:
        return False
    report(field, value, "use yes or no")
    return default


def _date(value: str, report: Reporter) -> dt.date | None:
    if not value:
        return None
    text = value.strip()[:10]
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        report("survey_date", value, "use an ISO date, YYYY-MM-DD")
        return None


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for field in (
        "latitude",
        "longitude",
        "capacity_doses_per_month",
        "available_capacity_pct",
        "lead_time_months",
    ):
        frame[field] = pd.to_numeric(frame[field]).astype("Float64")
    frame["staff"] = pd.to_numeric(frame["staff"]).astype("Int64")
    for field in ("gmp_certified", "public_listing", "contact_consent"):
        frame[field] = frame[field].astype("boolean")
    for field in (
        "facility_id",
        "company",
        "company_id",
        "country",
        "city",
        "postcode",
        "nuts3",
        "company_size",
        "cluster",
        "bottleneck_notes",
    ):
        frame[field] = frame[field].astype("string")
    frame["survey_date"] = pd.to_datetime(frame["survey_date"])
    frame[SOURCE_ROW] = frame[SOURCE_ROW].astype(int)
    return frame


def facilities_to_flat(facilities: pd.DataFrame) -> pd.DataFrame:
    """The table as a flat file writes it: lists joined with ';', yes/no, ISO dates."""
    flat = facilities.copy()
    for field in LIST_FIELDS:
        flat[field] = flat[field].map(lambda codes: ";".join(codes))
    for field in ("gmp_certified", "public_listing", "contact_consent"):
        flat[field] = flat[field].map({True: "yes", False: "no"}).astype("string")
    flat["survey_date"] = flat["survey_date"].dt.strftime("%Y-%m-%d")
    return flat
