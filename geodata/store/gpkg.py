"""The whole store as one GeoPackage, and back: every table is a layer, nothing is lost.

Layers: ``rounds``, ``imports``, ``facilities`` (points, EPSG:4326, from latitude/longitude;
sites without coordinates have no geometry), ``rejected_rows``, ``row_problems``,
``introduction_requests``, ``audit_log`` and ``store_info`` (format, schema revision).
Rows refer to their round by name. Timestamps and dates are ISO 8601 text (UTC), JSON columns
JSON text, so that any GIS reads them and the round trip is exact.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
import sqlalchemy as sa

from geodata.store import convert, database
from geodata.store.models import (
    AuditEntry,
    Base,
    Facility,
    Import,
    IntroductionRequest,
    RejectedRow,
    Round,
    RowProblem,
    UtcDateTime,
    table_of,
)
from geodata.store.reports import StoreError

if TYPE_CHECKING:
    from geodata.store.api import Store

FORMAT = "vaccine-capacity-atlas store 1"
#: Layer name -> model; children of rounds carry the round's name instead of its id.
LAYERS: dict[str, type[Base]] = {
    "rounds": Round,
    "imports": Import,
    "facilities": Facility,
    "rejected_rows": RejectedRow,
    "row_problems": RowProblem,
    "introduction_requests": IntroductionRequest,
    "audit_log": AuditEntry,
}
_SKIP = ("id", "round_id", "geom")


def _fields(model: type[Base]) -> list[sa.Column[Any]]:
    return [c for c in table_of(model).columns if c.name not in _SKIP]


def _to_file(value: Any, column: sa.Column[Any]) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, UtcDateTime | sa.Date):
        return value.isoformat()
    if isinstance(kind, sa.JSON):
        return json.dumps(value, ensure_ascii=False)
    return value


def _from_file(value: Any, column: sa.Column[Any]) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return dt.datetime.fromisoformat(value)
    if isinstance(kind, sa.Date):
        return dt.date.fromisoformat(value)
    if isinstance(kind, sa.JSON):
        return json.loads(value)
    if isinstance(kind, sa.Boolean):
        return bool(value)
    if isinstance(kind, sa.Integer):
        return int(value)
    if isinstance(kind, sa.Float):
        return float(value)
    return str(value)


def _dtype(column: sa.Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.Integer):
        return "Int64"
    if isinstance(kind, sa.Float):
        return "Float64"
    return "object"


def export_store(store: Store, path: Path) -> Path:
    """Write the store to ``path`` (replaced if it exists)."""
    if path.suffix.lower() != ".gpkg":
        raise StoreError(f"{path}: the export is a GeoPackage; give a file name ending in .gpkg")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.partial.gpkg")
    temporary.unlink(missing_ok=True)
    with database.reading(store.engine) as session:  # one snapshot of every table
        names = dict(session.execute(sa.select(Round.id, Round.name)).all())
        frames = {layer: _layer_frame(session, model, names) for layer, model in LAYERS.items()}
    revision = database.current_revision(store.engine)
    info = pd.DataFrame(
        {
            "key": ["format", "schema_revision", "exported_at"],
            "value": [FORMAT, revision, dt.datetime.now(dt.UTC).isoformat()],
        }
    )
    pyogrio.write_dataframe(info, temporary, layer="store_info", driver="GPKG")
    for layer, frame in frames.items():
        if layer == "facilities":
            points = [
                None if pd.isna(lon) or pd.isna(lat) else shapely.Point(lon, lat)
                for lon, lat in zip(frame["longitude"], frame["latitude"], strict=True)
            ]
            frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(points, crs=4326, index=frame.index))
            pyogrio.write_dataframe(frame, temporary, layer=layer, driver="GPKG", geometry_type="Point")
        else:
            pyogrio.write_dataframe(frame, temporary, layer=layer, driver="GPKG")
    temporary.replace(path)  # a reader never finds half a file under the final name
    return path


def _layer_frame(session: Any, model: type[Base], names: dict[int, str]) -> pd.DataFrame:
    fields = _fields(model)
    table = table_of(model)
    has_round = "round_id" in table.columns
    selected = [*fields, table.c.round_id] if has_round else fields
    rows = session.execute(sa.select(*selected).order_by(table.c.id)).all()
    data: dict[str, Any] = {}
    if has_round:
        data["round"] = pd.Series([names[row[-1]] for row in rows], dtype=object)
    for i, column in enumerate(fields):
        values = [_to_file(row[i], column) for row in rows]
        data[column.name] = pd.Series(values, dtype=_dtype(column))
    return pd.DataFrame(data)


def import_store(store: Store, path: Path) -> list[str]:
    """Restore a store export into ``store``; see Store.import_geopackage."""
    frames = _read_layers(path)
    with database.writing(store.engine) as session:
        stored = dict(session.execute(sa.select(Round.name, Round.checksum)).all())
        new_rounds = _check_rounds(path, frames["rounds"], stored)
        ids: dict[str, int] = {}
        for record in _records(frames["rounds"], Round):
            if record["name"] in new_rounds:
                round_ = Round(**record)
                session.add(round_)
                session.flush()
                ids[round_.name] = round_.id
        for layer in ("imports", "facilities", "rejected_rows", "row_problems", "introduction_requests"):
            model = LAYERS[layer]
            rows = [
                {**record, "round_id": ids[name]}
                for name, record in zip(frames[layer]["round"], _records(frames[layer], model), strict=True)
                if name in ids
            ]
            if model is Facility:
                rows = [
                    {**row, "geom": convert.point_ewkt(row["longitude"], row["latitude"])} for row in rows
                ]
            for start in range(0, len(rows), 1000):
                session.execute(sa.insert(table_of(model)), rows[start : start + 1000])
        _restore_audit(session, frames["audit_log"])
    return sorted(new_rounds)


def _read_layers(path: Path) -> dict[str, pd.DataFrame]:
    if not path.is_file():
        raise StoreError(f"{path}: no such file.")
    try:
        layers = {str(name) for name in pyogrio.list_layers(path)[:, 0]}
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise StoreError(f"{path}: not a readable GeoPackage ({exc}).") from exc
    missing = sorted({"store_info", *LAYERS} - layers)
    if missing:
        raise StoreError(
            f"{path}: not a store export (layers {', '.join(missing)} missing); "
            "write one with `python -m geodata export-store`"
        )
    info = pyogrio.read_dataframe(path, layer="store_info", read_geometry=False)
    found = dict(zip(info["key"], info["value"], strict=True)).get("format")
    if found != FORMAT:
        raise StoreError(f"{path}: store export format {found!r}; this version reads {FORMAT!r}")
    return {layer: pyogrio.read_dataframe(path, layer=layer, read_geometry=False) for layer in LAYERS}


def _records(frame: pd.DataFrame, model: type[Base]) -> list[dict[str, Any]]:
    fields = _fields(model)
    columns = [frame[c.name].astype(object).tolist() for c in fields]
    return [
        {c.name: _from_file(v, c) for c, v in zip(fields, values, strict=True)}
        for values in zip(*columns, strict=True)
    ]


def _check_rounds(path: Path, rounds: pd.DataFrame, stored: dict[str, str]) -> set[str]:
    new = set()
    for name, checksum in zip(rounds["name"], rounds["checksum"], strict=True):
        if name not in stored:
            new.add(str(name))
        elif stored[name] != checksum:
            raise StoreError(
                f"{path}: round {name!r} exists in this store from another file; "
                "nothing was restored; restore the file into another store"
            )
    return new


def _restore_audit(session: Any, frame: pd.DataFrame) -> None:
    keys = ("at", "user_name", "role", "action", "detail")
    present = {tuple(row) for row in session.execute(sa.select(*(getattr(AuditEntry, k) for k in keys)))}
    fresh = [r for r in _records(frame, AuditEntry) if tuple(r[k] for k in keys) not in present]
    if fresh:
        session.execute(sa.insert(table_of(AuditEntry)), fresh)
