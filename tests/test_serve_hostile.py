"""Hostile senders against `hamon serve` on 127.0.0.1: an octet-count bomb, thousands of idle TCP
connections, spoofed source addresses — UDP ingest keeps working, memory and metrics stay bounded."""

from __future__ import annotations

import datetime as dt
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helpers import wait_for
from test_serve import Running

from hamon.bus.counters import MAX_SENDERS, OTHER, Counters, Rates
from hamon.collectors import syslog_tcp
from hamon.collectors.syslog_tcp import MAX_MESSAGE, StreamFramer

LINE = "<161>{t:%b %d %Y %H:%M:%S} fw-edge : %ASA-1-105032: LAN Failover interface is down"


def serve_process(db: str) -> tuple[subprocess.Popen[str], int]:
    """`hamon serve` as its own process on a free TCP port of 127.0.0.1, once it listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hamon", "--db", db, "serve", "--syslog-tcp", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    said: list[str] = []
    for _ in range(5):  # "listening" comes after what the journal held at start, if anything
        said.append(proc.stderr.readline())
        if "listening" in said[-1] or not said[-1]:
            break
    assert "listening" in said[-1], said
    return proc, port


def test_an_octet_count_bomb_buffers_at_most_one_message() -> None:
    framer = StreamFramer()
    out = framer.feed(b"999999999 " + b"x" * 1000)
    assert out == [] and len(framer.buf) <= MAX_MESSAGE + 12
    for _ in range(200):  # 200 × 64 KiB of the bomb's body
        out += framer.feed(b"x" * 65536)
        assert len(framer.buf) <= MAX_MESSAGE + 12
    assert len(out) == 1 and len(out[0]) == MAX_MESSAGE and framer.oversized == 1
    rest = 999999999 - MAX_MESSAGE - (1000 + 200 * 65536 - MAX_MESSAGE)
    assert framer.skip == rest  # the remainder is skipped as it arrives, never buffered
    framer.skip = 0
    assert framer.feed(b"5 hello") == [b"hello"]


def test_hostile_tcp_peers_leave_udp_ingest_working(sqlite_url: str) -> None:
    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"], syslog_tcp=["127.0.0.1:0"])
    idle: list[socket.socket] = []
    try:
        tcp = r.port("tcp")
        bomb = socket.create_connection(("127.0.0.1", tcp))
        bomb.sendall(b"2000000000 " + b"A" * (4 << 20))  # claims 2 GB, sends 4 MiB
        for _ in range(2000):  # idle connections from one address
            idle.append(socket.create_connection(("127.0.0.1", tcp)))

        def refused() -> int:
            return sum(
                x["count"]
                for x in r.service.counters.snapshot()["rejected"]
                if x["reason"] == "too many connections from this sender"
            )

        # Connections the kernel's accept queue (128) dropped while the client thought them open never
        # reach hamon; every one that does beyond the per-sender limit is refused and counted.
        assert wait_for(lambda: refused() >= 2000 - syslog_tcp.MAX_PER_PEER - 128, timeout=30)
        listener = next(c for c in r.service.collectors if c.transport == "tcp")
        assert sum(t.is_alive() for t in listener._threads) <= syslog_tcp.MAX_PER_PEER  # type: ignore[attr-defined]
        # Another sender still gets in over TCP, and UDP is read all along.
        with socket.create_connection(("127.0.0.1", tcp), source_address=("127.0.0.2", 0)) as ok:
            ok.sendall((LINE.format(t=dt.datetime.now(dt.UTC)) + "\n").encode())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(
                LINE.format(t=dt.datetime.now(dt.UTC)).replace("fw-edge", "fw-udp").encode(),
                ("127.0.0.1", r.port("udp")),
            )
        wait_for(lambda: {e.pair for e in r.store.events()} >= {"fw-edge", "fw-udp"}, timeout=30)
        bomb.close()
        wait_for(lambda: any(x["reason"] == "oversized frame" for x in r.service.counters.snapshot()["rejected"]))
    finally:
        for s in idle:
            s.close()
        r.stop()


def test_a_byte_every_so_often_keeps_no_connection_past_the_idle_timeout(sqlite_url: str) -> None:
    """Slowloris: bytes that never make a whole message do not count as heard."""
    r = Running(sqlite_url, syslog_tcp=["127.0.0.1:0"])
    try:
        listener = next(c for c in r.service.collectors if c.transport == "tcp")
        listener.idle_timeout = 1.5  # type: ignore[attr-defined]
        s = socket.create_connection(("127.0.0.1", r.port("tcp")))
        t0 = time.monotonic()
        closed = False
        for _ in range(20):  # a byte every 0.3 s, no newline
            try:
                s.sendall(b"x")
            except OSError:
                closed = True
                break
            time.sleep(0.3)
            s.settimeout(0.01)
            try:
                if s.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed and time.monotonic() - t0 < 4, "closed after the idle timeout although bytes kept coming"
        s.close()
    finally:
        r.stop()


def test_idle_crowds_from_one_network_leave_room_and_the_longest_idle_goes_first(sqlite_url: str) -> None:
    """The issue's lock-out: 2,000 idle connections from 40 addresses (50 each, under the per-address
    cap). Here one /24 gets at most MAX_PER_NETWORK of them, a sender from elsewhere gets in, and when
    every slot is taken the connection idle longest is closed for the newcomer."""
    r = Running(sqlite_url, syslog_tcp=["127.0.0.1:0"])
    crowd: list[socket.socket] = []
    try:
        port = r.port("tcp")
        listener = next(c for c in r.service.collectors if c.transport == "tcp")
        for a in range(40):
            for _ in range(50):
                c = socket.socket()
                c.bind((f"127.0.0.{10 + a}", 0))
                c.connect(("127.0.0.1", port))
                crowd.append(c)
        refused = wait_for(
            lambda: (
                sum(x["count"] for x in r.service.counters.snapshot()["rejected"] if "127.0.0.0/24" in x["reason"])
                >= 2000 - syslog_tcp.MAX_PER_NETWORK
            ),
            timeout=30,
        )
        assert refused
        assert len(listener._open) == syslog_tcp.MAX_PER_NETWORK  # type: ignore[attr-defined]
        with socket.socket() as genuine:  # another network: its line is taken
            genuine.bind(("127.0.1.1", 0))
            genuine.connect(("127.0.0.1", port))
            genuine.sendall(b"<161>fw-genuine : %ASA-1-105032: LAN Failover interface is down\n")
        assert wait_for(lambda: r.store.events(pair="fw-genuine"), timeout=10)
        # Every slot taken: the longest idle connection makes room (once idle MAKE_ROOM_IDLE).
        listener.max_connections = len(listener._open)  # type: ignore[attr-defined]
        oldest = min(listener._open.values(), key=lambda c: c.heard)  # type: ignore[attr-defined]
        oldest.heard -= syslog_tcp.MAKE_ROOM_IDLE
        with socket.socket() as late:
            late.bind(("127.0.2.1", 0))
            late.connect(("127.0.0.1", port))
            late.sendall(b"<161>fw-late : %ASA-1-105032: LAN Failover interface is down\n")
        assert wait_for(lambda: r.store.events(pair="fw-late"), timeout=10)
        reasons = [x["reason"] for x in r.service.counters.snapshot()["rejected"]]
        assert "idle connection closed to make room" in reasons
    finally:
        for c in crowd:
            c.close()
        r.stop()


def test_idle_connections_are_closed(sqlite_url: str) -> None:
    r = Running(sqlite_url, syslog_tcp=["127.0.0.1:0"])
    try:
        listener = next(c for c in r.service.collectors if c.transport == "tcp")
        listener.idle_timeout = 1.0  # type: ignore[attr-defined]
        s = socket.create_connection(("127.0.0.1", r.port("tcp")))
        t0 = time.monotonic()
        s.settimeout(10)
        assert s.recv(1) == b""  # the server closed it
        assert 0.9 < time.monotonic() - t0 < 5
        assert any(x["reason"] == "idle connection closed" for x in r.service.counters.snapshot()["rejected"])
    finally:
        r.stop()


def test_spoofed_senders_add_one_series_not_thousands() -> None:
    c = Counters()
    for i in range(20_000):
        c.receive("udp", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    received = c.snapshot()["received"]
    assert len(received) == MAX_SENDERS + 1
    other = next(x for x in received if x["source"] == OTHER)
    assert other["count"] == 20_000 - MAX_SENDERS


def test_per_sender_rates_are_lines_and_bytes_since_the_last_reading() -> None:
    c = Counters()
    now = [0.0]
    rates = Rates(clock=lambda: now[0])
    c.receive("tcp", "192.0.2.1", 100, 15_000)
    c.receive("snmp", "192.0.2.2", 4)  # a trap has no byte count of its own
    now[0] = 2.0
    assert rates.read(c.snapshot()) == [
        {"transport": "tcp", "source": "192.0.2.1", "lines_per_s": 50.0, "bytes_per_s": 7500.0},
        {"transport": "snmp", "source": "192.0.2.2", "lines_per_s": 2.0},
    ]
    c.receive("snmp", "192.0.2.2", 30)
    now[0] = 3.0
    assert rates.read(c.snapshot()) == [
        {"transport": "snmp", "source": "192.0.2.2", "lines_per_s": 30.0},
        {"transport": "tcp", "source": "192.0.2.1", "lines_per_s": 0.0, "bytes_per_s": 0.0},
    ]
    assert c.snapshot()["received"][1] == {"transport": "tcp", "source": "192.0.2.1", "count": 100, "bytes": 15_000}


def test_a_spoofed_sender_is_refused_by_the_pairs_allow_list(sqlite_url: str, tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yml"
    inv.write_text("pairs:\n  - name: fw-edge\n    match: [fw-edge]\n    senders: [127.0.0.2]\n")
    r = Running(sqlite_url, inventory=str(inv), syslog_udp=["127.0.0.1:0"])
    try:
        port = r.port("udp")
        line = LINE.format(t=dt.datetime.now(dt.UTC)).encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofed:
            spoofed.sendto(line, ("127.0.0.1", port))  # from 127.0.0.1: not listed
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as real:
            real.bind(("127.0.0.2", 0))
            real.sendto(line.replace(b"105032", b"105032").replace(b"down", b"down "), ("127.0.0.1", port))
        q = wait_for(lambda: r.store.quarantined(), timeout=10)
        assert q[0].reason == "sender 127.0.0.1 may not speak for pair 'fw-edge' (inventory senders:)"
        events = wait_for(lambda: r.store.events(pair="fw-edge"), timeout=10)
        assert [e.source for e in events] == ["127.0.0.2"]
    finally:
        r.stop()


def test_a_black_holed_webhook_does_not_slow_ingest(sqlite_url: str) -> None:
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(1024)  # accepts into the backlog, never answers
    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"], notify=[f"json://127.0.0.1:{hole.getsockname()[1]}/hook"])
    try:
        port = r.port("udp")
        t0 = time.monotonic()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for i in range(50):
                u.sendto(
                    LINE.format(t=dt.datetime.now(dt.UTC)).replace("fw-edge", f"fw-{i:02d}").encode(),
                    ("127.0.0.1", port),
                )
        from hamon.store import outputs

        assert wait_for(lambda: len(outputs.alert_list(r.store)) == 50, timeout=10)
        assert time.monotonic() - t0 < 5  # apprise waits seconds on each black-holed post; ingest did not
    finally:
        r.stop()
        hole.close()


def test_every_datagram_on_the_trap_port_is_counted_with_its_sender(sqlite_url: str, caplog: Any) -> None:
    import random

    r = Running(sqlite_url, snmp_trap=["127.0.0.1:0"], snmp_community=["hamon-ro"])
    try:
        port = r.port("snmp")
        rng = random.Random(5)
        junk = [rng.randbytes(rng.randint(1, 200)) for _ in range(300)]
        junk += [b"\x30\x0f\x02\x01\x01\x04\x04abcd" + rng.randbytes(rng.randint(0, 8)) for _ in range(100)]  # cut BER
        junk += [b"\x30\x82\xff\xff" + b"\x00" * 15 for _ in range(100)]  # a length beyond the datagram
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for d in junk:
                u.sendto(d, ("127.0.0.1", port))
                time.sleep(0.001)

        def counted() -> int:
            snap = r.service.counters.snapshot()
            return sum(x["count"] for x in snap["rejected"] if x["source"] == "127.0.0.1") + sum(
                x["count"] for x in snap["received"] if x["source"] == "127.0.0.1"
            )

        assert wait_for(lambda: counted() == len(junk), timeout=20), counted()
        refusals = [rec for rec in caplog.records if "snmp trap from" in rec.getMessage()]
        assert len(refusals) <= 10  # one line per sender and reason a minute, not one per datagram
    finally:
        r.stop()


def test_sigterm_under_a_failover_storm_drains_everything_within_the_stop_timeout(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'storm.db'}"
    proc, port = serve_process(db)
    try:
        base = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=10)
        lines = [
            f"<161>{base + dt.timedelta(seconds=i // 1000):%b %d %Y %H:%M:%S} fw-{i % 20:02d} : "
            f"%ASA-1-105008: ({'Primary' if i % 2 else 'Secondary'}) Testing Interface if{i}\n"
            for i in range(5000)  # 1,000 failover messages in each device second
        ]
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall("".join(lines).encode())
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0  # the shipped units give 15 s
        assert time.monotonic() - t0 < 15
        from hamon.store import Store

        store = Store(db)
        assert len(store.events()) == 5000
        store.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kill_9_keeps_what_was_stored_and_a_restarted_service_goes_on(tmp_path: Path) -> None:
    from hamon.store import Store

    db = f"sqlite:///{tmp_path / 'crash.db'}"

    def send(port: int, first: int, n: int) -> None:
        now = dt.datetime.now(dt.UTC)
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(
                "".join(
                    f"<161>{now:%b %d %Y %H:%M:%S} fw-{i % 10} : %ASA-1-105008: (Primary) Testing Interface if{i}\n"
                    for i in range(first, first + n)
                ).encode()
            )

    store = Store(db)
    proc, port = serve_process(db)
    try:
        send(port, 0, 2000)
        assert wait_for(lambda: len(store.events()) == 2000, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc, port = serve_process(db)  # the same store, after a crash
        send(port, 2000, 500)
        assert wait_for(lambda: len(store.events()) == 2500, timeout=30)
        assert len({e.event_id for e in store.events()}) == 2500  # nothing lost, nothing twice
    finally:
        proc.kill()
        proc.wait()
        store.close()
