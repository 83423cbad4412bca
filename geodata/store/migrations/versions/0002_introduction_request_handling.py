"""Introduction requests: the requester's role and the official who handled the request; the
statuses become open, accepted, declined, done (forwarded and closed are renamed).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {"forwarded": "accepted", "closed": "done"}


def upgrade() -> None:
    with op.batch_alter_table("introduction_requests") as batch:
        batch.add_column(
            sa.Column("requester_role", sa.String(length=20), server_default="cluster", nullable=False)
        )
        batch.add_column(sa.Column("handled_by", sa.Text(), nullable=True))
    requests = sa.table("introduction_requests", sa.column("status", sa.String))
    for old, new in RENAMED.items():
        op.execute(requests.update().where(requests.c.status == old).values(status=new))


def downgrade() -> None:
    requests = sa.table("introduction_requests", sa.column("status", sa.String))
    for old, new in RENAMED.items():
        op.execute(requests.update().where(requests.c.status == new).values(status=old))
    with op.batch_alter_table("introduction_requests") as batch:
        batch.drop_column("handled_by")
        batch.drop_column("requester_role")
