"""`hamon serve` correlating as it receives: a new pair's first alert is notified, each pair keeps its
own clock, a complete failover is stored at once (real UDP on 127.0.0.1, a real HTTP receiver)."""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import wait_for
from test_notify import Receiver
from test_serve import Running

from hamon.store import outputs


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _send(port: int, *lines: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for line in lines:
            s.sendto(line.encode(), ("127.0.0.1", port))


def _line(host: str, at: dt.datetime, text: str) -> str:
    return f"<161>{at:%b %d %Y %H:%M:%S} {host} : {text}"


def test_the_first_alert_of_a_pair_the_service_never_saw_is_notified(sqlite_url: str, receiver: Receiver) -> None:
    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"], notify=[f"json://127.0.0.1:{receiver.port}/hook"])
    try:
        now = dt.datetime.now(dt.UTC)
        _send(r.port("udp"), _line("fw-new", now, "%ASA-1-105032: LAN Failover interface is down"))
        wait_for(lambda: receiver.posts, timeout=10)
        (title,) = [body["title"] for _, body in receiver.posts]
        assert title.startswith("[CRITICAL] fw-new: failover link down")
    finally:
        r.stop()


def test_each_pair_keeps_its_own_clock(sqlite_url: str) -> None:
    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"])
    try:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        port = r.port("udp")
        for i in range(10):  # two pairs, one stamping 120 s behind the other, interleaved
            for host, skew in (("fw-a", 0), ("fw-b", -120)):
                at = now + dt.timedelta(seconds=i + skew)
                _send(port, _line(host, at, f"%ASA-1-105009: (Primary) Testing on interface in{i} Failed"))
            time.sleep(0.05)
        wait_for(lambda: len(r.store.events()) == 20, timeout=10)
        wait_for(lambda: r.service.live.counts.events == 20, timeout=10)
        assert r.service.live.counts.reruns == 0 and r.service.live.counts.late == 0
    finally:
        r.stop()


def test_a_complete_failover_is_stored_at_once_not_after_the_merge_window(sqlite_url: str) -> None:
    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"])
    try:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        port = r.port("udp")
        _send(
            port,
            _line(
                "fw-m",
                now - dt.timedelta(seconds=5),
                "%ASA-1-104001: (Primary) Switching to ACTIVE - Set by the config command.",
            ),
            _line(
                "fw-m",
                now - dt.timedelta(seconds=4),
                "%ASA-1-104002: (Secondary) Switching to STANDBY - Other unit wants me Standby.",
            ),
        )
        wait_for(lambda: len(r.store.events()) == 2, timeout=10)
        sent = time.monotonic()
        _send(
            port,
            _line("fw-m", now, "%ASA-1-104001: (Secondary) Switching to ACTIVE - Set by the config command."),
            _line("fw-m", now, "%ASA-1-104002: (Primary) Switching to STANDBY - Other unit wants me Standby."),
        )
        fo = wait_for(
            lambda: [f for f in outputs.failover_list(r.store, pair="fw-m") if f["new_active"] == "secondary"],
            timeout=5,
        )
        assert time.monotonic() - sent < 2.0  # the merge window is 10 s: nothing waited for it
        assert (fo[0]["cause"], fo[0]["previous_active"]) == ("manual", "primary")
        (pair,) = outputs.pair_list(r.store, "fw-m")
        assert pair["units"] == {"primary": "standby", "secondary": "active"}
    finally:
        r.stop()


def test_activity_of_a_unit_hours_behind_adds_up_across_status_writes(sqlite_url: str) -> None:
    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"])  # status written every 0.5 s
    try:
        behind = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
        port = r.port("udp")
        for burst in range(3):
            lines = [
                _line(
                    "fw-late", behind + dt.timedelta(seconds=burst), f"%ASA-6-302013: Built inbound TCP connection {i}"
                )
                for i in range(100)
            ]
            _send(port, *lines)
            time.sleep(1.2)  # more than two status writes between bursts

        def stored() -> int:
            return sum(row["lines"] for row in r.store.sources() if row["source"] == "127.0.0.1")

        assert wait_for(lambda: stored() == 300, timeout=10), stored()
    finally:
        r.stop()


def test_status_says_a_service_that_stopped_writing_is_not_running(sqlite_url: str) -> None:
    import os

    from click.testing import CliRunner

    from hamon.cli import main
    from hamon.cli.serve import service_line, service_rows
    from hamon.store import Store
    from hamon.store.status import ServiceStatus, read_status, write_status

    store = Store(sqlite_url)
    then = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=15)  # a service killed 15 s ago
    write_status(
        store,
        ServiceStatus(
            "serve",
            os.getpid(),
            then,
            then,
            [],
            {"status_every": 2.0, "totals": {}, "bus_depth": 0, "received": [], "dropped": [], "rejected": []},
        ),
    )
    # What it says, judged at a clock read once: 15 s after its last status, 3 missed writes (2 s apart)
    rows = service_rows(read_status(store), then + dt.timedelta(seconds=15))
    store.close()
    assert [r["running"] for r in rows] == [False] and rows[0]["last_seen_s"] == 15.0
    assert "[red]not running[/] — last seen 15 s ago" in service_line(rows[0])
    # and what the command prints (its clock read a moment later than the test's)
    out = CliRunner().invoke(main, ["--db", sqlite_url, "status"]).stdout
    assert re.search(r"not running — last seen 1[5-9] s ago", out), out


