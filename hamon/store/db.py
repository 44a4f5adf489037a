"""Open, migrate, write and read the store. Foreign errors become StoreError here.

The embedded store's hot path — creating the store, storing events, quarantined lines and what an
input held, reading a pair's events and source activity for the correlator, writing its outputs —
runs on the sqlite3 module alone, in the driver's own form (`bulk.Tx`): `replay` into SQLite does
not import SQLAlchemy, a fifth of a short run's time. SQLAlchemy builds the listings' queries, runs
PostgreSQL and Alembic; it is imported when one of those is first used. Inside `one_transaction`
both ways share the thread's one sqlite3 connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hamon.errors import StoreError, StoreRefused
from hamon.model import Activity, Event, Quarantined
from hamon.store import bulk, events_map
from hamon.store.timestamps import sqlite_text

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, Select

HEAD_REVISION = "0009"
MIGRATIONS = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT = 10  # seconds to reach PostgreSQL
SQLITE_BUSY_S = 30  # seconds a write waits for another writer of the embedded store
THREADS_MAX = 1024  # threads of one process that use the embedded store through SQLAlchemy


def default_url() -> str:
    """The embedded store: `$XDG_DATA_HOME/hamon/hamon.db` (default `~/.local/share/hamon/hamon.db`)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return f"sqlite:///{os.path.join(base, 'hamon', 'hamon.db')}"


def _normalize_url(url: str) -> str:
    # `postgresql://` would pick psycopg2, which hamon does not ship; psycopg 3 is the driver.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_file(url: str) -> str | None:
    """The database path of a plain SQLite file URL (`sqlite:///PATH`), read without SQLAlchemy;
    None for anything else (SQLAlchemy reads those)."""
    for scheme in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(scheme):
            path = url[len(scheme) :]
            if path and path != ":memory:" and "?" not in path:
                return path
    return None


def _ordered(q: Select[Any], order: tuple[Any, ...], limit: int | None, newest: bool) -> Select[Any]:
    """`q` in `order`, at most `limit` rows: the first ones, or with `newest` the last ones (still
    given in `order`, as `journalctl -n` does)."""
    from sqlalchemy import select

    if newest and limit is not None:
        inner = q.order_by(*(c.desc() for c in order)).limit(limit).subquery()
        return select(inner).order_by(*(inner.c[c.name] for c in order))
    q = q.order_by(*order)
    return q if limit is None else q.limit(limit)


def shown_url(url: str | None = None) -> str:
    """A store URL as it may be shown: the default when none is given, the password masked."""
    raw = _normalize_url(url or default_url())
    if _sqlite_file(raw) is not None:
        return raw
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(raw).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


SCHEMA_LOCK = 0x68616D6F6E  # "hamon": the advisory lock held while the schema is created or migrated


class _SqliteConnection(sqlite3.Connection):
    """The embedded store's connections (a subclass, so that the store can keep weak references
    to them and close them all)."""


