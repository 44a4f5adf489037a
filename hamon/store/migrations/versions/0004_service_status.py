"""Status of running services, for `hamon status`.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from hamon.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_status",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("listeners", sa.Text, nullable=False),
        sa.Column("counters", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_status")
