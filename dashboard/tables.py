"""The table beside the map: the same regions and figures, sortable, for reading numbers.

Every figure is the disclosure engine's release for the role (``AtlasData.regions``), as on the
map: a withheld figure reads "withheld" with its reason, never zero, and sorting uses only what
the role sees (withheld figures sort last, by name), so the order says nothing about them.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from dash import html

from dashboard.data import AtlasData
from geodata import disclosure, vocab
from geodata.aggregate import Filters
from layers import choropleth

#: Columns: (key, header); metric columns use the vocabulary's labels.
TEXT_COLUMNS = {"name": "Region", "code": "NUTS code"}
METRIC_COLUMNS = (
    "facilities",
    "companies",
    "capacity",
    "available_capacity",
    "bottleneck_reports",
    "specialisation",
)
COLUMNS = (*TEXT_COLUMNS, *METRIC_COLUMNS)


def parse_sort(sort: object) -> tuple[str, bool]:
    """The sort a Store holds ({column, descending}); the region name, ascending, otherwise."""
    if isinstance(sort, dict) and sort.get("column") in COLUMNS and isinstance(sort.get("descending"), bool):
        return str(sort["column"]), bool(sort["descending"])
    return "name", False


def next_sort(sort: object, column: object) -> dict[str, object]:
    """Clicking a header: the same column flips its order; another starts (numbers) largest first."""
    current, descending = parse_sort(sort)
    if column not in COLUMNS:
        return {"column": current, "descending": descending}
    if column == current:
        return {"column": current, "descending": not descending}
    return {"column": column, "descending": column in METRIC_COLUMNS}


def rows(data: AtlasData, version: int, level: int, filters: Filters, role: str) -> pd.DataFrame:
    """The regions of the surveyed countries with their released figures and reasons."""
    table = data.regions(version, level, filters, role)
    names = data.names(version)
    codes = [c for c in table.index if str(c)[:2] in set(data.countries)]
    out = table.loc[codes].copy()
    out.insert(0, "code", codes)
    out.insert(0, "name", [str(names.get(c, c)) for c in codes])
    return out


def ordered(frame: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    """Sorted by ``column``; figures a role does not see (NaN) last whatever the direction."""
    if column in TEXT_COLUMNS:
        return frame.sort_values([column, "code"], ascending=[not descending, True], key=_text_key)
    known = frame[frame[column].notna()].sort_values([column, "name"], ascending=[not descending, True])
    unknown = frame[frame[column].isna()].sort_values("name")
    return pd.concat([known, unknown])


def _text_key(series: pd.Series) -> pd.Series:
    return series.astype(str).str.casefold()


def cell_text(metric: str, value: object, reason: str, restricted: bool) -> str:
    """A figure in a cell (the unit is in the header): "1,234", "12.5 M", "1.35"; a figure the
    role does not see: "withheld: too few companies"."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        why = disclosure.reason_text(reason).removeprefix("confidential: ")
        return f"withheld: {why}" if reason else "–"
    number = float(value)  # type: ignore[arg-type]
    if metric in choropleth.INTEGER_METRICS:
        text = f"{round(number):,}"
    elif metric == "specialisation":
        text = f"{number:.2f}"
    else:
        text = choropleth.short_number(number)
    if reason and not restricted:
        return f"{text} (not shown to other roles)"
    return text


def _aria(name: str, value: str) -> dict[str, Any]:
    """An aria-* attribute for a Dash HTML component (they take any aria-* keyword)."""
    return {f"aria-{name}": value}


def region_table(
    data: AtlasData, version: int, level: int, filters: Filters, role: str, column: str, descending: bool
) -> html.Div:
    frame = ordered(rows(data, version, level, filters, role), column, descending)
    restricted = disclosure.is_restricted(role)
    headers = []
    for key in COLUMNS:
        label = TEXT_COLUMNS.get(key) or vocab.METRICS[key][0]
        unit = "" if key in TEXT_COLUMNS else vocab.METRICS[key][1]
        state = ("descending" if descending else "ascending") if key == column else "none"
        headers.append(
            html.Th(
                html.Button(
                    [
                        label,
                        html.Br() if unit else "",
                        html.Small(unit, className="fw-normal text-muted") if unit else "",
                        html.Span(" ▼" if descending else " ▲", **_aria("hidden", "true"))
                        if key == column
                        else "",
                    ],
                    id={"type": "sort", "column": key},
                    className="btn btn-link p-0 atlas-sort",
                    title=f"Sort by {label.lower()}",
                ),
                scope="col",
                **_aria("sort", state),
            )
        )
    body = []
    for record in frame.to_dict("records"):
        cells = [html.Th(record["name"], scope="row"), html.Td(record["code"])]
        for metric in METRIC_COLUMNS:
            reason = str(record.get(disclosure.withheld_column(metric)) or "")
            cells.append(
                html.Td(cell_text(metric, record.get(metric), reason, restricted), className="text-end")
            )
        body.append(html.Tr(cells))
    caption = (
        f"NUTS {version} level {level} regions of the surveyed countries ({len(frame):,}), "
        f"{filters.describe()}; figures as your role may see them"
    )
    return html.Div(
        html.Table(
            [html.Caption(caption), html.Thead(html.Tr(headers)), html.Tbody(body)],
            className="table table-sm table-striped atlas-region-table",
            id="region-table-element",
        ),
        className="table-responsive",
    )
