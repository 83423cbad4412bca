"""Flask routes that send geometry to the browser once, gzipped and cacheable."""

from __future__ import annotations

import gzip

from flask import Flask, Response, abort, request

from dashboard import auth
from dashboard.data import Atlas, Payload, geometry_payload
from geodata import vocab
from geodata.store import UnknownRound

CACHE_SECONDS = 7 * 24 * 3600


def _send(payload: Payload, *, private: bool = False) -> Response:
    """Gzipped JSON with its ETag; ``private`` for anything that depends on the role (sites)."""
    etag = f'"{payload.etag}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"{'private' if private else 'public'}, max-age={CACHE_SECONDS}, immutable",
        "Vary": "Accept-Encoding, Cookie, Authorization",
    }
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        return Response(
            payload.gzipped, mimetype="application/geo+json", headers={**headers, "Content-Encoding": "gzip"}
        )
    return Response(gzip.decompress(payload.gzipped), mimetype="application/geo+json", headers=headers)


def register(server: Flask, atlas: Atlas) -> None:
    """/atlas/geo/regions-<version>-<level>.json, basemap-<version>.json, sites-<version>.json.

    Shapes are served by the ETag in ``?v=`` (what the page was given), else as the start-up
    round draws them; sites by ``?round=`` (a published round's name), else of the default round.
    """

    def version_ok(version: int) -> int:
        if version not in vocab.NUTS_YEARS:
            abort(404)
        return version

    @server.route("/atlas/geo/regions-<int:version>-<int:level>.json")
    def region_shapes(version: int, level: int) -> Response:
        if level not in vocab.NUTS_LEVELS:
            abort(404)
        found = geometry_payload(f"regions-{version}-{level}", request.args.get("v"))
        return _send(found or atlas.start.region_geojson(version_ok(version), level))

    @server.route("/atlas/geo/basemap-<int:version>.json")
    def basemap_shapes(version: int) -> Response:
        found = geometry_payload(f"basemap-{version}", request.args.get("v"))
        return _send(found or atlas.start.basemap_geojson(version_ok(version)))

    @server.route("/atlas/geo/sites-<int:version>.json")
    def site_points(version: int) -> Response:
        role = auth.current_role()
        if role is None:
            abort(401)
        try:
            data = atlas.get(request.args.get("round") or None)
        except UnknownRound:
            abort(404)
        return _send(data.sites_payload(version_ok(version), role), private=True)
