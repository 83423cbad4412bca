"""The store's tables as typed SQLAlchemy 2 models; the migrations in ``migrations/`` create them.

One survey round is one imported file. Its valid rows are ``facilities`` (every field of
DATA_MODEL.md, lists as JSON arrays, placed in NUTS 2021 and NUTS 2024), its rejected rows are
``rejected_rows`` (the cells as written) and every finding about a cell is a ``row_problems``
row. ``imports`` logs each import (also those that reused a round), ``audit_log`` the exports,
API reads and sign-ins.

Timestamps are stored in UTC and read back as timezone-aware UTC datetimes on every backend.
``facilities.geom`` is a PostGIS ``geometry(Point, 4326)`` on PostgreSQL (so that QGIS and any
PostGIS client read the sites) and EWKT text on SQLite, which has no spatial types; on both,
latitude/longitude are the values of record and ``geom`` is derived from them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, cast

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Round status codes: imported and waiting for an official, visible, withdrawn.
DRAFT, PUBLISHED, DISCARDED = "draft", "published", "discarded"
STATUSES: tuple[str, ...] = (DRAFT, PUBLISHED, DISCARDED)
#: Status codes of an introduction request, and what an official may move each to.
REQUEST_STATUSES: tuple[str, ...] = ("open", "accepted", "declined", "done")
REQUEST_MOVES: dict[str, tuple[str, ...]] = {
    "open": ("accepted", "declined"),
    "accepted": ("done", "declined"),
    "declined": ("open",),
    "done": (),
}

#: geometry(Point, 4326) on PostgreSQL; text (EWKT) on SQLite.
POINT_TYPE = sa.Text().with_variant(Geometry("POINT", srid=4326, spatial_index=False), "postgresql")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A point in time, stored in UTC; aware datetimes in, aware UTC datetimes out.

    SQLite keeps no time zone, PostgreSQL converts to the session's: normalising both ways
    gives the same value back on every backend.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamps must carry a time zone; got naive {value!r}")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base; constraint names follow one convention so migrations can name them."""

    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: sa.JSON,
        list[str]: sa.JSON,
        dt.datetime: UtcDateTime,
    }


def table_of(model: type[Base]) -> sa.Table:
    """The Table of a model (for Core statements, which skip the ORM's per-row work)."""
    return cast(sa.Table, model.__table__)


def _round_fk() -> Any:
    return sa.ForeignKey("rounds.id", ondelete="CASCADE")


