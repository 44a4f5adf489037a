"""Events, quarantine, inputs and per-source activity.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from hamon.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(32), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("pair", sa.String(255), nullable=False),
        sa.Column("unit", sa.String(16)),
        sa.Column("grp", sa.SmallInteger),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("device_id", sa.String(255)),
        sa.Column("msg_id", sa.Integer, nullable=False),
        sa.Column("severity", sa.SmallInteger, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("cause", sa.String(32)),
        sa.Column("cause_text", sa.Text),
        sa.Column("interface", sa.String(255)),
        sa.Column("reason_code", sa.Integer),
        sa.Column("value", sa.BigInteger),
        sa.Column("mate_version", sa.String(255)),
        sa.Column("our_version", sa.String(255)),
        sa.Column("command", sa.Text),
        sa.Column("status", sa.String(64)),
        sa.Column("my_state", sa.String(64)),
        sa.Column("peer_state", sa.String(64)),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_events_pair_at", "events", ["pair", "at"])
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_msg_id_at", "events", ["msg_id", "at"])
    op.create_table(
        "quarantine",
        sa.Column("quarantine_id", sa.String(32), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("line_no", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("raw_len", sa.Integer, nullable=False),
    )
    op.create_index("ix_quarantine_received_at", "quarantine", ["received_at"])
    op.create_table(
        "ingests",
        sa.Column("ingest_id", sa.String(96), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("quarantined", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "source_activity",
        sa.Column("ingest_id", sa.String(96), primary_key=True),
        sa.Column("source", sa.String(255), primary_key=True),
        sa.Column("hour", UTCDateTime(), primary_key=True),
        sa.Column("pair", sa.String(255), nullable=False),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_source_activity_pair_hour", "source_activity", ["pair", "hour"])


def downgrade() -> None:
    op.drop_table("source_activity")
    op.drop_table("ingests")
    op.drop_table("quarantine")
    op.drop_table("events")