class Store:
    """A hamon store; the schema is brought to the current revision on first use."""

    def __init__(self, url: str | None = None, *, migrate: bool = True, create: bool = True) -> None:
        self._local = threading.local()  # per thread: its sqlite3 connection, its transaction
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._connections: Any = None  # the embedded store's sqlite3 connections (weak)
        raw = _normalize_url(url or default_url())
        self._seq: int | None = None  # the last arrival order handed out (read from the store once)
        self._address = "localhost:5432"
        path = _sqlite_file(raw)
        if path is not None:
            self.url, self.dialect = raw, "sqlite"
        else:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                self._parsed = make_url(raw)
            except ArgumentError as exc:
                raise StoreError(
                    f"not a database URL: {url!r} (try sqlite:///path/hamon.db or postgresql+psycopg://...)"
                ) from exc
            self.url = self._parsed.render_as_string(hide_password=True)
            self.dialect = self._parsed.get_backend_name()
            self._address = f"{self._parsed.host or 'localhost'}:{self._parsed.port or 5432}"
            if self.dialect == "sqlite":
                raise StoreError(
                    f"the embedded store is a file without options: sqlite:///PATH (not {self.url}; "
                    "an in-memory store would keep nothing)"
                )
            if self.dialect != "postgresql":
                raise StoreError(f"unsupported store {self.url}: hamon stores to SQLite or PostgreSQL")
        if self.dialect == "sqlite":
            import weakref

            self._path = str(Path(path or "").expanduser())
            self._connections = weakref.WeakSet()
            if not create and not Path(self._path).exists():
                raise StoreError(f"no store at {self._path} (replay or serve creates one; --db / HAMON_DB)")
            try:
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store directory for {self.url}: {exc.strerror}") from exc
        else:
            self.engine  # noqa: B018 - the driver is checked when the store is opened
        if migrate:
            self.ensure_schema()

    # -- connections -------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, made on first use (the embedded store's engine connects through
        the same settings as its sqlite3 connections)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._make_engine()
            return self._engine

    def _make_engine(self) -> Engine:
        from sqlalchemy import create_engine
        from sqlalchemy.exc import NoSuchModuleError

        if self.dialect == "sqlite":
            from sqlalchemy.pool import SingletonThreadPool

            # SQLAlchemy works on each thread's own sqlite3 connection, so that it takes part in
            # that thread's `one_transaction()`. It sets itself up on its first connection and rolls
            # that back: that first one is a connection of its own, closed once it is done.
            first = [True]

            def connection() -> sqlite3.Connection:
                if first[0]:
                    first[0] = False
                    return self._connect()
                return self._sqlite()

            engine = create_engine(
                f"sqlite:///{self._path}",
                creator=connection,
                poolclass=SingletonThreadPool,
                pool_size=THREADS_MAX,
                pool_reset_on_return=None,  # a block's end commits or rolls back; nothing else may
            )
            with engine.connect():
                pass
            engine.dispose()
            return engine
        # A server that accepts and never answers does not hang a command for minutes.
        timeout = {} if "connect_timeout" in self._parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
        try:
            return create_engine(self._parsed, pool_pre_ping=True, connect_args=timeout)
        except (NoSuchModuleError, ImportError) as exc:
            raise StoreError(f"no driver for {self.url}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        """A new connection to the embedded store: WAL (readers in other shells never block the
        writer), NORMAL sync, a writer waits SQLITE_BUSY_S for another."""
        conn = sqlite3.connect(self._path, timeout=SQLITE_BUSY_S, check_same_thread=False, factory=_SqliteConnection)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_S * 1000}")
        except sqlite3.Error:
            conn.close()
            raise
        self._connections.add(conn)
        return conn

    def _sqlite(self) -> sqlite3.Connection:
        """This thread's sqlite3 connection (one per thread, kept while the thread lives)."""
        conn = getattr(self._local, "sqlite", None)
        if conn is not None:
            try:
                conn.in_transaction  # noqa: B018 - raises once the connection was closed
            except sqlite3.ProgrammingError:
                conn = None
        if conn is None:
            conn = self._local.sqlite = self._connect()
        return conn

    @contextmanager
    def _tx(self, what: str) -> Iterator[bulk.Tx]:
        """A transaction in the driver's own form (`bulk.Tx`): committed at the end, rolled back on
        an error; inside `one_transaction()` on this thread, its transaction."""
        shared = getattr(self._local, "tx", None)
        if shared is not None:
            yield shared
            return
        if self.dialect != "sqlite":
            with self._begin(what) as conn:
                yield bulk.SaTx(conn)
            return
        db: sqlite3.Connection | None = None
        try:
            db = self._sqlite()
            yield bulk.SqliteTx(db)
            db.commit()
        except BaseException as exc:
            if db is not None:
                _rollback(db)
            err = _as_store_error(exc, what, self.url)
            if err is None:
                raise
            raise err from exc

    @contextmanager
    def _begin(self, what: str) -> Iterator[Connection]:
        """A SQLAlchemy connection in a transaction (inside `one_transaction()`: its connection)."""
        shared = getattr(self._local, "conn", None)
        if shared is None and getattr(self._local, "tx", None) is not None:
            # The embedded store's `one_transaction()`: SQLAlchemy on the same sqlite3 connection.
            shared = self._local.conn = self.engine.connect()
        if shared is not None:
            yield shared
            return
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.engine.begin() as conn:
                yield conn
        except Exception as exc:
            # SQLAlchemy's errors, and the driver's own where its cursor is used directly (COPY).
            if not isinstance(exc, SQLAlchemyError) and not type(exc).__module__.startswith("psycopg"):
                raise
            reason = _reason(exc)
            if self.dialect == "postgresql" and ("connection" in reason.lower() or "timeout" in reason.lower()):
                raise StoreError(
                    f"cannot connect to PostgreSQL at {self._address}: {reason} (--db / HAMON_DB)"
                ) from exc
            if _refused(exc):
                raise StoreRefused(f"{what} refused by {self.url}: {reason}") from exc
            raise StoreError(f"{what} failed on {self.url}: {reason}") from exc

    @contextmanager
    def one_transaction(self, what: str) -> Iterator[None]:
        """Every store call of this thread inside the block runs in one transaction (many pairs'
        reads and writes in one, rather than a transaction per statement); other threads are not
        affected. Committed at the end, rolled back on an error."""
        if getattr(self._local, "tx", None) is not None or getattr(self._local, "conn", None) is not None:
            yield
            return
        if self.dialect != "sqlite":
            with self._begin(what) as conn:
                self._local.conn = conn
                try:
                    yield
                finally:
                    self._local.conn = None
            return
        with self._tx(what) as tx:
            self._local.tx = tx
            try:
                yield
                sa = getattr(self._local, "conn", None)
                if sa is not None:  # SQLAlchemy took part: it commits the connection they share
                    sa.commit()
            except BaseException as exc:
                sa = getattr(self._local, "conn", None)
                if sa is not None:
                    sa.rollback()
                err = _as_store_error(exc, what, self.url)
                if err is None:
                    raise
                raise err from exc
            finally:
                self._local.tx = None
                sa = getattr(self._local, "conn", None)
                if sa is not None:
                    sa.close()
                    self._local.conn = None

    def revision(self) -> str | None:
        """The schema revision of the store, None for an empty store."""
        if self.dialect == "sqlite":
            with self._tx("reading the schema revision") as tx:
                if not _sqlite_tables(tx, "alembic_version"):
                    return None
                row = tx.run("SELECT version_num FROM alembic_version").fetchone()
                return None if row is None else str(row[0])
        from sqlalchemy import inspect, text

        with self._begin("reading the schema revision") as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def ensure_schema(self) -> None:
        """Apply pending migrations (cheap when there are none).

        An empty store is created from the table definitions and stamped with the newest
        revision, which is what running every migration gives (tests check that the two agree)
        without loading Alembic on the first run; the embedded store from the DDL in layout.json,
        without SQLAlchemy.
        """
        revision = self.revision()
        if revision == HEAD_REVISION:
            return
        if revision is None:
            if self.dialect == "sqlite":
                with self._tx("creating the schema") as tx:
                    # Several processes starting on one new store: the first takes the write lock,
                    # the others wait for it and find the store made.
                    tx.run("BEGIN IMMEDIATE")
                    if not _sqlite_tables(tx):
                        for statement in bulk.SQLITE_DDL:
                            tx.run(statement)
                        tx.run("INSERT INTO alembic_version (version_num) VALUES (?)", (HEAD_REVISION,))
                        return
            else:
                from sqlalchemy import inspect, text

                from hamon.store.schema import ALEMBIC_VERSION_DDL, metadata

                with self._begin("creating the schema") as conn:
                    # Several processes starting on one new store (workers, a service and a reader):
                    # one creates it, the others wait for it and find it made.
                    self._schema_lock(conn)
                    if not inspect(conn).get_table_names():
                        metadata.create_all(conn)
                        conn.execute(text(ALEMBIC_VERSION_DDL))
                        conn.execute(
                            text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD_REVISION}
                        )
                        return
        self.upgrade()

    def upgrade(self) -> str:
        """Run Alembic up to the newest revision; returns it."""
        from alembic import command  # imported here: only needed when the schema changes
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._begin("migrating the schema") as conn:
            self._schema_lock(conn)  # one process migrates; the others then find nothing to do
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return HEAD_REVISION

    def _schema_lock(self, conn: Any) -> None:
        """On PostgreSQL, hold the store's schema lock until this transaction ends."""
        if self.dialect == "postgresql":
            from sqlalchemy import text

            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK})

    def close(self) -> None:
        """Release connections."""
        if self._engine is not None:
            self._engine.dispose()
        if self._connections is not None:
            for conn in list(self._connections):
                conn.close()
        self._local = threading.local()

    # -- writes ------------------------------------------------------------------------------
    def add_events(self, batch: Sequence[Event]) -> int:
        """Store events; an event already stored (same event_id) is left as it is. Returns new rows."""
        if not batch:
            return 0
        if self.dialect == "sqlite":
            return self._add_events_sqlite(batch)
        return len(self._add_new_events_pg(batch))

    def _add_events_sqlite(self, batch: Sequence[Event]) -> int:
        # The embedded store's hot path: plain executemany, values in the exact form SQLAlchemy
        # stores them in (UTCDateTime), so reads through SQLAlchemy see the same rows.
        texts: dict[dt.datetime, str] = {}
        rows = [events_map.sqlite_values(e, texts) for e in batch]
        with self._tx("storing events") as tx:
            return int(tx.many(_SQLITE_INSERT_EVENTS, rows).rowcount)

    def add_new_events(self, batch: Sequence[Event]) -> list[Event]:
        """Store events and return those that were not stored before (a redelivered message's
        events come back empty), in the order given."""
        if not batch:
            return []
        if self.dialect == "postgresql":
            return self._add_new_events_pg(batch)
        ids = sorted({e.event_id for e in batch})
        with self._tx("storing events") as tx:
            have: set[str] = set()
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                sql = f"SELECT event_id FROM events WHERE event_id IN ({bulk.marks('sqlite', len(part))})"
                have.update(r[0] for r in tx.run(sql, part).fetchall())
            fresh: dict[str, Event] = {}
            for e in batch:
                if e.event_id not in have:
                    fresh.setdefault(e.event_id, e)
            texts: dict[dt.datetime, str] = {}
            rows = [events_map.sqlite_values(e, texts) for e in fresh.values()]
            if rows:
                tx.many(_SQLITE_INSERT_EVENTS, rows)
        return list(fresh.values())

    def _add_new_events_pg(self, batch: Sequence[Event]) -> list[Event]:
        # The rows that come back from INSERT … ON CONFLICT DO NOTHING RETURNING are the new ones
        # (no read of the table first). A large batch goes through COPY into a temporary table
        # first (a replay's, a backlog's); a small one is one prepared INSERT pipelined by psycopg.
        first: dict[str, Event] = {}
        for e in batch:
            first.setdefault(e.event_id, e)
        rows = [events_map.values(e) for e in first.values()]
        inserted: set[str] = set()
        with self._begin("storing events") as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            if len(rows) >= COPY_ROWS:
                cur.execute(_PG_EVENTS_IN)
                with cur.copy(_PG_COPY_EVENTS_IN) as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(_PG_INSERT_EVENTS_IN)
                inserted.update(r[0] for r in cur.fetchall())
                cur.execute("DROP TABLE hamon_events_in")  # another batch may follow in this transaction
            else:
                cur.executemany(_PG_INSERT_EVENTS_RETURNING, rows, returning=True)
                while True:
                    inserted.update(r[0] for r in cur.fetchall())
                    if not cur.nextset():
                        break
        return [e for eid, e in first.items() if eid in inserted]

    def renew_seq(self) -> None:
        """Read the arrival order from the store again (another process may have stored since)."""
        self._seq = None

    def record_poll(self, pair: str, unit: str, polled_at: dt.datetime, source: str, document: dict[str, Any]) -> None:
        """Keep the last poll of a unit (what `hamon pairs --json` shows of it)."""
        import json

        row = {"pair": pair, "unit": unit, "polled_at": polled_at, "source": source, "document": json.dumps(document)}
        with self._tx("storing a poll") as tx:
            bulk.write(tx, "polls", [row], ["pair", "unit"], ["polled_at", "source", "document"])

    def add_quarantined(self, batch: Sequence[Quarantined]) -> int:
        """Store quarantined lines; the same line from the same sender is kept once."""
        if not batch:
            return 0
        rows = [
            {
                "quarantine_id": q.quarantine_id,
                "received_at": q.received_at,
                "source": q.source,
                "origin": q.origin,
                "line_no": q.line_no,
                "reason": q.reason,
                "raw": q.raw,
                "raw_len": q.raw_len,
            }
            for q in batch
        ]
        with self._tx("storing quarantined lines") as tx:
            return bulk.write(tx, "quarantine", rows, ["quarantine_id"])

    def record_ingest(
        self,
        ingest_id: str,
        kind: str,
        name: str,
        started_at: dt.datetime,
        finished_at: dt.datetime,
        counts: dict[str, int],
        activity: Iterable[Activity],
        *,
        accumulate: bool = False,
    ) -> None:
        """Record an input and the per-source activity it showed; replaying it again rewrites the same rows.

        With `accumulate` (a running service writing every few seconds) `counts` are the totals so far
        and `activity` what was counted since the last write: it is added to what is stored (lines
        summed, seconds heard merged), whatever hour of device time it belongs to.
        """
        row = {
            "ingest_id": ingest_id,
            "kind": kind,
            "name": name,
            "started_at": started_at,
            "finished_at": finished_at,
            "lines": counts.get("lines", 0),
            "events": counts.get("events", 0),
            "quarantined": counts.get("quarantined", 0),
        }
        acts = [
            (ingest_id, a.source, a.hour, a.pair, a.lines, a.last_at or a.hour, a.seconds or bytes(450))
            for a in activity
        ]
        with self._tx("recording the input") as tx:
            totals = ("finished_at", "lines", "events", "quarantined") if accumulate else ()
            bulk.write(tx, "ingests", [row], ["ingest_id"], totals)
            if accumulate:
                acts = _merged(tx, ingest_id, acts)
            if not acts:
                return
            names = ("ingest_id", "source", "hour", "pair", "lines", "last_at", "seconds")
            bulk.write(
                tx,
                "source_activity",
                [dict(zip(names, a, strict=True)) for a in acts],
                names[:3],
                names[3:],
            )

    def _insert(self, table: Any) -> Any:
        """SQLAlchemy's INSERT of the dialect in use (only that dialect's module is imported)."""
        if self.dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(table)
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)

    # -- reads -------------------------------------------------------------------------------
    def events(
        self,
        *,
        pair: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        msg_id: int | None = None,
        kind: str | None = None,
        limit: int | None = None,
        after: dt.datetime | None = None,
    ) -> list[Event]:
        """Events in (time, arrival) order, filtered; `since` is inclusive, `after` and `until` exclusive."""
        return list(
            self.iter_events(pair=pair, since=since, until=until, msg_id=msg_id, kind=kind, limit=limit, after=after)
        )

    def iter_events(
        self,
        *,
        pair: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        msg_id: int | None = None,
        kind: str | None = None,
        limit: int | None = None,
        after: dt.datetime | None = None,
        newest: bool = False,
        after_seq: int | None = None,
    ) -> Iterator[Event]:
        """The events of `events()` as they are read (a server-side cursor, rows fetched in 2,000s):
        a listing of millions of events in bounded memory. With `newest`, `limit` takes the newest
        events (still given oldest first, as `journalctl -n` does)."""
        from hamon.store.schema import events

        q = _event_filter(pair, since, until, msg_id, kind)
        if after is not None:
            q = q.where(events.c.at > after)
        if after_seq is not None:  # what arrived since (`events --follow`), in arrival order
            q = q.where(events.c.seq > after_seq)
        order = (
            (events.c.seq, events.c.event_id)
            if after_seq is not None
            else (events.c.at, events.c.seq, events.c.event_id)
        )
        q = _ordered(q, order, limit, newest)
        with self._begin("reading events") as conn:
            for r in conn.execute(q, execution_options={"yield_per": 2000}):  # this statement only
                yield events_map.from_row(r)

    def pair_events(
        self, pair: str, after: dt.datetime | None = None, *, chunk: int | None = None
    ) -> Iterator[list[Event]]:
        """`events(pair=pair, after=after)` — a pair's events in correlation order — in lists of up
        to `chunk` events (one list of all when None), read without SQLAlchemy's per-value result
        processing (the correlator reads every event it applies). Each list is one query that
        starts after the last event of the one before (keyset paging): any number of a pair's
        events in bounded memory."""
        mark = bulk.placeholder(self.dialect)
        stamp = None if after is None else bulk.param(self.dialect, after)
        last: tuple[Any, ...] | None = None
        while True:
            where, params = [f"pair = {mark}"], [pair]
            if stamp is not None:
                where.append(f"at > {mark}")
                params.append(stamp)
            if last is not None:
                where.append(f"(at, seq, event_id) > ({mark}, {mark}, {mark})")
                params += last
            sql = _PAIR_EVENTS.format(where=" AND ".join(where))
            if chunk is not None:
                sql += f" LIMIT {int(chunk)}"
            with self._tx("reading events") as tx:
                rows = tx.run(sql, params).fetchall()
            if not rows:
                return
            yield events_map.from_raw_rows(rows, self.dialect)
            if chunk is None or len(rows) < chunk:
                return
            last = (rows[-1][_AT], rows[-1][_SEQ], rows[-1][_EVENT_ID])  # as the driver gave them

    def iter_event_json(
        self,
        *,
        pair: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        msg_id: int | None = None,
        kind: str | None = None,
        limit: int | None = None,
        newest: bool = False,
    ) -> Iterator[str]:
        """`iter_events` as the documented event JSON, one text per event, built by the database
        (SQLite json_object, PostgreSQL json_build_object): a listing as fast as the database writes."""
        if self.dialect == "sqlite":  # in its own SQL through the sqlite3 module, no SQLAlchemy
            where, params = [], []
            for clause, value in (
                ("pair = ?", pair),
                ("at >= ?", None if since is None else sqlite_text(since)),
                ("at < ?", None if until is None else sqlite_text(until)),
                ("msg_id = ?", msg_id),
                ("kind = ?", kind),
            ):
                if value is not None:
                    where.append(clause)
                    params.append(value)
            selected = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
            if limit is not None:
                by = "at DESC, seq DESC, event_id DESC" if newest else "at, seq, event_id"
                selected += f" ORDER BY {by} LIMIT {int(limit)}"
            with self._tx("reading events") as tx:
                cur = tx.run(_SQLITE_EVENT_JSON.format(src=selected), params)
                while rows := cur.fetchmany(5000):
                    for (doc,) in rows:
                        yield doc
                return
        from sqlalchemy import Text, cast, func, literal, select

        from hamon.store.schema import events

        order = (events.c.at, events.c.seq, events.c.event_id)
        src = _ordered(_event_filter(pair, since, until, msg_id, kind), order, limit, newest).subquery()
        c = src.c
        fields = [(name, _iso_postgresql(c[name]) if name in _JSON_TIMES else c[name]) for name in _JSON_FIELDS]
        args: list[Any] = [x for name, col in fields for x in (literal(name), col)]
        out = select(cast(func.json_build_object(*args), Text)).order_by(c.at, c.seq, c.event_id)
        with self._begin("reading events") as conn:
            for (doc,) in conn.execute(out, execution_options={"yield_per": 5000}):  # this statement only
                yield doc

    def last_seq(self) -> int:
        """The newest arrival order stored (0 for an empty store)."""
        with self._tx("reading the arrival order") as tx:
            return int(tx.run("SELECT max(seq) FROM events").fetchone()[0] or 0)

    def pairs(self) -> list[str]:
        """Every pair that has stored events, by name."""
        with self._tx("reading pairs") as tx:
            return [r[0] for r in tx.run("SELECT DISTINCT pair FROM events ORDER BY pair").fetchall()]

    def event_counts(self) -> dict[str, int]:
        """How many events the store holds of each pair."""
        with self._tx("counting events") as tx:
            return {r[0]: int(r[1]) for r in tx.run("SELECT pair, count(*) FROM events GROUP BY pair").fetchall()}

    def event_span(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The first and the last event time in the store (None, None when empty)."""
        with self._tx("reading the event span") as tx:
            first, last = tx.run("SELECT min(at), max(at) FROM events").fetchone()
        return bulk.read_time(self.dialect, first), bulk.read_time(self.dialect, last)

    def panel_query(self, sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """A dashboard panel's own SQL (PostgreSQL's, as Grafana runs it) with bound parameters."""
        if self.dialect != "postgresql":
            raise StoreError("the dashboards' queries are PostgreSQL SQL: give a PostgreSQL store with --db")
        from sqlalchemy import text

        with self._begin("running a panel query") as conn:
            result = conn.execute(text(sql), params)
            return list(result.keys()), [tuple(r) for r in result.fetchall()]

    def next_seq(self) -> int:
        """The next arrival order to hand out (the store's newest, read once, then counted on)."""
        if self._seq is None:
            try:
                self._seq = self.last_seq()
            except StoreError:
                # The store is away (a service starting during an outage): microseconds since the
                # epoch lie beyond any count a store reached, so the order still goes on from there.
                self._seq = time.time_ns() // 1000
        self._seq += 1
        return self._seq

    def stamp(self, batch: Sequence[Event]) -> list[Event]:
        """Events made without a parser (polls, saved CLI output) with their arrival order."""
        return [replace(e, seq=self.next_seq()) for e in batch]

    def quarantined(
        self, *, limit: int | None = None, since: dt.datetime | None = None, newest: bool = False
    ) -> list[Quarantined]:
        """Quarantined lines, oldest first; with `newest`, `limit` takes the newest of them."""
        from sqlalchemy import select

        from hamon.store.schema import quarantine

        q = select(quarantine)
        if since is not None:
            q = q.where(quarantine.c.received_at >= since)
        q = _ordered(q, (quarantine.c.received_at, quarantine.c.origin, quarantine.c.line_no), limit, newest)
        with self._begin("reading quarantined lines") as conn:
            return [
                Quarantined(
                    quarantine_id=r.quarantine_id,
                    received_at=r.received_at,
                    source=r.source,
                    origin=r.origin,
                    line_no=r.line_no,
                    reason=r.reason,
                    raw=bytes(r.raw),
                    raw_len=r.raw_len,
                )
                for r in conn.execute(q)
            ]

    def sources(self) -> list[dict[str, Any]]:
        """Per sender: its pair, lines seen and when it was last heard."""
        from sqlalchemy import func, select

        from hamon.store.schema import source_activity

        sa = source_activity
        q = (
            select(sa.c.source, sa.c.pair, func.sum(sa.c.lines).label("lines"), func.max(sa.c.last_at).label("last_at"))
            .group_by(sa.c.source, sa.c.pair)
            .order_by(sa.c.pair, sa.c.source)
        )
        with self._begin("reading source activity") as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def traffic(
        self, pair: str, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> dict[str, dict[float, int]]:
        """When each sender of a pair was heard: per sender, per hour (epoch), a bitmap of its seconds.

        Summed over every input; the correlator reads a unit falling silent from it.
        """
        where, params = [f"pair = {bulk.placeholder(self.dialect)}"], [pair]
        if since is not None:
            where.append(f"hour >= {bulk.placeholder(self.dialect)}")
            params.append(bulk.param(self.dialect, since - dt.timedelta(hours=1)))
        if until is not None:
            where.append(f"hour < {bulk.placeholder(self.dialect)}")
            params.append(bulk.param(self.dialect, until))
        out: dict[str, dict[float, int]] = {}
        with self._tx("reading source activity") as tx:
            for source, hour, seconds in tx.run(_TRAFFIC.format(where=" AND ".join(where)), params).fetchall():
                _heard_in(out, source, bulk.read_time(self.dialect, hour), seconds)
        return out

    def live_sources(self) -> list[dict[str, Any]]:
        """Per sender and pair, when a running service (serve, worker, consume) last heard it: what a
        replay of an archive read does not count here."""
        from sqlalchemy import func, select

        from hamon.store.schema import ingests, source_activity

        sa = source_activity
        q = (
            select(sa.c.source, sa.c.pair, func.max(sa.c.last_at).label("last_at"))
            .join(ingests, ingests.c.ingest_id == sa.c.ingest_id)
            .where(ingests.c.kind == "serve")
            .group_by(sa.c.source, sa.c.pair)
        )
        with self._begin("reading source activity") as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def traffic_of(self, pairs: Sequence[str]) -> dict[str, dict[str, dict[float, int]]]:
        """`traffic(pair)` of several pairs in one read (pairs the live correlator meets together)."""
        out: dict[str, dict[str, dict[float, int]]] = {p: {} for p in pairs}
        with self._tx("reading source activity") as tx:
            for i in range(0, len(pairs), 500):
                part = list(pairs[i : i + 500])
                sql = _TRAFFIC_OF.format(marks=bulk.marks(self.dialect, len(part)))
                for pair, source, hour, seconds in tx.run(sql, part).fetchall():
                    _heard_in(out[pair], source, bulk.read_time(self.dialect, hour), seconds)
        return out

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        with self._tx("counting rows") as tx:
            return {
                t: int(tx.run(f"SELECT count(*) FROM {t}").fetchone()[0] or 0)
                for t in ("events", "quarantine", "ingests", "source_activity")
            }


UTC = dt.UTC
_EVENT_COLUMNS = events_map.COLUMNS
_PG_INSERT_EVENTS_RETURNING = (
    f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_EVENT_COLUMNS))}) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
