"""Thin callbacks: check the inputs, find the caller's role, call a pure builder in views, return.

Every input is validated by dashboard.inputs before use (bad values fall back to defaults with
a visible notice), and every figure comes from the disclosure engine for the signed-in role.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from dashboard import audit, finding, inputs, layout, profile, profile_view, tables, urlstate, views
from dashboard.data import Atlas, AtlasData
from dashboard.guards import chosen_round, signed_in_role
from dashboard.ids import Ids
from geodata import nuts, records, vocab
from geodata.aggregate import Filters
from geodata.store import UnknownRound
from layers import choropleth, locator

FILTER_INPUTS = [
    Input(Ids.STAGE, "value"),
    Input(Ids.BOTTLENECK, "value"),
    Input(Ids.PLATFORM, "value"),
    Input(Ids.COUNTRY, "value"),
    Input(Ids.SIZE, "value"),
]
FILTER_STATES = [State(i.component_id, i.component_property) for i in FILTER_INPUTS]
FILTER_NAMES = ("stage", "bottleneck", "platform", "country", "size")


def _parse(data: AtlasData, **raw: object) -> tuple[inputs.MapInputs, list[str]]:
    return inputs.parse_map_inputs(raw, data.countries)


def _filtered(
    data: AtlasData, chosen: tuple[object, ...], **scalars: object
) -> tuple[inputs.MapInputs, Filters, list[str]]:
    """The validated inputs of a callback (the five filters in FILTER_NAMES order, and scalars
    such as version and level), their aggregation filters, and a notice per unusable value."""
    got, notices = _parse(data, **scalars, **dict(zip(FILTER_NAMES, chosen, strict=True)))
    return got, inputs.filters_from_inputs(got), notices


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


#: The controls whose values live in the address, in the order of urlstate's View.
SYNCED = (
    (Ids.ROUND, "value"),
    (Ids.COMPARE, "value"),
    (Ids.VERSION, "value"),
    (Ids.LEVEL, "value"),
    (Ids.METRIC, "value"),
    (Ids.SCHEME, "value"),
    (Ids.K, "value"),
    *[(i.component_id, i.component_property) for i in FILTER_INPUTS],
    (Ids.SELECTED, "data"),
    (Ids.VIEW, "value"),
)
ALL_COUNTRIES = sorted(records.NUTS_COUNTRIES)


def register(app: Dash, atlas: Atlas) -> None:
    """Wire the page's callbacks to the rounds of ``atlas``."""

    @app.callback(
        Output(Ids.URL, "search"),
        Output(Ids.URL_NOTICE, "children"),
        *[Output(*pair) for pair in SYNCED],
        Input(Ids.URL, "search"),
        *[Input(*pair) for pair in SYNCED],
    )
    def sync_address(search, *values):
        """The address and the controls, kept in step: opening or going back to an address
        restores its view; changing a control writes the view into the address (a new history
        entry, so back and forward walk through the changes)."""
        signed_in_role()
        unchanged = [no_update] * len(SYNCED)
        if ctx.triggered_id in (None, Ids.URL):
            if ctx.triggered_id is None and not search:
                return no_update, no_update, *unchanged  # a plain address: the page's defaults
            view, notices = urlstate.decode(search, ALL_COUNTRIES)
            try:
                round_ = view.round or atlas.default_round()
            except UnknownRound:
                round_ = None
            got = view.inputs
            restored = [
                round_, view.compare, got.version, got.level, got.metric, got.scheme, got.k,
                list(got.stages), list(got.bottlenecks), list(got.platforms), list(got.countries),
                list(got.sizes), view.region, view.view,
            ]  # fmt: skip
            # an address with parts that could not be used is replaced by the view shown (so that
            # a copied link or a reload does not carry them on)
            cleaned = (urlstate.encode(view) or "?") if notices else no_update
            return cleaned, " ".join(notices), *restored
        (round_, compare, version, level, metric, scheme, k, stages, bottlenecks, platforms, countries, sizes,
         region, view) = values  # fmt: skip
        raw = dict(zip(FILTER_NAMES, (stages, bottlenecks, platforms, countries, sizes), strict=True))
        got, _notices = inputs.parse_map_inputs(
            dict(version=version, level=level, metric=metric, scheme=scheme, k=k, **raw), ALL_COUNTRIES
        )
        chosen = urlstate.View(
            got,
            round_ if isinstance(round_, str) else None,
            compare if isinstance(compare, str) else None,
            region
            if isinstance(region, str) and inputs.region_code({"properties": {"id": region}})
            else None,
            view if view in urlstate.VIEWS else "map",
        )
        return urlstate.encode(chosen) or "?", "", *unchanged

    app.clientside_callback(
        "function(n) { if (!n) { return window.dash_clientside.no_update; }"
        " return navigator.clipboard ? navigator.clipboard.writeText(window.location.href)"
        ".then(() => 'Link copied.', () => window.location.href) : window.location.href; }",
        Output(Ids.COPIED, "children"),
        Input(Ids.COPY_LINK, "n_clicks"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(Ids.MAP_VIEW, "hidden"),
        Output(Ids.TABLE_VIEW, "hidden"),
        Output(Ids.PARTNERS_VIEW, "hidden"),
        Output(Ids.OVERVIEW_VIEW, "hidden"),
        Input(Ids.VIEW, "value"),
    )
    def switch_view(view):
        shown = view if view in urlstate.VIEWS else "map"
        return tuple(shown != name for name in ("map", "table", "partners", "bottlenecks"))

    @app.callback(
        Output(Ids.TABLE, "children"),
        Input(Ids.VIEW, "value"),
        Input(Ids.ROUND, "value"),
        Input(Ids.VERSION, "value"),
        Input(Ids.LEVEL, "value"),
        *FILTER_INPUTS,
    )
    def update_table(view, round_, version, level, stages, bottlenecks, platforms, countries, sizes):
        role = signed_in_role()
        if view != "table":
            return no_update  # built when shown
        data, _notices = chosen_round(atlas, round_)
        got, filters, _more = _filtered(
            data, (stages, bottlenecks, platforms, countries, sizes), version=version, level=level
        )
        return tables.region_table(data, got.version, got.level, filters, role)

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
        role = signed_in_role()
        data, notices = chosen_round(atlas, round_)
        got, filters, more = _filtered(
            data,
            (stages, bottlenecks, platforms, countries, sizes),
            version=version,
            level=level,
            metric=metric,
            scheme=scheme,
            k=k,
        )
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
        signed_in_role()
        data, _notices = chosen_round(atlas, round_)
        return views.country_options(data)

    @app.callback(
        Output(Ids.BASEMAP, "url"),
        Input(Ids.ROUND, "value"),
        Input(Ids.VERSION, "value"),
    )
    def update_basemap(round_, version):
        signed_in_role()
        data, _notices = chosen_round(atlas, round_)
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
        role = signed_in_role()
        code = inputs.region_code(feature)
        if code is None:
            return "Hover over a region"
        data, _notices = chosen_round(atlas, round_)
        got, filters, _notices = _filtered(
            data,
            (stages, bottlenecks, platforms, countries, sizes),
            version=version,
            level=level,
            metric=metric,
        )
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
        role = signed_in_role()
        if not isinstance(query, dict) or query.get("show") is not True:
            return None, {}
        data, _notices = chosen_round(atlas, query.get("round"))
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
        role = signed_in_role()
        if not clicks:
            return no_update
        data, _notices = chosen_round(atlas, round_)
        got, filters, _notices = _filtered(
            data, (stages, bottlenecks, platforms, countries, sizes), version=version
        )
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
        role = signed_in_role()
        if not clicks:
            return no_update
        data, _notices = chosen_round(atlas, round_)
        got, filters, _notices = _filtered(
            data, (stages, bottlenecks, platforms, countries, sizes), version=version, level=level
        )
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


def register_profiles(app: Dash, atlas: Atlas) -> None:
    """The region profile beside the map, the search box, and the region page."""

    @app.callback(
        Output(Ids.SELECTED, "data", allow_duplicate=True),
        Input(Ids.REGIONS, "clickData"),
        prevent_initial_call=True,
    )
    def click_region(feature):
        signed_in_role()
        code = inputs.region_code(feature)
        if code is None:
            raise PreventUpdate
        return code

    @app.callback(
        Output(Ids.SELECTED, "data", allow_duplicate=True),
        Input(Ids.CLOSE_PROFILE, "n_clicks"),
        prevent_initial_call=True,
    )
    def close_profile(clicks):
        signed_in_role()
        if not clicks:
            raise PreventUpdate
        return None

    @app.callback(
        Output(Ids.PROFILE_BODY, "children"),
        Output(Ids.PROFILE, "hidden"),
        Input(Ids.SELECTED, "data"),
        Input(Ids.ROUND, "value"),
        Input(Ids.VERSION, "value"),
        *FILTER_INPUTS,
    )
    def show_profile(code, round_, version, stages, bottlenecks, platforms, countries, sizes):
        role = signed_in_role()
        if not isinstance(code, str) or not code:
            return [], True
        data, _notices = chosen_round(atlas, round_)
        got, filters, _more = _filtered(
            data, (stages, bottlenecks, platforms, countries, sizes), version=version
        )
        found = profile.region_profile(data, got.version, code, filters, role)
        if found is None:
            return [html.P(f"No region {inputs.clip(code, 8)!r} in NUTS {got.version}.")], False
        return profile_view.panel(found), False

    app.clientside_callback(
        "function(code, styled) { return window.atlas.highlight(code); }",
        Output(Ids.HIGHLIGHTED, "data"),
        Input(Ids.SELECTED, "data"),
        Input(Ids.REGIONS_STYLED, "data"),
    )

    @app.callback(
        Output(Ids.SEARCH, "options"),
        Input(Ids.SEARCH, "search_value"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        prevent_initial_call=True,
    )
    def search_options(query, round_, version):
        role = signed_in_role()
        if not isinstance(query, str) or not query.strip():
            raise PreventUpdate  # keep the chosen option listed
        data, _notices = chosen_round(atlas, round_)
        got, _more = _parse(data, version=version)
        return finding.options(data, role, query, got.version)

    @app.callback(
        Output(Ids.SELECTED, "data", allow_duplicate=True),
        Output(Ids.MAP, "viewport", allow_duplicate=True),
        Output(Ids.VIEW, "value", allow_duplicate=True),
        Output(Ids.SITE_CHOSEN, "data", allow_duplicate=True),
        Input(Ids.SEARCH, "value"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        State(Ids.LEVEL, "value"),
        prevent_initial_call=True,
    )
    def choose(value, round_, version, level):
        role = signed_in_role()
        if not isinstance(value, str) or ":" not in value:
            raise PreventUpdate
        data, _notices = chosen_round(atlas, round_)
        got, _more = _parse(data, version=version, level=level)
        kind, _sep, key = value.partition(":")
        if kind == "region":
            code = inputs.region_code({"properties": {"id": key}})
            if code is None:
                raise PreventUpdate
            return code, no_update, "map", no_update
        site = finding.site_place(data, role, got.version, kind, key)
        if site is None:
            raise PreventUpdate
        nuts3, lat, lon = site
        region = nuts3[: 2 + got.level] if nuts3 else no_update
        viewport = {"center": [lat, lon], "zoom": 9, "transition": "flyTo"} if lat is not None else no_update
        return region, viewport, "map", key if kind == "site" else no_update

    @app.callback(
        Output(Ids.REGION_PAGE, "children"),
        Output(Ids.REGION_PAGE, "hidden"),
        Output(Ids.MAIN_PAGE, "hidden"),
        Input(Ids.URL, "pathname"),
        Input(Ids.URL, "search"),
    )
    def region_page(pathname, search):
        role = signed_in_role()
        if not isinstance(pathname, str) or not pathname.startswith(REGION_PREFIX):
            return [], True, False
        wanted = pathname.removeprefix(REGION_PREFIX).strip("/")
        view, notices = urlstate.decode(search, ALL_COUNTRIES)
        try:
            data, notice = atlas.resolve(view.round)
        except UnknownRound:
            return [html.P("No survey round is published yet.")], False, True
        version = view.inputs.version
        code = inputs.region_code({"properties": {"id": wanted.upper()}})
        found = None if code is None else profile.region_profile(
            data, version, code, inputs.filters_from_inputs(view.inputs), role
        )  # fmt: skip
        if found is None:
            other_version = 2024 if version == 2021 else 2021
            level = profile.level_of(code) if code else None
            other = (
                code
                if code and level is not None and code in data.level_codes(other_version, level)
                else None
            )
            return profile_view.missing(inputs.clip(wanted, 12), version, other), False, True
        source = f"Round {data.round} ({data.name})" if data.round else data.name
        published = f"published {data.published_at:%d %b %Y}" if data.published_at else data.survey_period()
        shown = [
            html.Div(
                " ".join(n for n in [*notices, notice] if n), className="small text-danger", role="status"
            )
        ]
        return (
            [*shown, *profile_view.page(found, published, source, _locator(data, version, found))],
            False,
            True,
        )


REGION_PREFIX = "/region/"


def _locator(data: AtlasData, version: int, found: profile.Profile) -> str:
    """The region among the regions of its level in its country (a country: among its neighbours
    of the map)."""
    regions = nuts.load(version, found.level, data.scale)
    if found.level == 0:
        near = regions[regions["NUTS_ID"].isin(data.map_countries)]
    else:
        near = regions[regions["NUTS_ID"].str.startswith(found.code[:2])]
    near = near[near.geometry.intersects(_mainland_box(near, found.code))]
    return locator.svg(near, found.code, f"Where {found.name} lies")


def _mainland_box(regions: gpd.GeoDataFrame, code: str) -> BaseGeometry:
    """A box around the region and its neighbours, leaving out far-away overseas parts."""
    own = regions.loc[regions["NUTS_ID"] == code].geometry
    if own.empty:
        return box(-180, -90, 180, 90)
    west, south, east, north = own.total_bounds
    pad = max(east - west, north - south, 4.0) * 1.5
    return box(west - pad, south - pad, east + pad, north + pad)


def register_site_cards(app: Dash, atlas: Atlas) -> None:
    """A site's card: from the profile's site list or the search box; only sites the role may see."""

    @app.callback(
        Output(Ids.SITE_CARD_BODY, "children"),
        Output(Ids.SITE_CARD, "is_open"),
        Input(Ids.SITE_CHOSEN, "data"),
        State(Ids.ROUND, "value"),
        State(Ids.VERSION, "value"),
        prevent_initial_call=True,
    )
    def show_site(facility_id, round_, version):
        role = signed_in_role()
        if not facility_id:
            return [], False
        data, _notices = chosen_round(atlas, round_)
        got, _more = _parse(data, version=version)
        chosen = facility_id.split("#", 1)[0] if isinstance(facility_id, str) else facility_id
        fields = finding.site_card(data, role, got.version, chosen)
        if fields is None:
            return [html.P("No such site, or not one your role may see.")], True
        return profile_view.site_card(fields), True