class Round(Base):
    """A survey round: the facilities of one imported file, and what officials decided."""

    __tablename__ = "rounds"
    __table_args__ = (sa.CheckConstraint(f"status IN {STATUSES!r}", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=DRAFT)
    checksum: Mapped[str] = mapped_column(sa.String(64), index=True)  # SHA-256 of the file, hex
    columns: Mapped[list[str]]  # the file's column names in order (rejected rows use them)
    created_at: Mapped[dt.datetime]
    published_at: Mapped[dt.datetime | None]
    published_by: Mapped[str | None] = mapped_column(sa.Text)
    discarded_at: Mapped[dt.datetime | None]
    discarded_by: Mapped[str | None] = mapped_column(sa.Text)


class Import(Base):
    """One run of an import: who, when, which file, what came of it (reused: no new round)."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(_round_fk(), index=True)
    imported_at: Mapped[dt.datetime]
    imported_by: Mapped[str] = mapped_column(sa.Text)
    source_name: Mapped[str] = mapped_column(sa.Text)
    checksum: Mapped[str] = mapped_column(sa.String(64))
    valid_rows: Mapped[int]
    rejected_rows: Mapped[int]
    notes: Mapped[int]  # conversions recorded (e.g. ISO GR -> EL)
    reused: Mapped[bool] = mapped_column(default=False)


class Facility(Base):
    """A valid production site of a round: the DATA_MODEL.md fields and its NUTS placement."""

    __tablename__ = "facilities"
    __table_args__ = (
        sa.UniqueConstraint("round_id", "facility_id"),
        sa.Index("ix_facilities_geom", "geom", postgresql_using="gist").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(_round_fk())
    source_row: Mapped[int]
    facility_id: Mapped[str] = mapped_column(sa.Text)
    company: Mapped[str] = mapped_column(sa.Text)
    company_id: Mapped[str | None] = mapped_column(sa.Text)
    country: Mapped[str] = mapped_column(sa.String(2))
    city: Mapped[str | None] = mapped_column(sa.Text)
    postcode: Mapped[str | None] = mapped_column(sa.Text)
    latitude: Mapped[float | None] = mapped_column(sa.Double)
    longitude: Mapped[float | None] = mapped_column(sa.Double)
    nuts3: Mapped[str | None] = mapped_column(sa.String(5))  # as given by the respondent
    company_size: Mapped[str | None] = mapped_column(sa.String(20))
    cluster: Mapped[str | None] = mapped_column(sa.Text)
    stages: Mapped[list[str]]
    platforms: Mapped[list[str]]
    capacity_doses_per_month: Mapped[float | None] = mapped_column(sa.Double)
    available_capacity_pct: Mapped[float | None] = mapped_column(sa.Double)
    lead_time_months: Mapped[float | None] = mapped_column(sa.Double)
    gmp_certified: Mapped[bool | None]
    staff: Mapped[int | None] = mapped_column(sa.BigInteger)
    bottlenecks: Mapped[list[str]]
    bottleneck_notes: Mapped[str | None] = mapped_column(sa.Text)
    public_listing: Mapped[bool]
    contact_consent: Mapped[bool]
    survey_date: Mapped[dt.date | None]
    geom: Mapped[str | None] = mapped_column(POINT_TYPE)  # from latitude/longitude; see module doc
    # Placement in NUTS 2021 and NUTS 2024 (geodata.placement.place)
    nuts0_2021: Mapped[str | None] = mapped_column(sa.String(5))
    nuts1_2021: Mapped[str | None] = mapped_column(sa.String(5))
    nuts2_2021: Mapped[str | None] = mapped_column(sa.String(5))
    nuts3_2021: Mapped[str | None] = mapped_column(sa.String(5))
    nuts_match_2021: Mapped[str] = mapped_column(sa.String(20))
    nuts_note_2021: Mapped[str] = mapped_column(sa.Text)
    nuts0_2024: Mapped[str | None] = mapped_column(sa.String(5))
    nuts1_2024: Mapped[str | None] = mapped_column(sa.String(5))
    nuts2_2024: Mapped[str | None] = mapped_column(sa.String(5))
    nuts3_2024: Mapped[str | None] = mapped_column(sa.String(5))
    nuts_match_2024: Mapped[str] = mapped_column(sa.String(20))
    nuts_note_2024: Mapped[str] = mapped_column(sa.Text)


class RejectedRow(Base):
    """An input row that failed validation: its cells as written and the joined reasons."""

    __tablename__ = "rejected_rows"
    __table_args__ = (sa.UniqueConstraint("round_id", "source_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(_round_fk())
    source_row: Mapped[int]
    cells: Mapped[dict[str, Any]]  # original column name -> text as written
    reasons: Mapped[str] = mapped_column(sa.Text)


class RowProblem(Base):
    """One finding about one cell (records.Problem): an error rejects the row, a note does not."""

    __tablename__ = "row_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(_round_fk(), index=True)
    source_row: Mapped[int]
    field: Mapped[str] = mapped_column(sa.Text)
    value: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text)
    severity: Mapped[str] = mapped_column(sa.String(10))


class IntroductionRequest(Base):
    """A request to be introduced to a site's company, for one need (stage or bottleneck code)."""

    __tablename__ = "introduction_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(_round_fk(), index=True)
    facility_id: Mapped[str] = mapped_column(sa.Text)
    need: Mapped[str] = mapped_column(sa.Text)
    requester: Mapped[str] = mapped_column(sa.Text)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    #: the requester's role when asking, and the official who last moved the request
    requester_role: Mapped[str] = mapped_column(sa.String(20), default="cluster", server_default="cluster")
    handled_by: Mapped[str | None] = mapped_column(sa.Text)


class AuditEntry(Base):
    """Who did what, when, under which role: exports, API reads, sign-ins."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    user_name: Mapped[str] = mapped_column(sa.Text)
    role: Mapped[str] = mapped_column(sa.Text)
    action: Mapped[str] = mapped_column(sa.Text)
    detail: Mapped[str] = mapped_column(sa.Text, default="")
