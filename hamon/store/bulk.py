"""Statements in the database driver's own form: many rows in one executemany, reads as driver rows.

SQLAlchemy's compiled executemany processes every parameter of every row in Python (a time went
through two converters); the correlator's outputs are tens of thousands of rows in a storm, and
replay into the embedded store does not import SQLAlchemy at all. Here a statement is built once
per (table, columns, conflict) from the tables' layout (layout.json, generated from schema.py) and
rows go to the driver as tuples: times as the embedded store keeps them (SQLAlchemy's SQLite text,
UTC), as aware datetimes for PostgreSQL — exactly what reads through SQLAlchemy expect.

`Tx` is one transaction's way to the driver: the sqlite3 connection itself (`SqliteTx`), or a
SQLAlchemy connection's `exec_driver_sql` (`SaTx`, PostgreSQL and SQLite blocks SQLAlchemy opened).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from hamon.store.timestamps import sqlite_text

_LAYOUT = json.loads(Path(__file__).with_name("layout.json").read_text(encoding="utf-8"))
COLUMNS: dict[str, tuple[str, ...]] = {t: tuple(cols) for t, cols in _LAYOUT["columns"].items()}
TIMES: dict[str, frozenset[str]] = {t: frozenset(cols) for t, cols in _LAYOUT["times"].items()}
SQLITE_DDL: tuple[str, ...] = tuple(_LAYOUT["sqlite_ddl"])


class Tx(Protocol):
    """Statements of one transaction, with the driver's parameter marks and values."""

    dialect: str

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Execute one statement; the result has fetchone(), fetchall() and rowcount."""
        ...

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        """Execute one statement for every row."""
        ...


class SqliteTx:
    """A sqlite3 connection's transaction."""

    dialect = "sqlite"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, tuple(params))

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self.conn.executemany(sql, rows)


class SaTx:
    """A SQLAlchemy connection's transaction, statements handed to its driver as they are."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.exec_driver_sql(sql, tuple(params)) if params else self.conn.exec_driver_sql(sql)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self.conn.exec_driver_sql(sql, list(rows))


def write(
    tx: Tx,
    table: str,
    rows: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    update: Sequence[str] = (),
) -> int:
    """Insert `rows` (every one with the same columns); a row whose `key` is stored already is left
    as it is, or, with `update`, has those columns replaced by the new row's. Returns the rows
    written (new ones, and with `update` the replaced ones)."""
    if not rows:
        return 0
    cols = tuple(rows[0])
    sql, times = _statement(table, cols, tuple(key), tuple(update), tx.dialect)
    return int(tx.many(sql, _values(tx.dialect, table, cols, times, rows)).rowcount)


def update(tx: Tx, table: str, rows: Sequence[Mapping[str, Any]], key: str) -> None:
    """Set the other columns of the row whose `key` column has each row's value (one statement,
    executed for every row)."""
    if not rows:
        return
    cols = (*(c for c in rows[0] if c != key), key)
    sql, times = _update_statement(table, cols, tx.dialect)
    tx.many(sql, _values(tx.dialect, table, cols, times, rows))


def placeholder(dialect: str) -> str:
    """The driver's parameter mark: sqlite3's `?`, psycopg's `%s`."""
    return "?" if dialect == "sqlite" else "%s"


def marks(dialect: str, n: int) -> str:
    """`n` parameter marks separated by commas (an IN list, a VALUES row)."""
    return ", ".join([placeholder(dialect)] * n)


def param(dialect: str, value: Any) -> Any:
    """One value as the driver takes it for a column of the store (a time as the store keeps it)."""
    if isinstance(value, dt.datetime) and dialect == "sqlite":
        return sqlite_text(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return value


def read_time(dialect: str, value: Any) -> dt.datetime | None:
    """A time column's value as the driver gave it, as an aware UTC datetime (what SQLAlchemy reads)."""
    if value is None:
        return None
    if dialect == "sqlite":
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


def _values(
    dialect: str, table: str, cols: tuple[str, ...], times: tuple[int, ...], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """The rows as tuples in `cols` order, times in the form the store keeps them."""
    pick = operator.itemgetter(*cols)
    get = [pick(r) for r in rows] if len(cols) > 1 else [(pick(r),) for r in rows]
    if not times:
        return get
    sqlite = dialect == "sqlite"
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
                    raise ValueError(f"naive datetime given to the store ({table}.{cols[i]})")
        out.append(tuple(v))
    return out


@functools.cache
def _statement(
    table: str, cols: tuple[str, ...], key: tuple[str, ...], update: tuple[str, ...], dialect: str
) -> tuple[str, tuple[int, ...]]:
    """The INSERT … ON CONFLICT text and the positions of its time columns."""
    _known(table, (*cols, *key, *update))
    q = _quoted
    sql = (
        f"INSERT INTO {q(table)} ({', '.join(q(c) for c in cols)}) VALUES ({marks(dialect, len(cols))}) "
        f"ON CONFLICT ({', '.join(q(c) for c in key)}) "
    )
    if update:
        sql += "DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update)
    else:
        sql += "DO NOTHING"
    return sql, _times(table, cols)


@functools.cache
def _update_statement(table: str, cols: tuple[str, ...], dialect: str) -> tuple[str, tuple[int, ...]]:
    """The UPDATE text (the last of `cols` is the key) and the positions of its time columns."""
    _known(table, cols)
    mark, q = placeholder(dialect), _quoted
    sets = ", ".join(f"{q(c)} = {mark}" for c in cols[:-1])
    return f"UPDATE {q(table)} SET {sets} WHERE {q(cols[-1])} = {mark}", _times(table, cols)


def _known(table: str, cols: Sequence[str]) -> None:
    have = COLUMNS.get(table)
    if have is None:
        raise ValueError(f"no table {table}")
    unknown = [c for c in cols if c not in have]
    if unknown:
        raise ValueError(f"{table} has no column {unknown[0]}")


def _times(table: str, cols: tuple[str, ...]) -> tuple[int, ...]:
    """Where the time columns are among `cols`."""
    return tuple(i for i, c in enumerate(cols) if c in TIMES[table])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
