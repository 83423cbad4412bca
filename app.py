"""Vaccine Capacity Atlas: ``python app.py`` serves the dashboard at http://127.0.0.1:8050.

Options (flag or environment variable):
  --data FILE        ATLAS_DATA       facility file (CSV, XLSX, GeoPackage, GeoParquet); default: the
                                      fictional sample, served as a demo with a role switcher
  --public           ATLAS_PUBLIC=yes anonymous visitors get the public role (off by default)
  --host/--port      ATLAS_HOST/ATLAS_PORT
Sign-in: ATLAS_SECRET_KEY and ATLAS_USERS (see README) are required for any data but the sample.
NUTS boundaries come from NUTS_DATA_DIR, the user cache, or a GISCO download (see README).
``server`` is the WSGI application (e.g. ``gunicorn app:server``).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import threading
from pathlib import Path

from dash import Dash, html

from dashboard import (
    api,
    audit,
    auth,
    callbacks,
    finding,
    hardening,
    imports,
    matchmaking,
    overview,
    overview_view,
    partners_view,
    profile,
    requests_page,
    routes,
    serving,
    views,
)
from dashboard.data import SAMPLE_FILE, Atlas, AtlasData, NoPublishedRound, warming
from dashboard.ids import Ids
from dashboard.layout import DEFAULT_LEVEL, DEFAULT_METRIC, PRODUCT, MapStart, PageInfo, Viewer, build_layout
from geodata import disclosure, nuts, store, vocab
from geodata.aggregate import Filters
from geodata.readers import InputError
from layers.classify import DEFAULT_K, DEFAULT_SCHEME

DEMO_HOST = "127.0.0.1"

ASSETS = Path(__file__).resolve().parent / "assets"


def prepare_nuts(download: bool = True) -> None:
    """Make sure every NUTS file the dashboard shows is local (downloading into the cache if allowed)."""
    for version in vocab.NUTS_YEARS:
        for level in vocab.NUTS_LEVELS:
            nuts.ensure_file(nuts.NutsKey(version, level, "20M"), download=download)


def create_app(data_path: str | Path | None = None, public: bool | None = None) -> Dash:
    """The Dash app for one facility file; raises InputError / NutsDataError / auth.ConfigError
    with a clear message. The bundled sample is a demo (role switcher, no accounts needed);
    any other file needs ATLAS_SECRET_KEY and ATLAS_USERS."""
    data_path = data_path or os.environ.get("ATLAS_DATA") or SAMPLE_FILE
    if not Path(data_path).is_file():
        raise InputError(f"{data_path}: no such file; give the survey file to serve (--data or ATLAS_DATA)")
    public = auth.env_flag("ATLAS_PUBLIC") if public is None else public
    try:
        rules = disclosure.Rules.from_env()
    except disclosure.rules.ConfigurationError as exc:
        raise InputError(str(exc)) from None
    try:
        survey_store = store.connect()
    except Exception as exc:  # a bad URL or an unreachable database: one clear line, not a traceback
        reason = " ".join(str(exc).split())[:160]
        raise InputError(
            f"cannot open the survey store ({type(exc).__name__}: {reason}); check ATLAS_DATABASE_URL"
        ) from None
    shared = serving.shared_cache()  # Redis when ATLAS_REDIS_URL is set, else per-process caches
    try:
        atlas = Atlas(survey_store, data_path, rules=rules, shared=shared)
    except store.StoreError as exc:
        raise InputError(str(exc)) from None
    atlas.start.warm()
    if warming():
        threading.Thread(target=_warm_more, args=(atlas,), name="warm-profiles", daemon=True).start()
    demo = atlas.demo
    app = Dash(
        __name__,
        title=PRODUCT,
        assets_folder=str(ASSETS),
        serve_locally=True,
        compress=True,
        on_error=hardening.callback_errors(shown_in=Ids.URL_NOTICE),  # logged, and the id shown
    )
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    auth.configure(app.server, demo=demo, public=public)
    hardening.harden(app.server)
    audit.configure(app.server, survey_store)
    serving.install(app.server, atlas, shared)  # request log with ids, /readyz

    # what Dash checks callbacks against: the whole page, with no figure in it (built outside any
    # request, where the layout function below would only give the signed-out placeholder)
    start_info = page_info(atlas, atlas.start, [])
    app.validation_layout = build_layout(start_info, Viewer("cluster", None, None, None))  # type: ignore[assignment]

    def page(level: int = DEFAULT_LEVEL) -> html.Div:
        """The page of the signed-in role, with its first map (``level``: where it opens)."""
        role = auth.current_role()
        if role is None:  # the sign-in guard answers first; nothing is built without a role
            return html.Div("Sign in to see the map.", id="signed-out")
        published = atlas.published()
        try:
            data = atlas.get(atlas.default_round(published))
        except NoPublishedRound:
            return html.Div(
                [html.P("No survey round is published yet."), *imports.import_link(role)], id="no-round"
            )
        version = vocab.NUTS_YEARS[0]
        totals, _why = data.summary(version, Filters(), role)
        viewer = Viewer(role, auth.sign_out_link(), totals.get("facilities"), totals.get("companies"))
        first = views.map_update(
            data, version, level, DEFAULT_METRIC, Filters(), DEFAULT_SCHEME, DEFAULT_K, role
        )
        start = MapStart(
            regions_url=first.regions_url,
            basemap_url=views.geo_url("basemap", version, None, data.basemap_geojson(version).etag),
            classes=first.classes,
            legend=first.legend,
            cards=first.cards,
        )
        return build_layout(page_info(atlas, data, published), viewer, start, level=level)

    app.layout = page
    callbacks.register(app, atlas)
    callbacks.register_profiles(app, atlas)
    callbacks.register_site_cards(app, atlas)
    partners_view.register(app, atlas)
    overview_view.register(app, atlas)
    routes.register(app.server, atlas)
    api.register(app.server, atlas)
    imports.register(app.server, atlas)
    requests_page.register(app.server, atlas)
    return app


def _warm_more(atlas: Atlas) -> None:
    """After start-up, in the background: the default profiles and the search index of each role
    group, so that the first click or keystroke is answered from memory."""
    try:
        profile.warm_round(atlas.start)
        for role in ("official", "cluster"):
            finding.index(atlas.start, role)
        matchmaking.sites(atlas.start, vocab.NUTS_YEARS[0])
        overview.warm_round(atlas.start)
    except Exception:  # a failure here only means the first request builds it
        logging.getLogger(__name__).exception("warming the profiles failed")


def page_info(atlas: Atlas, data: AtlasData, published: list[store.RoundInfo]) -> PageInfo:
    """What the page needs to know about the round it opens on and the rounds offered."""
    return PageInfo(
        dataset=data.name,
        is_sample=data.is_sample,
        rejected_rows=data.rejected_rows,
        survey_period=data.survey_period(),
        demo=atlas.demo,
        countries=data.countries,
        jump_targets=data.jump_targets(2021),
        rounds=tuple((info.name, round_label(info)) for info in published),
        round=data.round,
    )


def round_label(info: store.RoundInfo) -> str:
    """A round as the picker lists it: its name and when it was published (no counts: a count of
    every site would bypass the disclosure engine)."""
    when = f" · published {info.published_at:%d %b %Y}" if info.published_at else ""
    return f"{info.name}{when}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=PRODUCT)
    parser.add_argument("--data", default=os.environ.get("ATLAS_DATA"), help="facility file to show")
    parser.add_argument(
        "--public", action="store_true", default=None, help="serve anonymous visitors the public role"
    )
    parser.add_argument("--host", default=os.environ.get("ATLAS_HOST", DEMO_HOST))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ATLAS_PORT", "8050")))
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    demo = Path(args.data or SAMPLE_FILE).resolve() == SAMPLE_FILE.resolve()
    if demo and args.host != DEMO_HOST:
        print(
            f"error: the demo on the fictional sample is served on {DEMO_HOST} only; "
            "give --data FILE (with ATLAS_SECRET_KEY and ATLAS_USERS) to serve elsewhere",
            file=sys.stderr,
        )
        return 2
    try:
        prepare_nuts(download=True)
        app = create_app(args.data, args.public)
    except (InputError, nuts.NutsDataError, auth.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{PRODUCT}: http://{args.host}:{args.port}", file=sys.stderr)
    app.run(host=args.host, port=args.port, debug=args.debug, dev_tools_disable_version_check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    # WSGI entry point: `gunicorn app:server`. Built lazily so importing app.py does no I/O.
    @functools.cache
    def _default_app() -> Dash:
        return create_app()

    def __getattr__(name: str) -> object:
        if name == "server":
            try:
                return _default_app().server
            except (InputError, nuts.NutsDataError, auth.ConfigError) as exc:
                # one line from gunicorn, not a worker's traceback (gunicorn.conf.py's boot check
                # finds these before any worker starts; this is for `gunicorn app:server` alone)
                raise serving.load_failure(" ".join(str(exc).split())) from None
        raise AttributeError(name)
