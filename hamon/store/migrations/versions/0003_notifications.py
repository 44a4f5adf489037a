"""Notification log and silences.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from hamon.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("target", sa.String(255), primary_key=True),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "silences",
        sa.Column("silence_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pair", sa.String(255)),
        sa.Column("kind", sa.String(32)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("silences")
    op.drop_table("notifications")
