"""The Partners view: who could relieve a need, and how far away they are.

Pick a need (a stage, or a bottleneck and so the stage that relieves it) and an origin (a
region, company or site found by search, or a point clicked on the map); the ranked sites come
back as a sortable list and on the view's own map (origin, candidates, lines, a distance ring),
the two selecting together. Everything is computed by dashboard.matchmaking for the signed-in
role: cluster and public search only the sites of listed companies, with no capacity, lead time
or contact; a cluster user sends an introduction request instead, which officials act on at
/requests.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import dash_leaflet as dl
import numpy as np
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import audit, auth, finding, inputs, matchmaking, views
from dashboard.data import Atlas, AtlasData
from dashboard.guards import chosen_round, signed_in_role
from dashboard.ids import Ids
from geodata import disclosure, nuts, partners, vocab
from geodata.companies import normalise_name
from layers import geometry

LIMITS = (10, 25, 50, 100)
SCOPES = {"any": "Any country", "same_country": "Same country", "cross_border": "Other countries only"}
_POINT = re.compile(r"point:(-?\d{1,3}(?:\.\d{1,8})?),(-?\d{1,3}(?:\.\d{1,8})?)")
MARKER = "partner-marker"


def need_options() -> list[dict[str, str]]:
    """Stages, then bottlenecks with the stage that relieves them (policy ones say so)."""
    out = [{"label": f"Stage · {label}", "value": code} for code, label in vocab.STAGES.items()]
    for code, label in vocab.BOTTLENECKS.items():
        stage = vocab.BOTTLENECK_RELIEF[code]
        relief = f"→ {vocab.STAGES[stage]}" if stage else "(policy: no stage relieves it)"
        out.append({"label": f"Bottleneck · {label} {relief}", "value": code})
    return out


def _field(label: str, control: Any, id_: str, hidden: bool = False) -> html.Div:
    return html.Div(
        [dbc.Label(label, html_for=id_, className="filter-label"), control], className="mb-2", hidden=hidden
    )


def layout(role: str) -> html.Div:
    """The view for ``role`` (the official-only filters are shown to officials only; the server
    refuses them from anyone else whatever the page sends)."""
    official = not disclosure.is_restricted(role)
    (south, west), (north, east) = geometry.EUROPE_BOUNDS
    controls = html.Div(
        [
            html.H2("Find partners", className="h5"),
            _field(
                "Need",
                dcc.Dropdown(
                    id=Ids.PARTNER_NEED,
                    options=need_options(),
                    placeholder="Stage or bottleneck",
                    clearable=False,  # required; Dash 4's clear link fails axe (aria-prohibited-attr)
                ),
                Ids.PARTNER_NEED,
            ),
            _field(
                "Start from",
                dcc.Dropdown(
                    id=Ids.PARTNER_ORIGIN,
                    options=[],
                    searchable=True,
                    clearable=False,  # required; Dash 4's clear link fails axe (aria-prohibited-attr)
                    placeholder="Region, company or site — or click the map",
                ),
                Ids.PARTNER_ORIGIN,
            ),
            _field(
                "Platform",
                dcc.Dropdown(
                    id=Ids.PARTNER_PLATFORM,
                    placeholder="Any",
                    options=[{"label": v, "value": k} for k, v in vocab.PLATFORMS.items()],
                ),
                Ids.PARTNER_PLATFORM,
            ),
            dbc.Checkbox(id=Ids.PARTNER_GMP, label="GMP-certified only", value=False, className="mb-2"),
            _field(
                "Where",
                dbc.RadioItems(
                    id=Ids.PARTNER_SCOPE,
                    value="any",
                    options=[{"label": v, "value": k} for k, v in SCOPES.items()],
                ),
                Ids.PARTNER_SCOPE,
            ),
            _field(
                "Within (km)",
                dbc.Input(
                    id=Ids.PARTNER_MAX_KM,
                    type="number",
                    min=0,
                    max=20000,
                    step=10,
                    placeholder="any distance",
                ),
                Ids.PARTNER_MAX_KM,
            ),
            _field(
                "Free capacity at least (doses/month)",
                dbc.Input(id=Ids.PARTNER_MIN_AVAILABLE, type="number", min=0, placeholder="any"),
                Ids.PARTNER_MIN_AVAILABLE,
                hidden=not official,
            ),
            _field(
                "Lead time at most (months)",
                dbc.Input(id=Ids.PARTNER_MAX_LEAD, type="number", min=0, placeholder="any"),
                Ids.PARTNER_MAX_LEAD,
                hidden=not official,
            ),
            _field(
                "Show",
                dcc.Dropdown(
                    id=Ids.PARTNER_LIMIT,
                    value=25,
                    clearable=False,
                    options=[{"label": f"{n} nearest", "value": n} for n in LIMITS],
                ),
                Ids.PARTNER_LIMIT,
            ),
            html.P(_scope_note(role), className="small text-muted"),
        ],
        className="atlas-partner-controls",
    )
    partner_map = dl.MapContainer(
        id=Ids.PARTNER_MAP,
        bounds=geometry.EUROPE_BOUNDS,
        center=[(south + north) / 2, (west + east) / 2],
        minZoom=2,
        maxZoom=11,
        attributionControl=False,
        style={"height": "100%", "width": "100%", "background": "#d5e6f0"},
        children=[
            dl.GeoJSON(id=Ids.PARTNER_BASEMAP, style={"variable": "atlas.basemapStyle"}, interactive=False),
            dl.LayerGroup(id=Ids.PARTNER_LAYER),
            dl.LayerGroup(id=Ids.PARTNER_SELECTED_LAYER),
        ],
    )
    results = html.Div(
        [
            html.Div(id=Ids.PARTNER_SUMMARY, className="small mb-1", role="status"),
            html.Div(
                [
                    html.Button(
                        "Download CSV",
                        id=Ids.PARTNER_EXPORT,
                        className="btn btn-sm btn-outline-dark",
                        disabled=True,
                    ),
                    html.Button(
                        "Request an introduction",
                        id=Ids.PARTNER_REQUEST,
                        disabled=True,
                        className="btn btn-sm btn-primary",
                        hidden=not matchmaking.can_request(role),
                    ),
                    html.Span(id=Ids.PARTNER_REQUEST_HINT, className="small text-muted"),
                ],
                className="d-flex gap-2 align-items-center mb-2 flex-wrap",
            ),
            dcc.Download(id=Ids.PARTNER_DOWNLOAD),
            dag.AgGrid(
                id=Ids.PARTNER_GRID,
                rowData=[],
                columnDefs=columns(role),
                getRowId="params.data.facility_id",
                defaultColDef={"sortable": True, "resizable": True, "filter": False},
                dashGridOptions={
                    "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}
                },
                style={"height": "320px", "width": "100%"},
                className="ag-theme-alpine",
            ),
            html.Div(id=Ids.PARTNER_MY_REQUESTS, className="mt-3"),
        ]
    )
    return html.Div(
        [
            html.Div(controls, className="atlas-partner-aside"),
            html.Div(
                [
                    html.Div(
                        [partner_map, html.Div(nuts.ATTRIBUTION, className="atlas-attribution")],
                        className="atlas-partner-map",
                    ),
                    results,
                ],
                className="atlas-partner-main",
            ),
            dbc.Modal(
                [
                    dbc.ModalHeader(dbc.ModalTitle("Request an introduction")),
                    dbc.ModalBody(
                        [
                            html.P(id=Ids.INTRO_TARGET),
                            dbc.Label(
                                "Message to the task force (what you need, how much, by when)",
                                html_for=Ids.INTRO_MESSAGE,
                            ),
                            dbc.Textarea(id=Ids.INTRO_MESSAGE, maxLength=matchmaking.MAX_MESSAGE, rows=4),
                            html.P(
                                "The task force sees your request and brokers the contact; the company is "
                                "not told who you are until it agrees.",
                                className="small text-muted mt-2",
                            ),
                            html.Div(id=Ids.INTRO_RESULT, role="status"),
                        ]
                    ),
                    dbc.ModalFooter(
                        html.Button("Send request", id=Ids.INTRO_SEND, className="btn btn-primary")
                    ),
                ],
                id=Ids.INTRO_MODAL,
                is_open=False,
            ),
        ],
        id=Ids.PARTNERS_VIEW,
        className="atlas-partners-view",
        hidden=True,
    )


def _scope_note(role: str) -> str:
    if disclosure.is_restricted(role):
        return (
            "You see the sites of companies that agreed to be listed; capacity, lead time and contact "
            "details stay with the task force. Ask it for an introduction."
        )
    return "Officials: all sites; contact only where the company gave contact consent."


def columns(role: str) -> list[dict[str, Any]]:
    """The result list's columns for ``role`` (figures and contact for officials only)."""
    cols: list[dict[str, Any]] = [
        {"field": "rank", "headerName": "#", "width": 64},
        {"field": "company", "headerName": "Company", "minWidth": 200, "flex": 2, "tooltipField": "company"},
        {"field": "country", "headerName": "Country", "width": 96},
        {"field": "region", "headerName": "Region", "minWidth": 170, "flex": 1, "tooltipField": "region"},
        {"field": "distance_km", "headerName": "km", "width": 90, "sort": "asc", "type": "numericColumn"},
        {"field": "border", "headerName": "Border", "width": 130},
        {"field": "why", "headerName": "Why it matches", "minWidth": 280, "flex": 3, "tooltipField": "why"},
    ]
    if not disclosure.is_restricted(role):
        cols += [
            {"field": "available_doses_per_month", "headerName": "Free doses/month", "width": 150},
            {"field": "lead_time_months", "headerName": "Lead time (months)", "width": 150},
            {"field": "contact", "headerName": "Contact", "width": 170},
        ]
    return cols


