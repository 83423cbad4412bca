"""The survey's Excel template: columns, checks, drop-down lists, instructions, and the round trip
through the importer (records.load_facilities) as respondents would fill it in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from geodata import cli, records, template, vocab
from geodata.records import FIELDS, load_facilities


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "survey.xlsx"
    return template.write_template(path, send_to="Send it to survey@example.org by 31 March.")


@pytest.fixture
def book(written: Path) -> Workbook:
    return openpyxl.load_workbook(written)


def validations_by_field(sheet: Worksheet) -> dict[str, DataValidation]:
    """field -> the one validation on its column, checking that each covers exactly one column."""
    found: dict[str, DataValidation] = {}
    for validation in sheet.data_validations.dataValidation:
        ranges = str(validation.sqref).split()
        assert len(ranges) == 1, ranges
        first, last = ranges[0].split(":")
        column = "".join(c for c in first if c.isalpha())
        assert first == f"{column}2" and last == f"{column}{template.LAST_ROW}"
        field = FIELDS[openpyxl.utils.column_index_from_string(column) - 1]
        assert field not in found, f"two validations on {field}"
        found[field] = validation
    return found


def drop_down_values(book: Workbook, validation: DataValidation) -> list[str]:
    """The values a list validation offers: an inline list or a range on another sheet."""
    source = validation.formula1
    if source.startswith('"'):
        return source.strip('"').split(",")
    sheet_name, cells = source.split("!")
    sheet = book[sheet_name.strip("'")]
    return [str(row[0].value) for row in sheet[cells.replace("$", "")]]


def test_sheets_the_importer_reads_first_and_respondents_see_first(book: Workbook) -> None:
    # The importer reads a workbook's first sheet, so the data sheet is first; the workbook opens
    # on the instructions.
    assert book.sheetnames == ["Facilities", "Instructions", "Codes", "Lists"]
    assert book.active is not None and book.active.title == "Instructions"
    states = {sheet.title: sheet.sheet_state for sheet in book.worksheets}
    assert states == {
        "Facilities": "visible",
        "Instructions": "visible",
        "Codes": "visible",
        "Lists": "hidden",
    }


def test_header_is_the_data_model_with_notes_and_required_fields_marked(book: Workbook) -> None:
    sheet = book["Facilities"]
    assert [cell.value for cell in sheet[1]] == list(FIELDS)
    assert sheet.freeze_panes == "B2"
    fills = {cell.value: cell.fill.fgColor.rgb for cell in sheet[1]}
    assert {fills[f] for f in records.REQUIRED} == {"00F8CBAD"}
    assert "00F8CBAD" not in {fills[f] for f in FIELDS if f not in records.REQUIRED}
    for cell in sheet[1]:
        note = cell.comment.text
        assert note.startswith(
            f"{cell.value} ({'REQUIRED' if cell.value in records.REQUIRED else 'optional'})"
        )
        assert template.FIELD_HELP[cell.value].meaning in note
        assert ("Commercially sensitive" in note) == (cell.value in records.SENSITIVE)
        width = sheet.column_dimensions[cell.column_letter].width
        assert len(str(cell.value)) < width <= 40
    assert sheet.max_row == 1  # no pre-filled or styled rows for the importer to trip on


def test_validations_sit_on_the_right_columns(book: Workbook) -> None:
    checks = validations_by_field(book["Facilities"])
    lists = {"country", "company_size", "stages", "platforms", "bottlenecks", *template.YES_NO_FIELDS}
    numbers = set(template.NUMBER_CHECKS)
    assert set(checks) == lists | numbers | {"facility_id", "survey_date"}
    assert {f for f, v in checks.items() if v.type == "list"} == lists
    # several ';'-separated codes typed by hand must stay possible: those lists only warn
    assert {f for f, v in checks.items() if v.errorStyle == "warning"} == {
        "stages",
        "platforms",
        "bottlenecks",
        "survey_date",
    }
    bounds = {f: (v.type, v.operator, v.formula1, v.formula2) for f, v in checks.items() if f in numbers}
    assert bounds == {
        "capacity_doses_per_month": ("decimal", "greaterThanOrEqual", "0", None),
        "available_capacity_pct": ("decimal", "between", "0", "100"),
        "lead_time_months": ("decimal", "greaterThanOrEqual", "0", None),
        "staff": ("whole", "greaterThanOrEqual", "0", None),
        "latitude": ("decimal", "between", "-90", "90"),
        "longitude": ("decimal", "between", "-180", "180"),
    }
    for field, validation in checks.items():
        assert validation.showInputMessage and validation.showErrorMessage, field
        assert validation.allow_blank, field
        assert validation.prompt and len(validation.prompt) <= 255, field
        assert validation.error and len(validation.error) <= 255, field
        assert len(validation.promptTitle) <= 32 and len(validation.errorTitle) <= 32, field
    for field in ("stages", "platforms", "bottlenecks"):
        assert "';'" in checks[field].prompt and "'Codes'" in checks[field].prompt


def test_drop_down_lists_offer_exactly_the_codes(book: Workbook) -> None:
    checks = validations_by_field(book["Facilities"])
    offered = {f: drop_down_values(book, v) for f, v in checks.items() if v.type == "list"}
    assert offered == {
        "stages": list(vocab.STAGES),
        "platforms": list(vocab.PLATFORMS),
        "bottlenecks": list(vocab.BOTTLENECKS),
        "company_size": list(vocab.COMPANY_SIZES),
        "country": sorted(records.NUTS_COUNTRIES),
        **{field: ["yes", "no"] for field in template.YES_NO_FIELDS},
    }


def test_hidden_list_sheet_holds_codes_with_their_labels(book: Workbook) -> None:
    rows = list(book["Lists"].iter_rows(values_only=True))
    pairs = {(row[0], row[1]) for row in rows[1:] if row[0]}
    assert pairs == set(vocab.STAGES.items())
    bottleneck_pairs = {(row[6], row[7]) for row in rows[1:] if row[6]}
    assert bottleneck_pairs == set(vocab.BOTTLENECKS.items())


def test_codes_sheet_lists_every_code_and_label(book: Workbook) -> None:
    rows = [tuple(v for v in row if v is not None) for row in book["Codes"].iter_rows(values_only=True)]
    for code, text in [*vocab.STAGES.items(), *vocab.PLATFORMS.items(), *vocab.COMPANY_SIZES.items()]:
        assert any(row[:2] == (code, text) for row in rows), code
    for code, text in vocab.BOTTLENECKS.items():
        stage = vocab.BOTTLENECK_RELIEF[code]
        relief = f"{stage} ({vocab.STAGES[stage]})" if stage else "(none: a policy matter)"
        assert (code, text, relief) in rows


def test_instructions_explain_columns_confidentiality_and_where_to_send(book: Workbook) -> None:
    sheet = book["Instructions"]
    text = [str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
    joined = "\n".join(text)
    assert text[0] == "European vaccine production capacity survey"
    assert "one row per production site" in joined
    assert "Send it to survey@example.org by 31 March." in text
    assert "docs/DATA_MODEL.md" in joined
    assert f"- Commercially sensitive fields: {', '.join(records.SENSITIVE)}." in text
    assert "Only task-force officials see them site by site" in joined
    assert "fewer than 3 companies" in joined and "public_listing is yes" in joined
    table = {row[0]: row for row in sheet.iter_rows(values_only=True) if row[0] in FIELDS}
    assert list(table) == list(FIELDS)
    for field, (_, kind, required, meaning, _codes) in table.items():
        assert kind == template.FIELD_HELP[field].kind
        assert required == ("yes" if field in records.REQUIRED else "no")
        assert meaning.startswith(template.FIELD_HELP[field].meaning)


def test_field_help_covers_the_data_model() -> None:
    assert list(template.FIELD_HELP) == list(FIELDS)
    assert list(template.STAGE_EXAMPLES) == list(vocab.STAGES)


def test_filled_template_reads_as_valid_facilities(written: Path, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(written)
    sheet = book["Facilities"]
    rows = [
        {
            "facility_id": "ACME-1",
            "company": "Acme Biologics GmbH",
            "company_id": "DE123456789",
            "country": "DE",
            "city": "Marburg",
            "latitude": 50.81,
            "longitude": 8.77,
            "company_size": "medium",
            "stages": "drug_substance;fill_finish",
            "platforms": "mrna",
            "capacity_doses_per_month": 2_000_000,
            "available_capacity_pct": 25,
            "lead_time_months": 1.5,
            "gmp_certified": "yes",
            "staff": 420,
            "bottlenecks": "lipids_mrna_inputs;single_use",
            "public_listing": "yes",
            "contact_consent": "no",
            "survey_date": dt.datetime(2021, 3, 15),
        },
        {  # labels instead of codes, as a respondent types them
            "facility_id": "BETA-7",
            "company": "Beta Vials SA",
            "country": "FR",
            "postcode": "75001",
            "company_size": "Small (< 50 staff)",
            "stages": "Fill & finish; Primary packaging components",
            "bottlenecks": "Glass vials & rubber stoppers",
            "survey_date": "2021-03-20",
        },
    ]
    for number, row in enumerate(rows, start=2):
        for field, value in row.items():
            sheet.cell(number, FIELDS.index(field) + 1, value)
    filled = tmp_path / "filled.xlsx"
    book.save(filled)

    table = load_facilities(filled)

    assert table.problems == []
    assert len(table.rejected) == 0
    got = table.facilities.set_index("facility_id")
    assert list(got.index) == ["ACME-1", "BETA-7"]
    assert got.loc["ACME-1", "stages"] == ("drug_substance", "fill_finish")
    assert got.loc["ACME-1", "capacity_doses_per_month"] == 2_000_000
    assert got.loc["ACME-1", "staff"] == 420
    assert got.loc["ACME-1", "latitude"] == pytest.approx(50.81)
    assert bool(got.loc["ACME-1", "gmp_certified"]) and bool(got.loc["ACME-1", "public_listing"])
    assert got.loc["BETA-7", "stages"] == ("fill_finish", "primary_packaging")
    assert got.loc["BETA-7", "bottlenecks"] == ("vials_stoppers",)
    assert got.loc["BETA-7", "company_size"] == "small"
    assert not bool(got.loc["BETA-7", "public_listing"])
    assert [d.date() for d in got["survey_date"]] == [dt.date(2021, 3, 15), dt.date(2021, 3, 20)]


def test_empty_template_reads_as_no_rows(written: Path) -> None:
    table = load_facilities(written)
    assert table.problems == []
    assert table.facilities.empty and table.rejected.empty
    assert list(table.facilities.columns) == [*FIELDS, "source_row"]


def test_template_must_be_xlsx(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"survey\.xls: .*ending in \.xlsx"):
        template.write_template(tmp_path / "survey.xls")


def test_command_line_writes_the_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "forms" / "survey.xlsx"
    assert cli.main(["template", str(out), "--send-to", "Return it to the BioRegion cluster office."]) == 0
    assert "template written to" in capsys.readouterr().err
    book = openpyxl.load_workbook(out)
    assert "Return it to the BioRegion cluster office." in {c.value for c in book["Instructions"]["A"]}
    assert load_facilities(out).facilities.empty
    assert cli.main(["template", str(tmp_path / "survey.csv")]) == 2
    assert "ending in .xlsx" in capsys.readouterr().err
