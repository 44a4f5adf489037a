"""Tables of the hamon schema. Changes go through an Alembic migration in `migrations/versions`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
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
from sqlalchemy.types import TypeDecorator, TypeEngine

from hamon.store import events_map
from hamon.store.timestamps import SQLITE_TIME_FORMAT

__all__ = ["SQLITE_TIME_FORMAT", "UTCDateTime", "metadata"]

metadata = MetaData()


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


EVENT_FIELD_TYPES: dict[str, TypeEngine[Any]] = {
    "event_id": String(32),
    "pair": String(255),
    "unit": String(16),
    "group": SmallInteger(),
    "source": String(255),
    "device_id": String(255),
    "msg_id": Integer(),
    "severity": SmallInteger(),
    "kind": String(64),
    "cause": String(32),
    "interface": String(255),
    "reason_code": Integer(),
    "mate_version": String(255),
    "our_version": String(255),
    "status": String(64),
    "my_state": String(64),
    "peer_state": String(64),
}


def _event_column_type(m: events_map.FieldMap) -> TypeEngine[Any]:
    if m.field in EVENT_FIELD_TYPES:
        return EVENT_FIELD_TYPES[m.field]
    if m.kind is dt.datetime:
        return UTCDateTime()
    if m.kind is int:
        return BigInteger()
    if isinstance(m.kind, type) and issubclass(m.kind, enum.Enum):
        return String(64)
    return Text()


def _event_columns() -> list[Column[Any]]:
    """The `events` table's columns, in Event's field order."""
    out: list[Column[Any]] = []
    for m in events_map.FIELDS:
        default = None if m.default is dataclasses.MISSING or m.default is None else str(m.default)
        out.append(
            Column(
                m.column,
                _event_column_type(m),
                primary_key=m.field == "event_id",
                nullable=m.nullable,
                server_default=default,
            )
        )
    return out


events = Table(
    "events",
    metadata,
    *_event_columns(),  # from the Event dataclass: hamon/store/events_map.py
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

# Lines seen per sender and hour, per input, and the last second heard: traffic from each unit. Keyed by the
# input so that replaying the same input again rewrites its rows instead of adding to them.
source_activity = Table(
    "source_activity",
    metadata,
    Column("ingest_id", String(96), primary_key=True),
    Column("source", String(255), primary_key=True),
    Column("hour", UTCDateTime(), primary_key=True),
    Column("pair", String(255), nullable=False),
    Column("lines", BigInteger, nullable=False),
    Column("last_at", UTCDateTime(), nullable=False),
    Column("seconds", LargeBinary, nullable=False),  # bitmap of the 3,600 seconds: when it was heard
    Index("ix_source_activity_pair_hour", "pair", "hour"),
)

# -- the correlator's outputs (revision 0002) ----------------------------------------------------
# Every output row records `emitted_at`, the event time at which the correlator decided it, so that
# a re-run from a checkpoint can take back exactly what came after it.

failovers = Table(
    "failovers",
    metadata,
    Column("failover_id", String(32), primary_key=True),
    Column("pair", String(255), nullable=False),
    Column("grp", SmallInteger),
    Column("at", UTCDateTime(), nullable=False),
    Column("new_active", String(16), nullable=False),
    Column("previous_active", String(16)),
    Column("cause", String(32), nullable=False),
    Column("cause_text", Text),
    Column("detection_s", Float),
    Column("evidence", Text, nullable=False),
    Column("emitted_at", UTCDateTime(), nullable=False),
    Index("ix_failovers_pair_at", "pair", "at"),
    Index("ix_failovers_at", "at"),
)

transitions = Table(
    "transitions",
    metadata,
    Column("transition_id", String(32), primary_key=True),
    Column("pair", String(255), nullable=False),
    Column("grp", SmallInteger),
    Column("unit", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("cause", String(32), nullable=False),
    Column("cause_text", Text),
    Column("evidence", Text, nullable=False),
    Column("emitted_at", UTCDateTime(), nullable=False),
    Index("ix_transitions_pair_at", "pair", "at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(32), primary_key=True),
    Column("pair", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("grp", SmallInteger),
    Column("unit", String(16)),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime()),
    Column("detail", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("resolve_evidence", Text),
    Column("emitted_at", UTCDateTime(), nullable=False),
    Column("resolved_emitted_at", UTCDateTime()),
    Index("ix_alerts_pair_started", "pair", "started_at"),
    Index("ix_alerts_open", "ended_at"),
)

# Correlator state of a pair at quiet points: a re-run starts from the last one before new data.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("pair", String(255), primary_key=True),
    Column("at", UTCDateTime(), primary_key=True),
    Column("state", Text, nullable=False),
)

# The current picture of each pair, for `hamon pairs` and dashboards.
pair_state = Table(
    "pair_state",
    metadata,
    Column("pair", String(255), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("units", Text, nullable=False),
    Column("groups", Text, nullable=False),
    Column("failover_link", String(16), nullable=False),
    Column("state_link", String(16), nullable=False),
    Column("last_failover_at", UTCDateTime()),
    Column("last_event_at", UTCDateTime()),
)

# -- notifications (revision 0003) ------------------------------------------------------------

# What was sent where: an alert's opening or resolution goes to each target once.
notifications = Table(
    "notifications",
    metadata,
    Column("alert_id", String(32), primary_key=True),
    Column("state", String(16), primary_key=True),
    Column("target", String(255), primary_key=True),
    Column("sent_at", UTCDateTime(), nullable=False),
)

# Silences mute notifications of a pair and/or kind until they expire.
silences = Table(
    "silences",
    metadata,
    Column("silence_id", Integer, primary_key=True, autoincrement=True),
    Column("pair", String(255)),
    Column("kind", String(32)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("comment", Text, nullable=False),
    # revision 0009: maintenance windows start later; removed silences stay listed for audit.
    Column("starts_at", UTCDateTime()),  # None: from created_at
    Column("removed_at", UTCDateTime()),
    Column("created_by", String(255)),
)

# An operator's acknowledgement of an alert (revision 0009). Kept apart from `alerts`, whose rows
# the correlator rewrites when it re-runs a pair: the alert id is stable, so the ack stays with it.
alert_acks = Table(
    "alert_acks",
    metadata,
    Column("alert_id", String(32), primary_key=True),
    Column("acked_at", UTCDateTime(), nullable=False),
    Column("acked_by", String(255), nullable=False),
    Column("comment", Text, nullable=False),
)

# -- services (revision 0004) -------------------------------------------------------------------

# A running `hamon serve` writes its counters here every few seconds; `hamon status` reads them.
# The last `show failover` (or cfwHardwareStatusTable) read from each polled unit, as `hamon pairs --json`
# shows it: both hosts' interfaces with their monitoring state, last failover times, what was not read.
polls = Table(
    "polls",
    metadata,
    Column("pair", String(255), primary_key=True),
    Column("unit", String(16), primary_key=True),
    Column("polled_at", UTCDateTime(), nullable=False),
    Column("source", String(255), nullable=False),
    Column("document", Text, nullable=False),
)

service_status = Table(
    "service_status",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("listeners", Text, nullable=False),
    Column("counters", Text, nullable=False),
)


# -- the embedded store without SQLAlchemy ------------------------------------------------------
# `replay` into SQLite creates, writes and reads the store with the sqlite3 module alone (importing
# SQLAlchemy is a fifth of a short run). What it needs of these tables is kept in layout.json,
# generated from them: `python -m hamon.store.schema` rewrites it, a test fails when it is stale.

ALEMBIC_VERSION_DDL = (
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)


def layout() -> dict[str, Any]:
    """Per table its columns and its time columns, and the SQLite DDL `metadata.create_all` runs."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = sqlite.dialect()
    ddl: list[str] = []
    for t in metadata.sorted_tables:  # the order create_all creates them in
        ddl.append(str(CreateTable(t).compile(dialect=dialect)).strip())
        ddl += [
            str(CreateIndex(ix).compile(dialect=dialect)).strip()
            for ix in sorted(t.indexes, key=lambda i: i.name or "")
        ]
    ddl.append(ALEMBIC_VERSION_DDL)
    return {
        "columns": {t.name: [c.name for c in t.columns] for t in metadata.sorted_tables},
        "times": {
            t.name: [c.name for c in t.columns if isinstance(c.type, UTCDateTime)] for t in metadata.sorted_tables
        },
        "sqlite_ddl": ddl,
    }


def layout_text() -> str:
    """layout.json as it should read."""
    import json

    return json.dumps(layout(), indent=1) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).with_name("layout.json").write_text(layout_text(), encoding="utf-8")
