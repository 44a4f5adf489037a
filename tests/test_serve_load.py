"""`hamon serve` as a real process under what a network sink meets on an ordinary day: killed under
a stream on a loaded machine, fed fuzzed lines over UDP and TCP at once, flooded with junk, idle
connections and invented host names. Senders are real sockets on 127.0.0.0/8 (source addresses of
their own, so the per-address caps are met as distinct senders meet them)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from fuzz_lines import lines
from helpers import wait_for
from serve_proc import LINE, Busy, ServeProcess, TcpSender, free_port, rss_kib, stored_numbers

from hamon.cli import main
from hamon.store import Store

FUZZ_LINES = int(os.environ.get("HAMON_FUZZ_LINES", "200000"))


def status(db: str) -> dict[str, Any]:
    """The counters `serve` wrote last (its final word after a clean stop)."""
    out = CliRunner().invoke(main, ["--db", db, "status", "--json"])
    assert out.exit_code == 0, out.output
    services = json.loads(out.stdout)["services"]
    assert len(services) == 1
    return dict(services[0]["counters"])


def journal_held(db: str, pid: int) -> int | None:
    """The bytes process `pid`'s last status said its journal holds, not stored yet (None: no
    status of that process yet)."""
    out = CliRunner().invoke(main, ["--db", db, "status", "--json"])
    services = json.loads(out.stdout)["services"] if out.exit_code == 0 else []
    mine = [s["counters"].get("journal") for s in services if s["pid"] == pid]
    return int(mine[0]["held_bytes"]) if mine and mine[0] is not None else None


def receive_buffer_bound(size: int = 256 << 10) -> int:
    """What the kernel reports for a TCP socket given serve's default tcp_receive_buffer: the most a
    connection's kernel can hold that serve has not read (bookkeeping included)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        return int(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def test_kill_9_under_a_5000_lines_a_second_stream_on_a_loaded_machine_loses_at_most_the_receive_buffer(
    tmp_path: Path,
) -> None:
    """The issue lost 7,846–12,556 of ~26,500 acknowledged lines here. What kill -9 may cost is
    what the kernel acknowledged and serve had not read yet: one receive buffer's worth of lines."""
    db = f"sqlite:///{tmp_path / 'k.db'}"
    journal, log = tmp_path / "journal", tmp_path / "serve.log"
    line_bytes = len(LINE.format(t=dt.datetime.now(dt.UTC), n=0).encode())
    bound = receive_buffer_bound() // line_bytes + 1
    with Busy(2):
        first = ServeProcess(db, journal, log)
        s = TcpSender(first.port)
        stop = threading.Event()
        sender = threading.Thread(target=s.send, args=(10**9,), kwargs={"rate": 5000, "stop": stop}, daemon=True)
        try:
            sender.start()
            time.sleep(5.0)
            stop.set()
            sender.join(timeout=10)
            sample = s.sample  # (written, unacknowledged) after the last write
            first.kill()  # kill -9
        finally:
            s.close()
            first.close()
        acked = s.acked(sample)
        assert acked > 15_000, f"only {acked} lines acknowledged in 5 s at 5,000/s"
        second = ServeProcess(db, journal, log)
        try:
            want = set(range(acked))

            def settled() -> set[int]:
                """What is stored once serve says its journal is empty (a stored set merely unchanged
                for a second is not enough on a starved machine: one group can take longer)."""
                if journal_held(db, second.proc.pid) != 0:
                    return set()
                got = stored_numbers(db) & want
                time.sleep(1.0)
                return got if got == stored_numbers(db) & want else set()

            try:
                kept = wait_for(lambda: (got := settled()) and got, timeout=180, every=0.5)
            except AssertionError:
                held, have = journal_held(db, second.proc.pid), len(stored_numbers(db) & want)
                raise AssertionError(
                    f"the restarted serve did not settle in 180 s: its journal holds {held} bytes "
                    f"(None: no status of it yet), {have:,} of {acked:,} acknowledged lines stored; "
                    f"its log ends:\n{second.text()[-3000:]}"
                ) from None
            assert "not stored yet: storing them first" in second.text()
            rc, _ = second.term()
            assert rc == 0
        finally:
            second.close()
    lost = len(want - kept)
    print(f"kill -9 at 5,000 lines/s, loaded: {lost:,} of {acked:,} acknowledged lines lost (bound {bound:,})")
    assert lost <= bound, f"{lost} acknowledged lines lost, more than one receive buffer ({bound})"


