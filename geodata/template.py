"""The survey's Excel template: the data model's columns, drop-down lists of the codes, instructions.

``write_template(path)`` writes a workbook that records.load_facilities reads as it is:

- "Facilities": the header row of records.FIELDS (the importer reads the workbook's first sheet,
  so this one comes first), frozen, with a note on every header cell and required fields
  coloured; drop-down lists for codes, yes/no and countries, number checks with input messages;
- "Instructions": what the survey is, one row per site, every column, confidentiality, where to
  send the file (the workbook opens on this sheet);
- "Codes": every code and label per list, for people;
- "Lists" (hidden): the codes the drop-down lists offer, with their labels.

Field meanings are defined here once (FIELD_HELP, STAGE_EXAMPLES); codes and labels come from
geodata.vocab, required and sensitive fields from geodata.records. scripts/write_data_model_doc.py
writes the same tables into docs/DATA_MODEL.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from geodata import records, vocab
from geodata.disclosure.rules import Rules

DATA_SHEET = "Facilities"
INSTRUCTIONS_SHEET = "Instructions"
CODES_SHEET = "Codes"
LISTS_SHEET = "Lists"
#: Checks apply down to Excel's last row, so rows added anywhere are checked too.
LAST_ROW = 1_048_576
DOC = "docs/DATA_MODEL.md"
DEFAULT_SEND_TO = (
    "Return the completed file to the cluster association or task-force contact who sent it to you."
)


@dataclass(frozen=True)
class FieldHelp:
    """What a field holds, for people: its type and meaning as DATA_MODEL.md states them."""

    kind: str
    meaning: str


FIELD_HELP: dict[str, FieldHelp] = {
    "facility_id": FieldHelp("text", "unique id of the site within the file (e.g. ACME-1); one row per site"),
    "company": FieldHelp("text", "legal or trading name of the company"),
    "company_id": FieldHelp(
        "text",
        "stable company identifier (national registry or VAT number); where absent, the company is its "
        "normalised name (case, spacing, punctuation, legal form). Give all sites of one company the same id",
    ),
    "country": FieldHelp(
        "country code", "two-letter Eurostat code (EL for Greece, not GR; ISO GR is accepted and converted)"
    ),
    "city": FieldHelp("text", "town or city of the site"),
    "postcode": FieldHelp("text", "postcode of the site; places the site when no coordinates are given"),
    "latitude": FieldHelp(
        "decimal degrees (WGS84), -90 to 90",
        "latitude of the site. Either coordinates, a postcode or a nuts3 code must locate the site",
    ),
    "longitude": FieldHelp(
        "decimal degrees (WGS84), -180 to 180", "longitude of the site; give it together with latitude"
    ),
    "nuts3": FieldHelp(
        "NUTS 3 code", "NUTS 3 region of the site (e.g. DE254), checked against the NUTS version in use"
    ),
    "company_size": FieldHelp("size code", "company size by the EU SME definition"),
    "cluster": FieldHelp("text", "cluster organisation or association the company belongs to"),
    "stages": FieldHelp("list of stage codes", "what the site can do: every production stage it can serve"),
    "platforms": FieldHelp("list of platform codes", "vaccine technologies the site has experience with"),
    "capacity_doses_per_month": FieldHelp(
        "number >= 0",
        "for manufacturing stages: doses per month the site could produce or process",
    ),
    "available_capacity_pct": FieldHelp("number 0-100", "share (%) of that capacity free for new contracts"),
    "lead_time_months": FieldHelp("number >= 0", "months until the capacity could be used"),
    "gmp_certified": FieldHelp("yes/no", "the site holds a GMP certificate for the offered stages"),
    "staff": FieldHelp("whole number >= 0", "headcount at the site"),
    "bottlenecks": FieldHelp("list of bottleneck codes", "what limits the site now"),
    "bottleneck_notes": FieldHelp("text", "anything else about the bottlenecks, in your own words"),
    "public_listing": FieldHelp(
        "yes/no (empty = no)",
        "the company agrees to be shown by name to non-officials (cluster associations, the public)",
    ),
    "contact_consent": FieldHelp("yes/no (empty = no)", "the company agrees to be contacted for matchmaking"),
    "survey_date": FieldHelp("date (YYYY-MM-DD)", "when the answer was given"),
}

#: What each production stage covers, for respondents choosing codes.
STAGE_EXAMPLES: dict[str, str] = {
    "raw_materials": "lipids, nucleotides, enzymes, cell-culture media, adjuvants, excipients",
    "consumables_equipment": "bioreactors, single-use bags and assemblies, filters, mixers, freezers",
    "drug_substance": "mRNA synthesis, cell culture / fermentation, purification",
    "formulation": "lipid-nanoparticle encapsulation, adjuvant mixing, conjugation",
    "fill_finish": "aseptic filling into vials or syringes, lyophilisation",
    "primary_packaging": "glass vials, stoppers, caps, syringes, needles",
    "qc_testing": "analytical testing, sterility testing, release",
    "packaging_labelling": "cartons, labels, serialisation",
    "cold_chain_logistics": "ultra-low-temperature storage, dry ice, shipping",
    "services": "CDMO services, tech transfer support, engineering, regulatory affairs",
}

#: The ';'-separated list fields and the code table each draws from.
LIST_CODES: dict[str, Mapping[str, str]] = {
    "stages": vocab.STAGES,
    "platforms": vocab.PLATFORMS,
    "bottlenecks": vocab.BOTTLENECKS,
}
YES_NO_FIELDS = ("gmp_certified", "public_listing", "contact_consent")
#: Number checks: field -> (openpyxl type, operator, formula1, formula2, input message).
NUMBER_CHECKS: dict[str, tuple[str, str, str, str | None, str]] = {
    "capacity_doses_per_month": ("decimal", "greaterThanOrEqual", "0", None, "Doses per month, 0 or more."),
    "available_capacity_pct": ("decimal", "between", "0", "100", "Percent of the capacity free, 0 to 100."),
    "lead_time_months": ("decimal", "greaterThanOrEqual", "0", None, "Months until usable, 0 or more."),
    "staff": ("whole", "greaterThanOrEqual", "0", None, "Headcount at the site, a whole number, 0 or more."),
    "latitude": ("decimal", "between", "-90", "90", "Decimal degrees (WGS84), -90 to 90, e.g. 50.94."),
    "longitude": ("decimal", "between", "-180", "180", "Decimal degrees (WGS84), -180 to 180, e.g. 6.96."),
}
_WIDTHS = {"company": 28, "company_id": 18, "city": 18, "cluster": 22, "stages": 30, "platforms": 22}
_WIDTHS |= {"bottlenecks": 30, "bottleneck_notes": 40, "survey_date": 13}
_REQUIRED_FILL = PatternFill("solid", fgColor="F8CBAD")
_OPTIONAL_FILL = PatternFill("solid", fgColor="DDEBF7")
_BOLD = Font(bold=True)


def write_template(path: str | Path, *, send_to: str | None = None) -> Path:
    """Write the survey template (XLSX) to ``path`` and return the path.

    ``send_to`` says where respondents return the file (e.g. an e-mail address and a deadline);
    without it the instructions tell them to return it to whoever sent it.
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"{path}: the template is an Excel workbook; give a file name ending in .xlsx")
    book = Workbook()
    data = book.active
    assert data is not None  # a new Workbook always has one sheet
    data.title = DATA_SHEET  # first: the importer reads a workbook's first sheet
    instructions = book.create_sheet(INSTRUCTIONS_SHEET)
    _write_instructions(instructions, send_to or DEFAULT_SEND_TO)
    _write_codes(book.create_sheet(CODES_SHEET))
    lists = book.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    _write_data_sheet(data, _write_lists(lists))
    book.active = book.index(instructions)  # respondents open the file on the instructions
    for sheet in book.worksheets:
        sheet.sheet_view.tabSelected = sheet is instructions
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def list_codes(field: str) -> list[str]:
    """The codes a drop-down offers for ``field``: vocabulary codes, country codes or yes/no."""
    if field in LIST_CODES:
        return list(LIST_CODES[field])
    if field == "company_size":
        return list(vocab.COMPANY_SIZES)
    if field == "country":
        return sorted(records.NUTS_COUNTRIES)
    if field in YES_NO_FIELDS:
        return ["yes", "no"]
    raise ValueError(f"{field!r} has no drop-down list")


