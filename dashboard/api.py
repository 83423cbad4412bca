"""The read API: region figures, summary totals and the site list, under the disclosure rules.

    GET /api/v1/regions   per-region figures of one NUTS version and level (JSON, or CSV as exported)
    GET /api/v1/summary   the summary cards' totals
    GET /api/v1/sites     the sites the role may see one by one, paged (JSON, or CSV as exported)
    GET /api/v1/partners  sites offering a need, nearest to an origin first (JSON, or CSV as exported)
    GET /api/v1/openapi.json

Every figure comes from the disclosure engine through :class:`AtlasData` (``regions``,
``summary``) and every site from ``AtlasData.visible`` via ``views.shown_sites``, exactly as the
dashboard's views and exports get them: this module holds the routes, shapes JSON and CSV, and
logs one line per read (route, role, status; never values). Parameters are validated, and the
OpenAPI document is generated, by the pydantic models of dashboard.api_schema, so the two cannot
drift apart.

Why no OpenAPI library: spectree validated repeated query parameters fine, but its errors are
pydantic's raw list echoing the whole input, ``register`` adds documentation pages that load
their scripts from a CDN, and its document walks every Dash route; flask-openapi3 needs its own
``OpenAPI`` app class, while Dash owns the Flask server. ``api_schema.openapi_document`` does the job.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from dashboard import audit, auth, matchmaking, views
from dashboard.api_schema import (
    FILTER_FIELDS,
    JSON_TYPE,
    PREFIX,
    SOURCE,
    ApiError,
    Params,
    PartnersQuery,
    Query,
    openapi_document,
    parse,
    query_models,
    validate,
)
from dashboard.data import Atlas, AtlasData
from dashboard.exports import sites_table, to_csv_bytes
from geodata import disclosure, records, vocab
from geodata import partners as geo_partners
from geodata.store import UnknownRound

CSV_TYPE = "text/csv; charset=utf-8"


# --- answers -------------------------------------------------------------------------------------


def _number(value: object) -> float | int | None:
    """A JSON-safe number: None for NaN/NA; integral values as int."""
    if value is None or value is pd.NA:
        return None
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _plain(value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, str | int | float | bool | list):
        return value
    return str(value)  # e.g. a date: as text, never a serialisation error


def _dumps(payload: object) -> str:
    # allow_nan=False: a NaN that slipped through is a bug to see, not invalid JSON to send;
    # <, > and & escaped so that echoed input can never be read as HTML.
    text = json.dumps(payload, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json(payload: object, status: int = 200) -> Response:
    return Response(_dumps(payload), status=status, content_type=JSON_TYPE)


def _csv(content: bytes, filename: str) -> Response:
    response = Response(content, content_type=CSV_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _envelope(data: AtlasData, params: Params, role: str) -> dict[str, object]:
    return {
        "dataset": data.name,
        "round": data.round,
        "version": params.version,
        "filters": {name: list(getattr(params.filters, field)) for name, field in FILTER_FIELDS.items()},
        "role": role,
        "source": SOURCE,
    }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def regions(data: AtlasData, params: Params, role: str) -> Response:
    """Figures of every region of a version and level, as the disclosure engine releases them."""
    version, level, metrics, filters = params.version, params.level, params.metrics, params.filters
    table = data.regions(version, level, filters, role)
    if params.format == "csv":
        out, filename = views.regions_export(data, version, level, filters, _now(), role)
        dropped = [c for m in vocab.METRICS if m not in metrics for c in (m, disclosure.withheld_column(m))]
        return _csv(to_csv_bytes(out.drop(columns=dropped)), filename)
    names = data.names(version)
    restricted = disclosure.is_restricted(role)
    rows = []
    for code, row in zip(table.index, table.to_dict("records"), strict=True):
        record: dict[str, object] = {"nuts_id": str(code), "name": _plain(names.get(code)), "level": level}
        withheld, confidential = {}, {}
        for metric in metrics:
            value = _number(row[metric])
            reason = disclosure.reason_text(str(row[disclosure.withheld_column(metric)] or ""))
            record[metric] = value
            if reason and value is None:
                withheld[metric] = reason
            elif reason:
                confidential[metric] = reason
        record["withheld"] = withheld
        if not restricted:
            record["confidential"] = confidential
        rows.append(record)
    return _json({**_envelope(data, params, role), "level": level, "regions": rows})


def summary(data: AtlasData, params: Params, role: str) -> Response:
    """The summary cards' totals, null with the reason where withheld."""
    totals, why = data.summary(params.version, params.filters, role)
    numbers = {key: _number(value) for key, value in totals.items()}
    withheld = {
        key: disclosure.reason_text(why.get(key, "")) or "confidential"
        for key, value in numbers.items()
        if value is None
    }
    return _json({**_envelope(data, params, role), "totals": numbers, "withheld": withheld})


