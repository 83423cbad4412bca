"""The page, as a pure function of what the dataset offers (no callbacks, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import dash_bootstrap_components as dbc
import dash_leaflet as dl
from dash import dcc, html

from dashboard import overview_view, partners_view
from dashboard.auth import SignInStatus
from dashboard.ids import Ids
from geodata import nuts, vocab
from layers import geometry
from layers.classify import DEFAULT_K, DEFAULT_SCHEME, K_RANGE, SCHEMES

PRODUCT = "Vaccine Capacity Atlas"
DEFAULT_LEVEL = 2
DEFAULT_VERSION = 2021
DEFAULT_METRIC = "facilities"


@dataclass(frozen=True)
class PageInfo:
    """What the header and filters need to know about the loaded dataset."""

    dataset: str
    is_sample: bool
    rejected_rows: int
    survey_period: str
    demo: bool
    countries: list[str]
    jump_targets: dict[str, list[list[float]]]
    #: the published rounds, newest first, as (name, label), and the one shown
    rounds: tuple[tuple[str, str], ...] = ()
    round: str | None = None


def _options(codes: dict[str, str]) -> list[dict[str, str]]:
    return [{"label": label, "value": code} for code, label in codes.items()]


def _multi(id_: str, title: str, options: list[dict[str, str]]) -> html.Div:
    return html.Div(
        [
            dbc.Label(title, html_for=id_, className="filter-label"),
            dcc.Dropdown(id=id_, options=options, value=[], multi=True, placeholder="All"),
        ],
        className="mb-2",
    )


@dataclass(frozen=True)
class MapStart:
    """The first map as the page's first update would give it, sent with the page so that the
    browser fetches the shapes at once instead of after the first callback."""

    regions_url: str | None = None
    basemap_url: str | None = None
    classes: dict[str, object] | None = None
    legend: Any = None
    cards: Any = None


@dataclass(frozen=True)
class Viewer:
    """Who is looking (role, sign-in status for the header) and the dataset's site and company
    totals as this role may see them (None where withheld)."""

    role: str
    status: SignInStatus | None
    sites: float | None
    companies: float | None


ROLE_BADGES = {
    "official": ("Task-force view: confidential figures, do not share", "danger"),
    "cluster": ("Cluster view: confidential figures withheld, others slightly perturbed", "primary"),
    "public": ("Public view: confidential figures withheld, others slightly perturbed", "secondary"),
}


def _count(value: float | None) -> str:
    return "withheld" if value is None else f"{round(value):,}"


def account_controls(status: SignInStatus | None) -> html.Div:
    """Who is looking and how to change it: "Signed in as anna (official) · Sign out", or in the
    demo "Demo on fictional data: cluster view · Switch role"."""
    if status is None:
        return html.Div(className="atlas-account")
    return html.Div(
        [
            html.Span(status.text, className="me-2", id="account-text"),
            html.A(status.action_label, href=status.action_href, className="btn btn-sm btn-outline-dark",
                   id="account-action"),
        ],
        className="atlas-account ms-auto d-flex align-items-center",
    )  # fmt: skip


def sample_badge_style(is_sample: bool) -> dict[str, str]:
    """The "Fictional sample data" badge shows while the round shown is the bundled sample."""
    return {} if is_sample else {"display": "none"}


def header(info: PageInfo, viewer: Viewer) -> html.Header:
    badges = [
        dbc.Badge(
            "Fictional sample data",
            color="warning",
            text_color="dark",
            className="me-2",
            id=Ids.SAMPLE_BADGE,
            style=sample_badge_style(info.is_sample),
        )
    ]
    text, colour = ROLE_BADGES[viewer.role]
    badges.append(dbc.Badge(text, color=colour, className="me-2", id="role-badge"))
    if info.rejected_rows and viewer.role == "official":
        target = f"/import/rounds/{quote(info.round, safe='')}" if info.round else None
        badges.append(
            dbc.Badge(
                f"{info.rejected_rows} rows rejected: see the import report"
                if target
                else f"{info.rejected_rows} rows rejected: run python -m geodata validate {info.dataset}",
                color="danger",
                className="me-2",
                href=target,
                id="rejected-badge",
            )
        )
    if viewer.role == "official":
        badges.append(
            html.A(
                "Import a round", href="/import", className="btn btn-sm btn-outline-primary", id="import-link"
            )
        )
        badges.append(
            html.A(
                "Introduction requests",
                href="/requests",
                className="btn btn-sm btn-outline-primary ms-2",
                id="requests-link",
            )
        )
    data_line = (
        f"{info.dataset} · {_count(viewer.sites)} sites of {_count(viewer.companies)} companies · "
        f"{info.survey_period} · NUTS boundaries: {nuts.SOURCE} · {nuts.ATTRIBUTION}"
    )
    return html.Header(
        [
            html.Div(
                [
                    html.H1(PRODUCT, className="atlas-title"),
                    html.Div(badges, className="atlas-badges"),
                    account_controls(viewer.status),
                ],
                className="d-flex align-items-center flex-wrap gap-3",
            ),
            html.Div(data_line, className="atlas-dataline", id="data-line"),
        ],
        className="atlas-header",
    )


def filter_panel(info: PageInfo, level: int = DEFAULT_LEVEL) -> html.Div:
    metric_options = [{"label": label, "value": code} for code, (label, _unit) in vocab.METRICS.items()]
    country_options = [
        {"label": f"{vocab.EU_MEMBER_STATES.get(c, c)} ({c})", "value": c} for c in info.countries
    ]
    return html.Div(
        [
            search_box(),
            *_round_controls(info),
            dbc.Label("NUTS level", html_for=Ids.LEVEL, className="filter-label"),
            dbc.RadioItems(
                id=Ids.LEVEL,
                options=[{"label": f"{lv}", "value": lv} for lv in vocab.NUTS_LEVELS],
                value=level,
                inline=True,
                className="mb-2",
            ),
            dbc.Label("NUTS version", html_for=Ids.VERSION, className="filter-label"),
            dbc.RadioItems(
                id=Ids.VERSION,
                options=[{"label": str(y), "value": y} for y in vocab.NUTS_YEARS],
                value=DEFAULT_VERSION,
                inline=True,
                className="mb-2",
            ),
            dbc.Label("Metric", html_for=Ids.METRIC, className="filter-label"),
            dcc.Dropdown(id=Ids.METRIC, options=metric_options, value=DEFAULT_METRIC, clearable=False),
            html.Hr(),
            _multi(Ids.STAGE, "Production stage", _options(vocab.STAGES)),
            _multi(Ids.BOTTLENECK, "Bottleneck", _options(vocab.BOTTLENECKS)),
            _multi(Ids.PLATFORM, "Vaccine platform", _options(vocab.PLATFORMS)),
            _multi(Ids.COUNTRY, "Country", country_options),
            _multi(Ids.SIZE, "Company size", _options(vocab.COMPANY_SIZES)),
            html.Hr(),
            dbc.Label("Classes", html_for=Ids.SCHEME, className="filter-label"),
            dcc.Dropdown(
                id=Ids.SCHEME,
                options=[{"label": label, "value": code} for code, label in SCHEMES.items()],
                value=DEFAULT_SCHEME,
                clearable=False,
            ),
            dbc.Label("Number of classes", html_for=Ids.K, className="visually-hidden"),
            dcc.Slider(
                id=Ids.K,
                min=K_RANGE[0],
                max=K_RANGE[1],
                step=1,
                value=DEFAULT_K,
                marks={k: str(k) for k in range(K_RANGE[0], K_RANGE[1] + 1)},
                className="mt-2",
            ),
            dbc.Switch(id=Ids.POINTS, label="Show sites on the map", value=False, className="mt-2"),
            html.Hr(),
            dbc.Button(
                "Download sites (CSV)", id=Ids.EXPORT_SITES, color="primary", size="sm", className="me-2"
            ),
            dbc.Button(
                "Download regions (CSV)", id=Ids.EXPORT_REGIONS, color="primary", size="sm", outline=True
            ),
            dcc.Download(id=Ids.DOWNLOAD_SITES),
            dcc.Download(id=Ids.DOWNLOAD_REGIONS),
        ],
        className="atlas-filters",
    )


def _round_controls(info: PageInfo) -> list[Any]:
    """The survey round shown (newest by default) and an earlier one to compare it with."""
    options = [{"label": label, "value": name} for name, label in info.rounds]
    return [
        dbc.Label("Survey round", html_for=Ids.ROUND, className="filter-label"),
        dcc.Dropdown(id=Ids.ROUND, options=options, value=info.round, clearable=False, className="mb-2"),
        dbc.Label("Compare with round", html_for=Ids.COMPARE, className="filter-label"),
        dcc.Dropdown(
            id=Ids.COMPARE, options=options, value=None, placeholder="No comparison", className="mb-2"
        ),
        html.Hr(),
    ]


def _jump_control(info: PageInfo) -> html.Div:
    options = [{"label": "Continental Europe", "value": "europe"}] + [
        {"label": name, "value": code}
        for code, name in geometry.OUTERMOST.items()
        if code in info.jump_targets
    ]
    return html.Div(
        [
            dcc.Dropdown(id=Ids.JUMP, options=options, value="europe", clearable=False, searchable=False),
            dcc.Store(id=Ids.JUMP_TARGETS, data=info.jump_targets),
        ],
        className="atlas-jump",
        title="Go to an outermost region",
    )


def map_panel(info: PageInfo, start: MapStart | None = None) -> html.Div:
    start = start or MapStart()
    (south, west), (north, east) = geometry.EUROPE_BOUNDS
    leaflet_map = dl.MapContainer(
        id=Ids.MAP,
        bounds=geometry.EUROPE_BOUNDS,
        center=[(south + north) / 2, (west + east) / 2],
        zoomSnap=0.25,
        zoomDelta=0.5,
        minZoom=2,
        maxZoom=11,
        preferCanvas=True,
        attributionControl=False,
        style={"height": "100%", "width": "100%", "background": "#d5e6f0"},
        children=[
            # Panes fix the drawing order whatever order the layers load in (each pane is a canvas).
            dl.Pane(
                dl.GeoJSON(
                    id=Ids.BASEMAP,
                    url=start.basemap_url,
                    style={"variable": "atlas.basemapStyle"},
                    interactive=False,
                ),
                name="atlas-basemap",
                style={"zIndex": 350},
            ),
            dl.Pane(
                dl.GeoJSON(
                    id=Ids.REGIONS,
                    url=start.regions_url,
                    style={"variable": "atlas.regionStyle"},
                    hoverStyle={"variable": "atlas.regionHover"},
                    onEachFeature={"variable": "atlas.regionEach"},
                ),
                name="atlas-regions",
                style={"zIndex": 400},
            ),
            dl.Pane(
                dl.GeoJSON(
                    id=Ids.SITES,
                    cluster=True,
                    superClusterOptions={"radius": 50, "maxZoom": 11},
                    pointToLayer={"variable": "atlas.sitePoint"},
                    clusterToLayer={"variable": "atlas.siteCluster"},
                    filter={"variable": "atlas.siteFilter"},
                    hideout={},
                ),
                name="atlas-sites",
                style={"zIndex": 620},
            ),
        ],
    )
    return html.Div(
        [
            leaflet_map,
            dcc.Store(id=Ids.REGION_CLASSES, data=start.classes),
            dcc.Store(id=Ids.REGIONS_STYLED),
            dcc.Store(id=Ids.SITES_QUERY),
            html.Div(start.legend, id=Ids.LEGEND, className="atlas-legend atlas-overlay"),
            html.Div("Hover over a region", id=Ids.INFO, className="atlas-info atlas-overlay", role="status"),
            _jump_control(info),
            html.Div(
                [
                    html.Span("Sites by first stage: ", className="fw-semibold"),
                    *[
                        html.Span([html.I(className="dot", style={"background": colour}), vocab.STAGES[code]])
                        for code, colour in geometry.STAGE_COLOURS.items()
                    ],
                ],
                className="atlas-sites-legend atlas-overlay",
                id="sites-legend",
            ),
            html.Div(nuts.ATTRIBUTION, className="atlas-attribution"),
        ],
        className="atlas-map",
    )


def view_bar() -> html.Div:
    """Map or table, a link to this exact view, and what the address asked for but could not show."""
    return html.Div(
        [
            dbc.RadioItems(
                id=Ids.VIEW,
                options=[
                    {"label": "Map", "value": "map"},
                    {"label": "Table", "value": "table"},
                    {"label": "Partners", "value": "partners"},
                    {"label": "Bottlenecks", "value": "bottlenecks"},
                ],
                value="map",
                inline=True,
                className="atlas-view-switch",
                inputClassName="btn-check",
                labelClassName="btn btn-sm btn-outline-dark",
                labelCheckedClassName="active",
            ),
            html.Button("Copy link", id=Ids.COPY_LINK, className="btn btn-sm btn-outline-dark"),
            html.Span(id=Ids.COPIED, className="small text-muted", role="status"),
            html.Div(id=Ids.URL_NOTICE, className="atlas-url-notice small text-danger", role="status"),
        ],
        className="atlas-view-bar d-flex align-items-center gap-2 flex-wrap",
    )


def profile_panel() -> html.Aside:
    """Beside the map: the profile of the region clicked or found (empty until then)."""
    return html.Aside(
        [
            html.Button(
                id=Ids.CLOSE_PROFILE,
                className="btn-close float-end",
                title="Close the profile",
                **_label("Close"),
            ),
            dcc.Loading(html.Div(id=Ids.PROFILE_BODY), delay_show=300),
        ],
        id=Ids.PROFILE,
        className="atlas-profile",
        hidden=True,
        **_label("Region profile"),
    )


def _label(text: str) -> dict[str, Any]:
    return {"aria-label": text}


def search_box() -> html.Div:
    return html.Div(
        [
            dbc.Label("Search", html_for=Ids.SEARCH, className="filter-label"),
            dcc.Dropdown(
                id=Ids.SEARCH,
                options=[],
                placeholder="Region, company or site",
                searchable=True,
                clearable=True,
                className="mb-2",
            ),
        ]
    )


def summary_cards(cards: Any = None) -> html.Div:
    return html.Div(cards, id=Ids.SUMMARY, className="atlas-summary")


def build_layout(
    info: PageInfo, viewer: Viewer, start: MapStart | None = None, *, level: int = DEFAULT_LEVEL
) -> html.Div:
    """The whole page, for one viewer."""
    return html.Div(
        [
            dcc.Location(id=Ids.URL, refresh=False),
            dcc.Store(id=Ids.SELECTED),
            dcc.Store(id=Ids.HIGHLIGHTED),
            dcc.Store(id=Ids.SITE_CHOSEN),
            dbc.Modal(
                [dbc.ModalHeader(dbc.ModalTitle("Site")), dbc.ModalBody(id=Ids.SITE_CARD_BODY)],
                id=Ids.SITE_CARD,
                is_open=False,
                size="lg",
            ),
            html.Div(id=Ids.REGION_PAGE, className="atlas-region-page container py-3", hidden=True),
            html.Div(
                [
                    header(info, viewer),
                    html.Div(
                        [
                            html.Aside(filter_panel(info, level), className="atlas-aside"),
                            html.Main(
                                [
                                    summary_cards(start.cards if start else None),
                                    view_bar(),
                                    html.Div(
                                        [map_panel(info, start), profile_panel()],
                                        id=Ids.MAP_VIEW,
                                        className="atlas-map-view",
                                    ),
                                    html.Div(
                                        [
                                            html.Div(id=Ids.TABLE, className="atlas-table"),
                                        ],
                                        id=Ids.TABLE_VIEW,
                                        className="atlas-table-view",
                                        hidden=True,
                                    ),
                                    partners_view.layout(viewer.role),
                                    html.Div(
                                        overview_view.layout(),
                                        id=Ids.OVERVIEW_VIEW,
                                        className="atlas-overview-view",
                                        hidden=True,
                                    ),
                                    html.Div(id=Ids.STATUS, className="atlas-status", role="status"),
                                ],
                                className="atlas-main",
                            ),
                        ],
                        className="atlas-body",
                    ),
                ],
                id=Ids.MAIN_PAGE,
                className="atlas-page",
            ),
        ],
    )