def _write_lists(sheet: Worksheet) -> dict[str, str]:
    """The hidden sheet the drop-downs read: per list a code and a label column; field -> range."""
    tables: dict[str, Mapping[str, str]] = {**LIST_CODES, "company_size": vocab.COMPANY_SIZES}
    tables["country"] = {code: vocab.EU_MEMBER_STATES.get(code, "") for code in list_codes("country")}
    ranges: dict[str, str] = {}
    for i, (field, table) in enumerate(tables.items()):
        code_col, label_col = 3 * i + 1, 3 * i + 2
        sheet.cell(1, code_col, field).font = _BOLD
        sheet.cell(1, label_col, "label").font = _BOLD
        for row, (code, text) in enumerate(table.items(), start=2):
            sheet.cell(row, code_col, code)
            sheet.cell(row, label_col, text)
        letter = get_column_letter(code_col)
        ranges[field] = f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(table) + 1}"
        sheet.column_dimensions[letter].width = 24
        sheet.column_dimensions[get_column_letter(label_col)].width = 40
    return ranges


def _write_data_sheet(sheet: Worksheet, lists: Mapping[str, str]) -> None:
    for col, field in enumerate(records.FIELDS, start=1):
        cell = sheet.cell(1, col, field)
        cell.font = _BOLD
        cell.fill = _REQUIRED_FILL if field in records.REQUIRED else _OPTIONAL_FILL
        cell.comment = _header_note(field)
        sheet.column_dimensions[get_column_letter(col)].width = max(_WIDTHS.get(field, 14), len(field) + 3)
    sheet.freeze_panes = "B2"
    for validation in _validations(lists):
        sheet.add_data_validation(validation)


