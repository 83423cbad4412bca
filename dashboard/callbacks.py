"""Thin callbacks: check the inputs, find the caller's role, call a pure builder in views, return.

Every input is validated by dashboard.inputs before use (bad values fall back to defaults with
a visible notice), and every figure comes from the disclosure engine for the signed-in role.
"""

from __future__ import annotations

import datetime as dt

from dash import Dash, Input, Output, State, dcc, no_update
from dash.exceptions import PreventUpdate

from dashboard import audit, auth, inputs, layout, views
from dashboard.data import Atlas, AtlasData, NoPublishedRound
from dashboard.ids import Ids
from geodata import vocab
from geodata.store import UnknownRound
from layers import choropleth

FILTER_INPUTS = [
    Input(Ids.STAGE, "value"),
    Input(Ids.BOTTLENECK, "value"),
    Input(Ids.PLATFORM, "value"),
    Input(Ids.COUNTRY, "value"),
    Input(Ids.SIZE, "value"),
]
FILTER_STATES = [State(i.component_id, i.component_property) for i in FILTER_INPUTS]
FILTER_NAMES = ("stage", "bottleneck", "platform", "country", "size")


def _role() -> str:
    """The signed-in role; a request without one never gets here (the sign-in guard), but if it
    does, nothing is computed for it."""
    role = auth.current_role()
    if role is None:
        raise PreventUpdate
    return role


def _parse(data: AtlasData, **raw: object) -> tuple[inputs.MapInputs, list[str]]:
    return inputs.parse_map_inputs(raw, data.countries)


def _round(atlas: Atlas, value: object) -> tuple[AtlasData, list[str]]:
    """The published round the page asks for (or the default, with a notice)."""
    try:
        data, notice = atlas.resolve(value)
    except NoPublishedRound:
        raise PreventUpdate from None
    return data, [notice] if notice else []


def _earlier(
    atlas: Atlas, data: AtlasData, compare: object, metric: str
) -> tuple[AtlasData | None, list[str]]:
    """The round to compare ``data`` with, if one is picked and the metric allows a comparison;
    else None and, where something was picked, a notice why it is not shown."""
    if compare is None or compare == "":
        return None, []
    if metric not in choropleth.CHANGE_METRICS:
        labels = ", ".join(vocab.METRICS[m][0].lower() for m in choropleth.CHANGE_METRICS)
        return None, [f"A comparison of rounds covers {labels}; showing this round only."]
    try:
        earlier = atlas.get(compare)
    except UnknownRound:
        return None, ["The round to compare with is not published; showing this round only."]
    if earlier.round == data.round:
        return None, []
    return earlier, []


