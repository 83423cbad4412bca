"""What the read API accepts and answers: parameter models, response models, the OpenAPI document.

Parameters are validated by pydantic models built once per dataset (:func:`query_models`; the
country codes are the dataset's) and read from a query string by :func:`parse`, which raises
:class:`ApiError` naming the parameter and what it allows. The response models describe the JSON
answers; :func:`openapi_document` builds OpenAPI 3.1 from the same models, so the document and
the validation cannot drift apart. No Flask here: the routes are in dashboard.api.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator
from pydantic.json_schema import models_json_schema
from werkzeug.datastructures import MultiDict

from geodata import nuts, vocab
from geodata.aggregate import Filters

PREFIX = "/api/v1"
API_VERSION = "1.0.0"
MAX_VALUES = 64  # values of one parameter
MAX_CHARS = 64  # characters of one value
ECHO_CHARS = 40  # characters of a bad value repeated in an error message
DEFAULT_LIMIT, MAX_LIMIT = 1000, 5000
SOURCE = f"{nuts.SOURCE}; {nuts.ATTRIBUTION}"
JSON_TYPE = "application/json"

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
    round: str | None = None

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
    round_: tuple[Any, Any] = (
        str | None,
        Field(None, min_length=1, max_length=200, description="published survey round (default: the latest)"),
    )
    return QueryModels(
        regions=create_model(
            "RegionsQuery",
            __base__=Query,
            round=round_,
            version=version,
            level=level,
            format=fmt,
            metric=metric,
            **filters,
        ),
        summary=create_model("SummaryQuery", __base__=Query, round=round_, version=version, **filters),
        sites=create_model(
            "SitesQuery",
            __base__=Query,
            round=round_,
            version=version,
            format=fmt,
            limit=limit,
            offset=offset,
            **filters,
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
    return Params.of(validate(model, args))


def validate(model: type[BaseModel], args: MultiDict[str, str]) -> BaseModel:
    """``model`` filled from a query string; ApiError naming the parameter and what it allows."""
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
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_context=False)[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        allowed = _allowed(model, name) if name in model.model_fields else None
        value = error.get("input")
        listed = ", ".join(map(str, allowed or ()))
        scalar = isinstance(value, str | int | float)
        shown = f"{name}={_echo(value)} is not allowed" if scalar else f"{name}: not allowed"
        if not listed and error.get("msg"):
            shown = f"{shown} ({str(error['msg']).lower()})"
        raise ApiError(f"{shown}; allowed: {listed}" if listed else shown, name, allowed) from None


class PartnersQuery(Query):
    """GET /api/v1/partners: who offers a need, nearest first. One origin: lat and lon, region
    (with version), or site."""

    need: _choice([*vocab.STAGES, *vocab.BOTTLENECKS]) = Field(  # type: ignore[valid-type]
        description="stage code, or bottleneck code (searched as the stage that relieves it)"
    )
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False, description="origin latitude, WGS84")
    lon: float | None = Field(
        None, ge=-180, le=180, allow_inf_nan=False, description="origin longitude, WGS84"
    )
    region: str | None = Field(
        None, min_length=2, max_length=5, description="origin: a NUTS region's label point"
    )
    site: str | None = Field(None, min_length=1, max_length=64, description="origin: a site's facility_id")
    version: _choice(vocab.NUTS_YEARS) = Field(vocab.NUTS_YEARS[0], description="NUTS version")  # type: ignore[valid-type]
    platform: _choice(list(vocab.PLATFORMS)) | None = Field(None, description="vaccine platform code")  # type: ignore[valid-type]
    gmp: _choice(("yes", "no")) = Field("no", description="yes: GMP-certified sites only")  # type: ignore[valid-type]
    min_available: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="officials only: least free capacity, doses per month"
    )
    max_lead_time: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="officials only: most months until capacity is usable"
    )
    max_km: float | None = Field(
        None, ge=0, le=20000, allow_inf_nan=False, description="farthest distance, km"
    )
    scope: _choice(("any", "same_country", "cross_border")) = Field(  # type: ignore[valid-type]
        "any", description="same_country or cross_border: relative to the origin's country"
    )
    limit: int = Field(25, ge=1, le=500, description="results at most")
    format: _choice(("json", "csv")) = Field("json", description="csv: the result list as exported")  # type: ignore[valid-type]
    round: str | None = Field(
        None, min_length=1, max_length=200, description="published survey round (default: the latest)"
    )

    @field_validator("lat", "lon", "min_available", "max_lead_time", "max_km", mode="before")
    @classmethod
    def _plain_number(cls, value: object) -> object:
        # "1e400", "nan", "0x10": only plain decimal numbers
        if isinstance(value, str) and not _NUMBER.fullmatch(value):
            raise ValueError("a plain decimal number")
        return value


_NUMBER = re.compile(r"-?\d{1,6}(\.\d{1,20})?")


# --- response models (for the OpenAPI document; the tests check responses against it) -----------

Number = float | None


class ErrorResponse(BaseModel):
    error: str
    parameter: str | None = None
    allowed: list[str | int] | None = None


class Envelope(BaseModel):
    """What every answer says about itself."""

    dataset: str
    round: str | None = Field(None, description="the survey round answered from")
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


class Partner(BaseModel):
    """One candidate; facility-level figures and the contact flag only for officials."""

    model_config = ConfigDict(extra="forbid")

    rank: int
    facility_id: str
    company: str
    country: str
    nuts3: str
    distance_km: float = Field(description="great-circle distance from the origin, km")
    cross_border: bool = Field(description="in another country than the origin")
    approximate_position: bool = Field(description="placed by postcode or region, not by coordinates")
    stage: str
    platforms: list[str]
    gmp_certified: bool
    why: str
    lat: float
    lon: float
    available_doses_per_month: Number = None
    lead_time_months: Number = None
    contact_consent: bool | None = None


class Origin(BaseModel):
    kind: str
    label: str
    lat: float
    lon: float
    country: str | None = None
    nuts3: str | None = None
    facility_id: str | None = None


class PartnersResponse(BaseModel):
    dataset: str
    round: str | None = None
    version: int
    role: str
    source: str
    need: str
    stage: str = Field(description="the stage searched (the one that relieves a bottleneck)")
    query: str = Field(description="the query in words")
    origin: Origin
    ranking: str
    matched: int = Field(description="sites matching before the limit")
    left_out: dict[str, int] = Field(description="sites left out for not reporting a filtered figure")
    partners: list[Partner]


class SitesResponse(Envelope):
    total: int = Field(description="sites of this role matching the filters")
    limit: int
    offset: int
    sites: list[Site]


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
        [
            (m, "serialization")
            for m in (ErrorResponse, RegionsResponse, SummaryResponse, SitesResponse, PartnersResponse)
        ],
        ref_template="#/components/schemas/{model}",
    )
    error = {"description": "", "content": _content("ErrorResponse")}
    operations = (
        ("regions", models.regions, "RegionsResponse", True, "Figures per region of one version and level"),
        ("summary", models.summary, "SummaryResponse", False, "Totals of the summary cards"),
        ("sites", models.sites, "SitesResponse", True, "Sites the role may see one by one (paged)"),
        ("partners", PartnersQuery, "PartnersResponse", True, "Sites offering a need, nearest first"),
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
                    **(
                        {"403": {**error, "description": "a filter only officials may use"}}
                        if name == "partners"
                        else {}
                    ),
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


__all__ = [
    "ApiError",
    "Params",
    "PartnersQuery",
    "QueryModels",
    "openapi_document",
    "parse",
    "query_models",
    "validate",
]
