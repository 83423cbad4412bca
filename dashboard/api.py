"""The read API: region figures, summary totals and the site list, under the disclosure rules.

    GET /api/v1/regions   per-region figures of one NUTS version and level (JSON, or CSV as exported)
    GET /api/v1/summary   the summary cards' totals
    GET /api/v1/sites     the sites the role may see one by one, paged (JSON, or CSV as exported)
    GET /api/v1/openapi.json

Every figure comes from the disclosure engine through :class:`AtlasData` (``regions``,
``summary``) and every site from ``AtlasData.visible`` via ``views.shown_sites``, exactly as the
dashboard's views and exports get them: this module validates parameters, shapes JSON and CSV,
and logs one line per read (route, role, status; never values). Parameters are validated by
pydantic models built once per dataset (the country codes are the dataset's), and the OpenAPI
document is generated from the same models, so the two cannot drift apart.

Why no OpenAPI library: spectree validated repeated query parameters fine, but its errors are
pydantic's raw list echoing the whole input, ``register`` adds documentation pages that load
their scripts from a CDN, and its document walks every Dash route; flask-openapi3 needs its own
``OpenAPI`` app class, while Dash owns the Flask server. ``openapi_document`` below does the job.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from flask import Blueprint, Flask, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator
from pydantic.json_schema import models_json_schema
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from dashboard import auth, views
from dashboard.data import AtlasData
from dashboard.exports import provenance, regions_table, sites_table, to_csv_bytes
from geodata import disclosure, nuts, records, vocab
from geodata.aggregate import Filters

PREFIX = "/api/v1"
API_VERSION = "1.0.0"
MAX_VALUES = 64  # values of one parameter
MAX_CHARS = 64  # characters of one value
ECHO_CHARS = 40  # characters of a bad value repeated in an error message
DEFAULT_LIMIT, MAX_LIMIT = 1000, 5000
SOURCE = f"{nuts.SOURCE}; {nuts.ATTRIBUTION}"
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=utf-8"

#: Filter parameter -> Filters field; the allowed codes are the vocabulary's (countries: the dataset's).
FILTER_FIELDS: dict[str, str] = {
    "stage": "stages",
    "bottleneck": "bottlenecks",
    "platform": "platforms",
    "country": "countries",
    "size": "sizes",
}


class ApiError(Exception):
    """A request the API refuses with 400; ``parameter`` and ``allowed`` tell the client what to send."""

    def __init__(self, message: str, parameter: str | None = None, allowed: Sequence[object] | None = None):
        super().__init__(message)
        self.message, self.parameter, self.allowed = message, parameter, allowed


def _echo(value: object) -> str:
    text = str(value)
    return repr(text[:ECHO_CHARS] + ("…" if len(text) > ECHO_CHARS else ""))


# --- parameter models -----------------------------------------------------------------------------


def _choice(values: Sequence[object]) -> Any:
    """``Literal[values...]``: validates, and becomes an ``enum`` in the JSON schema."""
    return Literal.__getitem__(tuple(values))


class Query(BaseModel):
    """Common base of the parameter models: no unknown parameters; integers only as plain digits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("version", "level", "limit", "offset", mode="before", check_fields=False)
    @classmethod
    def _digits(cls, value: object) -> object:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        return value


@dataclass(frozen=True)
class Params:
    """Validated parameters of one request (defaults where the route takes no such parameter)."""

    version: int = vocab.NUTS_YEARS[0]
    filters: Filters = dataclasses.field(default_factory=Filters)
    level: int = 2
    format: str = "json"
    metrics: tuple[str, ...] = tuple(vocab.METRICS)
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def of(cls, query: BaseModel) -> Params:
        values = query.model_dump()
        filters = Filters(**{field: tuple(values.pop(name)) for name, field in FILTER_FIELDS.items()})
        chosen = values.pop("metric", None) or vocab.METRICS
        return cls(filters=filters, metrics=tuple(m for m in vocab.METRICS if m in chosen), **values)


@dataclass(frozen=True)
class QueryModels:
    """The parameter models of one dataset's API."""

    regions: type[Query]
    summary: type[Query]
    sites: type[Query]


def _codes(allowed: Sequence[str], what: str) -> tuple[Any, Any]:
    return (
        list[_choice(allowed)],  # type: ignore[misc]
        Field(
            default_factory=list, max_length=MAX_VALUES, description=f"{what}; repeat for several (any of)"
        ),
    )


