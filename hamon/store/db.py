"""Open, migrate, write and read the store. Foreign errors become StoreError here."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    Text,
    case,
    cast,
    create_engine,
    event,
    func,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from hamon.errors import StoreError
from hamon.model import Activity, Event, Quarantined
from hamon.store import bulk, events_map
from hamon.store.schema import events, ingests, metadata, polls, quarantine, source_activity
from hamon.store.timestamps import sqlite_text

HEAD_REVISION = "0009"
MIGRATIONS = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT = 10  # seconds to reach PostgreSQL


def default_url() -> str:
    """The embedded store: `$XDG_DATA_HOME/hamon/hamon.db` (default `~/.local/share/hamon/hamon.db`)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return f"sqlite:///{os.path.join(base, 'hamon', 'hamon.db')}"


def _normalize_url(url: str) -> str:
    # `postgresql://` would pick psycopg2, which hamon does not ship; psycopg 3 is the driver.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _ordered(q: Select[Any], order: tuple[Any, ...], limit: int | None, newest: bool) -> Select[Any]:
    """`q` in `order`, at most `limit` rows: the first ones, or with `newest` the last ones (still
    given in `order`, as `journalctl -n` does)."""
    if newest and limit is not None:
        inner = q.order_by(*(c.desc() for c in order)).limit(limit).subquery()
        return select(inner).order_by(*(inner.c[c.name] for c in order))
    q = q.order_by(*order)
    return q if limit is None else q.limit(limit)


def shown_url(url: str | None = None) -> str:
    """A store URL as it may be shown: the default when none is given, the password masked."""
    try:
        return make_url(_normalize_url(url or default_url())).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


SCHEMA_LOCK = 0x68616D6F6E  # "hamon": the advisory lock held while the schema is created or migrated


