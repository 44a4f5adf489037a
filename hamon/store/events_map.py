"""The one mapping between the Event dataclass and the `events` table.

The table's columns come from Event's fields: a field's column has the type its annotation
suggests (text, integer, UTC time; an enum as its value) unless `schema.EVENT_FIELD_TYPES` says
otherwise, and is nullable when the field may be None. Adding an Event field is therefore one
dataclass edit plus one Alembic migration adding its column. (SQLAlchemy is not imported here: the
embedded store's hot path reads and writes rows without it.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import operator
import types
import typing
from typing import Any

from hamon.model import Event
from hamon.store.bulk import read_time
from hamon.store.timestamps import sqlite_text

COLUMN_NAMES = {"group": "grp"}  # a field whose column is named otherwise (`group` is an SQL keyword)


@dataclasses.dataclass(frozen=True)
class FieldMap:
    """One Event field and its column."""

    field: str
    column: str
    kind: type  # the field's type without None: str, int, dt.datetime or an Enum
    nullable: bool
    default: Any  # dataclasses.MISSING when the field has none


def _fields() -> tuple[FieldMap, ...]:
    hints = typing.get_type_hints(Event)
    out = []
    for f in dataclasses.fields(Event):
        hint = hints[f.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds = [a for a in args if a is not type(None)]
        out.append(FieldMap(f.name, COLUMN_NAMES.get(f.name, f.name), kinds[0], type(None) in args, f.default))
    return tuple(out)


FIELDS = _fields()


COLUMNS = tuple(m.column for m in FIELDS)
_GET = operator.attrgetter(*(m.field for m in FIELDS))
_ENUMS = tuple(i for i, m in enumerate(FIELDS) if isinstance(m.kind, type) and issubclass(m.kind, enum.Enum))
_TIMES = tuple(i for i, m in enumerate(FIELDS) if m.kind is dt.datetime)


def values(e: Event) -> list[Any]:
    """An event's column values in COLUMNS order (enums as their values): the hot path's row."""
    v = list(_GET(e))
    for i in _ENUMS:
        if v[i] is not None:
            v[i] = v[i].value
    return v


def sqlite_values(e: Event, texts: dict[dt.datetime, str]) -> tuple[Any, ...]:
    """The row as the embedded store's bulk insert writes it (times as SQLAlchemy's SQLite text;
    `texts` caches them across a batch)."""
    v = values(e)
    for i in _TIMES:
        if v[i] is not None:
            v[i] = sqlite_text(v[i], texts)
    return tuple(v)


def to_row(e: Event) -> dict[str, Any]:
    """An event as its row (column -> value)."""
    return dict(zip(COLUMNS, values(e), strict=True))


_ENUM_TYPES = tuple((i, FIELDS[i].kind) for i in _ENUMS)


def from_row(r: Any) -> Event:
    """A row of `select(events)` (columns in COLUMNS order) as an Event."""
    v = list(r)
    for i, kind in _ENUM_TYPES:
        if v[i] is not None:
            v[i] = kind(v[i])
    return Event(*v)


def from_raw_rows(rows: Any, dialect: str) -> list[Event]:
    """Rows of the driver itself (COLUMNS order) as Events: SQLite's time texts read as UTC, the
    PostgreSQL driver's aware times put in UTC — what reads through SQLAlchemy give — then as
    `from_row`."""
    out = []
    seen: dict[Any, dt.datetime | None] = {}
    for r in rows:
        v = list(r)
        for i in _TIMES:
            t = v[i]
            if t is not None:
                u = seen.get(t)
                if u is None:
                    u = seen[t] = read_time(dialect, t)
                v[i] = u
        out.append(from_row(v))
    return out
