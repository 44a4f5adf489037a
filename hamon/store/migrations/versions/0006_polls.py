"""The last poll of each unit, for `hamon pairs --json`.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from hamon.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("pair", sa.String(255), primary_key=True),
        sa.Column("unit", sa.String(16), primary_key=True),
        sa.Column("polled_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("polls")
