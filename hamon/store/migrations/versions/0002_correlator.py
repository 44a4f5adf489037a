"""The correlator's outputs: failovers, transitions, alerts, checkpoints, pair state.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from hamon.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "failovers",
        sa.Column("failover_id", sa.String(32), primary_key=True),
        sa.Column("pair", sa.String(255), nullable=False),
        sa.Column("grp", sa.SmallInteger),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("new_active", sa.String(16), nullable=False),
        sa.Column("previous_active", sa.String(16)),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("cause_text", sa.Text),
        sa.Column("detection_s", sa.Float),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("emitted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_failovers_pair_at", "failovers", ["pair", "at"])
    op.create_index("ix_failovers_at", "failovers", ["at"])
    op.create_table(
        "transitions",
        sa.Column("transition_id", sa.String(32), primary_key=True),
        sa.Column("pair", sa.String(255), nullable=False),
        sa.Column("grp", sa.SmallInteger),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("cause_text", sa.Text),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("emitted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_transitions_pair_at", "transitions", ["pair", "at"])
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("pair", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("grp", sa.SmallInteger),
        sa.Column("unit", sa.String(16)),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("resolve_evidence", sa.Text),
        sa.Column("emitted_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_emitted_at", UTCDateTime()),
    )
    op.create_index("ix_alerts_pair_started", "alerts", ["pair", "started_at"])
    op.create_index("ix_alerts_open", "alerts", ["ended_at"])
    op.create_table(
        "checkpoints",
        sa.Column("pair", sa.String(255), primary_key=True),
        sa.Column("at", UTCDateTime(), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
    )
    op.create_table(
        "pair_state",
        sa.Column("pair", sa.String(255), primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("units", sa.Text, nullable=False),
        sa.Column("groups", sa.Text, nullable=False),
        sa.Column("failover_link", sa.String(16), nullable=False),
        sa.Column("state_link", sa.String(16), nullable=False),
        sa.Column("last_failover_at", UTCDateTime()),
        sa.Column("last_event_at", UTCDateTime()),
    )


def downgrade() -> None:
    for table in ("pair_state", "checkpoints", "alerts", "transitions", "failovers"):
        op.drop_table(table)