def query_models(countries: Sequence[str]) -> QueryModels:
    """The parameter models for a dataset covering ``countries`` (Eurostat codes)."""
    filters: dict[str, Any] = {
        "stage": _codes(list(vocab.STAGES), "production stage code"),
        "bottleneck": _codes(list(vocab.BOTTLENECKS), "bottleneck code"),
        "platform": _codes(list(vocab.PLATFORMS), "vaccine platform code"),
        "country": _codes(list(countries), "country code (Eurostat, upper case) among the dataset's"),
        "size": _codes(list(vocab.COMPANY_SIZES), "company size code"),
    }
    version = (_choice(vocab.NUTS_YEARS), Field(vocab.NUTS_YEARS[0], description="NUTS version"))
    level = (_choice(vocab.NUTS_LEVELS), Field(2, description="NUTS level (0 countries ... 3 small regions)"))
    fmt = (_choice(("json", "csv")), Field("json", description="csv: the dashboard's export, as a download"))
    metric = _codes(list(vocab.METRICS), "metric to include (default: all)")
    limit = (int, Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="sites per page"))
    offset = (int, Field(0, ge=0, le=10**9, description="sites to skip"))
    return QueryModels(
        regions=create_model(
            "RegionsQuery", __base__=Query, version=version, level=level, format=fmt, metric=metric, **filters
        ),
        summary=create_model("SummaryQuery", __base__=Query, version=version, **filters),
        sites=create_model(
            "SitesQuery", __base__=Query, version=version, format=fmt, limit=limit, offset=offset, **filters
        ),
    )


def _is_list(model: type[BaseModel], name: str) -> bool:
    return typing.get_origin(model.model_fields[name].annotation) is list


@functools.cache
def _properties(model: type[BaseModel]) -> dict[str, Any]:
    return dict(model.model_json_schema()["properties"])


def _allowed(model: type[BaseModel], name: str) -> list[object] | None:
    schema = _properties(model).get(name, {})
    enum = schema.get("enum") or schema.get("items", {}).get("enum")
    if enum is None and "minimum" in schema:
        return [f"{schema['minimum']}..{schema['maximum']}"]
    return enum


def parse(model: type[Query], args: MultiDict[str, str]) -> Params:
    """Validate a query string against ``model``; ApiError naming the parameter and what it allows."""
    raw: dict[str, object] = {}
    for name in args:
        values = args.getlist(name)
        if name not in model.model_fields:
            raise ApiError(f"unknown parameter {_echo(name)}", name[:ECHO_CHARS], sorted(model.model_fields))
        if len(values) > MAX_VALUES:
            raise ApiError(f"{name}: at most {MAX_VALUES} values", name, _allowed(model, name))
        if any(len(value) > MAX_CHARS for value in values):
            raise ApiError(f"{name}: values have at most {MAX_CHARS} characters", name, _allowed(model, name))
        if _is_list(model, name):
            raw[name] = values
        elif len(values) > 1:
            raise ApiError(f"{name}: give it once", name, _allowed(model, name))
        else:
            raw[name] = values[0]
    try:
        return Params.of(model.model_validate(raw))
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_context=False)[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        allowed = _allowed(model, name) if name in model.model_fields else None
        value = error.get("input")
        listed = ", ".join(map(str, allowed or ()))
        scalar = isinstance(value, str | int | float)
        shown = f"{name}={_echo(value)} is not allowed" if scalar else f"{name}: not allowed"
        raise ApiError(f"{shown}; allowed: {listed}" if listed else shown, name, allowed) from None


# --- response models (for the OpenAPI document; the tests check responses against it) -----------

Number = float | None


class ErrorResponse(BaseModel):
    error: str
    parameter: str | None = None
    allowed: list[str | int] | None = None


class Envelope(BaseModel):
    """What every answer says about itself."""

    dataset: str
    version: int
    filters: dict[str, list[str]] = Field(description="the filter parameters applied (codes)")
    role: str
    source: str = Field(description="boundaries' source and attribution")


_REGION_FIELDS: dict[str, Any] = {
    "nuts_id": (str, ...),
    "name": (str | None, ...),
    "level": (int, ...),
    **{
        metric: (Number, Field(None, description=f"{label} ({unit}); null where withheld or n/a"))
        for metric, (label, unit) in vocab.METRICS.items()
    },
    "withheld": (dict[str, str], Field(description="metric -> why it is null (confidential)")),
    "confidential": (
        dict[str, str] | None,
        Field(None, description="officials only: metric -> why cluster and public do not see it"),
    ),
}
#: One region's figures (a field per metric code, so built from the vocabulary).
Region = create_model("Region", __config__=ConfigDict(extra="forbid"), **_REGION_FIELDS)


class RegionsResponse(Envelope):
    level: int
    regions: list[Region]  # type: ignore[valid-type]


class SummaryResponse(Envelope):
    totals: dict[str, Number] = Field(description="facilities, companies, countries, capacity, ...")
    withheld: dict[str, str] = Field(description="total -> why it is null (confidential)")


class Site(BaseModel):
    """One site; capacity, lead time, staff, notes and listing only for officials."""

    model_config = ConfigDict(extra="forbid")

    facility_id: str
    company: str | None = None
    company_id: str | None = None
    country: str | None = None
    city: str | None = None
    company_size: str | None = None
    cluster: str | None = None
    stages: list[str] = []
    platforms: list[str] = []
    bottlenecks: list[str] = []
    gmp_certified: str | None = None
    contact_consent: str | None = None
    capacity_doses_per_month: Number = None
    available_capacity_pct: Number = None
    lead_time_months: Number = None
    staff: Number = None
    bottleneck_notes: str | None = None
    public_listing: str | None = None
    nuts0: str | None = None
    nuts0_name: str | None = None
    nuts1: str | None = None
    nuts1_name: str | None = None
    nuts2: str | None = None
    nuts2_name: str | None = None
    nuts3: str | None = None
    nuts3_name: str | None = None
    nuts_match: str | None = None
    placed_by: str | None = None


class SitesResponse(Envelope):
    total: int = Field(description="sites of this role matching the filters")
    limit: int
    offset: int
    sites: list[Site]


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
        "version": params.version,
        "filters": {name: list(getattr(params.filters, field)) for name, field in FILTER_FIELDS.items()},
        "role": role,
        "source": SOURCE,
    }


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def regions(data: AtlasData, params: Params, role: str) -> Response:
    """Figures of every region of a version and level, as the disclosure engine releases them."""
    version, level, metrics, filters = params.version, params.level, params.metrics, params.filters
    table = data.regions(version, level, filters, role)
    if params.format == "csv":
        now = _now()
        meta = provenance(data.name, version, filters, role, now)
        out = regions_table(table, level, data.names(version), meta)
        dropped = [c for m in vocab.METRICS if m not in metrics for c in (m, disclosure.withheld_column(m))]
        filename = f"regions_{data.path.stem}_nuts{version}_level{level}_{_stamp(now)}.csv"
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
    visible, match = views.shown_sites(data, version, filters, role)
    rows = data.index(version).row[visible[match]]
    page = rows[params.offset : params.offset + params.limit]
    if params.format == "csv":
        now = _now()
        meta = provenance(data.name, version, filters, role, now)
        table = sites_table(data.placed(version), list(page), role, data.names(version), meta)
        response = _csv(to_csv_bytes(table), f"sites_{data.path.stem}_nuts{version}_{_stamp(now)}.csv")
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