_PAIR_EVENTS = f"SELECT {', '.join(_EVENT_COLUMNS)} FROM events WHERE {{where}} ORDER BY at, seq, event_id"
_AT, _SEQ, _EVENT_ID = (_EVENT_COLUMNS.index(c) for c in ("at", "seq", "event_id"))
COPY_ROWS = 1000  # events in a batch from which PostgreSQL gets them by COPY
# The temporary table lives for one batch at most: nothing of it outlasts a commit or a rollback.
_PG_EVENTS_IN = "CREATE TEMPORARY TABLE hamon_events_in (LIKE events INCLUDING DEFAULTS) ON COMMIT DROP"
_PG_COPY_EVENTS_IN = f"COPY hamon_events_in ({', '.join(_EVENT_COLUMNS)}) FROM STDIN"
_PG_INSERT_EVENTS_IN = (
    f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) SELECT {', '.join(_EVENT_COLUMNS)} FROM hamon_events_in "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
_TRAFFIC = "SELECT source, hour, seconds FROM source_activity WHERE {where}"
_TRAFFIC_OF = "SELECT pair, source, hour, seconds FROM source_activity WHERE pair IN ({marks})"
# The documented event JSON's fields, and the embedded store's statement building it: times as
# hamon.model.iso writes them (stored `YYYY-MM-DD HH:MM:SS.ffffff` → `…THH:MM:SS[.mmm]Z`).
_JSON_FIELDS = tuple("event_id at received_at pair unit source msg_id severity kind cause interface text".split())  # noqa: SIM905
_JSON_TIMES = ("at", "received_at")


