"""Tables of the hamon schema. Changes go through an Alembic migration in `migrations/versions`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData()
# How SQLAlchemy's SQLite dialect stores a DateTime; the embedded store's bulk path writes the same.
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware.

    PostgreSQL keeps them as timestamptz; SQLite as ISO text, which sorts correctly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


events = Table(
    "events",
    metadata,
    Column("event_id", String(32), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("pair", String(255), nullable=False),
    Column("unit", String(16)),
    Column("grp", SmallInteger),
    Column("source", String(255), nullable=False),
    Column("device_id", String(255)),
    Column("msg_id", Integer, nullable=False),
    Column("severity", SmallInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("cause", String(32)),
    Column("cause_text", Text),
    Column("interface", String(255)),
    Column("reason_code", Integer),
    Column("value", BigInteger),
    Column("mate_version", String(255)),
    Column("our_version", String(255)),
    Column("command", Text),
    Column("status", String(64)),
    Column("my_state", String(64)),
    Column("peer_state", String(64)),
    Column("text", Text, nullable=False),
    Index("ix_events_pair_at", "pair", "at"),
    Index("ix_events_at", "at"),
    Index("ix_events_msg_id_at", "msg_id", "at"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("quarantine_id", String(32), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("source", String(255), nullable=False),
    Column("origin", Text, nullable=False),
    Column("line_no", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("raw_len", Integer, nullable=False),
    Index("ix_quarantine_received_at", "received_at"),
)

# One row per input (a file's content, stdin, a live collector run): what it held.
ingests = Table(
    "ingests",
    metadata,
    Column("ingest_id", String(96), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("lines", BigInteger, nullable=False, default=0),
    Column("events", BigInteger, nullable=False, default=0),
    Column("quarantined", BigInteger, nullable=False, default=0),
)

# Lines seen per sender and minute, per input: the liveness signal of each unit. Keyed by the
# input so that replaying the same input again rewrites its rows instead of adding to them.
source_activity = Table(
    "source_activity",
    metadata,
    Column("ingest_id", String(96), primary_key=True),
    Column("source", String(255), primary_key=True),
    Column("minute", UTCDateTime(), primary_key=True),
    Column("pair", String(255), nullable=False),
    Column("lines", BigInteger, nullable=False),
    Column("last_at", UTCDateTime(), nullable=False),
    Index("ix_source_activity_pair_minute", "pair", "minute"),
)