class Store:
    """A hamon store; the schema is brought to the current revision on first use."""

    def __init__(self, url: str | None = None, *, migrate: bool = True, create: bool = True) -> None:
        self._local = threading.local()  # the connection of a `one_transaction()` block, per thread
        raw = _normalize_url(url or default_url())
        try:
            parsed = make_url(raw)
        except ArgumentError as exc:
            raise StoreError(
                f"not a database URL: {url!r} (try sqlite:///path/hamon.db or postgresql+psycopg://...)"
            ) from exc
        self.url = parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        self._seq: int | None = None  # the last arrival order handed out (read from the store once)
        self._address = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"unsupported store {self.url}: hamon stores to SQLite or PostgreSQL")
        try:
            if self.dialect == "sqlite":
                db = parsed.database
                if db and db != ":memory:":
                    if not create and not Path(db).expanduser().exists():
                        raise StoreError(
                            f"no store at {Path(db).expanduser()} (replay or serve creates one; --db / HAMON_DB)"
                        )
                    Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
                self.engine: Engine = create_engine(parsed, connect_args={"timeout": 30})
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                # A server that accepts and never answers does not hang a command for minutes.
                timeout = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
                self.engine = create_engine(parsed, pool_pre_ping=True, connect_args=timeout)
        except (NoSuchModuleError, ImportError) as exc:
            raise StoreError(f"no driver for {self.url}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create the store directory for {self.url}: {exc.strerror}") from exc
        if migrate:
            self.ensure_schema()

    # -- lifecycle ---------------------------------------------------------------------------
    @contextmanager
    def _begin(self, what: str) -> Iterator[Connection]:
        shared = getattr(self._local, "conn", None)
        if shared is not None:  # inside `one_transaction()` on this thread: its connection
            yield shared
            return
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            reason = _reason(exc)
            if self.dialect == "postgresql" and ("connection" in reason.lower() or "timeout" in reason.lower()):
                raise StoreError(
                    f"cannot connect to PostgreSQL at {self._address}: {reason} (--db / HAMON_DB)"
                ) from exc
            raise StoreError(f"{what} failed on {self.url}: {reason}") from exc

    @contextmanager
    def one_transaction(self, what: str) -> Iterator[None]:
        """Every store call of this thread inside the block runs in one transaction (many pairs'
        reads and writes in one, rather than a transaction per statement); other threads are not
        affected. Committed at the end, rolled back on an error."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._begin(what) as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    def revision(self) -> str | None:
        """The schema revision of the store, None for an empty store."""
        with self._begin("reading the schema revision") as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def ensure_schema(self) -> None:
        """Apply pending migrations (cheap when there are none).

        An empty store is created from the table definitions and stamped with the newest
        revision, which is what running every migration gives (tests check that the two agree)
        without loading Alembic on the first run.
        """
        revision = self.revision()
        if revision == HEAD_REVISION:
            return
        if revision is None:
            with self._begin("creating the schema") as conn:
                # Several processes starting on one new store (workers, a service and a reader):
                # one creates it, the others wait for it and find it made.
                self._schema_lock(conn)
                if not inspect(conn).get_table_names():
                    metadata.create_all(conn)
                    conn.execute(
                        text(
                            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                        )
                    )
                    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD_REVISION})
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
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK})

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

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
        with self._begin("storing events") as conn:
            cur = conn.exec_driver_sql(_SQLITE_INSERT_EVENTS, rows)
            return int(cur.rowcount)

    def add_new_events(self, batch: Sequence[Event]) -> list[Event]:
        """Store events and return those that were not stored before (a redelivered message's
        events come back empty), in the order given."""
        if not batch:
            return []
        if self.dialect == "postgresql":
            return self._add_new_events_pg(batch)
        ids = [e.event_id for e in batch]
        with self._begin("storing events") as conn:
            have: set[str] = set()
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                have.update(r[0] for r in conn.execute(select(events.c.event_id).where(events.c.event_id.in_(part))))
            fresh: dict[str, Event] = {}
            for e in batch:
                if e.event_id not in have:
                    fresh.setdefault(e.event_id, e)
            rows = [events_map.to_row(e) for e in fresh.values()]
            if rows:
                conn.execute(self._insert(events).on_conflict_do_nothing(index_elements=["event_id"]), rows)
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
        ins = self._insert(polls)
        with self._begin("storing a poll") as conn:
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["pair", "unit"], set_={k: ins.excluded[k] for k in row if k not in ("pair", "unit")}
                ),
                [row],
            )

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
        stmt = self._insert(quarantine).on_conflict_do_nothing(index_elements=["quarantine_id"])
        with self._begin("storing quarantined lines") as conn:
            return len(conn.execute(stmt.returning(quarantine.c.quarantine_id), rows).all())

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
        with self._begin("recording the input") as conn:
            ins_ingest = self._insert(ingests)
            if accumulate:
                totals = ("finished_at", "lines", "events", "quarantined")
                conn.execute(
                    ins_ingest.on_conflict_do_update(
                        index_elements=["ingest_id"], set_={k: ins_ingest.excluded[k] for k in totals}
                    ),
                    [row],
                )
                acts = _merged(conn, ingest_id, acts)
            else:
                conn.execute(ins_ingest.on_conflict_do_nothing(index_elements=["ingest_id"]), [row])
            if not acts:
                return
            names = ("ingest_id", "source", "hour", "pair", "lines", "last_at", "seconds")
            bulk.write(
                conn,
                source_activity,
                [dict(zip(names, a, strict=True)) for a in acts],
                names[:3],
                names[3:],
            )

    def _insert(self, table: Any) -> Any:
        # Only the dialect in use is imported: start-up cost matters for short commands.
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
        sqlite = self.dialect == "sqlite"
        mark = bulk.placeholder(self.dialect)
        stamp: Any = None if after is None else (sqlite_text(after) if sqlite else after)
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
            with self._begin("reading events") as conn:
                rows = conn.exec_driver_sql(sql, tuple(params)).fetchall()
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
        order = (events.c.at, events.c.seq, events.c.event_id)
        src = _ordered(_event_filter(pair, since, until, msg_id, kind), order, limit, newest).subquery()
        c = src.c
        iso_of = _iso_sqlite if self.dialect == "sqlite" else _iso_postgresql
        fields = [
            ("event_id", c.event_id),
            ("at", iso_of(c.at)),
            ("received_at", iso_of(c.received_at)),
            ("pair", c.pair),
            ("unit", c.unit),
            ("source", c.source),
            ("msg_id", c.msg_id),
            ("severity", c.severity),
            ("kind", c.kind),
            ("cause", c.cause),
            ("interface", c.interface),
            ("text", c.text),
        ]
        args: list[Any] = [x for name, col in fields for x in (literal(name), col)]
        build = func.json_object(*args) if self.dialect == "sqlite" else cast(func.json_build_object(*args), Text)
        out = select(build).order_by(c.at, c.seq, c.event_id)
        with self._begin("reading events") as conn:
            for (doc,) in conn.execute(out, execution_options={"yield_per": 5000}):  # this statement only
                yield doc

    def last_seq(self) -> int:
        """The newest arrival order stored (0 for an empty store)."""
        with self._begin("reading the arrival order") as conn:
            return int(conn.execute(select(func.max(events.c.seq))).scalar() or 0)

    def pairs(self) -> list[str]:
        """Every pair that has stored events, by name."""
        with self._begin("reading pairs") as conn:
            return [r[0] for r in conn.execute(select(events.c.pair).distinct().order_by(events.c.pair))]

    def event_span(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The first and the last event time in the store (None, None when empty)."""
        with self._begin("reading the event span") as conn:
            first, last = conn.execute(select(func.min(events.c.at), func.max(events.c.at))).one()
        return first, last

    def panel_query(self, sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """A dashboard panel's own SQL (PostgreSQL's, as Grafana runs it) with bound parameters."""
        if self.dialect != "postgresql":
            raise StoreError("the dashboards' queries are PostgreSQL SQL: give a PostgreSQL store with --db")
        with self._begin("running a panel query") as conn:
            result = conn.execute(text(sql), params)
            return list(result.keys()), [tuple(r) for r in result.fetchall()]

    def next_seq(self) -> int:
        """The next arrival order to hand out (the store's newest, read once, then counted on)."""
        if self._seq is None:
            try:
                with self._begin("reading the arrival order") as conn:
                    self._seq = int(conn.execute(select(func.max(events.c.seq))).scalar() or 0)
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
        sa = source_activity
        q = select(sa.c.source, sa.c.hour, sa.c.seconds).where(sa.c.pair == pair)
        if since is not None:
            q = q.where(sa.c.hour >= since - dt.timedelta(hours=1))
        if until is not None:
            q = q.where(sa.c.hour < until)
        out: dict[str, dict[float, int]] = {}
        with self._begin("reading source activity") as conn:
            for r in conn.execute(q):
                _heard_in(out, r)
        return out

    def live_sources(self) -> list[dict[str, Any]]:
        """Per sender and pair, when a running service (serve, worker, consume) last heard it: what a
        replay of an archive read does not count here."""
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
        sa = source_activity
        out: dict[str, dict[str, dict[float, int]]] = {p: {} for p in pairs}
        with self._begin("reading source activity") as conn:
            for i in range(0, len(pairs), 500):
                q = select(sa.c.pair, sa.c.source, sa.c.hour, sa.c.seconds).where(sa.c.pair.in_(pairs[i : i + 500]))
                for r in conn.execute(q):
                    _heard_in(out[r.pair], r)
        return out

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        with self._begin("counting rows") as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                for t in (events, quarantine, ingests, source_activity)
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
_SQLITE_INSERT_EVENTS = (
    f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))}) "
    "ON CONFLICT (event_id) DO NOTHING"
)