# --- the OpenAPI document ----------------------------------------------------------------------


def _parameters(model: type[BaseModel]) -> list[dict[str, object]]:
    schema = model.model_json_schema()
    out = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k not in ("title", "description")}
        parameter: dict[str, object] = {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", ()),
            "description": schema["properties"][name].get("description", ""),
            "schema": prop,
        }
        if prop.get("type") == "array":
            parameter.update(style="form", explode=True)
        out.append(parameter)
    return out


def _content(schema_name: str, csv: bool = False) -> dict[str, object]:
    content: dict[str, object] = {JSON_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return content


def openapi_document(models: QueryModels, cookie_name: str) -> dict[str, object]:
    """OpenAPI 3.1 of the API, with parameter and response schemas from the pydantic models."""
    _, defs = models_json_schema(
        [(m, "serialization") for m in (ErrorResponse, RegionsResponse, SummaryResponse, SitesResponse)],
        ref_template="#/components/schemas/{model}",
    )
    error = {"description": "", "content": _content("ErrorResponse")}
    operations = (
        ("regions", models.regions, "RegionsResponse", True, "Figures per region of one version and level"),
        ("summary", models.summary, "SummaryResponse", False, "Totals of the summary cards"),
        ("sites", models.sites, "SitesResponse", True, "Sites the role may see one by one (paged)"),
    )
    paths: dict[str, object] = {}
    for name, model, response, csv, title in operations:
        paths[f"{PREFIX}/{name}"] = {
            "get": {
                "operationId": name,
                "summary": title,
                "parameters": _parameters(model),
                "responses": {
                    "200": {"description": title, "content": _content(response, csv)},
                    "400": {**error, "description": "a parameter is not allowed (the answer says which)"},
                    "401": {**error, "description": "not signed in"},
                },
            }
        }
    paths[f"{PREFIX}/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {JSON_TYPE: {"schema": {"type": "object"}}}},
                "401": {**error, "description": "not signed in"},
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vaccine Capacity Atlas API",
            "version": API_VERSION,
            "description": (
                "Read-only figures of the vaccine production capacity survey by NUTS region, under the "
                "same disclosure rules as the dashboard: withheld values are null with the reason. "
                f"Boundaries: {SOURCE}."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "cookieSession": {"type": "apiKey", "in": "cookie", "name": cookie_name},
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "python -m dashboard.users token",
                },
            },
        },
        "security": [{"cookieSession": []}, {"bearerToken": []}],
    }


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
    return response


def _route(
    data: AtlasData, model: type[Query] | None, route: str, handler: Callable[..., Response]
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
            else:
                response = handler(data, parse(model, request.args), role)
        except ApiError as exc:
            response = _error(400, exc.message, exc.parameter, exc.allowed)
        except Exception as exc:  # the client gets a short JSON error; the log gets the type
            current_app.logger.error("api %s role=%s failed: %s", route, role or "-", type(exc).__name__)
            response = _error(500, "internal error; the administrators can find it in the log")
        return _finish(response, route, role, started)

    return view


def register(server: Flask, data: AtlasData) -> None:
    """Add the read API under /api/v1 to ``server`` (the sign-in guard of dashboard.auth runs first)."""
    models = query_models(data.countries)
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
        ("openapi.json", None, openapi),
    ):
        blueprint.add_url_rule(
            f"/{name}", name.replace(".", "_"), _route(data, model, name, handler), methods=["GET"]
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


__all__ = ["ApiError", "Params", "QueryModels", "openapi_document", "parse", "query_models", "register"]
