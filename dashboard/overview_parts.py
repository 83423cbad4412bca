"""What the bottleneck overview shows, built from an :class:`~dashboard.overview.Overview`: its
notes, the two heatmaps, the chosen bottleneck's maps and regions, the ranked list, and the CSV
exports. Every figure in them is the overview's (released for the role, or measured from the
sites the role sees one by one); nothing here reads the sites. Pure functions, no callbacks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import html

from dashboard import overview, views
from dashboard.data import AtlasData
from dashboard.exports import provenance
from dashboard.ids import Ids
from dashboard.overview import Overview
from dashboard.tables import cell_text
from geodata import nuts, vocab
from geodata.aggregate import Filters
from layers import choropleth, geometry
from layers import overview as pictures

#: Rows of the "where it is reported most" table (the map shows every region).
NEED_ROWS = 12
ANY_STAGE = "All sites (any stage)"
NOT_POLICY = "no production stage relieves it: a policy matter"


def preparing(state: overview.Progress | None, data: AtlasData, version: int) -> list[Any]:
    """The "being prepared" message, with progress."""
    what = f"round {data.round}" if data.round else data.name
    if state is not None and state.error:
        return [
            html.P(
                "The bottleneck overview could not be prepared (the error is in the server's log). "
                "Switch to another view and back to try again.",
                className="text-danger",
            )
        ]
    if state is None:
        return [html.P(f"Preparing the bottleneck overview of {what} (NUTS {version}) for your role…")]
    left = state.seconds_left()
    eta = f", about {max(1, round(left)):,} s left" if left is not None else ""
    return [
        html.P(
            f"Preparing the bottleneck overview of {what} (NUTS {version}) for your role: "
            f"{state.done:,} of {state.total:,} filter settings done{eta}. "
            "It is kept once built, so this happens once per round."
        )
    ]


def note(found: Overview) -> list[Any]:
    """What the figures are, and which sites the distances use, for the role."""
    if found.restricted:
        figures = (
            "Figures are the safe release for your role, as on the map: a count from too few "
            "companies, or one that would let another be worked out, is withheld (grey cells marked "
            f"“{pictures.WITHHELD_MARK}”; hover for why), never shown as 0; the others carry a small "
            "noise, so parts need not add up."
        )
    else:
        figures = (
            "You see every figure exactly. A figure marked “*” is withheld from the other roles "
            "(hover for why)."
        )
    return [
        html.P(figures),
        html.P(
            "A site may offer several stages: each cell counts the sites reporting the bottleneck "
            "among the sites offering the stage, so a row does not add up across stages."
        ),
        html.P(f"Distances and “relief within” are measured to {found.sites_used}."),
    ]


def _values(figures: list[list[Any]]) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([[np.nan if f.value is None else f.value for f in row] for row in figures], dtype=float)
    reasons = np.array([[f.reason for f in row] for row in figures], dtype=object).astype(str)
    return values, reasons


def matrix_figure(found: Overview) -> go.Figure:
    """Sites reporting each bottleneck (rows) among the sites offering each stage (columns)."""
    codes = list(vocab.BOTTLENECKS)
    figures = [[found.reports[b], *(found.matrix[(s, b)] for s in vocab.STAGES)] for b in codes]
    values, reasons = _values(figures)
    return pictures.heatmap(
        codes,
        list(vocab.BOTTLENECKS.values()),
        [ANY_STAGE, *vocab.STAGES.values()],
        values,
        reasons,
        found.restricted,
        title="sites reporting the bottleneck among sites offering the stage",
    )


def countries_figure(found: Overview) -> go.Figure:
    """Sites reporting each bottleneck (rows) per country (columns)."""
    codes = list(vocab.BOTTLENECKS)
    figures = [[found.by_country[b][c] for c in found.countries] for b in codes]
    values, reasons = _values(figures)
    return pictures.heatmap(
        codes,
        list(vocab.BOTTLENECKS.values()),
        list(found.countries),
        values,
        reasons,
        found.restricted,
        title="sites reporting the bottleneck, by country",
    )


@dataclass(frozen=True)
class Chosen:
    """What the page shows for the chosen bottleneck."""

    header: list[Any]
    regions_url: str
    need: dict[str, object]
    need_legend: Any
    supply_hidden: bool
    supply: dict[str, object]
    supply_legend: Any
    need_table: Any


def _km(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} km"


def chosen(data: AtlasData, found: Overview, bottleneck: str) -> Chosen:
    """The chosen bottleneck: who reports it where (need), who could relieve it where (supply),
    and how far need is from the nearest relieving site."""
    if bottleneck not in vocab.BOTTLENECKS:
        raise ValueError(f"bottleneck must be one of {', '.join(vocab.BOTTLENECKS)}; got {bottleneck!r}")
    stage = vocab.BOTTLENECK_RELIEF[bottleneck]
    version, level = found.version, found.level
    order = list(found.regions)
    key = data.geometry_key(version, level)
    url = views.geo_url("regions", version, level, data.region_geojson(version, level).etag)
    extra: dict[str, str] = {}
    if stage is not None:
        near = found.nearest_km[stage]
        extra = {
            code: f"nearest site offering {vocab.STAGES[stage]}: {_km(float(km))}"
            for code, km in zip(order, near, strict=True)
            if np.isfinite(km)
        }
    need_table = found.need[bottleneck]
    need, need_entries = pictures.region_hideout(
        need_table, order, "bottleneck_reports", key, found.restricted, geometry.EUROPE_BOUNDS, extra
    )
    supply: dict[str, object] = {}
    supply_legend: Any = []
    if stage is not None:
        supply, supply_entries = pictures.region_hideout(
            found.supply[stage], order, "facilities", key, found.restricted, geometry.EUROPE_BOUNDS
        )
        supply_legend = views.legend("facilities", supply_entries, Filters(stages=(stage,)))
    relieved: list[Any] = (
        [html.Span("Relieved by the stage "), html.Strong(vocab.STAGES[stage])]
        if stage is not None
        else [
            html.Strong("No production stage relieves it: "),
            "it is a policy matter, so there is no supply map.",
        ]
    )
    header = [
        html.H3(vocab.BOTTLENECKS[bottleneck], className="h6 mb-1"),
        html.P(relieved, className="small mb-1"),
        html.P(
            [
                "Sites reporting it: ",
                html.Strong(cell_text("bottleneck_reports", found.reports[bottleneck].value,
                                      found.reports[bottleneck].reason, found.restricted)),
            ],
            className="small mb-1",
        ),
    ]  # fmt: skip
    return Chosen(
        header=header,
        regions_url=url,
        need=need,
        need_legend=views.legend("bottleneck_reports", need_entries, Filters(bottlenecks=(bottleneck,))),
        supply_hidden=stage is None,
        supply=supply,
        supply_legend=supply_legend,
        need_table=need_regions_table(data, found, bottleneck),
    )


def need_regions_table(data: AtlasData, found: Overview, bottleneck: str) -> html.Div:
    """The regions where the bottleneck is reported most, with the distance to relief."""
    stage = vocab.BOTTLENECK_RELIEF[bottleneck]
    rows = overview.need_regions(found, bottleneck, data.names(found.version))
    if not rows:
        return html.Div(
            html.P("No region reports it (that your role may see).", className="small text-muted")
        )
    distance = f"Nearest site offering {vocab.STAGES[stage]}" if stage is not None else "Nearest relief"
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in ("Region", "Sites reporting it", distance)]))
    body = [
        html.Tr(
            [
                html.Th(f"{row.name} ({row.code})", scope="row"),
                html.Td(
                    cell_text("bottleneck_reports", row.reports.value, row.reports.reason, found.restricted)
                ),
                html.Td(_km(row.nearest_km) if stage is not None else NOT_POLICY),
            ]
        )
        for row in rows[:NEED_ROWS]
    ]
    caption = (
        f"Where it is reported most (NUTS {found.version} level {found.level}); distances from each "
        f"region's point to {found.sites_used}."
    )
    more = len(rows) - NEED_ROWS
    return html.Div(
        [
            html.Table(
                [html.Caption(caption), head, html.Tbody(body)],
                className="table table-sm atlas-overview-table",
                id="overview-need-regions-table",
            ),
            html.P(f"{more:,} more regions report it: see the map.", className="small text-muted")
            if more > 0
            else None,
        ]
    )


def _data_code(code: str) -> dict[str, Any]:
    return {"data-code": code}


def _rank_texts(rows: list[overview.Ranked], by: str) -> list[str]:
    """Rank numbers for the rows whose ranking figure the role sees; '–' for the others."""
    out, n = [], 0
    for row in rows:
        known = row.within is not None if by == "relief" else row.reports.value is not None
        n += known
        out.append(str(n) if known else "–")
    return out


def ranked_table(found: Overview, km: int, by: str) -> html.Table:
    """Bottlenecks ranked ``by`` (overview.RANK_BY), each a button that shows it on the maps."""
    rows = overview.ranked(found, km, by)
    official = not found.restricted
    within = (
        f"Listed sites offering it within {km:,} km of a listed site reporting it"
        if found.restricted
        else f"Of those, within {km:,} km of another site reporting it"
    )
    heads = ["Rank", "Bottleneck", "Relieved by", "Sites reporting it", "Sites offering that stage", within]
    if official:
        heads.append(f"Their available capacity (within {km:,} km)")
    body = []
    for rank, row in zip(_rank_texts(rows, by), rows, strict=True):
        button = html.Button(
            row.label,
            id={"type": Ids.OVERVIEW_PICK, "code": row.bottleneck},
            className="btn btn-link p-0 text-start atlas-overview-pick",
            title="Show it on the maps",
            n_clicks=0,
        )
        relieving = (
            cell_text("facilities", row.relieving.value, row.relieving.reason, found.restricted)
            if row.relieving is not None
            else "–"
        )
        cells = [
            html.Td(rank),
            html.Th(button, scope="row"),
            html.Td(vocab.STAGES[row.stage] if row.stage else NOT_POLICY),
            html.Td(cell_text("bottleneck_reports", row.reports.value, row.reports.reason, found.restricted)),
            html.Td(relieving),
            html.Td("–" if row.within is None else f"{row.within:,}"),
        ]
        if official:
            capacity = (
                "–" if row.capacity is None else choropleth.format_value("available_capacity", row.capacity)
            )
            cells.append(html.Td(capacity))
        body.append(html.Tr(cells, **_data_code(row.bottleneck)))
    caption = f"Bottlenecks, {overview.RANK_BY[by]}; relief measured to {found.sites_used}." + (
        " Figures your role does not see rank last." if found.restricted else ""
    )
    return html.Table(
        [
            html.Caption(caption),
            html.Thead(html.Tr([html.Th(h, scope="col") for h in heads])),
            html.Tbody(body),
        ],
        className="table table-sm atlas-overview-table",
        id="overview-ranked-table",
    )


# --- exports ----------------------------------------------------------------------------------------


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")


def _meta(data: AtlasData, found: Overview, role: str, now: dt.datetime) -> dict[str, str]:
    return provenance(data.name, found.version, Filters(), role, now, data.round)


def matrix_export(data: AtlasData, found: Overview, role: str, now: dt.datetime) -> tuple[pd.DataFrame, str]:
    """The matrix and the countries as one table: a row per figure, with the filter setting whose
    release it is (``filters``), the reason any is withheld, and provenance."""
    records = []
    for bottleneck, stage, country, figure, filters in overview.cells(found):
        records.append(
            {
                "bottleneck": bottleneck,
                "bottleneck_label": vocab.BOTTLENECKS[bottleneck],
                "stage": stage or "",
                "stage_label": vocab.STAGES[stage] if stage else ANY_STAGE,
                "country": country or "",
                "sites_reporting": figure.value if figure.value is not None else np.nan,
                "sites_reporting_withheld": figure.reason_text,
                "filters": filters.describe() + (f" (country {country} of the table)" if country else ""),
            }
        )
    table = pd.DataFrame.from_records(records)
    for column, value in _meta(data, found, role, now).items():
        if column != "filters":
            table[column] = value
    table["distances_to"] = found.sites_used
    return table, f"bottlenecks_matrix_{data.stem}_nuts{found.version}_{_stamp(now)}.csv"


def ranked_export(
    data: AtlasData, found: Overview, km: int, by: str, role: str, now: dt.datetime
) -> tuple[pd.DataFrame, str]:
    """The ranked list as a table: the released counts with the reason any is withheld, the relief
    within ``km`` (officials: with its available capacity), which sites it was measured to, and
    provenance."""
    rows = overview.ranked(found, km, by)
    records = []
    for rank, row in zip(_rank_texts(rows, by), rows, strict=True):
        record: dict[str, object] = {
            "rank": rank,
            "bottleneck": row.bottleneck,
            "bottleneck_label": row.label,
            "relieved_by": row.stage or "",
            "sites_reporting": row.reports.value if row.reports.value is not None else np.nan,
            "sites_reporting_withheld": row.reports.reason_text,
            "relieving_sites": (
                row.relieving.value
                if row.relieving is not None and row.relieving.value is not None
                else np.nan
            ),
            "relieving_sites_withheld": row.relieving.reason_text if row.relieving is not None else "",
            "within_km": km,
            "relieving_sites_within": np.nan if row.within is None else float(row.within),
        }
        if not found.restricted:
            record["available_capacity_within"] = np.nan if row.capacity is None else row.capacity
        records.append(record)
    table = pd.DataFrame.from_records(records)
    table["ranked_by"] = overview.RANK_BY[by]
    table["distances_to"] = found.sites_used
    for column, value in _meta(data, found, role, now).items():
        table[column] = value
    return table, f"bottlenecks_ranked_{data.stem}_nuts{found.version}_{km}km_{_stamp(now)}.csv"


def attribution() -> html.Div:
    return html.Div(nuts.ATTRIBUTION, className="small text-muted atlas-overview-attribution")