def _send_udp(port: int, datagrams: list[bytes], rate: float, source: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind((source, 0))
        start = time.monotonic()
        for i, d in enumerate(datagrams):
            if i % 100 == 0:
                ahead = i / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
            u.sendto(d, ("127.0.0.1", port))


def test_fuzzed_lines_over_udp_and_tcp_at_once_are_each_accounted_for_without_a_stall(tmp_path: Path) -> None:
    """The issue's 4,000 UDP + 4,000 TCP fuzzed lines a second took serve to ~220 lines/s and a
    SIGTERM it could not finish. Here every line sent is received, every received line ends in
    exactly one place, the senders never wait, and the stop is clean."""
    db = f"sqlite:///{tmp_path / 'f.db'}"
    udp_port = free_port(socket.SOCK_DGRAM)
    mutated = list(lines(FUZZ_LINES, seed=3))
    # A datagram carries at most 65,507 bytes: the 1 MB lines go by TCP, as a relay would send them.
    udp = [m for m in mutated[0::2] if m.strip() and len(m) <= 60_000]
    tcp = [m for m in mutated[1::2] if m.strip()] + [m for m in mutated[0::2] if m.strip() and len(m) > 60_000]
    frames = [b"%d %s" % (len(m), m) for m in tcp]  # octet counting: each line one message, whatever it holds
    serve = ServeProcess(db, tmp_path / "journal", tmp_path / "serve.log", "--syslog-udp", f"127.0.0.1:{udp_port}")
    try:
        t0 = time.monotonic()
        sock = socket.create_connection(("127.0.0.1", serve.port), source_address=("127.0.0.2", 0))
        longest = [0.0]

        def send_tcp() -> None:
            start = time.monotonic()
            for i in range(0, len(frames), 100):
                ahead = i / 4000 - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
                w0 = time.monotonic()
                sock.sendall(b"".join(frames[i : i + 100]))
                longest[0] = max(longest[0], time.monotonic() - w0)

        tcp_thread = threading.Thread(target=send_tcp, daemon=True)
        tcp_thread.start()
        _send_udp(udp_port, udp, 4000, "127.0.0.3")
        tcp_thread.join(timeout=300)
        sock.close()
        sent_for = time.monotonic() - t0
        assert not tcp_thread.is_alive()

        def received() -> dict[str, int]:
            c = status(db)
            return {r["transport"]: r["count"] for r in c["received"]}

        want = {"udp": len(udp), "tcp": len(tcp)}
        assert wait_for(lambda: received() == want, timeout=60, every=1.0)
        store = Store(db, migrate=False)
        try:  # no stall: everything received is stored soon after the last line
            assert wait_for(lambda: status(db)["journal"]["held_bytes"] == 0, timeout=60, every=1.0)
        finally:
            store.close()
        rc, took = serve.term()
        assert rc == 0 and took < 12, f"SIGTERM took {took:.1f} s"
    finally:
        serve.close()
    c = status(db)
    t = c["totals"]
    assert c["dropped"] == [] and {r["transport"]: r["count"] for r in c["received"]} == want
    assert t["lines"] == len(udp) + len(tcp)
    assert t["lines"] == t["events"] + t["quarantined"] + t["ordinary"] + t["other"] + t.get("blank", 0)
    assert t["quarantined"] > 0 and t["events"] > 0
    store = Store(db, migrate=False)
    try:
        assert store.counts()["events"] == t["events_new"]
    finally:
        store.close()
    # A write of 100 frames (some of them 1 MB lines) waits while serve takes the bytes before it
    # on this 2-core machine, as much as 2.1 s when the suite's other processes compete (seen in a
    # full run); a reader that stopped reading would hold it until the end of the stream.
    assert longest[0] < 5.0, f"a TCP write waited {longest[0]:.1f} s"
    print(
        f"{len(udp):,} UDP + {len(tcp):,} TCP fuzzed lines in {sent_for:.1f} s (longest write {longest[0]:.2f} s): {t}"
    )


RSS_BOUND_MB = 256  # README: "Memory"


def test_junk_floods_idle_connections_and_invented_host_names_keep_serve_under_its_memory_bound(
    tmp_path: Path,
) -> None:
    """The issue's runs: 40 connections of newline-less junk took serve from 60 to 795 MB and cost
    23 of 26 genuine UDP lines; 100,000 invented host names took it from 58 to 660 MB. Here all of
    it at once — with idle and slowloris connections beside — stays under RSS_BOUND_MB, and every
    line of the genuine senders (listed in the inventory) is stored."""
    db = f"sqlite:///{tmp_path / 'm.db'}"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("pairs:\n  - name: fw-out\n    match: [fw-out]\n  - name: fw-real\n    match: [fw-real]\n")
    udp_port = free_port(socket.SOCK_DGRAM)
    serve = ServeProcess(
        db, tmp_path / "journal", tmp_path / "serve.log", "--syslog-udp", f"127.0.0.1:{udp_port}", inventory=inventory
    )
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], *rss_kib(serve.proc.pid))
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    held: list[socket.socket] = []
    try:
        baseline = rss_kib(serve.proc.pid)[0]
        # Idle and slowloris connections: 200 from ten addresses of one /24, a byte every 0.5 s on half.
        for i in range(200):
            c = socket.create_connection(("127.0.0.1", serve.port), source_address=(f"127.0.5.{i % 10 + 1}", 0))
            held.append(c)
        stop = threading.Event()

        def slowloris() -> None:
            while not stop.wait(0.5):
                for c in held[::2]:
                    with contextlib.suppress(OSError):  # closed as idle: what the cap is for
                        c.send(b"x")

        def junk(k: int) -> None:  # 4 MB of bytes without a newline on each of 40 connections
            with socket.create_connection(("127.0.0.1", serve.port), source_address=(f"127.0.6.{k + 1}", 0)) as c:
                block = os.urandom(65536).replace(b"\n", b"x")
                for _ in range(64):
                    try:
                        c.sendall(block)
                    except OSError:
                        return

        def invented() -> None:  # 100,000 host names nobody listed, each a failover line
            names = [
                f"<166>Dec  7 2026 10:00:00 inv-{i:06d} : %ASA-1-105008: (Primary) Testing Interface x".encode()
                for i in range(100_000)
            ]
            _send_udp(udp_port, names, 20_000, "127.0.7.1")

        threads = [threading.Thread(target=slowloris, daemon=True), threading.Thread(target=invented, daemon=True)]
        threads += [threading.Thread(target=junk, args=(k,), daemon=True) for k in range(40)]
        for t in threads:
            t.start()
        genuine = TcpSender(serve.port, source="127.0.8.1")  # fw-out's lines, numbered
        genuine.send(3000, rate=500)
        real = [
            f"<161>Dec  7 2026 10:00:{i:02d} fw-real : %ASA-1-105032: LAN Failover interface is down".encode()
            for i in range(26)
        ]
        _send_udp(udp_port, real, 10, "127.0.9.1")
        for t in threads[1:]:
            t.join(timeout=120)
        stop.set()
        acked = genuine.wait_acked()
        genuine.close()
        assert acked == 3000
        assert wait_for(lambda: stored_numbers(db) == set(range(3000)), timeout=60, every=1.0)
        store = Store(db, migrate=False)
        try:
            assert wait_for(lambda: len(store.events(pair="fw-real")) == 26, timeout=30, every=0.5)
        finally:
            store.close()
        c = status(db)
        assert sum(r["count"] for r in c["received"] if r["transport"] == "udp") == 100_026
        # The 90,000 names past max_unlisted_senders (10,000) are quarantined, not tracked.
        assert wait_for(lambda: status(db)["totals"]["quarantined"] >= 90_000, timeout=30, every=1.0)
        junk_bytes = sum(r.get("bytes", 0) for r in c["received"] if r["source"].startswith("127.0.6."))
        assert junk_bytes == 40 * 64 * 65536, "every junk byte read is counted against its sender"
        rss, hwm = rss_kib(serve.proc.pid)
        peak[0] = max(peak[0], hwm)
        print(f"RSS {baseline / 1024:.0f} MB at start, {rss / 1024:.0f} MB after, peak {peak[0] / 1024:.0f} MB")
        rc, _ = serve.term()
        assert rc == 0
    finally:
        done.set()
        for c in held:
            c.close()
        serve.close()
    assert peak[0] / 1024 <= RSS_BOUND_MB, f"peak RSS {peak[0] / 1024:.0f} MB, over {RSS_BOUND_MB} MB"
