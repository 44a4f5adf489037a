"""The notification log names targets without their secrets.

Earlier releases kept a target's whole URL (Slack tokens, webhook passwords) in `notifications.target`,
readable by the dashboards' read-only role. Targets are now named by a masked form and a digest;
the old rows keep only a digest of what they held.

Revision ID: 0008
Revises: 0007
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT DISTINCT target FROM notifications WHERE target NOT LIKE '% #%'")).fetchall()
    for (target,) in rows:
        digest = hashlib.blake2b(target.encode(), digest_size=4).hexdigest()
        scheme = target.split("://", 1)[0] if "://" in target else "target"
        conn.execute(
            sa.text("UPDATE notifications SET target = :new WHERE target = :old"),
            {"new": f"{scheme}://(masked) #{digest}", "old": target},
        )


def downgrade() -> None:
    pass
