"""The embedded store without SQLAlchemy: created from layout.json, written and read by the sqlite3
module on replay's path, sharing one transaction with SQLAlchemy where both take part, and failing
with a clear error (never a traceback, never a damaged file) when the disk is full."""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import parse_bytes
from sqlalchemy import insert, select

from hamon.errors import StoreError
from hamon.model import Event
from hamon.store import Store, bulk
from hamon.store.db import HEAD_REVISION
from hamon.store.schema import layout_text, metadata, polls

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "asa-pair.log"
T0 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)


def _master(path: Path) -> list[tuple[str, str, str, str]]:
    """What SQLite itself says the schema is: every table and index with its SQL, whitespace folded."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    return [(t, n, tbl, " ".join((sql or "").split())) for t, n, tbl, sql in rows]


def test_layout_json_is_what_the_tables_give() -> None:
    path = ROOT / "hamon" / "store" / "layout.json"
    assert path.read_text(encoding="utf-8") == layout_text(), "stale: run `python -m hamon.store.schema`"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["times"]["events"] == ["at", "received_at"]
    assert set(data["columns"]) == {t.name for t in metadata.sorted_tables}


def test_store_created_without_sqlalchemy_equals_create_all(tmp_path: Path) -> None:
    Store(f"sqlite:///{tmp_path / 'lite.db'}")
    reference = tmp_path / "reference.db"
    with sqlite3.connect(reference) as conn:
        conn.execute("CREATE TABLE placeholder (x)")  # a non-empty file for the engine below
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{reference}")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE placeholder"))
        metadata.create_all(conn)
        conn.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
    engine.dispose()
    assert _master(tmp_path / "lite.db") == _master(reference)
    assert Store(f"sqlite:///{tmp_path / 'lite.db'}").revision() == HEAD_REVISION


def test_several_processes_opening_one_new_store_make_it_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    code = "import sys; from hamon.store import Store; print(Store(sys.argv[1]).revision())"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, f"sqlite:///{db}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e.decode() for _, e in outs]
    assert [o.decode().strip() for o, _ in outs] == [HEAD_REVISION] * 4
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1


def test_replay_into_the_embedded_store_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hamon", "--db", db, "replay", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    imported = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
    assert imported, "no import timings: -X importtime did not apply"
    assert not [line for line in imported if "sqlalchemy" in line or "alembic" in line]
    assert "correlated:" in run.stdout
    # What it stored reads back through SQLAlchemy's listings as the same story.
    store = Store(db)
    from hamon.store import outputs

    failovers = outputs.failover_list(store)
    assert failovers and all(f["at"] for f in failovers)
    assert store.counts()["events"] == len(store.events())


LINE = "<161>Nov 25 2026 10:{m:02d}:{s:02d} fw-{u} : %ASA-1-105008: (Primary) Testing Interface if{n}\n"


def _events(n: int, offset: int = 0) -> list[Event]:
    data = "".join(LINE.format(m=(i // 60) % 60, s=i % 60, u=i % 2, n=i) for i in range(offset, offset + n))
    result, _ = parse_bytes(data.encode())
    assert len(result.events) == n
    return result.events


def _event(n: int) -> Event:
    return _events(1, offset=n)[0]


@pytest.mark.parametrize("fail", [False, True])
def test_one_transaction_holds_the_drivers_and_sqlalchemys_writes_together(tmp_path: Path, fail: bool) -> None:
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    poll = {"pair": "fw", "unit": "primary", "polled_at": T0, "source": "10.0.0.1", "document": "{}"}

    def work() -> None:
        with store.one_transaction("a test"):
            assert store.add_events([_event(1)]) == 1  # the sqlite3 connection
            with store._begin("a test") as conn:  # SQLAlchemy on the same connection
                conn.execute(insert(polls), [poll])
            assert store.add_events([_event(2)]) == 1
            if fail:
                raise RuntimeError("stop here")

    if fail:
        with pytest.raises(RuntimeError, match="stop here"):
            work()
    else:
        work()
    other = Store(f"sqlite:///{tmp_path / 't.db'}")  # another connection sees what was committed
    with other.engine.connect() as conn:
        stored_polls = conn.execute(select(polls.c.pair)).all()
    assert (len(other.events()), len(stored_polls)) == ((0, 0) if fail else (2, 1))
    # The store goes on working after either end.
    assert store.add_events([_event(3)]) == 1


def test_a_write_the_database_refuses_is_a_store_error_and_stores_nothing_of_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "refusing.db"
    store = Store(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:  # the database itself refuses the third event of a batch
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.text LIKE '%if2' "
            "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
        )
    with pytest.raises(StoreError, match=r"storing events failed on sqlite:///.*refused by a trigger"):
        store.add_events(_events(4))
    assert store.events() == []  # the batch is one transaction: nothing of it stays
    assert store.add_events(_events(2)) == 2  # and the store goes on


def test_sqlite_url_with_options_is_refused_clearly() -> None:
    with pytest.raises(StoreError, match=r"sqlite:///PATH"):
        Store("sqlite://")
    with pytest.raises(StoreError, match=r"sqlite:///PATH"):
        Store("sqlite:///x.db?mode=ro")


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (3 << 20, 3 << 20))


def test_replay_onto_a_full_disk_stops_with_a_clear_error_and_an_intact_store(tmp_path: Path) -> None:
    capture = tmp_path / "big.log"
    t0 = dt.datetime(2026, 11, 25, 0, 0, 0)
    with capture.open("w") as out:
        for i in range(60_000):  # some 20 MB of store: far beyond what the file may grow to
            at = (t0 + dt.timedelta(seconds=i)).strftime("%b %d %Y %H:%M:%S")
            out.write(f"<161>{at} fw-{i % 2} : %ASA-1-105008: (Primary) Testing Interface if{i % 8}\n")
    db = tmp_path / "full.db"
    Store(f"sqlite:///{db}")  # created while there is room
    run = subprocess.run(
        [sys.executable, "-m", "hamon", "--db", f"sqlite:///{db}", "replay", str(capture)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_file_size,
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert f"failed on sqlite:///{db}" in run.stderr, run.stderr[-2000:]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    assert stored < 60_000
    # Room again: the same replay completes and stores every event once.
    again = Store(f"sqlite:///{db}")
    done = subprocess.run(
        [sys.executable, "-m", "hamon", "--db", f"sqlite:///{db}", "replay", "--json", str(capture)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["events"] == 60_000
    assert again.counts()["events"] == 60_000
    assert bulk.COLUMNS["events"][0] == "event_id"


def test_a_file_that_is_not_a_store_is_said_so(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(StoreError, match=r"reading the schema revision failed on sqlite:///.*file is not a database"):
        Store(f"sqlite:///{path}")
    assert path.read_text().startswith("these are not")  # left as it was