def _heard_in(heard: dict[str, dict[float, int]], r: Any) -> None:
    """Add an activity row's seconds to a sender's bitmaps (per hour, epoch seconds)."""
    hours = heard.setdefault(r.source, {})
    key = r.hour.timestamp()
    hours[key] = hours.get(key, 0) | int.from_bytes(bytes(r.seconds), "little")


def _event_filter(
    pair: str | None, since: dt.datetime | None, until: dt.datetime | None, msg_id: int | None, kind: str | None
) -> Select[Any]:
    """The events a listing's filters select (every event listing reads through this)."""
    q: Select[Any] = in_range(select(events), events, pair, since, until)
    if msg_id is not None:
        q = q.where(events.c.msg_id == msg_id)
    if kind is not None:
        q = q.where(events.c.kind == kind)
    return q


def _iso_sqlite(col: Any) -> Any:
    """hamon.model.iso in SQLite SQL: stored `YYYY-MM-DD HH:MM:SS.ffffff` → `…THH:MM:SS[.mmm]Z`."""
    day, clock = func.substr(col, 1, 10).op("||")(literal("T")), func.substr(col, 12, 8)
    whole = day.op("||")(clock).op("||")(literal("Z"))
    with_ms = day.op("||")(func.substr(col, 12, 12)).op("||")(literal("Z"))
    return case((func.substr(col, 21, 6) == "000000", whole), else_=with_ms)


def _iso_postgresql(col: Any) -> Any:
    """hamon.model.iso in PostgreSQL SQL: a timestamptz as `YYYY-MM-DDTHH:MM:SS[.mmm]Z` in UTC."""
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


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers in other shells never block the writer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    msg = str(orig if orig is not None else exc).strip().splitlines()
    return msg[0] if msg else type(exc).__name__


def _merged(conn: Connection, ingest_id: str, acts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """New activity added to what is stored for the same (sender, hour) of this input."""
    if not acts:
        return acts
    q = select(source_activity).where(
        source_activity.c.ingest_id == ingest_id, source_activity.c.source.in_(sorted({a[1] for a in acts}))
    )
    stored = {(r.source, r.hour): r for r in conn.execute(q)}
    out = []
    for i, src, hour, pair, lines, last, bits in acts:
        old = stored.get((src, hour))
        if old is not None:
            lines += old.lines
            last = max(last, old.last_at)
            width = max(len(bits), len(old.seconds))
            merged = int.from_bytes(bits, "little") | int.from_bytes(old.seconds, "little")
            bits = merged.to_bytes(width, "little")
        out.append((i, src, hour, pair, lines, last, bits))
    return out