def _iso_sqlite_sql(col: str) -> str:
    day = f"substr({col}, 1, 10) || 'T' || "
    return (
        f"CASE WHEN substr({col}, 21, 6) = '000000' THEN {day}substr({col}, 12, 8) || 'Z' "
        f"ELSE {day}substr({col}, 12, 12) || 'Z' END"
    )


_SQLITE_EVENT_JSON = (
    "SELECT json_object("
    + ", ".join(f"'{f}', " + (_iso_sqlite_sql(f) if f in _JSON_TIMES else f) for f in _JSON_FIELDS)
    + ") FROM ({src}) ORDER BY at, seq, event_id"
)
_SQLITE_INSERT_EVENTS = (
    f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))}) "
    "ON CONFLICT (event_id) DO NOTHING"
)


def _heard_in(heard: dict[str, dict[float, int]], source: str, hour: Any, seconds: bytes) -> None:
    """Add an activity row's seconds to a sender's bitmaps (per hour, epoch seconds)."""
    hours = heard.setdefault(source, {})
    key = hour.timestamp()
    hours[key] = hours.get(key, 0) | int.from_bytes(bytes(seconds), "little")


def _event_filter(
    pair: str | None, since: dt.datetime | None, until: dt.datetime | None, msg_id: int | None, kind: str | None
) -> Select[Any]:
    """The events a listing's filters select (every event listing reads through this)."""
    from sqlalchemy import select

    from hamon.store.schema import events

    q: Select[Any] = in_range(select(events), events, pair, since, until)
    if msg_id is not None:
        q = q.where(events.c.msg_id == msg_id)
    if kind is not None:
        q = q.where(events.c.kind == kind)
    return q