def sites(data: AtlasData, params: Params, role: str) -> Response:
    """The sites ``role`` may see one by one that match the filters (the dashboard's site list)."""
    version, filters = params.version, params.filters
    rows = views.matching_site_rows(data, version, filters, role)
    page = rows[params.offset : params.offset + params.limit]
    if params.format == "csv":
        table, filename = views.sites_export(data, version, filters, page, _now(), role)
        response = _csv(to_csv_bytes(table), filename)
        response.headers["X-Total-Count"] = str(len(rows))
        return response
    table = sites_table(data.placed(version), list(page), role, data.names(version), {})
    records_ = []
    for row in table.to_dict("records"):
        site = {key: _plain(value) for key, value in row.items()}
        for field in records.LIST_FIELDS:
            if field in site:
                site[field] = [code for code in str(site[field] or "").split(";") if code]
        for field in ("capacity_doses_per_month", "available_capacity_pct", "lead_time_months", "staff"):
            if field in site:
                site[field] = _number(site[field])
        records_.append(site)
    return _json(
        {
            **_envelope(data, params, role),
            "total": len(rows),
            "limit": params.limit,
            "offset": params.offset,
            "sites": records_,
        }
    )


def partners(atlas: Atlas) -> Response:
    """Partner search (dashboard.matchmaking): the same ranked list, columns and CSV as the
    Partners view, for the signed-in role."""
    role = auth.current_role() or "public"
    query = validate(PartnersQuery, request.args)
    assert isinstance(query, PartnersQuery)
    data = _round(atlas, Params(round=query.round))
    version = int(query.version)
    given = [
        name
        for name, ok in (
            ("lat", query.lat is not None or query.lon is not None),
            ("region", query.region is not None),
            ("site", query.site is not None),
        )
        if ok
    ]
    if len(given) != 1:
        raise ApiError("give one origin: lat and lon, region, or site", "lat" if not given else given[1])
    try:
        if query.site is not None:
            origin = matchmaking.site_origin(data, version, query.site, role)
        elif query.region is not None:
            origin = matchmaking.region_origin(version, query.region)
        else:
            if query.lat is None or query.lon is None:
                raise ApiError("give both lat and lon", "lon" if query.lon is None else "lat")
            origin = matchmaking.point_origin(version, query.lat, query.lon)
        wanted = geo_partners.Query(
            need=str(query.need),
            platform=query.platform,
            gmp_only=query.gmp == "yes",
            min_available=query.min_available,
            max_lead_time=query.max_lead_time,
            scope=str(query.scope),
            max_km=query.max_km,
            limit=query.limit,
        )
        result = matchmaking.search(data, version, origin, wanted, role)
    except matchmaking.OriginError as exc:
        raise ApiError(str(exc), exc.parameter) from None
    except PermissionError as exc:
        return _error(403, str(exc), "min_available" if query.min_available is not None else "max_lead_time")
    except geo_partners.NoRelievingStage as exc:
        raise ApiError(str(exc), "need") from None
    except ValueError as exc:
        raise ApiError(str(exc), "scope") from None
    if query.format == "csv":
        content, filename = matchmaking.export(data, version, origin, wanted, result, role, _now())
        return _csv(content, filename)
    return _json(
        {
            "dataset": data.name,
            "round": data.round,
            "version": version,
            "role": role,
            "source": SOURCE,
            "need": wanted.need,
            "stage": wanted.stage,
            "query": wanted.describe(),
            "origin": {
                "kind": origin.kind,
                "label": origin.label,
                "lat": origin.lat,
                "lon": origin.lon,
                "country": origin.country,
                "nuts3": origin.nuts3,
                "facility_id": origin.facility_id,
            },
            "ranking": result.ranking,
            "matched": result.matched,
            "left_out": result.left_out,
            "partners": matchmaking.json_rows(result),
        }
    )