class Unchosen(ValueError):
    """Nothing chosen yet (a prompt, not an error)."""


def parse_origin(data: AtlasData, version: int, value: object, role: str) -> partners.Origin:
    """The origin a dropdown value names: "region:<code>", "site:<id>", "company:<key>" (its
    first site the role may see) or "point:<lat>,<lon>"."""
    if value is None or value == "":
        raise Unchosen("Choose where to start from: a region, company or site, or click the map.")
    if not isinstance(value, str) or ":" not in value:
        raise matchmaking.OriginError(
            "Choose where to start from: a region, company or site, or click the map.", "origin"
        )
    kind, _sep, key = value.partition(":")
    if kind == "region":
        return matchmaking.region_origin(version, key)
    if kind == "site":
        return matchmaking.site_origin(data, version, key, role)
    if kind == "company":
        visible = finding.visible_rows(data, version, role)
        chosen = visible[visible["company"].astype(str).map(normalise_name) == key]
        if chosen.empty:
            raise matchmaking.OriginError("No such company among the sites you may see.", "origin")
        return matchmaking.site_origin(data, version, str(chosen.iloc[0]["facility_id"]), role)
    found = _POINT.fullmatch(value)
    if kind == "point" and found:
        return matchmaking.point_origin(version, found.group(1), found.group(2))
    raise matchmaking.OriginError(
        "Choose where to start from: a region, company or site, or click the map.", "origin"
    )


