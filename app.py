"""Vaccine Capacity Atlas: ``python app.py`` serves the dashboard at http://127.0.0.1:8050.

Options (flag or environment variable):
  --data FILE        ATLAS_DATA       facility file (CSV, XLSX, GeoPackage, GeoParquet); default: the sample
  --audience A       ATLAS_AUDIENCE   'public' (default: disclosure control on) or 'official'
  --host/--port      ATLAS_HOST/ATLAS_PORT
NUTS boundaries come from NUTS_DATA_DIR, the user cache, or a GISCO download (see README).
``server`` is the WSGI application (e.g. ``gunicorn app:server``).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from dash import Dash

from dashboard import callbacks, routes
from dashboard.data import SAMPLE_FILE, AtlasData
from dashboard.layout import PRODUCT, PageInfo, build_layout
from geodata import nuts, vocab
from geodata.aggregate import AUDIENCES
from geodata.readers import InputError

ASSETS = Path(__file__).resolve().parent / "assets"


def prepare_nuts(download: bool = True) -> None:
    """Make sure every NUTS file the dashboard shows is local (downloading into the cache if allowed)."""
    for version in vocab.NUTS_YEARS:
        for level in vocab.NUTS_LEVELS:
            nuts.ensure_file(nuts.NutsKey(version, level, "20M"), download=download)


def create_app(data_path: str | Path | None = None, audience: str | None = None) -> Dash:
    """The Dash app for one facility file; raises InputError / NutsDataError with a clear message."""
    data_path = data_path or os.environ.get("ATLAS_DATA") or SAMPLE_FILE
    audience = audience or os.environ.get("ATLAS_AUDIENCE", "public")
    if audience not in AUDIENCES:
        raise InputError(f"audience must be one of {', '.join(AUDIENCES)}; got {audience!r}")
    data = AtlasData(data_path, audience=audience)
    data.warm()
    info = PageInfo(
        dataset=data.name,
        is_sample=data.is_sample,
        sites=len(data.facilities),
        companies=int(data.facilities["company"].str.strip().str.casefold().nunique()),
        rejected_rows=len(data.table.rejected),
        survey_period=data.survey_period(),
        audience=audience,
        countries=data.countries,
        jump_targets=data.jump_targets(2021),
    )
    app = Dash(
        __name__,
        title=PRODUCT,
        assets_folder=str(ASSETS),
        serve_locally=True,
        compress=True,
    )
    app.layout = build_layout(info)
    callbacks.register(app, data)
    routes.register(app.server, data)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=PRODUCT)
    parser.add_argument("--data", default=os.environ.get("ATLAS_DATA"), help="facility file to show")
    parser.add_argument("--audience", choices=AUDIENCES, default=os.environ.get("ATLAS_AUDIENCE"))
    parser.add_argument("--host", default=os.environ.get("ATLAS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ATLAS_PORT", "8050")))
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    try:
        prepare_nuts(download=True)
        app = create_app(args.data, args.audience)
    except (InputError, nuts.NutsDataError) as exc:
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
            return _default_app().server
        raise AttributeError(name)