def test_a_pair_a_replay_correlated_while_serve_ran_is_resumed_not_started_afresh(sqlite_url: str) -> None:
    # serve caught up with an empty store, so a pair it has not met is new to it — unless another
    # process (a replay of an old capture into the same store) correlated that pair meanwhile.
    from pathlib import Path

    from helpers import ServiceThread, cli

    example = Path(__file__).resolve().parent.parent / "examples" / "asa-pair.log"
    svc = ServiceThread(sqlite_url, None)
    try:
        cli(sqlite_url, "replay", str(example))
        port = next(x["port"] for x in svc.service.listeners() if x["transport"] == "udp")
        now = dt.datetime.now(dt.UTC)
        _send(port, _line("fw-edge", now, "%ASA-1-105009: (Primary) Testing on interface inside Failed"))
        wait_for(lambda: "fw-edge" in svc.service.live.machines, timeout=10)
        machine = svc.service.live.machines["fw-edge"]
        assert machine.s.failover_times, "the replayed failover is part of the pair's history"
    finally:
        svc.stop()


def test_events_and_alerts_follow_a_live_store_as_tail_f_does(sqlite_url: str) -> None:
    import json
    import queue
    import signal
    import subprocess
    import sys
    import threading

    from helpers import ServiceThread, cli

    svc = ServiceThread(sqlite_url, None)
    procs: list[subprocess.Popen[str]] = []
    lines: dict[str, queue.Queue[str]] = {"events": queue.Queue(), "alerts": queue.Queue()}

    def start(name: str, *args: str) -> None:
        p = subprocess.Popen(
            [sys.executable, "-m", "hamon", "--db", sqlite_url, *args], stdout=subprocess.PIPE, text=True
        )
        procs.append(p)
        assert p.stdout is not None
        threading.Thread(target=lambda: [lines[name].put(x) for x in p.stdout], daemon=True).start()  # type: ignore[union-attr]

    def next_line(name: str, having: str = "") -> str:
        for _ in range(20):  # other alerts of the pair may come between
            line = lines[name].get(timeout=20)
            if having in line:
                return line
        raise AssertionError(f"no line with {having!r}")

    try:
        port = next(x["port"] for x in svc.service.listeners() if x["transport"] == "udp")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        _send(
            port,
            _line("fw-f", now - dt.timedelta(seconds=30), "%ASA-1-105009: (Primary) Testing on interface in0 Failed"),
        )
        wait_for(lambda: len(svc.service.store.events()) == 1, timeout=10)
        start("events", "events", "--follow", "--json")
        start("alerts", "alerts", "--follow")
        first = json.loads(next_line("events"))  # the newest events first, as tail -f shows the last lines
        assert first["msg_id"] == 105009 and first["pair"] == "fw-f"
        _send(port, _line("fw-f", now, "%ASA-1-105032: LAN Failover interface is down"))
        later = json.loads(next_line("events"))
        assert later["msg_id"] == 105032 and later["kind"] == "failover_link_down"
        next_line("alerts", "  opened  critical  fw-f  failover_link_down  ")
        (alert,) = [a for a in cli(sqlite_url, "alerts", "--json") if a["kind"] == "failover_link_down"]
        cli(sqlite_url, "alerts", "ack", alert["alert_id"][:8], "--by", "ana", "--comment", "looking")
        assert f"  acknowledged by ana  critical  fw-f  failover_link_down  {alert['alert_id'][:8]}" in next_line(
            "alerts"
        )
        _send(port, _line("fw-f", now + dt.timedelta(seconds=1), "%ASA-1-105031: Failover LAN interface is up"))
        next_line("alerts", "  resolved  critical  fw-f  failover_link_down  ")
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)  # Ctrl-C: a clean end
        for p in procs:
            assert p.wait(10) == 0
        svc.stop()