def register(app: Dash, atlas: Atlas) -> None:
    """Wire the page's callbacks to the rounds of ``atlas``."""

    @app.callback(
        Output(Ids.REGIONS, "url"),
        Output(Ids.REGION_CLASSES, "data"),
        Output(Ids.LEGEND, "children"),
        Output(Ids.SUMMARY, "children"),
        Output(Ids.STATUS, "children"),
        Output(Ids.DATA_LINE, "children"),
        Output(Ids.SAMPLE_BADGE, "style"),
        Input(Ids.ROUND, "value"),
        Input(Ids.COMPARE, "value"),
        Input(Ids.VERSION, "value"),
        Input(Ids.LEVEL, "value"),
        Input(Ids.METRIC, "value"),
        *FILTER_INPUTS,
        Input(Ids.SCHEME, "value"),
        Input(Ids.K, "value"),
    )
    def update_map(
        round_, compare, version, level, metric, stages, bottlenecks, platforms, countries, sizes, scheme, k
    ):
        role = _role()
        data, notices = _round(atlas, round_)
        raw = dict(zip(FILTER_NAMES, (stages, bottlenecks, platforms, countries, sizes), strict=True))
        got, more = _parse(data, version=version, level=level, metric=metric, scheme=scheme, k=k, **raw)
        filters = inputs.filters_from_inputs(got)
        earlier, why = _earlier(atlas, data, compare, got.metric)
        if earlier is not None:
            update = views.change_update(
                data, earlier, got.version, got.level, got.metric, filters, got.k, role
            )
        else:
            update = views.map_update(
                data, got.version, got.level, got.metric, filters, got.scheme, got.k, role
            )
        more += why
        status = " ".join([*notices, *more, update.status]).strip()
        line = views.data_line(data, got.version, role)
        badge = layout.sample_badge_style(data.is_sample)
        return update.regions_url, update.classes, update.legend, update.cards, status, line, badge

    @app.callback(
        Output(Ids.COUNTRY, "options"),
        Input(Ids.ROUND, "value"),
    )
    def country_options(round_):
        _role()
        data, _notices = _round(atlas, round_)
        return views.country_options(data)

    @app.callback(
        Output(Ids.BASEMAP, "url"),
        Input(Ids.ROUND, "value"),
        Input(Ids.VERSION, "value"),
    )
    def update_basemap(round_, version):
        _role()
        data, _notices = _round(atlas, round_)
        got, _notices = _parse(data, version=version)
        return views.geo_url("basemap", got.version, None, data.basemap_geojson(got.version).etag)

    @app.callback(
        Output(Ids.INFO, "children"),
        Input(Ids.REGIONS, "hoverData"),
        State(Ids.ROUND, "value"),
        State(Ids.COMPARE, "value"),
        State(Ids.VERSION, "value"),
        State(Ids.LEVEL, "value"),
        State(Ids.METRIC, "value"),
        *FILTER_STATES,
        prevent_initial_call=True,
    )
    def show_region(
        feature, round_, compare, version, level, metric, stages, bottlenecks, platforms, countries, sizes
    ):
        role = _role()
        code = inputs.region_code(feature)
        if code is None:
            return "Hover over a region"
        data, _notices = _round(atlas, round_)
        raw = dict(zip(FILTER_NAMES, (stages, bottlenecks, platforms, countries, sizes), strict=True))
        got, _notices = _parse(data, version=version, level=level, metric=metric, **raw)
        filters = inputs.filters_from_inputs(got)
        earlier, _why = _earlier(atlas, data, compare, got.metric)
        if earlier is not None:
            return views.change_info(data, earlier, got.version, got.level, got.metric, filters, code, role)
        return views.region_info(data, got.version, got.level, got.metric, filters, code, role)

    # Only while the site layer is on do filter changes reach the server for it: the browser
    # gathers the query and sends nothing when the layer is off.
    app.clientside_callback(
        "function(show, round, version, st, bn, pf, cn, sz, previous) {"
        " return window.atlas.sitesQuery(show, round, version, [st, bn, pf, cn, sz], previous); }",
        Output(Ids.SITES_QUERY, "data"),
        Input(Ids.POINTS, "value"),
        Input(Ids.ROUND, "value"),
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
        role = _role()
        if not isinstance(query, dict) or query.get("show") is not True:
            return None, {}
        data, _notices = _round(atlas, query.get("round"))
        raw_filters = query.get("filters")
        if not isinstance(raw_filters, list) or len(raw_filters) != len(FILTER_NAMES):
            raw_filters = [None] * len(FILTER_NAMES)
        got, _notices = _parse(
            data, version=query.get("version"), **dict(zip(FILTER_NAMES, raw_filters, strict=True))
        )
        filters = inputs.filters_from_inputs(got)
        # the points are built when the browser asks for them (once), not in this callback
        url = views.sites_url(data, got.version, role)
        return url, views.sites_hideout(data, got.version, filters, role)

    @app.callback(
        Output(Ids.DOWNLOAD_SITES, "data"),
        Input(Ids.EXPORT_SITES, "n_clicks"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        *FILTER_STATES,
        prevent_initial_call=True,
    )
    def download_sites(clicks, round_, version, stages, bottlenecks, platforms, countries, sizes):
        role = _role()
        if not clicks:
            return no_update
        data, _notices = _round(atlas, round_)
        raw = dict(zip(FILTER_NAMES, (stages, bottlenecks, platforms, countries, sizes), strict=True))
        got, _notices = _parse(data, version=version, **raw)
        filters = inputs.filters_from_inputs(got)
        content, name = views.export_sites(data, got.version, filters, dt.datetime.now(dt.UTC), role)
        audit.record("export-sites", f"round {data.round} · NUTS {got.version} · {filters.describe()}")
        return dcc.send_bytes(content, name, type="text/csv")

    @app.callback(
        Output(Ids.DOWNLOAD_REGIONS, "data"),
        Input(Ids.EXPORT_REGIONS, "n_clicks"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        State(Ids.LEVEL, "value"),
        *FILTER_STATES,
        prevent_initial_call=True,
    )
    def download_regions(clicks, round_, version, level, stages, bottlenecks, platforms, countries, sizes):
        role = _role()
        if not clicks:
            return no_update
        data, _notices = _round(atlas, round_)
        raw = dict(zip(FILTER_NAMES, (stages, bottlenecks, platforms, countries, sizes), strict=True))
        got, _notices = _parse(data, version=version, level=level, **raw)
        filters = inputs.filters_from_inputs(got)
        now = dt.datetime.now(dt.UTC)
        content, name = views.export_regions(data, got.version, got.level, filters, now, role)
        audit.record(
            "export-regions",
            f"round {data.round} · NUTS {got.version} level {got.level} · {filters.describe()}",
        )
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