# --- the routes ----------------------------------------------------------------------------------


def _error(status: int, message: str, parameter: str | None = None, allowed: object = None) -> Response:
    body: dict[str, object] = {"error": message}
    if parameter is not None:
        body["parameter"] = parameter
    if allowed is not None:
        body["allowed"] = allowed
    return _json(body, status)


def _finish(response: Response, route: str, role: str | None, started: float) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Vary"] = "Cookie, Authorization"
    elapsed = (time.perf_counter() - started) * 1000
    current_app.logger.info(
        "api %s role=%s status=%d %.0fms", route, role or "-", response.status_code, elapsed
    )
    if role is not None:
        query = request.query_string.decode("utf-8", "replace")
        audit.record("api-read", f"{route} {response.status_code} {query}".strip(), role=role)
    return response


def _round(atlas: Atlas, params: Params) -> AtlasData:
    try:
        return atlas.get(params.round)
    except UnknownRound:
        names = [info.name for info in atlas.published()]
        message = f"round: no published round of that name; allowed: {', '.join(names)}"
        raise ApiError(message, "round", names) from None


def _route(
    atlas: Atlas, model: type[Query] | None, route: str, handler: Callable[..., Response]
) -> Callable[[], Response]:
    """A view: role, parameters, the handler; 401/400 as JSON, and no traceback ever leaves."""

    @functools.wraps(handler)
    def view() -> Response:
        started, role = time.perf_counter(), None
        try:
            role = auth.current_role()
            if role is None:
                response = _error(401, "sign in required")
                response.headers["WWW-Authenticate"] = 'Bearer realm="atlas"'
            elif model is None:
                response = handler()
            elif model is PartnersQuery:
                response = handler(atlas)
            else:
                params = parse(model, request.args)
                response = handler(_round(atlas, params), params, role)
        except ApiError as exc:
            response = _error(400, exc.message, exc.parameter, exc.allowed)
        except Exception as exc:  # the client gets a short JSON error; the log gets the type
            current_app.logger.error("api %s role=%s failed: %s", route, role or "-", type(exc).__name__)
            response = _error(500, "internal error; the administrators can find it in the log")
        return _finish(response, route, role, started)

    return view


def register(server: Flask, atlas: Atlas) -> None:
    """Add the read API under /api/v1 to ``server`` (the sign-in guard of dashboard.auth runs first)."""
    models = query_models(sorted(records.NUTS_COUNTRIES))
    blueprint = Blueprint("atlas_api", __name__, url_prefix=PREFIX)

    @functools.cache
    def document(cookie_name: str) -> str:
        return _dumps(openapi_document(models, cookie_name))

    def openapi() -> Response:
        cookie = str(current_app.config.get("SESSION_COOKIE_NAME") or "session")
        return Response(document(cookie), content_type=JSON_TYPE)

    for name, model, handler in (
        ("regions", models.regions, regions),
        ("summary", models.summary, summary),
        ("sites", models.sites, sites),
        ("partners", PartnersQuery, partners),
        ("openapi.json", None, openapi),
    ):
        blueprint.add_url_rule(
            f"/{name}", name.replace(".", "_"), _route(atlas, model, name, handler), methods=["GET"]
        )
    # Dash answers every other path with its page; under /api/ an unknown path is a JSON 404.
    server.add_url_rule("/api/<path:rest>", "atlas_api_unknown", _unknown, methods=["GET"])
    server.register_blueprint(blueprint)
    server.register_error_handler(405, _api_http_error)


def _unknown(rest: str) -> Response:
    return _finish(_error(404, "not found"), "unknown", auth.current_role(), time.perf_counter())


def _api_http_error(exc: HTTPException) -> Response | HTTPException:
    """JSON instead of an HTML page for a wrong method under /api/; other paths as before."""
    if not request.path.startswith("/api/"):
        return exc
    response = _error(exc.code or 405, exc.name.lower())
    allow = exc.get_response().headers.get("Allow")
    if allow:
        response.headers["Allow"] = allow
    return response


__all__ = ["register"]