def _column(field: str) -> str:
    letter = get_column_letter(records.FIELDS.index(field) + 1)
    return f"{letter}2:{letter}{LAST_ROW}"


def _validations(lists: Mapping[str, str]) -> Iterable[DataValidation]:
    """One data validation per checked column, each with an input message and an error message."""
    facility = get_column_letter(records.FIELDS.index("facility_id") + 1)
    yield _check(
        "facility_id",
        "custom",
        f"COUNTIF(${facility}$2:${facility}${LAST_ROW},{facility}2)=1",
        title="facility_id (required)",
        prompt="A unique id for this site, e.g. ACME-1. One row per site.",
        error="Another row already has this facility_id; give each site its own id.",
    )
    single = {
        "country": ("Country code", "Two-letter Eurostat code: EL for Greece, UK for the United Kingdom."),
        "company_size": ("Company size", "micro, small, medium or large (EU SME definition; see Codes)."),
    }
    for field, (title, prompt) in single.items():
        yield _drop_down(field, lists[field], title, prompt, several=False)
    for field in YES_NO_FIELDS:
        note = " Empty means no." if field != "gmp_certified" else ""
        yield _drop_down(field, '"yes,no"', field, f"yes or no.{note}", several=False)
    for field in LIST_CODES:
        prompt = (
            f"Pick one code, or type several separated by ';' (e.g. {_example(field)}). "
            f"Codes and labels are on the sheet '{CODES_SHEET}'; labels are accepted too."
        )
        yield _drop_down(field, lists[field], f"{field}: codes, ';'-separated", prompt, several=True)
    for field, (kind, operator, low, high, prompt) in NUMBER_CHECKS.items():
        error = f"{prompt} Leave the cell empty if you do not know."
        yield _check(field, kind, low, high, operator=operator, title=field, prompt=prompt, error=error)
    yield _check(
        "survey_date",
        "date",
        "DATE(2000,1,1)",
        operator="greaterThan",
        title="survey_date",
        prompt="Date of the answer, e.g. 2021-03-15 (year-month-day).",
        error="Not a date: enter it as 2021-03-15 (year-month-day).",
        style="warning",  # a date typed as text in ISO form is still read correctly
    )


def _check(
    field: str,
    kind: str,
    formula1: str,
    formula2: str | None = None,
    *,
    title: str,
    prompt: str,
    error: str,
    operator: str | None = None,
    style: str = "stop",
) -> DataValidation:
    """A validation of ``field``'s column below the header; Excel limits titles to 32 characters."""
    validation = DataValidation(
        type=kind,
        formula1=formula1,
        formula2=formula2,
        operator=operator,
        allow_blank=True,
        showInputMessage=True,
        showErrorMessage=True,
        errorStyle=style,
        promptTitle=title[:32],
        prompt=prompt,
        errorTitle=f"Check {field}"[:32],
        error=error,
    )
    validation.add(_column(field))
    return validation


def _drop_down(field: str, source: str, title: str, prompt: str, *, several: bool) -> DataValidation:
    """A drop-down list; ``several``: the cell may hold several codes, so other values only warn."""
    if several:
        error = (
            "Not one of the codes offered. Several codes separated by ';' are fine: choose Yes to keep "
            f"them. The sheet '{CODES_SHEET}' lists every code and label."
        )
    else:
        error = f"Choose a value from the list. The sheet '{CODES_SHEET}' explains the codes."
    style = "warning" if several else "stop"
    return _check(field, "list", source, title=title, prompt=prompt, error=error, style=style)


def _example(field: str) -> str:
    return ";".join(list(LIST_CODES[field])[:2])


def _header_note(field: str) -> Comment:
    help_ = FIELD_HELP[field]
    required = "REQUIRED" if field in records.REQUIRED else "optional"
    lines = [f"{field} ({required}), {help_.kind}:", help_.meaning + "."]
    if field in LIST_CODES:
        lines.append(f"Several codes separated by ';'. Codes and labels: sheet '{CODES_SHEET}'.")
    if field in records.SENSITIVE:
        lines.append("Commercially sensitive: only task-force officials see it.")
    comment = Comment("\n".join(lines), "Vaccine Capacity Atlas")
    comment.width, comment.height = 320, 140
    return comment


