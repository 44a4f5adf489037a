"""Events whose device time is before 1990 (or not a date at all) move to the quarantine.

Earlier releases stored such stamps (`Nov 25 0999 …`); SQLite then could not read them back and
every listing failed. New input with such times is quarantined when parsed; this moves what an
older release stored there, with the reason, so that nothing is lost and every read works again.

Revision ID: 0007
Revises: 0006
"""

import datetime as dt
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # Times are ISO text: anything not shaped `YYYY-MM-DD …` from 1990 on is absurd.
        bad = "substr(at, 5, 1) != '-' OR substr(at, 1, 4) < '1990' OR length(at) < 19"
        at = "at"
    else:
        bad = "at < TIMESTAMPTZ '1990-01-01 00:00:00+00'"
        at = "CAST(at AS TEXT)"
    rows = conn.execute(
        sa.text(
            f"SELECT event_id, {at} AS at, CAST(received_at AS TEXT) AS received_at, source, text FROM events WHERE {bad}"
        )
    ).fetchall()
    now = dt.datetime.now(dt.UTC)
    for r in rows:
        raw = f"{r.at} {r.source} : {r.text}".encode("utf-8", "replace")
        qid = hashlib.blake2b(r.source.encode("utf-8", "replace") + b"\x1f" + raw, digest_size=16).hexdigest()
        conn.execute(
            sa.text(
                "INSERT INTO quarantine (quarantine_id, received_at, source, origin, line_no, reason, raw, raw_len) "
                "VALUES (:q, :received, :source, 'store', 0, :reason, :raw, :n) ON CONFLICT (quarantine_id) DO NOTHING"
            ),
            {
                "q": qid,
                "received": now if conn.dialect.name != "sqlite" else now.replace(tzinfo=None).isoformat(sep=" "),
                "source": r.source,
                "reason": f"device time {r.at} is before 1990 (moved from events by migration 0007)",
                "raw": raw,
                "n": len(raw),
            },
        )
        conn.execute(sa.text("DELETE FROM events WHERE event_id = :e"), {"e": r.event_id})


def downgrade() -> None:
    pass
