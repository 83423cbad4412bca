"""Pure builders of what callbacks return: filters from inputs, map payload, cards, legend, info.

Each is a function of the dataset and the inputs; callbacks only unpack, call and return.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import html

from dashboard.data import AtlasData
from dashboard.exports import provenance, regions_table, sites_table, to_csv_bytes
from geodata import disclosure, nuts, vocab
from geodata.aggregate import Filters
from layers import bitset, choropleth, geometry
from layers.choropleth import LegendEntry


def filters_from(
    stages: list[str] | None,
    bottlenecks: list[str] | None,
    platforms: list[str] | None,
    countries: list[str] | None,
    sizes: list[str] | None,
) -> Filters:
    return Filters(
        stages=tuple(stages or ()),
        bottlenecks=tuple(bottlenecks or ()),
        platforms=tuple(platforms or ()),
        countries=tuple(countries or ()),
        sizes=tuple(sizes or ()),
    )


@dataclass(frozen=True)
class MapUpdate:
    regions_url: str
    classes: dict[str, object]  # {key, cls, colors}: what atlas.restyle applies
    legend: html.Div
    cards: list[dbc.Card]
    status: str


def geo_url(kind: str, version: int, level: int | None, etag: str) -> str:
    suffix = f"{version}-{level}" if level is not None else f"{version}"
    return f"/atlas/geo/{kind}-{suffix}.json?v={etag}"


def map_update(
    data: AtlasData, version: int, level: int, metric: str, filters: Filters, scheme: str, k: int, role: str
) -> MapUpdate:
    table = data.regions(version, level, filters, role)
    order = data.region_order(version, level)
    result = choropleth.build(table, order, metric, scheme, k, withhold=disclosure.is_restricted(role))
    url = geo_url("regions", version, level, data.region_geojson(version, level).etag)
    classes = result.payload(data.geometry_key(version, level))
    return MapUpdate(
        url,
        classes,
        legend(metric, result.legend, filters),
        cards(data, version, filters, role),
        status(data, version, role),
    )


def change_update(
    data: AtlasData,
    earlier: AtlasData,
    version: int,
    level: int,
    metric: str,
    filters: Filters,
    k: int,
    role: str,
) -> MapUpdate:
    """The map of the change from round ``earlier`` to round ``data``: both sides are the
    disclosure engine's releases for ``role``, and a change is withheld where either side is."""
    table = choropleth.change_table(
        data.regions(version, level, filters, role), earlier.regions(version, level, filters, role), metric
    )
    order = data.region_order(version, level)
    result = choropleth.build_change(table, order, metric, k, withhold=disclosure.is_restricted(role))
    url = geo_url("regions", version, level, data.region_geojson(version, level).etag)
    label, unit = vocab.METRICS[metric]
    title = html.Div(
        [
            html.Div(f"Change in {label.lower()} since {earlier.round}", className="legend-title"),
            html.Div(unit, className="legend-unit"),
        ]
    )
    body = legend(metric, result.legend, filters)
    return MapUpdate(
        url,
        result.payload(data.geometry_key(version, level)),
        html.Div([title, *body.children[2:]], id="change-legend"),
        cards(data, version, filters, role),
        status(data, version, role),
    )


def change_info(
    data: AtlasData,
    earlier: AtlasData,
    version: int,
    level: int,
    metric: str,
    filters: Filters,
    code: str,
    role: str,
) -> list:
    """Hover text of one region in the comparison view."""
    table = choropleth.change_table(
        data.regions(version, level, filters, role), earlier.regions(version, level, filters, role), metric
    )
    row = table.loc[code] if code in table.index else None
    if isinstance(row, pd.DataFrame):
        row = row.iloc[0]
    name = str(data.names(version).get(code, code))
    lines = choropleth.change_lines(name, code, metric, row, str(earlier.round))
    return [html.Div(lines[0], className="info-title"), *[html.Div(line) for line in lines[1:]]]


def status(data: AtlasData, version: int, role: str = "cluster") -> str:
    """Say that valid sites could not be placed in a region of this NUTS version (so are not
    counted); how many, and the command that says why, only to officials (an exact count of
    all sites would bypass the disclosure engine)."""
    missing = data.unplaced(version)
    if not missing:
        return ""
    if disclosure.is_restricted(role):
        return f"Some sites could not be placed in a NUTS {version} region and are not counted."
    return (
        f"{missing:,} of {len(data.facilities):,} sites could not be placed in a NUTS {version} region and "
        f"are not counted; python -m geodata assign {data.name} --out placed.csv --year {version} says why."
    )


def legend(metric: str, entries: list[LegendEntry], filters: Filters) -> html.Div:
    label, unit = vocab.METRICS[metric]
    rows = [
        html.Div(
            [
                html.I(className=f"swatch swatch-{e.kind}", style={"background": e.colour}),
                html.Span(e.label, className="legend-range"),
                html.Span(f"{e.count:,}", className="legend-count"),
            ],
            className="legend-row",
        )
        for e in entries
        if e.kind == "class" or e.count
    ]
    note = []
    if metric == "specialisation" and not filters.stages:
        note = [html.Div("Select a production stage to see specialisation.", className="legend-note")]
    return html.Div(
        [
            html.Div(f"{label}", className="legend-title"),
            html.Div(unit, className="legend-unit"),
            *rows,
            *note,
        ]
    )


