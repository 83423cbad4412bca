"""The table beside the map: the same regions and figures, sortable, for reading numbers.

Every figure is the disclosure engine's release for the role (``AtlasData.regions``), as on the
map: a withheld figure reads "withheld" with its reason, never zero, and sorting uses only what
the role sees (withheld figures sort last, by name), so the order says nothing about them.
"""

from __future__ import annotations

import math

import pandas as pd
from dash import dcc
from markupsafe import escape

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


def region_table(data: AtlasData, version: int, level: int, filters: Filters, role: str) -> dcc.Markdown:
    """The table as one HTML fragment (one component: the browser draws 1,500 rows at once; a
    component per cell took minutes). Each cell carries its sort key (the released figure, empty
    where withheld), which the header buttons sort by in the browser (assets/atlas.js)."""
    frame = ordered(rows(data, version, level, filters, role), "name", False)
    restricted = disclosure.is_restricted(role)
    heads = []
    for i, key in enumerate(COLUMNS):
        label = TEXT_COLUMNS.get(key) or vocab.METRICS[key][0]
        unit = (
            ""
            if key in TEXT_COLUMNS
            else f'<br/><small class="fw-normal text-muted">{escape(vocab.METRICS[key][1])}</small>'
        )
        kind = "text" if key in TEXT_COLUMNS else "number"
        state = "ascending" if key == "name" else "none"
        button = (
            f'<button type="button" class="btn btn-link p-0 atlas-sort" data-column="{i}" data-kind="{kind}" '
            f'title="Sort by {escape(label.lower())}">{escape(label)}</button>'
        )
        heads.append(f'<th scope="col" aria-sort="{state}">{button}{unit}</th>')
    body = []
    for record in frame.to_dict("records"):
        cells = [
            f'<th scope="row" data-sort="{escape(record["name"])}">{escape(record["name"])}</th>',
            f'<td data-sort="{escape(record["code"])}">{escape(record["code"])}</td>',
        ]
        for metric in METRIC_COLUMNS:
            value = record.get(metric)
            reason = str(record.get(disclosure.withheld_column(metric)) or "")
            known = not (value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)))
            key = f"{float(value)!r}" if known else ""  # type: ignore[arg-type]
            text = cell_text(metric, value, reason, restricted)
            cells.append(f'<td class="text-end" data-sort="{key}">{escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = (
        f"NUTS {version} level {level} regions of the surveyed countries ({len(frame):,}), "
        f"{filters.describe()}; figures as your role may see them. Sort with the column headers."
    )
    table = (
        f'<table class="table table-sm table-striped atlas-region-table" id="region-table-element">'
        f"<caption>{escape(caption)}</caption><thead><tr>{''.join(heads)}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    return dcc.Markdown(
        table, dangerously_allow_html=True, className="table-responsive", id="region-table-html"
    )
