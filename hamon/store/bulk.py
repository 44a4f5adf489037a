"""Many rows into one table in one executemany, in the database driver's own parameter form.

SQLAlchemy's compiled executemany processes every parameter of every row in Python (a time went
through two converters); the correlator's outputs are tens of thousands of rows in a storm. Here
the statement is built once per (table, columns, conflict) and the rows are handed to the driver
as tuples: times as the embedded store keeps them (SQLAlchemy's SQLite text, UTC), as aware
datetimes for PostgreSQL — exactly what reads through SQLAlchemy expect.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from hamon.store.timestamps import UTCDateTime, sqlite_text


def write(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """Insert `rows` (every one with the same columns); a row whose `key` is stored already is left
    as it is, or, with `update`, has those columns replaced by the new row's."""
    if not rows:
        return
    cols = tuple(rows[0])
    sql, times = _statement(table, cols, tuple(key), tuple(update), conn.dialect.name)
    conn.exec_driver_sql(sql, _values(conn, table, cols, times, rows))


def update(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str) -> None:
    """Set the other columns of the row whose `key` column has each row's value (one statement,
    executed for every row)."""
    if not rows:
        return
    cols = (*(c for c in rows[0] if c != key), key)
    sql, times = _update_statement(table, cols, conn.dialect.name)
    conn.exec_driver_sql(sql, _values(conn, table, cols, times, rows))


def placeholder(dialect: str) -> str:
    """The driver's parameter mark: sqlite3's `?`, psycopg's `%s`."""
    return "?" if dialect == "sqlite" else "%s"


def _values(
    conn: Connection, table: Table, cols: tuple[str, ...], times: tuple[int, ...], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """The rows as tuples in `cols` order, times in the form the store keeps them."""
    pick = operator.itemgetter(*cols)
    get = [pick(r) for r in rows] if len(cols) > 1 else [(pick(r),) for r in rows]
    if not times:
        return get
    sqlite = conn.dialect.name == "sqlite"
    texts: dict[dt.datetime, str] = {}
    out = []
    for row in get:
        v = list(row)
        for i in times:
            t = v[i]
            if t is not None:
                if sqlite:
                    v[i] = sqlite_text(t, texts)  # refuses a naive time
                elif t.tzinfo is None:
                    raise ValueError(f"naive datetime given to the store ({table.name}.{cols[i]})")
        out.append(tuple(v))
    return out


@functools.cache
def _statement(
    table: Table, cols: tuple[str, ...], key: tuple[str, ...], update: tuple[str, ...], dialect: str
) -> tuple[str, tuple[int, ...]]:
    """The INSERT … ON CONFLICT text and the positions of its time columns."""
    _known(table, (*cols, *key, *update))
    mark = placeholder(dialect)
    q = _quoted
    sql = (
        f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in cols)}) VALUES ({', '.join([mark] * len(cols))}) "
        f"ON CONFLICT ({', '.join(q(c) for c in key)}) "
    )
    if update:
        sql += "DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update)
    else:
        sql += "DO NOTHING"
    return sql, _times(table, cols)


@functools.cache
def _update_statement(table: Table, cols: tuple[str, ...], dialect: str) -> tuple[str, tuple[int, ...]]:
    """The UPDATE text (the last of `cols` is the key) and the positions of its time columns."""
    _known(table, cols)
    mark, q = placeholder(dialect), _quoted
    sets = ", ".join(f"{q(c)} = {mark}" for c in cols[:-1])
    return f"UPDATE {q(table.name)} SET {sets} WHERE {q(cols[-1])} = {mark}", _times(table, cols)


def _known(table: Table, cols: Sequence[str]) -> None:
    unknown = [c for c in cols if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {unknown[0]}")


def _times(table: Table, cols: tuple[str, ...]) -> tuple[int, ...]:
    """Where the time columns are among `cols`."""
    return tuple(i for i, c in enumerate(cols) if isinstance(table.c[c].type, UTCDateTime))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
