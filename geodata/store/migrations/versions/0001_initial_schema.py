"""Initial schema: rounds, imports, facilities, rejected rows, row problems, introduction
requests and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Runs on SQLite and PostgreSQL alike. ``facilities.geom`` is a PostGIS geometry(Point, 4326)
with a GiST index on PostgreSQL (the postgis extension must exist: creating it needs rights the
application should not have) and text on SQLite.
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POINT = sa.Text().with_variant(
    geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326, spatial_index=False), "postgresql"
)


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _round_id() -> sa.Column:
    return sa.Column("round_id", sa.Integer(), nullable=False)


def _round_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["round_id"], ["rounds.id"], name=op.f(f"fk_{table}_round_id_rounds"), ondelete="CASCADE"
    )


def _nuts_columns(year: int) -> list[sa.Column]:
    return [
        *(sa.Column(f"nuts{level}_{year}", sa.String(length=5), nullable=True) for level in range(4)),
        sa.Column(f"nuts_match_{year}", sa.String(length=20), nullable=False),
        sa.Column(f"nuts_note_{year}", sa.Text(), nullable=False),
    ]


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _when("at"),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)

    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        _when("created_at"),
        _when("published_at", nullable=True),
        sa.Column("published_by", sa.Text(), nullable=True),
        _when("discarded_at", nullable=True),
        sa.Column("discarded_by", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'published', 'discarded')", name=op.f("ck_rounds_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rounds")),
        sa.UniqueConstraint("name", name=op.f("uq_rounds_name")),
    )
    op.create_index(op.f("ix_rounds_checksum"), "rounds", ["checksum"], unique=False)

    op.create_table(
        "facilities",
        sa.Column("id", sa.Integer(), nullable=False),
        _round_id(),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Text(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("company_id", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("postcode", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("nuts3", sa.String(length=5), nullable=True),
        sa.Column("company_size", sa.String(length=20), nullable=True),
        sa.Column("cluster", sa.Text(), nullable=True),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("capacity_doses_per_month", sa.Double(), nullable=True),
        sa.Column("available_capacity_pct", sa.Double(), nullable=True),
        sa.Column("lead_time_months", sa.Double(), nullable=True),
        sa.Column("gmp_certified", sa.Boolean(), nullable=True),
        sa.Column("staff", sa.BigInteger(), nullable=True),
        sa.Column("bottlenecks", sa.JSON(), nullable=False),
        sa.Column("bottleneck_notes", sa.Text(), nullable=True),
        sa.Column("public_listing", sa.Boolean(), nullable=False),
        sa.Column("contact_consent", sa.Boolean(), nullable=False),
        sa.Column("survey_date", sa.Date(), nullable=True),
        sa.Column("geom", POINT, nullable=True),
        *_nuts_columns(2021),
        *_nuts_columns(2024),
        _round_fk("facilities"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilities")),
        sa.UniqueConstraint("round_id", "facility_id", name=op.f("uq_facilities_round_id_facility_id")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_facilities_geom", "facilities", ["geom"], unique=False, postgresql_using="gist")

    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        _round_id(),
        _when("imported_at"),
        sa.Column("imported_by", sa.Text(), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("valid_rows", sa.Integer(), nullable=False),
        sa.Column("rejected_rows", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Integer(), nullable=False),
        sa.Column("reused", sa.Boolean(), nullable=False),
        _round_fk("imports"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    op.create_index(op.f("ix_imports_round_id"), "imports", ["round_id"], unique=False)

    op.create_table(
        "introduction_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        _round_id(),
        sa.Column("facility_id", sa.Text(), nullable=False),
        sa.Column("need", sa.Text(), nullable=False),
        sa.Column("requester", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _round_fk("introduction_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introduction_requests")),
    )
    op.create_index(
        op.f("ix_introduction_requests_round_id"), "introduction_requests", ["round_id"], unique=False
    )

    op.create_table(
        "rejected_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        _round_id(),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        _round_fk("rejected_rows"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_rows")),
        sa.UniqueConstraint("round_id", "source_row", name=op.f("uq_rejected_rows_round_id_source_row")),
    )

    op.create_table(
        "row_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        _round_id(),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        _round_fk("row_problems"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_row_problems")),
    )
    op.create_index(op.f("ix_row_problems_round_id"), "row_problems", ["round_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema: drop every table (children first)."""
    for table in ("row_problems", "rejected_rows", "introduction_requests", "imports", "facilities"):
        op.drop_table(table)
    op.drop_table("rounds")
    op.drop_table("audit_log")
