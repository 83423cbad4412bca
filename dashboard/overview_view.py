"""The bottleneck overview beside the map and the table: where does it hurt, and who can help?

``layout()`` is the view (pure: no data); ``register(app, atlas)`` wires its callbacks. The
callbacks read the round (``Ids.ROUND``) and the NUTS version (``Ids.VERSION``) of the page, the
role from the server's session (``auth.current_role``), never from the browser, and compute
only while the view is shown. The overview is built once per round, version and role group
(``dashboard.overview``); until then the view says it is being prepared, with progress, polling
once a second. Every figure comes from ``dashboard.overview`` (the disclosure engine's releases
for the role, distances to the sites the role sees one by one).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash_bootstrap_components as dbc
import dash_leaflet as dl
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import audit, inputs, overview, overview_parts
from dashboard.data import Atlas, AtlasData
from dashboard.exports import to_csv_bytes
from dashboard.guards import chosen_round, signed_in_role
from dashboard.ids import Ids
from geodata import vocab
from layers import geometry

VIEW = "bottlenecks"  # the view switch's value for this view
POLL_MS = 1000
MAP_HEIGHT = "330px"


# --- layout -------------------------------------------------------------------------------------


def _small_map(map_id: str, layer_id: str) -> dl.MapContainer:
    (south, west), (north, east) = geometry.EUROPE_BOUNDS
    return dl.MapContainer(
        id=map_id,
        bounds=geometry.EUROPE_BOUNDS,
        center=[(south + north) / 2, (west + east) / 2],
        zoom=3,
        zoomSnap=0.25,
        minZoom=2,
        maxZoom=9,
        preferCanvas=True,
        scrollWheelZoom=False,
        attributionControl=False,
        style={"height": MAP_HEIGHT, "width": "100%", "background": "#d5e6f0"},
        children=[
            dl.GeoJSON(
                id=layer_id,
                url=None,
                hideout={},
                style={"variable": "atlasOverview.regionStyle"},
                hoverStyle={"variable": "atlas.regionHover"},
                onEachFeature={"variable": "atlasOverview.regionEach"},
            )
        ],
    )


def _label(text: str) -> dict[str, Any]:
    return {"aria-label": text}


def _map_figure(title: str, map_id: str, layer_id: str, legend_id: str, **kwargs: Any) -> html.Figure:
    return html.Figure(
        [
            html.Figcaption(title, className="fw-semibold small"),
            html.Div(_small_map(map_id, layer_id), className="atlas-overview-map", **_label(title)),
            html.Div(id=legend_id, className="atlas-overview-legend small"),
        ],
        className="atlas-overview-figure",
        **kwargs,
    )


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config={"displayModeBar": False}, className="atlas-chart")


def _button(text: str, button_id: str) -> html.Button:
    return html.Button(text, id=button_id, className="btn btn-sm btn-outline-primary")


def _matrix_sections() -> list[html.Section]:
    return [
        html.Section(
            [
                html.H3("Sites reporting each bottleneck, by the stage they offer", className="h6"),
                _graph(Ids.OVERVIEW_MATRIX),
                _button("Download matrix and countries (CSV)", Ids.OVERVIEW_EXPORT_MATRIX),
            ],
            **_label("Bottlenecks by stage"),
        ),
        html.Section(
            [
                html.H3("Sites reporting each bottleneck, by country", className="h6 mt-3"),
                _graph(Ids.OVERVIEW_COUNTRIES),
            ],
            **_label("Bottlenecks by country"),
        ),
    ]


def _chosen_section() -> html.Section:
    options = [{"label": label, "value": code} for code, label in vocab.BOTTLENECKS.items()]
    need = _map_figure(
        "Where it is reported (sites reporting it)",
        Ids.OVERVIEW_NEED_MAP,
        Ids.OVERVIEW_NEED_REGIONS,
        Ids.OVERVIEW_NEED_LEGEND,
    )
    supply = _map_figure(
        "Who could relieve it (sites offering the relieving stage)",
        Ids.OVERVIEW_SUPPLY_MAP,
        Ids.OVERVIEW_SUPPLY_REGIONS,
        Ids.OVERVIEW_SUPPLY_LEGEND,
        id=Ids.OVERVIEW_SUPPLY,
    )
    return html.Section(
        [
            html.H3("One bottleneck: need and relief", className="h6 mt-3"),
            dbc.Label("Bottleneck", html_for=Ids.OVERVIEW_BOTTLENECK, className="filter-label"),
            dcc.Dropdown(
                id=Ids.OVERVIEW_BOTTLENECK,
                options=options,
                value=None,
                clearable=False,
                placeholder="Pick a bottleneck",
                className="mb-2",
            ),
            html.Div(id=Ids.OVERVIEW_CHOSEN),
            html.Div([need, supply], className="atlas-overview-maps"),
            overview_parts.attribution(),
            html.Div(id=Ids.OVERVIEW_NEED_TABLE, className="mt-2"),
        ],
        **_label("One bottleneck"),
    )


def _ranked_section() -> html.Section:
    distances = [{"label": f"{km} km", "value": km} for km in overview.DISTANCES_KM]
    orders = [{"label": text, "value": key} for key, text in overview.RANK_BY.items()]
    controls = [
        dbc.Label("Relief within", html_for=Ids.OVERVIEW_DISTANCE, className="filter-label me-2"),
        dbc.RadioItems(
            id=Ids.OVERVIEW_DISTANCE, options=distances, value=overview.DEFAULT_DISTANCE_KM, inline=True
        ),
        dbc.Label("Rank by", html_for=Ids.OVERVIEW_RANK_BY, className="filter-label ms-3 me-2"),
        dbc.RadioItems(id=Ids.OVERVIEW_RANK_BY, options=orders, value="reports", inline=True),
    ]
    return html.Section(
        [
            html.H3("Bottlenecks ranked", className="h6 mt-3"),
            html.Div(controls, className="d-flex flex-wrap align-items-center"),
            html.Div(id=Ids.OVERVIEW_RANKED, className="table-responsive"),
            _button("Download ranked list (CSV)", Ids.OVERVIEW_EXPORT_RANKED),
        ],
        **_label("Bottlenecks ranked"),
    )


def layout() -> html.Div:
    """The view: the status while being prepared, then the matrix, the countries, the chosen
    bottleneck's two maps and regions, and the ranked list, each with its controls."""
    body = [
        html.Div(id=Ids.OVERVIEW_NOTE, className="small atlas-overview-note"),
        *_matrix_sections(),
        _chosen_section(),
        _ranked_section(),
        dcc.Download(id=Ids.OVERVIEW_DOWNLOAD_MATRIX),
        dcc.Download(id=Ids.OVERVIEW_DOWNLOAD_RANKED),
    ]
    return html.Div(
        [
            html.H2("Bottlenecks: where does it hurt, and who can help?", className="h5"),
            dcc.Interval(id=Ids.OVERVIEW_POLL, interval=POLL_MS, disabled=True),
            dcc.Store(id=Ids.OVERVIEW_READY),
            html.Div(id=Ids.OVERVIEW_STATUS, className="atlas-overview-status", role="status"),
            html.Div(body, id=Ids.OVERVIEW_BODY, hidden=True),
        ],
        className="atlas-overview",
    )


