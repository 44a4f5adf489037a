"""Correlating a pair a chunk of events at a time decides what correlating it whole decides."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from hamon.collectors.files import open_inputs
from hamon.correlate import engine
from hamon.service.replay import replay
from hamon.store import Store

MESSAGES = [
    "%ASA-1-104001: ({u}) Switching to ACTIVE - HELLO not heard from mate.",
    "%ASA-1-104002: ({u}) Switching to STANDBY - Other unit wants me Standby. Secondary unit switch reason: Set by the config command.",
    "%ASA-1-105008: ({u}) Testing Interface inside",
    "%ASA-1-105009: ({u}) Testing on interface inside Passed",
    "%ASA-1-105005: ({u}) Lost Failover communications with mate on interface inside",
    "%ASA-1-103001: ({u}) No response from other firewall (reason code = 4).",
    "%ASA-1-709003: ({u}) Beginning configuration replication: Send to mate.",
    "%ASA-1-709004: ({u}) End Configuration Replication (ACT)",
    "%ASA-1-105032: LAN Failover interface is down",
    "%ASA-1-104001: ({u}) Switching to ACTIVE - No Active unit found",
]
TABLES = ("failovers", "transitions", "alerts", "checkpoints", "pair_state")


def storm(path: Path, lines: int = 4000) -> None:
    """Two hours of a storm on three pairs: failovers, link losses, split-brains, config syncs."""
    rng = random.Random(11)
    t0 = dt.datetime(2026, 11, 25, 8, 0, 0)
    with path.open("w") as out:
        for i in range(lines):
            t = t0 + dt.timedelta(seconds=i * 7200 // lines)
            msg = rng.choice(MESSAGES).format(u=rng.choice(["Primary", "Secondary"]))
            out.write(f"<161>{t:%b %d %Y %H:%M:%S} fw-{rng.randrange(3)} : {msg}\n")


def dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    store = Store(url)
    with store.engine.connect() as conn:
        return {t: sorted(conn.exec_driver_sql(f"SELECT * FROM {t}").all(), key=repr) for t in TABLES}


def test_small_chunks_give_what_one_chunk_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = tmp_path / "storm.log"
    storm(capture)
    whole, chunked = f"sqlite:///{tmp_path / 'whole.db'}", f"sqlite:///{tmp_path / 'chunked.db'}"
    a = replay(open_inputs([str(capture)]), Store(whole))
    monkeypatch.setattr(engine, "EVENT_CHUNK", 37)  # many chunks a pair, edges inside its seconds
    monkeypatch.setattr(engine, "WRITE_OUTPUTS", 50)  # and outputs written between chunks
    b = replay(open_inputs([str(capture)]), Store(chunked))
    assert a.failovers > 50 and a.alerts_opened > 50  # a storm: refinements span chunks
    assert (a.failovers, a.alerts_opened) == (b.failovers, b.alerts_opened)
    x, y = dump(whole), dump(chunked)
    for t in TABLES:
        assert x[t] == y[t], t
    assert len(x["checkpoints"]) >= 2
