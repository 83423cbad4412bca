"""Thin callbacks: unpack the inputs, call a pure builder in views, return."""

from __future__ import annotations

import datetime as dt

from dash import Dash, Input, Output, State, dcc, no_update

from dashboard import views
from dashboard.data import AtlasData
from dashboard.ids import Ids

FILTER_INPUTS = [
    Input(Ids.STAGE, "value"),
    Input(Ids.BOTTLENECK, "value"),
    Input(Ids.PLATFORM, "value"),
    Input(Ids.COUNTRY, "value"),
    Input(Ids.SIZE, "value"),
]
FILTER_STATES = [State(i.component_id, i.component_property) for i in FILTER_INPUTS]


def register(app: Dash, data: AtlasData) -> None:
    """Wire the page's callbacks to ``data``."""

    @app.callback(
        Output(Ids.REGIONS, "url"),
        Output(Ids.REGION_CLASSES, "data"),
        Output(Ids.LEGEND, "children"),
        Output(Ids.SUMMARY, "children"),
        Output(Ids.STATUS, "children"),
        Input(Ids.VERSION, "value"),
        Input(Ids.LEVEL, "value"),
        Input(Ids.METRIC, "value"),
        *FILTER_INPUTS,
        Input(Ids.SCHEME, "value"),
        Input(Ids.K, "value"),
    )
    def update_map(version, level, metric, stages, bottlenecks, platforms, countries, sizes, scheme, k):
        filters = views.filters_from(stages, bottlenecks, platforms, countries, sizes)
        update = views.map_update(data, int(version), int(level), metric, filters, scheme, int(k))
        return update.regions_url, update.classes, update.legend, update.cards, update.status

    @app.callback(
        Output(Ids.BASEMAP, "url"),
        Input(Ids.VERSION, "value"),
    )
    def update_basemap(version):
        return views.geo_url("basemap", int(version), None, data.basemap_geojson(int(version)).etag)

    @app.callback(
        Output(Ids.INFO, "children"),
        Input(Ids.REGIONS, "hoverData"),
        State(Ids.VERSION, "value"),
        State(Ids.LEVEL, "value"),
        State(Ids.METRIC, "value"),
        *FILTER_STATES,
        prevent_initial_call=True,
    )
    def show_region(feature, version, level, metric, stages, bottlenecks, platforms, countries, sizes):
        if not feature:
            return "Hover over a region"
        filters = views.filters_from(stages, bottlenecks, platforms, countries, sizes)
        code = feature["properties"]["id"]
        return views.region_info(data, int(version), int(level), metric, filters, code)

    # Only while the site layer is on do filter changes reach the server for it: the browser
    # gathers the query and sends nothing when the layer is off.
    app.clientside_callback(
        "function(show, version, st, bn, pf, cn, sz, previous) {"
        " return window.atlas.sitesQuery(show, version, [st, bn, pf, cn, sz], previous); }",
        Output(Ids.SITES_QUERY, "data"),
        Input(Ids.POINTS, "value"),
        Input(Ids.VERSION, "value"),
        *FILTER_INPUTS,
        State(Ids.SITES_QUERY, "data"),
    )

    @app.callback(
        Output(Ids.SITES, "url"),
        Output(Ids.SITES, "hideout"),
        Input(Ids.SITES_QUERY, "data"),
        prevent_initial_call=True,
    )
    def update_sites(query):
        if not query or not query.get("show"):
            return None, {}
        filters = views.filters_from(*query["filters"])
        # the points are built when the browser asks for them (once), not in this callback
        url = views.geo_url("sites", int(query["version"]), None, data.fingerprint)
        return url, views.sites_hideout(data, int(query["version"]), filters)

    @app.callback(
        Output(Ids.DOWNLOAD_SITES, "data"),
        Input(Ids.EXPORT_SITES, "n_clicks"),
        State(Ids.VERSION, "value"),
        *FILTER_STATES,
        prevent_initial_call=True,
    )
    def download_sites(clicks, version, stages, bottlenecks, platforms, countries, sizes):
        if not clicks:
            return no_update
        filters = views.filters_from(stages, bottlenecks, platforms, countries, sizes)
        content, name = views.export_sites(data, int(version), filters, dt.datetime.now(dt.UTC))
        return dcc.send_bytes(content, name, type="text/csv")

    @app.callback(
        Output(Ids.DOWNLOAD_REGIONS, "data"),
        Input(Ids.EXPORT_REGIONS, "n_clicks"),
        State(Ids.VERSION, "value"),
        State(Ids.LEVEL, "value"),
        *FILTER_STATES,
        prevent_initial_call=True,
    )
    def download_regions(clicks, version, level, stages, bottlenecks, platforms, countries, sizes):
        if not clicks:
            return no_update
        filters = views.filters_from(stages, bottlenecks, platforms, countries, sizes)
        now = dt.datetime.now(dt.UTC)
        content, name = views.export_regions(data, int(version), int(level), filters, now)
        return dcc.send_bytes(content, name, type="text/csv")

    app.clientside_callback(
        "function(payload) { return window.atlas.restyle(payload); }",
        Output(Ids.REGIONS_STYLED, "data"),
        Input(Ids.REGION_CLASSES, "data"),
    )

    app.clientside_callback(
        "function(target, targets) { return window.atlas.jump(target, targets); }",
        Output(Ids.MAP, "viewport"),
        Input(Ids.JUMP, "value"),
        State(Ids.JUMP_TARGETS, "data"),
        prevent_initial_call=True,
    )