# --- callbacks ----------------------------------------------------------------------------------


def _built(atlas: Atlas, round_: object, version: object, role: str) -> tuple[AtlasData, overview.Overview]:
    """The round's overview for ``role`` if it is built (never starts a build)."""
    data, _notices = chosen_round(atlas, round_)
    got, _why = inputs.parse_version(version)
    found = overview.cached(data, got, role)
    if found is None:
        raise PreventUpdate
    return data, found


def parse_distance(value: object) -> tuple[int, str | None]:
    """A distance of overview.DISTANCES_KM (the default, with a notice, for anything else)."""
    if type(value) is int and value in overview.DISTANCES_KM:
        return value, None
    return overview.DEFAULT_DISTANCE_KM, (
        f"The distance must be one of {', '.join(map(str, overview.DISTANCES_KM))} km; "
        f"showing {overview.DEFAULT_DISTANCE_KM} km."
    )


def parse_rank_by(value: object) -> str:
    return value if isinstance(value, str) and value in overview.RANK_BY else "reports"


def parse_bottleneck(value: object) -> str | None:
    return value if isinstance(value, str) and value in vocab.BOTTLENECKS else None


def clicked_bottleneck(click: object) -> str | None:
    """The bottleneck of a clicked heatmap cell (its customdata), if it is one."""
    points = click.get("points") if isinstance(click, dict) else None
    first = points[0] if isinstance(points, list) and points and isinstance(points[0], dict) else {}
    return parse_bottleneck(first.get("customdata"))


