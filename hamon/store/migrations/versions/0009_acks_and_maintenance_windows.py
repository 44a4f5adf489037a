"""Alert acknowledgements; silences that start later (maintenance windows) and stay listed when removed.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from hamon.store.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_acks",
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("acked_at", UTCDateTime(), nullable=False),
        sa.Column("acked_by", sa.String(255), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
    )
    with op.batch_alter_table("silences") as batch:
        batch.add_column(sa.Column("starts_at", UTCDateTime()))
        batch.add_column(sa.Column("removed_at", UTCDateTime()))
        batch.add_column(sa.Column("created_by", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("silences") as batch:
        batch.drop_column("created_by")
        batch.drop_column("removed_at")
        batch.drop_column("starts_at")
    op.drop_table("alert_acks")