def _iso_postgresql(col: Any) -> Any:
    """hamon.model.iso in PostgreSQL SQL: a timestamptz as `YYYY-MM-DDTHH:MM:SS[.mmm]Z` in UTC."""
    from sqlalchemy import BigInteger, case, cast, func, literal

    utc = func.timezone("UTC", col)
    whole = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
    micros = func.mod(cast(func.date_part("microseconds", col), BigInteger), 1000000)
    return whole.op("||")(case((micros == 0, literal("Z")), else_=func.to_char(utc, ".MS").op("||")(literal("Z"))))


def in_range(q: Any, table: Any, pair: str | None, since: dt.datetime | None, until: dt.datetime | None) -> Any:
    """Filter a query on `table` to one pair (when given) and to `since <= at < until`."""
    if pair is not None:
        q = q.where(table.c.pair == pair)
    if since is not None:
        q = q.where(table.c.at >= since)
    if until is not None:
        q = q.where(table.c.at < until)
    return q


def _refused(exc: BaseException) -> bool:
    """A write the database refused for its values (SQLSTATE classes 22 data and 23 integrity),
    not for being away."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or ""
    return state[:2] in ("22", "23")


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    msg = str(orig if orig is not None else exc).strip().splitlines()
    return msg[0] if msg else type(exc).__name__


def _merged(tx: bulk.Tx, ingest_id: str, acts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """New activity added to what is stored for the same (sender, hour) of this input."""
    if not acts:
        return acts
    sources = sorted({a[1] for a in acts})
    mark = bulk.placeholder(tx.dialect)
    sql = (
        "SELECT source, hour, lines, last_at, seconds FROM source_activity "
        f"WHERE ingest_id = {mark} AND source IN ({bulk.marks(tx.dialect, len(sources))})"
    )
    stored = {}
    for source, hour, lines, last_at, seconds in tx.run(sql, [ingest_id, *sources]).fetchall():
        stored[(source, bulk.read_time(tx.dialect, hour))] = (
            lines,
            bulk.read_time(tx.dialect, last_at),
            bytes(seconds),
        )
    out = []
    for i, src, hour, pair, lines, last, bits in acts:
        old = stored.get((src, hour))
        if old is not None:
            old_lines, old_last, old_bits = old
            lines += old_lines
            last = max(last, old_last)
            width = max(len(bits), len(old_bits))
            merged = int.from_bytes(bits, "little") | int.from_bytes(old_bits, "little")
            bits = merged.to_bytes(width, "little")
        out.append((i, src, hour, pair, lines, last, bits))
    return out


def _rollback(conn: sqlite3.Connection) -> None:
    # A connection gone with its transaction raises here; the error that got here is reported.
    with contextlib.suppress(sqlite3.Error):
        conn.rollback()


def _as_store_error(exc: BaseException, what: str, url: str) -> StoreError | None:
    """A database error met inside a transaction as the StoreError it is reported as (None for others)."""
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"{what} failed on {url}: {_reason(exc)}")
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError):
        return StoreError(f"{what} failed on {url}: {_reason(exc)}")
    return None


def _sqlite_tables(tx: bulk.Tx, name: str | None = None) -> bool:
    """Whether the embedded store has any table (or the one named)."""
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table'" + (" AND name = ?" if name else "") + " LIMIT 1"
    return tx.run(sql, (name,) if name else ()).fetchone() is not None
