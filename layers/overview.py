"""Pictures of the bottleneck overview: the stage x bottleneck and country x bottleneck heatmaps,
and the classes and hover lines of its two small maps.

Inputs are released figures (NaN where the role does not see a figure, with the reason code
beside it); nothing here decides what is shown. The small maps colour the shapes the browser
already holds (the regions GeoJSON of the version and level), so an update sends one class and
one hover text per region, never a shape. No dash import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from geodata.disclosure import reason_text, withheld_column
from layers import choropleth

#: What a withheld cell shows (Eurostat's flag for a confidential figure).
WITHHELD_MARK = "c"
#: Marks an official's figure that other roles do not see.
OFFICIAL_MARK = "*"
WITHHELD_COLOUR = choropleth.WITHHELD_COLOUR
#: ColorBrewer YlGnBu from white (zero) to dark blue, as the main map.
SCALE = [[0.0, "#ffffff"], *[[(i + 1) / 8, colour] for i, colour in enumerate(choropleth.SEQUENTIAL[1:])]]


def _why(code: str) -> str:
    return reason_text(code).removeprefix("confidential: ") or "confidential"


def cell_texts(
    values: np.ndarray, reasons: np.ndarray, restricted: bool, unit: str = "sites reporting"
) -> tuple[list[list[str]], list[list[str]]]:
    """What each cell shows and says on hover: the count; a withheld one 'c' and why; an
    official's figure that other roles do not see marked '*' with why."""
    shown, hover = [], []
    for row_values, row_reasons in zip(values, reasons, strict=True):
        texts, lines = [], []
        for value, reason in zip(row_values, row_reasons, strict=True):
            if np.isnan(value):
                withheld = bool(reason)
                texts.append(WITHHELD_MARK if withheld else "")
                lines.append(f"withheld ({_why(reason)})" if withheld else "no data")
                continue
            number = f"{round(float(value)):,}"
            mark = OFFICIAL_MARK if reason and not restricted else ""
            texts.append(number + mark)
            note = f" · not shown to other roles ({_why(reason)})" if mark else ""
            lines.append(f"{number} {unit}{note}")
        shown.append(texts)
        hover.append(lines)
    return shown, hover


def heatmap(
    row_codes: Sequence[str],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: np.ndarray,
    reasons: np.ndarray,
    restricted: bool,
    *,
    title: str,
    unit: str = "sites reporting",
) -> go.Figure:
    """A heatmap of counts (rows x columns), withheld cells grey with 'c' and the reason on hover.

    ``values``: float (NaN where not shown), ``reasons``: reason codes ('' when none), both
    (rows, columns). Each cell carries its row code as customdata (a click picks the row)."""
    values = np.asarray(values, dtype=float)
    reasons = np.asarray(reasons, dtype=str)
    if values.shape != (len(row_codes), len(column_labels)) or reasons.shape != values.shape:
        raise ValueError(
            f"values and reasons must be {len(row_codes)} x {len(column_labels)}; got {values.shape}, "
            f"{reasons.shape}"
        )
    texts, lines = cell_texts(values, reasons, restricted, unit)
    hover = [
        [f"{row}<br>{column}: {line}" for column, line in zip(column_labels, row_lines, strict=True)]
        for row, row_lines in zip(row_labels, lines, strict=True)
    ]
    custom = [[code] * len(column_labels) for code in row_codes]
    withheld = np.isnan(values) & (reasons != "")
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    common = {
        "x": list(column_labels),
        "y": list(row_labels),
        "texttemplate": "%{text}",
        "hovertext": hover,
        "hovertemplate": "%{hovertext}<extra></extra>",
        "customdata": custom,
        "xgap": 1,
        "ygap": 1,
        "hoverongaps": False,
    }
    # each trace writes only its own cells' text (a trace writes text over its gaps too)
    shown = go.Heatmap(
        z=[[None if np.isnan(v) else float(v) for v in row] for row in values],
        text=[
            [t if not w else "" for t, w in zip(r, ws, strict=True)]
            for r, ws in zip(texts, withheld, strict=True)
        ],
        colorscale=SCALE,
        zmin=0,
        zmax=max(top, 1.0),
        colorbar={"title": {"text": unit}, "thickness": 12},
        name=title,
        **common,
    )
    hidden = go.Heatmap(
        z=[[1.0 if w else None for w in row] for row in withheld],
        text=[
            [t if w else "" for t, w in zip(r, ws, strict=True)]
            for r, ws in zip(texts, withheld, strict=True)
        ],
        colorscale=[[0.0, WITHHELD_COLOUR], [1.0, WITHHELD_COLOUR]],
        showscale=False,
        name="withheld",
        **common,
    )
    figure = go.Figure([shown, hidden])
    figure.update_layout(
        height=90 + 26 * len(row_codes),
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        xaxis={"side": "top", "tickangle": -35, "fixedrange": True},
        yaxis={"autorange": "reversed", "fixedrange": True},
        plot_bgcolor="white",
        font={"size": 11},
    )
    return figure


def region_tips(
    order: Sequence[str],
    table: pd.DataFrame,
    metric: str,
    restricted: bool,
    extra: Mapping[str, str] | None = None,
) -> list[str]:
    """One hover text per region of ``order`` (lines joined by newlines; '' where the release has
    no row): the released figure or 'withheld (why)', and ``extra[code]`` below it."""
    reasons = table[withheld_column(metric)].reindex(list(order)).fillna("").astype(str).to_numpy()
    values = table[metric].reindex(list(order)).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    present = pd.Index(list(order)).isin(table.index)
    out = []
    for code, value, reason, here in zip(order, values, reasons, present, strict=True):
        if not here:
            out.append("")
            continue
        if np.isnan(value):
            line = f"withheld ({_why(reason)})" if reason else "no data"
        else:
            line = choropleth.format_value(metric, float(value))
            if reason and not restricted:
                line += f" · not shown to other roles ({_why(reason)})"
        more = (extra or {}).get(code)
        out.append(f"{line}\n{more}" if more else line)
    return out


def region_hideout(
    table: pd.DataFrame,
    order: Sequence[str],
    metric: str,
    key: str,
    restricted: bool,
    bounds: list[list[float]],
    extra: Mapping[str, str] | None = None,
    k: int = 5,
) -> tuple[dict[str, object], list[choropleth.LegendEntry]]:
    """What a small map's regions layer needs (``hideout``: key, one class and one hover text per
    region in ``order``, the class colours, the bounds to fit) and its legend; classes as the
    main map's (quantiles; zero, withheld and no data apart)."""
    result = choropleth.build(table, order, metric, "quantiles", k, withhold=restricted)
    hideout: dict[str, object] = {
        "key": key,
        "cls": result.classes,
        "colors": result.colours,
        "tips": region_tips(order, table, metric, restricted, extra),
        "bounds": bounds,
    }
    return hideout, result.legend