def _number(value: object, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number") from None
    if not np.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a number ≥ 0")
    return number


def parse_query(
    need: object,
    platform: object,
    gmp: object,
    scope: object,
    max_km: object,
    min_available: object,
    max_lead: object,
    limit: object,
) -> partners.Query:
    """The query the controls describe; ValueError with a message for the screen."""
    if not isinstance(need, str) or not need:
        raise Unchosen("Choose a need: a production stage or a bottleneck.")
    return partners.Query(
        need=need,
        platform=platform if isinstance(platform, str) and platform else None,
        gmp_only=gmp is True,
        min_available=_number(min_available, "Free capacity"),
        max_lead_time=_number(max_lead, "Lead time"),
        scope=scope if isinstance(scope, str) else "any",
        max_km=_number(max_km, "Distance"),
        limit=limit if isinstance(limit, int) and not isinstance(limit, bool) and limit in LIMITS else 25,
    )


def grid_rows(result: partners.Result, names: Any, role: str) -> list[dict[str, Any]]:
    """The result rows as the grid shows them (only the role's columns ever leave the server)."""
    rows = []
    for row in matchmaking.json_rows(result):
        item: dict[str, Any] = {
            "rank": row["rank"],
            "facility_id": row["facility_id"],
            "company": row["company"],
            "country": row["country"],
            "region": f"{names.get(row['nuts3'], '')} ({row['nuts3']})" if row["nuts3"] else "",
            "distance_km": row["distance_km"],
            "border": "cross-border" if row["cross_border"] else "same country",
            "why": str(row["why"]) + (" · position approximate" if row["approximate_position"] else ""),
            "lat": row["lat"],
            "lon": row["lon"],
        }
        if not disclosure.is_restricted(role):
            item["available_doses_per_month"] = row.get("available_doses_per_month")
            item["lead_time_months"] = row.get("lead_time_months")
            item["contact"] = "may be contacted" if row.get("contact_consent") else "no consent: via cluster"
        rows.append(item)
    return rows


def map_layer(origin: partners.Origin, rows: list[dict[str, Any]], max_km: float | None) -> list[Any]:
    """Origin, a ring at the distance limit, a line and a marker per candidate."""
    here = [origin.lat, origin.lon]
    layer: list[Any] = []
    if max_km:
        layer.append(
            dl.Circle(
                center=here, radius=max_km * 1000, color="#5b6770", fill=False, weight=1, dashArray="4 4"
            )
        )
    for row in rows:
        there = [row["lat"], row["lon"]]
        layer.append(
            dl.Polyline(positions=[here, there], color="#8a96a3", weight=1, opacity=0.6, interactive=False)
        )
    for row in rows:
        layer.append(
            dl.CircleMarker(
                id={"type": MARKER, "index": row["facility_id"]},
                center=[row["lat"], row["lon"]],
                radius=7,
                color="#ffffff",
                weight=1.5,
                fillColor="#b35806" if row["border"] == "cross-border" else "#542788",
                fillOpacity=0.9,
                bubblingMouseEvents=False,  # a marker click selects its row, not a new origin
                children=dl.Tooltip(f"{row['rank']}. {row['company']} · {row['distance_km']:g} km"),
            )
        )
    layer.append(
        dl.CircleMarker(
            center=here,
            radius=9,
            color="#000000",
            weight=3,
            fillColor="#ffd400",
            fillOpacity=1,
            bubblingMouseEvents=False,
            children=dl.Tooltip(f"Start: {origin.label}"),
        )
    )
    return layer


def _bounds(origin: partners.Origin, rows: list[dict[str, Any]]) -> list[list[float]]:
    lats = [origin.lat, *(r["lat"] for r in rows)]
    lons = [origin.lon, *(r["lon"] for r in rows)]
    pad = 0.3
    return [[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]]


def _summary(origin: partners.Origin, query: partners.Query, result: partners.Result) -> list[Any]:
    shown = len(result)
    parts: list[Any] = [
        html.Strong(f"{shown} of {result.matched} sites"),
        f" offering {vocab.STAGES[query.stage]}",
        f" (relieves {vocab.BOTTLENECKS[query.need]})" if query.need != query.stage else "",
        f" from {origin.label}. Ranked {result.ranking}; click a column to re-sort.",
    ]
    for why, count in result.left_out.items():
        if count:
            parts.append(f" {count} left out: {why}.")
    return parts


def register(app: Dash, atlas: Atlas) -> None:
    """The Partners view's callbacks."""

    def round_data(value: object) -> AtlasData:
        return chosen_round(atlas, value)[0]

    def version_of(value: object) -> int:
        return inputs.parse_version(value)[0]

    @app.callback(
        Output(Ids.PARTNER_ORIGIN, "options"),
        Input(Ids.PARTNER_ORIGIN, "search_value"),
        State(Ids.PARTNER_ORIGIN, "value"),
        State(Ids.PARTNER_ORIGIN, "options"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        prevent_initial_call=True,
    )
    def origin_options(query, chosen, current, round_, version):
        role = signed_in_role()
        if not isinstance(query, str) or not query.strip():
            raise PreventUpdate  # keep the chosen option listed
        found = finding.options(round_data(round_), role, query, version_of(version))
        kept = [o for o in current or [] if isinstance(o, dict) and o.get("value") == chosen][:1]
        return kept + [o for o in found if o["value"] != chosen]

    @app.callback(
        Output(Ids.PARTNER_ORIGIN, "value"),
        Output(Ids.PARTNER_ORIGIN, "options", allow_duplicate=True),
        Input(Ids.PARTNER_MAP, "clickData"),
        prevent_initial_call=True,
    )
    def origin_from_map(click):
        signed_in_role()
        try:
            lat, lon = float(click["latlng"]["lat"]), float(click["latlng"]["lng"])
            if not (abs(lat) <= 90 and abs(lon) <= 180):
                raise ValueError
        except (TypeError, KeyError, ValueError):
            raise PreventUpdate from None
        value = f"point:{lat:.5f},{lon:.5f}"
        return value, [{"label": f"Point on the map {lat:.4f}, {lon:.4f}", "value": value}]

    @app.callback(
        Output(Ids.PARTNER_LAYER, "children"),
        Output(Ids.PARTNER_GRID, "rowData"),
        Output(Ids.PARTNER_SUMMARY, "children"),
        Output(Ids.PARTNER_MAP, "viewport"),
        Output(Ids.PARTNER_EXPORT, "disabled"),
        Output(Ids.PARTNER_BASEMAP, "url"),
        Output(Ids.PARTNER_MAP, "invalidateSize"),
        Input(Ids.VIEW, "value"),
        Input(Ids.PARTNER_NEED, "value"),
        Input(Ids.PARTNER_ORIGIN, "value"),
        Input(Ids.PARTNER_PLATFORM, "value"),
        Input(Ids.PARTNER_GMP, "value"),
        Input(Ids.PARTNER_SCOPE, "value"),
        Input(Ids.PARTNER_MAX_KM, "value"),
        Input(Ids.PARTNER_MIN_AVAILABLE, "value"),
        Input(Ids.PARTNER_MAX_LEAD, "value"),
        Input(Ids.PARTNER_LIMIT, "value"),
        Input(Ids.ROUND, "value"),
        Input(Ids.VERSION, "value"),
    )
    def run_search(
        view, need, origin, platform, gmp, scope, max_km, min_available, max_lead, limit, round_, version
    ):
        role = signed_in_role()
        if view != "partners":
            raise PreventUpdate  # computed when shown
        data, version = round_data(round_), version_of(version)
        basemap = views.geo_url("basemap", version, None, data.basemap_geojson(version).etag)
        try:
            query = parse_query(need, platform, gmp, scope, max_km, min_available, max_lead, limit)
            place = parse_origin(data, version, origin, role)
            result = matchmaking.search(data, version, place, query, role)
        except (ValueError, PermissionError) as exc:
            notice = html.Span(
                str(exc), className="text-muted" if isinstance(exc, Unchosen) else "text-danger"
            )
            return [], [], notice, no_update, True, basemap, time.time()
        rows = grid_rows(result, data.names(version), role)
        viewport = {"bounds": _bounds(place, rows), "transition": "flyToBounds"}
        return (
            map_layer(place, rows, query.max_km),
            rows,
            _summary(place, query, result),
            viewport,
            False,
            basemap,
            time.time(),
        )

    # The view is shown by another callback (dashboard.callbacks.switch_view), which may answer
    # after run_search re-measured the map while it was still hidden (Leaflet then keeps 0 x 0):
    # re-measure it whenever the view is shown.
    app.clientside_callback(
        "function (hidden) { return hidden ? window.dash_clientside.no_update : Date.now(); }",
        Output(Ids.PARTNER_MAP, "invalidateSize", allow_duplicate=True),
        Input(Ids.PARTNERS_VIEW, "hidden"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(Ids.PARTNER_GRID, "selectedRows"),
        Input({"type": MARKER, "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def select_from_map(_clicks):
        signed_in_role()
        chosen = ctx.triggered_id
        if not isinstance(chosen, dict) or not ctx.triggered or not ctx.triggered[0].get("value"):
            raise PreventUpdate
        return {"ids": [str(chosen.get("index"))]}

    @app.callback(
        Output(Ids.PARTNER_SELECTED_LAYER, "children"),
        Output(Ids.PARTNER_REQUEST, "disabled"),
        Output(Ids.PARTNER_REQUEST_HINT, "children"),
        Input(Ids.PARTNER_GRID, "selectedRows"),
    )
    def show_selected(selected):
        role = signed_in_role()
        row = (
            selected[0] if isinstance(selected, list) and selected and isinstance(selected[0], dict) else None
        )
        if row is None:
            hint = "Select a site in the list or on the map." if matchmaking.can_request(role) else ""
            return [], True, hint
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
        except (KeyError, TypeError, ValueError):
            return [], True, ""
        ring = dl.CircleMarker(
            center=[lat, lon], radius=13, color="#000000", weight=3, fill=False, interactive=False
        )
        hint = (
            ""
            if matchmaking.can_request(role)
            else "Sign in as a cluster association to request an introduction."
        )
        return [ring], not matchmaking.can_request(role), hint

    @app.callback(
        Output(Ids.PARTNER_DOWNLOAD, "data"),
        Input(Ids.PARTNER_EXPORT, "n_clicks"),
        State(Ids.PARTNER_NEED, "value"),
        State(Ids.PARTNER_ORIGIN, "value"),
        State(Ids.PARTNER_PLATFORM, "value"),
        State(Ids.PARTNER_GMP, "value"),
        State(Ids.PARTNER_SCOPE, "value"),
        State(Ids.PARTNER_MAX_KM, "value"),
        State(Ids.PARTNER_MIN_AVAILABLE, "value"),
        State(Ids.PARTNER_MAX_LEAD, "value"),
        State(Ids.PARTNER_LIMIT, "value"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        prevent_initial_call=True,
    )
    def export(
        clicks, need, origin, platform, gmp, scope, max_km, min_available, max_lead, limit, round_, version
    ):
        role = signed_in_role()
        if not clicks:
            raise PreventUpdate
        data, version = round_data(round_), version_of(version)
        try:
            query = parse_query(need, platform, gmp, scope, max_km, min_available, max_lead, limit)
            place = parse_origin(data, version, origin, role)
            result = matchmaking.search(data, version, place, query, role)
        except (ValueError, PermissionError):
            raise PreventUpdate from None
        content, filename = matchmaking.export(
            data, version, place, query, result, role, dt.datetime.now(dt.UTC)
        )
        audit.record("export", f"{filename} ({len(result)} partners; {query.describe()})", role=role)
        return dcc.send_bytes(content, filename)

    @app.callback(
        Output(Ids.INTRO_MODAL, "is_open"),
        Output(Ids.INTRO_TARGET, "children"),
        Output(Ids.INTRO_RESULT, "children", allow_duplicate=True),
        Input(Ids.PARTNER_REQUEST, "n_clicks"),
        State(Ids.PARTNER_GRID, "selectedRows"),
        State(Ids.PARTNER_NEED, "value"),
        prevent_initial_call=True,
    )
    def open_request(clicks, selected, need):
        role = signed_in_role()
        if not clicks or not matchmaking.can_request(role):
            raise PreventUpdate
        row = selected[0] if isinstance(selected, list) and selected and isinstance(selected[0], dict) else {}
        company, need_text = str(row.get("company", ""))[:200], partners.need_label(str(need))
        return True, f"To {company}, for {need_text}.", ""

    @app.callback(
        Output(Ids.INTRO_RESULT, "children"),
        Output(Ids.PARTNER_MY_REQUESTS, "children", allow_duplicate=True),
        Input(Ids.INTRO_SEND, "n_clicks"),
        State(Ids.PARTNER_GRID, "selectedRows"),
        State(Ids.PARTNER_NEED, "value"),
        State(Ids.INTRO_MESSAGE, "value"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        prevent_initial_call=True,
    )
    def send_request(clicks, selected, need, message, round_, version):
        role = signed_in_role()
        if not clicks:
            raise PreventUpdate
        row = selected[0] if isinstance(selected, list) and selected and isinstance(selected[0], dict) else {}
        user = auth.current_user_name() or role
        data = round_data(round_)
        try:
            number = matchmaking.request_introduction(
                atlas.store, data, version_of(version), role, user, row.get("facility_id"), need, message
            )
        except (ValueError, PermissionError) as exc:
            return html.Span(str(exc), className="text-danger"), no_update
        audit.record("introduction-request", f"#{number} need={need}", role=role)
        done = html.Span(
            f"Request #{number} sent. The task force will broker the contact.", className="text-success"
        )
        return done, my_requests(atlas, user, role)

    @app.callback(
        Output(Ids.PARTNER_MY_REQUESTS, "children"),
        Input(Ids.VIEW, "value"),
    )
    def show_my_requests(view):
        role = signed_in_role()
        if view != "partners":
            raise PreventUpdate
        return my_requests(atlas, auth.current_user_name() or role, role)


def my_requests(atlas: Atlas, user: str, role: str) -> Any:
    """The signed-in requester's own requests and where they stand (nobody else's)."""
    if not matchmaking.can_request(role):
        return None
    mine = matchmaking.requests_of(atlas.store, user, role)
    if mine.empty:
        return html.P("You have sent no introduction requests yet.", className="small text-muted")
    items = [
        html.Li(f"#{r.id} · {partners.need_label(str(r.need))} · site {r.facility_id} · {r.status}")
        for r in mine.itertuples()
    ]
    return html.Div(
        [html.H3("Your introduction requests", className="h6"), html.Ul(items, className="small")]
    )