def _instruction_lines(send_to: str) -> list[str]:
    """The text above the column table, one spreadsheet row per line; '# ' marks a heading."""
    return [
        "# European vaccine production capacity survey",
        "",
        "This survey maps what companies in Europe can contribute to vaccine production, and what holds",
        "them back. The answers are shown by NUTS region in the Vaccine Capacity Atlas, used by the task",
        "force and cluster associations to find capacity and to match companies (matchmaking).",
        "",
        "# How to fill in",
        f"- Fill in the sheet '{DATA_SHEET}': one row per production site. A company with several sites",
        "  fills several rows, with the same company and company_id.",
        "- Do not rename, move or delete the header row or the sheets; leave unknown cells empty.",
        "- Orange headers are required: " + ", ".join(records.REQUIRED) + ".",
        "- Locate each site by latitude and longitude, a postcode, or a nuts3 code.",
        "- stages, platforms, bottlenecks: one code or several separated by ';' (fill_finish;qc_testing).",
        f"  The sheet '{CODES_SHEET}' lists every code and label; labels such as 'Fill & finish' work too.",
        "- Click a cell for a short explanation; hover over a header for its meaning.",
        "",
        "# Confidentiality",
        "- Commercially sensitive fields: " + ", ".join(records.SENSITIVE) + ".",
        "  Only task-force officials see them site by site; nobody else ever does.",
        "- Cluster associations (and the public, where the map is public) see regional figures only:",
        f"  a figure is withheld where fewer than {Rules().min_companies} companies contribute or one or two",
        "  companies would dominate it; the others carry a small deliberate noise.",
        "- Your company's name and sites are shown to them only if public_listing is yes (if your rows",
        "  disagree, no applies). contact_consent yes lets the organisers contact you for matchmaking.",
        "",
        "# Where to send it",
        send_to,
        "",
        f"The full data model: {DOC} in the Vaccine Capacity Atlas repository.",
        "",
    ]


def _write_instructions(sheet: Worksheet, send_to: str) -> None:
    for letter, width in zip("ABCDE", (26, 26, 10, 70, 30), strict=True):
        sheet.column_dimensions[letter].width = width
    lines = _instruction_lines(send_to)
    for number, line in enumerate(lines, start=1):
        cell = sheet.cell(number, 1, line.removeprefix("# ") or None)
        if line.startswith("# "):
            cell.font = Font(bold=True, size=14 if number == 1 else 12)
    header_row = len(lines) + 1
    for col, title in enumerate(("column", "type", "required", "meaning", "codes"), start=1):
        cell = sheet.cell(header_row, col, title)
        cell.font, cell.fill = _BOLD, _OPTIONAL_FILL
    for number, field in enumerate(records.FIELDS, start=header_row + 1):
        help_ = FIELD_HELP[field]
        codes = f"see '{CODES_SHEET}'" if field in LIST_CODES or field == "company_size" else ""
        codes = "yes, no" if field in YES_NO_FIELDS else codes
        meaning = help_.meaning + (" (commercially sensitive)" if field in records.SENSITIVE else "")
        values = (field, help_.kind, "yes" if field in records.REQUIRED else "no", meaning, codes)
        for col, value in enumerate(values, start=1):
            cell = sheet.cell(number, col, value)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        if field in records.REQUIRED:
            sheet.cell(number, 1).fill = _REQUIRED_FILL


def _write_codes(sheet: Worksheet) -> None:
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 52
    sheet.column_dimensions["C"].width = 70
    sections: list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]] = [
        (
            "Production stages (stages)",
            ("code", "label", "examples"),
            [(code, text, STAGE_EXAMPLES[code]) for code, text in vocab.STAGES.items()],
        ),
        ("Vaccine platforms (platforms)", ("code", "label"), list(vocab.PLATFORMS.items())),
        (
            "Bottlenecks (bottlenecks) and the stage that can relieve them",
            ("code", "label", "relieved by stage"),
            [(code, text, _relief(code)) for code, text in vocab.BOTTLENECKS.items()],
        ),
        ("Company sizes (company_size)", ("code", "label"), list(vocab.COMPANY_SIZES.items())),
    ]
    row = 1
    sheet.cell(row, 1, "Codes: use the code (or the label) in the sheet " + repr(DATA_SHEET)).font = Font(
        bold=True, size=14
    )
    for title, header, entries in sections:
        row += 2
        sheet.cell(row, 1, title).font = Font(bold=True, size=12)
        row += 1
        for col, value in enumerate(header, start=1):
            sheet.cell(row, col, value).font = _BOLD
        for entry in entries:
            row += 1
            for col, value in enumerate(entry, start=1):
                sheet.cell(row, col, value)


def _relief(bottleneck: str) -> str:
    stage = vocab.BOTTLENECK_RELIEF[bottleneck]
    return f"{stage} ({vocab.STAGES[stage]})" if stage else "(none: a policy matter)"
