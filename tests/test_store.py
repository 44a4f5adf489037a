"""The store on SQLite and on a real PostgreSQL: migrations, idempotent replay, queries, parity."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hamon.collectors.files import open_inputs
from hamon.errors import StoreError
from hamon.service.replay import replay
from hamon.store import Store
from hamon.store.db import HEAD_REVISION
from hamon.store.schema import (
    alerts,
    checkpoints,
    events,
    failovers,
    ingests,
    pair_state,
    quarantine,
    source_activity,
    transitions,
)

EXAMPLE = Path(__file__).parent.parent / "examples" / "asa-pair.log"
BAD = Path(__file__).parent / "fixtures" / "bad"


def _dump(store: Store) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with store.engine.connect() as conn:
        for t in (events, quarantine, source_activity, failovers, transitions, alerts, checkpoints, pair_state):
            rows = [tuple(r) for r in conn.execute(select(t))]
            out[t.name] = sorted(rows, key=repr)
        out["ingests"] = sorted((r.ingest_id, r.lines, r.events, r.quarantined) for r in conn.execute(select(ingests)))
    return out


def _replay(store: Store, *paths: Path) -> Any:
    return replay(open_inputs([str(p) for p in paths]), store)


def test_schema_is_migrated_on_first_use(store: Store) -> None:
    assert store.revision() == HEAD_REVISION
    assert all(n == 0 for n in store.counts().values())


def test_replaying_the_same_input_twice_leaves_the_same_rows(store: Store) -> None:
    first = _replay(store, EXAMPLE, BAD / "non_utf8.raw")
    rows = _dump(store)
    second = _replay(store, EXAMPLE, BAD / "non_utf8.raw")
    assert _dump(store) == rows
    assert first.stored == first.events > 0
    assert second.stored == 0 and second.duplicates == second.events == first.events
    assert len(rows["quarantine"]) == 1
    assert len(rows["failovers"]) == 2 and rows["alerts"] and rows["pair_state"]


def test_events_query_filters_by_pair_time_id_and_kind(store: Store) -> None:
    _replay(store, EXAMPLE)
    everything = store.events()
    assert everything == sorted(everything, key=lambda e: (e.at, e.seq, e.event_id))
    pairs = {e.pair for e in everything}
    assert pairs == {"fw-edge", "fw-dc"}
    edge = store.events(pair="fw-edge")
    assert edge and all(e.pair == "fw-edge" for e in edge)
    mid = everything[len(everything) // 2].at
    assert all(e.at >= mid for e in store.events(since=mid))
    assert all(e.at < mid for e in store.events(until=mid))
    assert len(store.events(since=mid)) + len(store.events(until=mid)) == len(everything)
    assert all(e.msg_id == 104001 for e in store.events(msg_id=104001))
    assert store.events(kind="switch_active") == store.events(msg_id=104001)
    assert len(store.events(limit=3)) == 3


def test_the_correlators_raw_read_gives_what_events_gives(store: Store) -> None:
    _replay(store, EXAMPLE)
    everything = store.events()
    pairs = sorted({e.pair for e in everything})
    assert pairs
    for pair in pairs:
        mine = store.events(pair=pair)
        assert [e for c in store.pair_events(pair) for e in c] == mine and len(mine) > 1
        for size in (1, 2, 3, len(mine) - 1, len(mine), len(mine) + 1):  # pages end anywhere
            chunks = list(store.pair_events(pair, chunk=size))
            assert [e for c in chunks for e in c] == mine
            assert all(0 < len(c) <= size for c in chunks)
        middle = mine[len(mine) // 2].at
        later = [e for c in store.pair_events(pair, after=middle, chunk=2) for e in c]
        assert later == store.events(pair=pair, after=middle)
        assert all(e.at > middle for e in later) and len(later) < len(mine)
        assert all(e.at.utcoffset() == dt.timedelta(0) for e in later)


def test_times_come_back_as_utc(store: Store) -> None:
    _replay(store, EXAMPLE)
    e = store.events(limit=1)[0]
    assert e.at.tzinfo is not None and e.at.utcoffset() == dt.timedelta(0)


def test_bulk_written_times_read_back_as_sqlalchemy_writes_them(tmp_path: Path) -> None:
    # The embedded store's bulk paths write times as text themselves; SQLAlchemy must read them back
    # as the same instants, and order them as it orders its own — and bulk.read_time read both alike.
    from sqlalchemy import insert

    from hamon.store import bulk
    from hamon.store.schema import checkpoints
    from hamon.store.timestamps import sqlite_text

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    plus2 = dt.timezone(dt.timedelta(hours=2))
    times = [
        dt.datetime(2026, 11, 25, 8, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 25, 8, 0, 0, 1, tzinfo=plus2),
        dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ]
    cache: dict[dt.datetime, str] = {}
    with store.engine.begin() as conn:
        bulk.write(
            bulk.SaTx(conn),
            "checkpoints",
            [{"pair": f"b{i}", "at": x, "state": "{}"} for i, x in enumerate(times)],
            ["pair", "at"],
        )
        conn.execute(insert(checkpoints), [{"pair": f"s{i}", "at": x, "state": "{}"} for i, x in enumerate(times)])
        rows = dict(conn.execute(select(checkpoints.c.pair, checkpoints.c.at)).all())
        raw = dict(conn.exec_driver_sql("SELECT pair, at FROM checkpoints").all())
    for i, x in enumerate(times):
        assert rows[f"b{i}"] == rows[f"s{i}"] == x
        assert raw[f"b{i}"] == raw[f"s{i}"] == sqlite_text(x, cache) == sqlite_text(x, cache)
        assert bulk.read_time("sqlite", raw[f"b{i}"]) == x
    with pytest.raises(ValueError, match="naive"):
        sqlite_text(dt.datetime(2026, 1, 1))


def test_source_activity_counts_every_line_per_sender(store: Store) -> None:
    summary = _replay(store, EXAMPLE)
    sources = store.sources()
    assert sum(s["lines"] for s in sources) == summary.lines - summary.blank - summary.quarantined - summary.other
    _replay(store, EXAMPLE)  # the same input again does not add to the counts
    assert store.sources() == sources


def test_unreachable_store_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1"):
        Store("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")


def test_password_is_never_shown() -> None:
    with pytest.raises(StoreError) as err:
        Store("postgresql+psycopg://nobody:s3cr3t@127.0.0.1:1/none")
    assert "s3cr3t" not in str(err.value)


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        Store("not a url")
    with pytest.raises(StoreError, match="SQLite or PostgreSQL"):
        Store("mysql://x@localhost/db")


@pytest.mark.postgres
def test_postgresql_and_sqlite_store_the_same(sqlite_url: str, postgres_url: str) -> None:
    lite, pg = Store(sqlite_url), Store(postgres_url)
    a, b = _replay(lite, EXAMPLE, BAD / "garbage.raw"), _replay(pg, EXAMPLE, BAD / "garbage.raw")
    assert a.to_json() | {"elapsed_s": 0, "lines_per_s": 0} == b.to_json() | {"elapsed_s": 0, "lines_per_s": 0}
    assert [e.to_json() for e in lite.events()] == [e.to_json() for e in pg.events()]
    assert [q.to_json() for q in lite.quarantined()] == [q.to_json() for q in pg.quarantined()]
    assert lite.sources() == pg.sources()


def _schema(store: Store) -> dict[str, Any]:
    from sqlalchemy import inspect

    insp = inspect(store.engine)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table)),
        }
    return out


def test_fresh_schema_equals_running_every_migration(store_url: str, tmp_path: Path) -> None:
    fresh = Store(store_url)  # created from the table definitions and stamped
    if fresh.dialect == "sqlite":
        migrated = Store(f"sqlite:///{tmp_path / 'migrated.db'}", migrate=False)
    else:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        url = make_url(store_url)
        name = f"{url.database}_m"
        admin = Store(store_url, migrate=False)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.close()
        migrated = Store(url.set(database=name).render_as_string(hide_password=False), migrate=False)
    assert migrated.revision() is None
    migrated.upgrade()
    assert migrated.revision() == fresh.revision() == HEAD_REVISION
    assert _schema(migrated) == _schema(fresh)
    migrated.close()
    if fresh.dialect == "postgresql":
        with Store(store_url, migrate=False).engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_the_events_table_is_the_event_dataclass() -> None:
    import dataclasses

    from hamon.model import Event
    from hamon.store import events_map
    from hamon.store.schema import events

    fields = [f.name for f in dataclasses.fields(Event)]
    assert [c.name for c in events.columns] == [events_map.COLUMN_NAMES.get(f, f) for f in fields]
    assert {c.name for c in events.columns if c.nullable} == {
        events_map.COLUMN_NAMES.get(m.field, m.field) for m in events_map.FIELDS if m.nullable
    }


def test_a_store_poisoned_by_an_older_release_is_mended_by_its_migration(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from hamon.store.db import MIGRATIONS

    store = Store(f"sqlite:///{tmp_path / 'old.db'}", migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        columns = "event_id, at, received_at, pair, source, msg_id, severity, kind, text, seq"
        for eid, at in (("a" * 32, "999-11-25 10:00:00.000000"), ("b" * 32, "2026-11-25 10:00:00.000000")):
            conn.execute(
                text(
                    f"INSERT INTO events ({columns}) VALUES (:e, :at, '2026-11-25 10:00:00.000000', 'fwy', 'fwy', "
                    "104001, 1, 'switch_active', '(Primary) Switching to ACTIVE', 0)"
                ),
                {"e": eid, "at": at},
            )
    store.upgrade()
    assert [e.event_id for e in store.events()] == ["b" * 32]  # readable again
    (q,) = store.quarantined()
    assert q.reason.startswith("device time 999-11-25") and b"Switching to ACTIVE" in q.raw
    store.close()


@pytest.mark.postgres
def test_processes_starting_together_on_a_new_postgresql_store_create_it_once(postgres_url: str) -> None:
    # Two workers and a reader started at once on an empty database: one creates the schema, the
    # others wait for it (without the lock, the second CREATE TABLE fails).
    import threading

    errors: list[BaseException] = []
    go = threading.Barrier(6)

    def start() -> None:
        s = Store(postgres_url, migrate=False)
        try:
            go.wait(10)
            s.ensure_schema()
            assert s.revision() is not None
        except BaseException as exc:
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_event_json_built_by_the_database_is_the_documented_shape(store: Store) -> None:
    # The listing's fast path: the same JSON values as Event.to_json, times to the millisecond as
    # iso() writes them, hostile text intact.
    import json
    from dataclasses import replace

    from helpers import parse_bytes

    res, _ = parse_bytes((Path(__file__).resolve().parent.parent / "examples" / "asa-pair.log").read_bytes())
    base = res.events[:4]
    odd = [
        replace(
            base[0], event_id="f" * 32, at=base[0].at.replace(microsecond=500), text='q"uote\\ \n\t \x01 é ✓ \u2028'
        ),
        replace(base[1], event_id="e" * 32, at=base[1].at.replace(microsecond=123456), unit=None, cause=None),
        replace(base[2], event_id="d" * 32, received_at=base[2].received_at.replace(microsecond=999000)),
    ]
    store.add_events([*base, *odd])
    python = [e.to_json() for e in store.iter_events()]
    built = [json.loads(doc) for doc in store.iter_event_json()]
    assert built == python and len(built) == 7
    assert [json.loads(d) for d in store.iter_event_json(limit=2, newest=True)] == python[-2:]
    assert [json.loads(d)["event_id"] for d in store.iter_event_json(pair=base[0].pair, kind=base[0].kind)] == [
        e["event_id"] for e in python if e["pair"] == base[0].pair and e["kind"] == base[0].kind
    ]
    # Every filter selects in the JSON listing what it selects in the event listing, in its order.
    times = sorted({e.at for e in store.iter_events()})
    for filters in (
        {"since": times[1]},
        {"until": times[-1]},
        {"since": times[1], "until": times[-1], "limit": 2},
        {"msg_id": base[0].msg_id},
        {"limit": 3},
        {"limit": 3, "newest": True, "since": times[1]},
    ):
        expected = [e.to_json() for e in store.iter_events(**filters)]  # type: ignore[arg-type]
        assert [json.loads(d) for d in store.iter_event_json(**filters)] == expected, filters  # type: ignore[arg-type]