def register(app: Dash, atlas: Atlas) -> None:
    """Wire the bottleneck overview's callbacks to the rounds of ``atlas``."""

    @app.callback(
        Output(Ids.OVERVIEW_STATUS, "children"),
        Output(Ids.OVERVIEW_POLL, "disabled"),
        Output(Ids.OVERVIEW_READY, "data"),
        Output(Ids.OVERVIEW_BODY, "hidden"),
        Input(Ids.VIEW, "value"),
        Input(Ids.ROUND, "value"),
        Input(Ids.VERSION, "value"),
        Input(Ids.OVERVIEW_POLL, "n_intervals"),
    )
    def overview_status(view, round_, version, _ticks):
        """While the view is shown: the overview's state, polling until it is built."""
        role = signed_in_role()
        if view != VIEW:
            return no_update, True, no_update, no_update
        data, notices = chosen_round(atlas, round_)
        got, why = inputs.parse_version(version)
        notices += [why] if why else []
        found = overview.prepare(data, got, role, retry=ctx.triggered_id != Ids.OVERVIEW_POLL)
        if found is None:
            state = overview.progress(data, got, role)
            failed = state is not None and state.error is not None
            return [*overview_parts.preparing(state, data, got), *notices], failed, None, True
        return " ".join(notices), True, {"round": data.round, "version": got}, False

    @app.callback(
        Output(Ids.OVERVIEW_MATRIX, "figure"),
        Output(Ids.OVERVIEW_COUNTRIES, "figure"),
        Output(Ids.OVERVIEW_NOTE, "children"),
        Output(Ids.OVERVIEW_BOTTLENECK, "value", allow_duplicate=True),
        Input(Ids.OVERVIEW_READY, "data"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        State(Ids.OVERVIEW_BOTTLENECK, "value"),
        prevent_initial_call=True,
    )
    def overview_figures(ready, round_, version, chosen):
        role = signed_in_role()
        if not ready:
            raise PreventUpdate
        _data, found = _built(atlas, round_, version, role)
        pick = no_update if parse_bottleneck(chosen) else overview.default_bottleneck(found)
        return (
            overview_parts.matrix_figure(found),
            overview_parts.countries_figure(found),
            overview_parts.note(found),
            pick,
        )

    @app.callback(
        Output(Ids.OVERVIEW_BOTTLENECK, "value", allow_duplicate=True),
        Input(Ids.OVERVIEW_MATRIX, "clickData"),
        Input(Ids.OVERVIEW_COUNTRIES, "clickData"),
        Input({"type": Ids.OVERVIEW_PICK, "code": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def overview_pick(matrix_click, country_click, _clicks):
        """A clicked matrix or country cell, or a ranked row's button, picks its bottleneck."""
        signed_in_role()
        trigger = ctx.triggered_id
        if isinstance(trigger, dict):
            clicked = any(t.get("value") for t in ctx.triggered if isinstance(t, dict))
            code = parse_bottleneck(trigger.get("code")) if clicked else None
        else:
            code = clicked_bottleneck(matrix_click if trigger == Ids.OVERVIEW_MATRIX else country_click)
        if code is None:
            raise PreventUpdate
        return code

    @app.callback(
        Output(Ids.OVERVIEW_CHOSEN, "children"),
        Output(Ids.OVERVIEW_NEED_REGIONS, "url"),
        Output(Ids.OVERVIEW_NEED_REGIONS, "hideout"),
        Output(Ids.OVERVIEW_NEED_LEGEND, "children"),
        Output(Ids.OVERVIEW_SUPPLY, "hidden"),
        Output(Ids.OVERVIEW_SUPPLY_REGIONS, "url"),
        Output(Ids.OVERVIEW_SUPPLY_REGIONS, "hideout"),
        Output(Ids.OVERVIEW_SUPPLY_LEGEND, "children"),
        Output(Ids.OVERVIEW_NEED_TABLE, "children"),
        Input(Ids.OVERVIEW_BOTTLENECK, "value"),
        Input(Ids.OVERVIEW_READY, "data"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
    )
    def overview_chosen(bottleneck, ready, round_, version):
        role = signed_in_role()
        if not ready:
            raise PreventUpdate
        data, found = _built(atlas, round_, version, role)
        code = parse_bottleneck(bottleneck)
        if code is None:
            message = html.P("Pick a bottleneck from the list.", className="small text-danger")
            return [message], None, {}, [], True, None, {}, [], []
        got = overview_parts.chosen(data, found, code)
        supply_url = None if got.supply_hidden else got.regions_url
        return (
            got.header, got.regions_url, got.need, got.need_legend, got.supply_hidden, supply_url,
            got.supply, got.supply_legend, got.need_table,
        )  # fmt: skip

    @app.callback(
        Output(Ids.OVERVIEW_RANKED, "children"),
        Input(Ids.OVERVIEW_READY, "data"),
        Input(Ids.OVERVIEW_DISTANCE, "value"),
        Input(Ids.OVERVIEW_RANK_BY, "value"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
    )
    def overview_ranked(ready, distance, by, round_, version):
        role = signed_in_role()
        if not ready:
            raise PreventUpdate
        _data, found = _built(atlas, round_, version, role)
        km, why = parse_distance(distance)
        notice = [html.P(why, className="small text-danger")] if why else []
        return [*notice, overview_parts.ranked_table(found, km, parse_rank_by(by))]

    @app.callback(
        Output(Ids.OVERVIEW_DOWNLOAD_MATRIX, "data"),
        Input(Ids.OVERVIEW_EXPORT_MATRIX, "n_clicks"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        prevent_initial_call=True,
    )
    def overview_download_matrix(clicks, round_, version):
        role = signed_in_role()
        if not clicks:
            raise PreventUpdate
        data, found = _built(atlas, round_, version, role)
        table, name = overview_parts.matrix_export(data, found, role, dt.datetime.now(dt.UTC))
        audit.record("export-bottleneck-matrix", f"round {data.round} · NUTS {found.version}")
        return dcc.send_bytes(to_csv_bytes(table), name, type="text/csv")

    @app.callback(
        Output(Ids.OVERVIEW_DOWNLOAD_RANKED, "data"),
        Input(Ids.OVERVIEW_EXPORT_RANKED, "n_clicks"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        State(Ids.OVERVIEW_DISTANCE, "value"),
        State(Ids.OVERVIEW_RANK_BY, "value"),
        prevent_initial_call=True,
    )
    def overview_download_ranked(clicks, round_, version, distance, by):
        role = signed_in_role()
        if not clicks:
            raise PreventUpdate
        data, found = _built(atlas, round_, version, role)
        km, _why = parse_distance(distance)
        now = dt.datetime.now(dt.UTC)
        table, name = overview_parts.ranked_export(data, found, km, parse_rank_by(by), role, now)
        audit.record("export-bottleneck-ranking", f"round {data.round} · NUTS {found.version} · {km} km")
        return dcc.send_bytes(to_csv_bytes(table), name, type="text/csv")