def cards(data: AtlasData, version: int, filters: Filters, role: str) -> list[dbc.Card]:
    """The summary cards: the total cell of the disclosure engine's release."""
    totals, why = data.summary(version, filters, role)
    figures = []
    for title, key, sub in (
        ("Sites", "facilities", "matching the filters"),
        ("Companies", "companies", "with a matching site"),
        ("Countries", "countries", "with a matching site"),
        ("Capacity", "capacity", "doses/month in total"),
        ("Available", "available_capacity", "doses/month free"),
    ):
        value = totals.get(key)
        if value is None:
            figures.append((title, "withheld", disclosure.reason_text(why.get(key, "")) or "confidential"))
        elif key in ("capacity", "available_capacity"):
            figures.append((title, choropleth.short_number(value), sub))
        else:
            figures.append((title, f"{round(value):,}", sub))
    return [
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div(title, className="card-title"),
                    html.Div(value, className="card-value"),
                    html.Small(sub),
                ]
            ),
            className="atlas-card",
            id=f"card-{title.lower()}",
        )
        for title, value, sub in figures
    ]


def region_info(
    data: AtlasData, version: int, level: int, metric: str, filters: Filters, code: str, role: str
) -> list:
    table = data.regions(version, level, filters, role)
    row = table.loc[code] if code in table.index else None
    if isinstance(row, pd.DataFrame):  # region codes are unique; never more than one row
        row = row.iloc[0]
    name = str(data.names(version).get(code, code))
    lines = choropleth.hover_lines(code, name, metric, row, stage_filter=bool(filters.stages))
    return [html.Div(lines[0], className="info-title"), *[html.Div(line) for line in lines[1:]]]


def shown_sites(data: AtlasData, version: int, filters: Filters, role: str) -> tuple[np.ndarray, np.ndarray]:
    """Of the sites ``role`` may see one by one (disclosure.visible_sites), which match the filters.

    Returns the visible sites' positions in the site index and a match flag for each; nothing
    about any other site (not even how many there are) leaves the server.
    """
    visible = data.visible(version, role)
    return visible, data.index(version).mask(filters)[visible]


def sites_url(data: AtlasData, version: int, role: str) -> str:
    """URL of the site points ``role`` may see (the role group names the payload, so a browser
    never reuses one role's cached points for another)."""
    group = "official" if disclosure.group_of(role) == "official" else "listed"
    where = f"round={quote(data.round, safe='')}&" if data.round else ""
    return f"/atlas/geo/sites-{version}.json?{where}v={data.fingerprint}-{group}"


def _count(value: float | None) -> str:
    return "withheld" if value is None else f"{round(value):,}"


def data_line(data: AtlasData, version: int, role: str) -> str:
    """The header's line about the round shown: its name, its sites and companies as ``role``
    may see them, when it was surveyed and published, and the boundaries' source."""
    totals, _why = data.summary(version, Filters(), role)
    name = f"Round {data.round} ({data.name})" if data.round else data.name
    published = f" · published {data.published_at:%d %b %Y}" if data.published_at else ""
    return (
        f"{name} · {_count(totals.get('facilities'))} sites of {_count(totals.get('companies'))} companies · "
        f"{data.survey_period()}{published} · NUTS boundaries: {nuts.SOURCE} · {nuts.ATTRIBUTION}"
    )


def country_options(data: AtlasData) -> list[dict[str, str]]:
    """The country filter's choices: the countries of the round's sites."""
    return [{"label": f"{vocab.EU_MEMBER_STATES.get(c, c)} ({c})", "value": c} for c in data.countries]


def sites_hideout(data: AtlasData, version: int, filters: Filters, role: str) -> dict[str, object]:
    _visible, match = shown_sites(data, version, filters, role)
    return {"bits": bitset.encode(match), "n": int(match.size), **geometry.site_legend()}


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")


def matching_site_rows(data: AtlasData, version: int, filters: Filters, role: str) -> np.ndarray:
    """Positions in the placed table of the sites ``role`` may see that match ``filters``."""
    visible, match = shown_sites(data, version, filters, role)
    return data.index(version).row[visible[match]]


def sites_export(
    data: AtlasData, version: int, filters: Filters, rows: np.ndarray, now: dt.datetime, role: str
) -> tuple[pd.DataFrame, str]:
    """The sites CSV's table for ``rows`` (from :func:`matching_site_rows`) and its file name."""
    meta = provenance(data.name, version, filters, role, now, data.round)
    table = sites_table(data.placed(version), list(rows), role, data.names(version), meta)
    return table, f"sites_{data.stem}_nuts{version}_{_stamp(now)}.csv"


def regions_export(
    data: AtlasData, version: int, level: int, filters: Filters, now: dt.datetime, role: str
) -> tuple[pd.DataFrame, str]:
    """The regions CSV's table (the disclosure engine's release for ``role``) and its file name."""
    meta = provenance(data.name, version, filters, role, now, data.round)
    table = regions_table(data.regions(version, level, filters, role), level, data.names(version), meta)
    return table, f"regions_{data.stem}_nuts{version}_level{level}_{_stamp(now)}.csv"


def export_sites(
    data: AtlasData, version: int, filters: Filters, now: dt.datetime, role: str
) -> tuple[bytes, str]:
    rows = matching_site_rows(data, version, filters, role)
    table, name = sites_export(data, version, filters, rows, now, role)
    return to_csv_bytes(table), name


def export_regions(
    data: AtlasData, version: int, level: int, filters: Filters, now: dt.datetime, role: str
) -> tuple[bytes, str]:
    table, name = regions_export(data, version, level, filters, now, role)
    return to_csv_bytes(table), name
