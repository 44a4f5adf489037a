"""The store goes away under a stream: `hamon serve` keeps listening, holds what it receives in its
spool (memory, then disk), says so in its status, and stores everything once PostgreSQL is back.
A PostgreSQL of the test's own (initdb on 127.0.0.1) is stopped and started again."""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import require, wait_for
from test_serve import Running

from hamon.store import Store

LINE = "<161>{t:%b %d %Y %H:%M:%S} fw-{n:04d} : %ASA-1-105032: LAN Failover interface is down"


class Postgres:
    """One PostgreSQL cluster in a temporary directory, as the postgres user when run as root."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL's server binaries are not installed: CI must run the outage test")
            pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        self.bin = Path(bins[-1]).parent
        if os.getuid() == 0:
            require("runuser", "PostgreSQL's server runs as the postgres user")
        # Outside pytest's root-only directory: the server runs as the postgres user.
        self.data = Path(tempfile.mkdtemp(prefix="hamon-test-pg-"))
        if os.getuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "hamon", "--no-sync")
        self.url = f"postgresql+psycopg://hamon@127.0.0.1:{self.port}/postgres?connect_timeout=2"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-w", "-t", "60", "-o", opts, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    pg = Postgres()
    pg.start()
    yield pg
    with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test already
        pg.stop()
    shutil.rmtree(pg.data, ignore_errors=True)


def _send(port: int, first: int, n: int) -> None:
    now = dt.datetime.now(dt.UTC)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall("".join(LINE.format(t=now, n=i) + "\n" for i in range(first, first + n)).encode())


def test_postgresql_stopped_and_started_under_a_stream_loses_nothing(postgres: Postgres, tmp_path: Path) -> None:
    store = Store(postgres.url)
    r = Running(postgres.url, syslog_tcp=["127.0.0.1:0"], spool_dir=str(tmp_path / "spool"), spool_memory_events=50)
    try:
        port = r.port("tcp")
        _send(port, 0, 100)
        assert wait_for(lambda: len(store.events()) == 100, timeout=20)
        postgres.stop()
        sent = 100
        for _ in range(6):  # 20 s of outage would do the same, in more time
            _send(port, sent, 50)
            sent += 50
            time.sleep(0.5)
        held = wait_for(lambda: r.service.spool.held >= sent - 100 and r.service.spool.held, timeout=20)
        assert held == sent - 100 and r.service.spool.bytes_on_disk > 0  # memory (50), then disk
        assert r.service.counters.totals["store_outages"] == 1 and r.thread.is_alive()
        postgres.start()
        assert wait_for(lambda: r.service.outage_since is None, timeout=60)
        assert len(store.events()) == sent  # everything received while it was down is stored
        assert r.service.spool.held == 0 and r.service.spool.bytes_on_disk == 0
        alerts = wait_for(lambda: len([p for p in store.pairs() if p.startswith("fw-")]) == sent, timeout=20)
        assert alerts
    finally:
        r.stop()
        store.close()


def test_serve_starts_listening_while_postgresql_is_down(postgres: Postgres, tmp_path: Path) -> None:
    postgres.stop()
    r = Running(postgres.url, syslog_tcp=["127.0.0.1:0"], spool_dir=str(tmp_path / "spool"))
    try:
        _send(r.port("tcp"), 0, 20)  # listening although the store is down
        assert wait_for(lambda: r.service.spool.held == 20, timeout=20)
        postgres.start()
        assert wait_for(lambda: r.service.outage_since is None, timeout=60)
        store = Store(postgres.url)
        assert len(store.events()) == 20
        store.close()
    finally:
        r.stop()