def test_a_unit_falling_silent_is_timed_live_as_a_replay_times_it(sqlite_url: str, tmp_path: Path) -> None:
    """The pair is known (its machine made) before its active unit goes quiet: when the standby
    takes over, serve times the detection from the last second the pair was heard — the lines
    that arrived since, not the store's activity of when the pair was first seen — and a replay
    of the same lines says the same."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = [
        _line("fw-q", now - dt.timedelta(seconds=ago), f"%ASA-1-{text}")
        for ago, text in (
            (120, "104001: (Primary) Switching to ACTIVE - No Active unit found."),
            (100, "104002: (Secondary) Switching to STANDBY - Detected an Active mate"),
        )
    ]
    busy = [
        _line(
            "fw-q",
            now - dt.timedelta(seconds=s),
            f"%ASA-6-302013: Built inbound TCP connection {s} for outside:198.51.100.{s}/4000{s} (198.51.100.{s}/4000{s}) to inside:10.1.1.{s}/443 (10.1.1.{s}/443)",
        )
        for s in range(60, 15, -1)
    ]
    takeover = [_line("fw-q", now, "%ASA-1-104001: (Secondary) Switching to ACTIVE - HELLO not heard from mate.")]
    r = Running(sqlite_url, syslog_tcp=["127.0.0.1:0"])
    try:
        with socket.create_connection(("127.0.0.1", r.port("tcp"))) as c:
            c.sendall("".join(f"{ln}\n" for ln in start).encode())
            wait_for(lambda: outputs.pair_list(r.store, "fw-q"), timeout=10)
            time.sleep(1.0)  # a status write: the store's activity of the pair is from before it went busy
            c.sendall("".join(f"{ln}\n" for ln in busy + takeover).encode())
            live = wait_for(
                lambda: [f for f in outputs.failover_list(r.store, pair="fw-q") if f["new_active"] == "secondary"],
                timeout=10,
            )
    finally:
        r.stop()
    assert (live[0]["cause"], live[0]["detection_s"]) == ("peer_unreachable", 16.0)
    capture = tmp_path / "q.log"
    capture.write_text("".join(f"{ln}\n" for ln in start + busy + takeover))
    replay_db = f"sqlite:///{tmp_path / 'replay.db'}"
    from click.testing import CliRunner

    from hamon.cli import main
    from hamon.store import Store

    assert CliRunner().invoke(main, ["--db", replay_db, "replay", str(capture), "--no-progress"]).exit_code == 0
    replayed = Store(replay_db)
    try:
        (fo,) = [f for f in outputs.failover_list(replayed, pair="fw-q") if f["new_active"] == "secondary"]
    finally:
        replayed.close()
    assert fo["detection_s"] == live[0]["detection_s"]
