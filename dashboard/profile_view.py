"""What a region's profile looks like: the panel beside the map and the region page share it.

Pure builders of Dash components from a :class:`dashboard.profile.Profile` (whose every figure
already comes from the disclosure engine for the role); no data access here.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html
from markupsafe import escape

from dashboard.profile import Figure, Profile
from geodata import disclosure, nuts, vocab
from layers import choropleth

#: The map's palette: the region in its darkest class colour, the EU in grey.
REGION_COLOUR = choropleth.SEQUENTIAL[-2]
EU_COLOUR = "#9e9e9e"
LABELS = {
    "facilities": "Sites",
    "companies": "Companies",
    "capacity": "Capacity",
    "available_capacity": "Available capacity",
    "bottleneck_reports": "Bottleneck reports",
}


def figure_text(metric: str, figure: Figure, restricted: bool) -> str:
    """A figure as the screen shows it: the value, or "confidential (why)", never zero for it."""
    if figure.value is None:
        if not figure.reason:
            return "no data"
        why = figure.reason_text.removeprefix("confidential: ")
        return f"confidential: {why}"
    text = choropleth.format_value(metric, figure.value)
    if figure.reason and not restricted:
        return f"{text} · not shown to other roles"
    return text


def region_page_href(profile: Profile) -> str:
    query = {"version": profile.version}
    return f"/region/{profile.code}?{urlencode(query)}"


def headline(profile: Profile) -> html.Dl:
    restricted = disclosure.is_restricted(profile.role)
    items: list[Any] = []
    for metric, label in LABELS.items():
        items += [html.Dt(label), html.Dd(figure_text(metric, profile.figures[metric], restricted))]
    return html.Dl(items, className="atlas-profile-figures")


def stage_chart(profile: Profile) -> dcc.Graph | html.P:
    """Sites per stage in the region (share of the EU's sites of that stage) beside the region's
    share of all EU sites: a stage above the grey mark is a strength."""
    labels = [s.label for s in profile.stages]
    shares = [100 * s.share.value if s.share.value is not None else None for s in profile.stages]
    if not any(shares):
        return html.P("No stage figure to chart (none, or confidential).", className="small text-muted")
    hover = [
        figure_text("facilities", s.sites, disclosure.is_restricted(profile.role)) for s in profile.stages
    ]
    fig = go.Figure(
        go.Bar(
            x=shares,
            y=labels,
            orientation="h",
            marker_color=REGION_COLOUR,
            name="share of the EU's sites of the stage",
            hovertext=hover,
            hovertemplate="%{y}: %{x:.1f} %% of EU sites (%{hovertext})<extra></extra>",
        )
    )
    if profile.share.value is not None:
        fig.add_vline(
            x=100 * profile.share.value, line_color=EU_COLOUR, line_dash="dash", annotation_text="all stages"
        )
    fig.update_layout(
        height=40 + 24 * len(labels),
        margin={"l": 10, "r": 10, "t": 10, "b": 30},
        xaxis_title="% of the EU's sites of the stage",
        yaxis={"autorange": "reversed"},
        showlegend=False,
        plot_bgcolor="white",
        font={"size": 11},
    )
    return dcc.Graph(
        figure=fig, config={"displayModeBar": False, "staticPlot": False}, className="atlas-chart"
    )


def bottleneck_chart(profile: Profile) -> dcc.Graph | html.P:
    known = [(b.label, b.reports.value) for b in profile.bottlenecks if b.reports.value]
    if not known:
        return html.P("No bottleneck reported that your role may see.", className="small text-muted")
    fig = go.Figure(
        go.Bar(
            x=[v for _l, v in known],
            y=[label for label, _v in known],
            orientation="h",
            marker_color=choropleth.SEQUENTIAL[4],
            hovertemplate="%{y}: %{x:.0f} sites<extra></extra>",
        )
    )
    fig.update_layout(
        height=60 + 22 * max(len(known), 1),
        margin={"l": 10, "r": 10, "t": 10, "b": 30},
        xaxis_title="sites reporting it",
        yaxis={"autorange": "reversed"},
        plot_bgcolor="white",
        font={"size": 11},
    )
    return dcc.Graph(figure=fig, config={"displayModeBar": False}, className="atlas-chart")


def stage_table(profile: Profile) -> html.Table:
    restricted = disclosure.is_restricted(profile.role)
    rows = []
    for s in profile.stages:
        lq = s.specialisation
        lq_text = figure_text("specialisation", lq, restricted) if lq.value is not None or lq.reason else "–"
        rank = f"{s.rank} of {s.ranked}" if s.rank is not None else "–"
        share = f"{100 * s.share.value:.1f} %" if s.share.value is not None else (
            figure_text("facilities", s.share, restricted) if s.share.reason else "–"
        )  # fmt: skip
        rows.append(
            html.Tr(
                [
                    html.Th(s.label, scope="row"),
                    html.Td(figure_text("facilities", s.sites, restricted)),
                    html.Td(share),
                    html.Td(lq_text),
                    html.Td(rank),
                ]
            )
        )
    head = html.Thead(
        html.Tr(
            [html.Th(h, scope="col") for h in ("Stage", "Sites", "Share of EU", "Specialisation", "Rank")]
        )
    )
    return html.Table(
        [html.Caption("Production stages"), head, html.Tbody(rows)],
        className="table table-sm atlas-stage-table",
    )


def site_list(profile: Profile) -> html.Div:
    """The sites the role may see, as one HTML fragment (a component per cell is slow to draw for
    hundreds of sites); a company's button opens the site's card (assets/atlas.js)."""
    if not profile.sites:
        text = "No site here that your role may see listed." if profile.sites_total == 0 else ""
        return html.Div(text, className="small text-muted")
    wanted = (
        "company",
        "city",
        "stages",
        "platforms",
        "gmp_certified",
        "capacity_doses_per_month",
        "lead_time_months",
    )
    columns = [c for c in wanted if c in profile.site_columns]
    head = "".join(f'<th scope="col">{escape(c.replace("_", " "))}</th>' for c in columns)
    rows = []
    for site in profile.sites:
        cells = []
        for c in columns:
            value = site.get(c)
            if c == "company":
                name = escape(str(value or "(company not named)"))
                fid = escape(str(site.get("facility_id")))
                cells.append(
                    f'<td><button type="button" class="btn btn-link p-0 text-start atlas-site-open" '
                    f'data-facility="{fid}" title="Every field of this site">{name}</button></td>'
                )
            else:
                cells.append(f"<td>{escape('' if value is None else str(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"Sites your role may see ({profile.sites_total:,})"
    table = (
        f'<table class="table table-sm atlas-site-table"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    note = (
        f"{profile.sites_total:,} sites; the first {len(profile.sites)} listed."
        if profile.sites_truncated
        else ""
    )
    return html.Div(
        [dcc.Markdown(table, dangerously_allow_html=True), html.Div(note, className="small text-muted")]
    )


def strengths(profile: Profile) -> html.P:
    if not profile.strengths:
        return html.P("No production stage is more specialised here than in the EU (or it is confidential).")
    names = [vocab.STAGES[code] for code in profile.strengths]
    return html.P(["Strengths (specialisation above the EU's): ", html.Strong(", ".join(names))])


def title(profile: Profile) -> list[Any]:
    parents = " › ".join(f"{p.name} ({p.code})" for p in reversed(profile.parents))
    return [
        html.H2(f"{profile.name} ({profile.code})", className="h5 mb-1"),
        html.Div(
            f"NUTS {profile.version} level {profile.level} · {profile.country.name}"
            + (f" · in {parents}" if parents else ""),
            className="small text-muted",
        ),
    ]


def panel(profile: Profile) -> list[Any]:
    """The profile beside the map."""
    return [
        html.Div(title(profile)),
        html.A(
            "Open as a page to present or print",
            href=region_page_href(profile),
            id="region-page-link",
            className="small",
        ),
        headline(profile),
        strengths(profile),
        stage_chart(profile),
        stage_table(profile),
        html.H3("Bottlenecks reported", className="h6"),
        bottleneck_chart(profile),
        site_list(profile),
    ]


def locator(svg_text: str, profile: Profile) -> html.Img | html.Span:
    """The locator map (an SVG drawn on the server) as an image with a text alternative."""
    if not svg_text:
        return html.Span()
    encoded = base64.b64encode(svg_text.encode("utf-8")).decode("ascii")
    return html.Img(
        src=f"data:image/svg+xml;base64,{encoded}",
        alt=f"Where {profile.name} lies in {profile.country.name}",
        className="atlas-locator",
        id="region-locator",
    )


def page(profile: Profile, when: str, source: str, locator_svg: str = "") -> list[Any]:
    """The region page: laid out to present and to print (one or two pages)."""
    return [
        html.Div([html.A("← Back to the map", href="/", className="d-print-none")]),
        *title(profile),
        html.Div(
            [
                html.Div([headline(profile), strengths(profile)], className="col-5"),
                html.Div(locator(locator_svg, profile), className="col-7"),
            ],
            className="row",
        ),
        stage_chart(profile),
        stage_table(profile),
        html.H3("Bottlenecks reported", className="h6"),
        bottleneck_chart(profile),
        site_list(profile),
        html.Footer(
            [
                html.Div(f"Data: {source} · {when} · NUTS {profile.version}"),
                html.Div(f"Filters: {profile.filters.describe()}"),
                html.Div(f"Figures as the {profile.role} role may see them. NUTS boundaries: {nuts.SOURCE}."),
                html.Div(nuts.ATTRIBUTION),
            ],
            className="atlas-page-footer small text-muted mt-3",
        ),
    ]


def missing(code: str, version: int, other: str | None) -> list[Any]:
    """An unknown code: say so, and offer the region of the other NUTS version where one exists."""
    lines: list[Any] = [html.P(f"There is no region {code!r} in NUTS {version}.")]
    if other:
        alt = 2024 if version == 2021 else 2021
        link = html.A(
            f"open {other} in NUTS {alt}", href=f"/region/{other}?version={alt}", id="other-version"
        )
        lines.append(html.P([f"It is a NUTS {alt} region: ", link]))
    lines.append(html.A("Back to the map", href="/"))
    return [dbc.Alert(lines, color="warning", id="region-missing")]


def site_card(fields: dict[str, object]) -> html.Dl:
    """A site's card: every field the role may see, as given."""
    items: list[Any] = []
    for key, value in fields.items():
        if value is None or value == "":
            continue
        items += [html.Dt(key.replace("_", " ")), html.Dd(str(value))]
    return html.Dl(items, className="atlas-profile-figures", id="site-card-fields")
