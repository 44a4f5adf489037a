"""The C receive thread keeps emptying the socket while Python holds the GIL: a burst that arrives
while the interpreter is held by one long C call reaches the bus whole; the Python receive loop,
stalled for the same time behind a small kernel buffer, loses most of it (real sockets on 127.0.0.1,
a real sender process)."""

from __future__ import annotations

import ctypes
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from hamon.bus import MemoryBus
from hamon.bus.counters import Counters
from hamon.collectors import syslog_udp
from hamon.collectors.syslog_udp import RING_SOURCE, UdpSyslog, set_receive_buffer
from hamon.model import RawBatch

SENDER = r"""
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sys.stdin.readline()
line = b"<166>Nov 25 2026 10:00:00 fw : %%ASA-6-302013: Built inbound TCP connection %d for outside"
for i in range(n):
    s.sendto(line % i, ("127.0.0.1", port))
"""

needs_ring = pytest.mark.skipif(
    syslog_udp._Ring is None, reason="the C receive ring is not built (a C compiler, Linux)"
)


def _hold_the_gil(seconds: float) -> None:
    """A C call that keeps the GIL while it sleeps: through ctypes.PyDLL the GIL is not released, so
    no other Python thread runs, yet no core is taken from the receive thread or the sender."""
    ctypes.PyDLL(None).usleep(int(seconds * 1e6))


def _burst_while_busy(monkeypatch: pytest.MonkeyPatch, ring: bool, n: int) -> tuple[int, Counters, UdpSyslog]:
    monkeypatch.setenv("HAMON_UDP_RING", "1" if ring else "0")
    bus, counters = MemoryBus(capacity=1_000_000), Counters()
    udp = UdpSyslog("127.0.0.1", 0, bus, counters)
    set_receive_buffer(udp.sock, 2 << 20)  # a kernel buffer of 2 MiB (where the process may set it)
    udp.start()
    sender = subprocess.Popen(
        [sys.executable, "-c", SENDER, str(udp.address[1]), str(n)], stdin=subprocess.PIPE, text=True
    )
    try:
        time.sleep(0.3)  # the sender has started and waits on its stdin
        assert sender.stdin is not None
        sender.stdin.write("go\n")
        sender.stdin.flush()
        _hold_the_gil(1.5)  # the burst arrives meanwhile
        sender.wait(timeout=30)
    finally:
        sender.kill()
    got = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        batch = bus.consume(0.5)
        if batch is None:
            break
        assert isinstance(batch, RawBatch)
        got += batch.data.count(b"\n")
    udp.stop()
    return got, counters, udp


@needs_ring
def test_the_receive_ring_keeps_a_burst_that_arrives_while_python_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 40_000
    got, _counters, udp = _burst_while_busy(monkeypatch, True, n)
    stats = udp.ring_stats()
    assert stats is not None and stats["received"] == n and stats["ring_dropped"] == 0
    assert got == n
    assert stats["peak"] > 0 and stats["used"] == 0  # it held the burst, then gave it all


@needs_ring
def test_without_the_ring_the_same_burst_is_lost_in_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 40_000
    got, _counters, udp = _burst_while_busy(monkeypatch, False, n)
    assert udp.ring_stats() is None
    assert got < n * 0.9  # the socket overflowed while the interpreter was held


@needs_ring
def test_a_full_ring_counts_what_it_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syslog_udp, "RING_BYTES", 256 << 10)  # the smallest ring: about 2,500 of these lines
    n = 40_000
    got, counters, udp = _burst_while_busy(monkeypatch, True, n)
    stats = udp.ring_stats()
    assert stats is not None and stats["ring_dropped"] > 0
    snap = counters.snapshot()
    dropped = sum(d["count"] for d in snap["dropped"] if d["source"] == RING_SOURCE)
    assert dropped == stats["ring_dropped"]
    assert got + stats["ring_dropped"] == stats["received"]  # nothing the thread read went unaccounted


def _ring(capacity: int = 256 << 10) -> tuple[socket.socket, socket.socket, Any]:
    assert syslog_udp._Ring is not None
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return rx, tx, syslog_udp._Ring(rx.fileno(), capacity)


@needs_ring
@pytest.mark.parametrize("timeout", [-1.0, -1e9, float("nan"), 0.0])
def test_a_wait_with_no_time_left_returns_at_once(timeout: float) -> None:
    rx, tx, ring = _ring()
    try:
        started = time.monotonic()
        assert ring.wait(timeout) is False
        assert time.monotonic() - started < 1.0  # it neither spun nor waited (it once spun forever)
    finally:
        ring.close()
        rx.close()
        tx.close()


@needs_ring
def test_close_ends_a_wait_in_progress() -> None:
    rx, tx, ring = _ring()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(ring.wait(float("inf"))))  # bounded by the ring
    try:
        waiter.start()
        time.sleep(0.3)
        started = time.monotonic()
        ring.close()
        waiter.join(timeout=5)
        assert not waiter.is_alive() and result == [False]
        assert time.monotonic() - started < 2.0
    finally:
        ring.close()
        rx.close()
        tx.close()


@needs_ring
def test_drain_gives_every_datagram_in_order_with_its_sender_across_the_ring_end() -> None:
    # A ring of 128 KiB and datagrams of 3,000 bytes: the records wrap past the end many times.
    rx, tx, ring = _ring(128 << 10)
    got: list[tuple[bytes, str]] = []
    try:
        for k in range(200):
            tx.sendto(b"%05d:" % k + b"x" * 2994, rx.getsockname())
            if k % 20 == 19:
                deadline = time.monotonic() + 5
                while len(got) < k + 1 and time.monotonic() < deadline:
                    ring.wait(0.2)
                    got.extend(ring.drain(7))  # a few at a time: drain stops inside the ring, not at its end
        assert [int(d[:5]) for d, _ in got] == list(range(200))
        assert all(len(d) == 3000 and host == "127.0.0.1" for d, host in got)
        stats = ring.stats()
        assert stats["received"] == 200 and stats["ring_dropped"] == 0 and stats["used"] == 0
        assert ring.drain(0) == [] and ring.drain(-5) == []
    finally:
        ring.close()
        rx.close()
        tx.close()
