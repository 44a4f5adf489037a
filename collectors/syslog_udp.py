"""Syslog over UDP: a non-blocking socket drained until it would block, on its own thread.

Where the C receive ring is built (Linux), a POSIX thread reads the socket with recvmmsg into a
ring without ever taking Python's GIL (`_udpring.c`): while parsing, correlation or the store hold
the interpreter — or the machine is loaded and this process is not scheduled — the kernel's buffer
keeps being emptied, and the Python thread here takes what the ring holds. Elsewhere (or with
HAMON_UDP_RING=0) the Python thread reads the socket itself until it would block.

The receive buffer is made as large as the system allows. Datagrams of one drain are grouped per
sender into one RawBatch each. When the bus is full they are dropped and counted per sender; when
the ring is full they are counted as dropped by the ring — never silently.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import select
import socket
import sys
import threading
import time
from typing import Any

from hamon.bus import Bus
from hamon.bus.counters import Counters
from hamon.model import RawBatch

log = logging.getLogger(__name__)

try:  # the GIL-free receive thread (C, Linux)
    from hamon.collectors._udpring import Ring as _Ring
except ImportError:  # pragma: no cover - built wherever a C compiler was
    _Ring = None  # type: ignore[assignment, misc]

RING_BYTES = 64 << 20  # what the receive thread holds while Python is busy (beyond the kernel's buffer)
RING_SOURCE = "(receive ring full)"  # the sender drops past a full ring are counted under

RCVBUF = 64 << 20
MAX_DRAIN = 20_000  # datagrams per wake-up, so a flood cannot starve the stop check
MAX_DATAGRAM = 65_535
GATHER = 0.002  # after a small drain, let datagrams gather this long (bigger batches, less overhead)
SMALL = 256


# Linux's SO_RCVBUFFORCE (asm-generic/socket.h); Python 3.11's socket module does not name it.
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform.startswith("linux") else None)


def set_receive_buffer(sock: socket.socket, size: int) -> int:
    """Ask for a `size`-byte receive buffer and return the usable size the kernel granted (Linux
    reports twice that, counting its bookkeeping; without privilege net.core.rmem_max caps it).

    SO_RCVBUFFORCE (root or CAP_NET_ADMIN) passes the rmem_max cap; without the privilege SO_RCVBUF
    gets at most rmem_max. A buffer smaller than asked is logged once, with how to raise it."""
    for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        if opt is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, size)
            break
        except OSError:  # no privilege for SO_RCVBUFFORCE: fall back to the capped SO_RCVBUF
            continue
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    usable = granted // 2 if sys.platform.startswith("linux") else granted
    if usable < size:
        log.warning(
            "UDP receive buffer is %d KiB, asked for %d KiB: a burst longer than it holds is lost "
            "(raise net.core.rmem_max, e.g. sysctl -w net.core.rmem_max=%d, or grant CAP_NET_ADMIN)",
            usable >> 10,
            size >> 10,
            size,
        )
    return usable


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class UdpSyslog:
    """One UDP listener."""

    transport = "udp"

    def __init__(self, host: str, port: int, bus: Bus, counters: Counters) -> None:
        self.bus = bus
        self.counters = counters
        self.sock = socket.socket(_family(host), socket.SOCK_DGRAM)
        self.receive_buffer = set_receive_buffer(self.sock, RCVBUF)
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"syslog-udp {self.address}", daemon=True)
        self.ring: Any = None
        self._ring_dropped = 0

    def start(self) -> None:
        if _Ring is not None and os.environ.get("HAMON_UDP_RING", "1") != "0":
            self.ring = _Ring(self.sock.fileno(), RING_BYTES)
        self._thread.start()

    def stop(self) -> None:
        """Stop after draining what the socket (and the ring) holds."""
        self._stop.set()
        if self._thread.ident is not None:  # closed before it started: nothing to wait for
            self._thread.join(timeout=5)
        self.sock.close()

    def ring_stats(self) -> dict[str, int] | None:
        """The receive ring's counters (None: the Python receive loop reads the socket)."""
        return None if self.ring is None else dict(self.ring.stats())

    def _run(self) -> None:
        if self.ring is not None:
            return self._run_ring()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if ready and self._drain() < SMALL:
                time.sleep(GATHER)  # the kernel buffer holds them; the parser gets the core meanwhile
        self._drain()

    def _run_ring(self) -> None:
        ring = self.ring
        while not self._stop.is_set():  # the receive thread lets datagrams gather: no sleep here
            if ring.wait(0.1):
                self._publish(ring.drain(MAX_DRAIN))
        time.sleep(0.05)  # what the kernel still holds reaches the ring
        ring.close()
        while self._publish(ring.drain(MAX_DRAIN)):
            pass
        self._drain()  # anything that reached the socket after the thread stopped

    def _drain(self) -> int:
        got: list[tuple[bytes, str]] = []
        for _ in range(MAX_DRAIN):
            try:
                data, addr = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return 0
            got.append((data, addr[0]))
        return self._publish(got)

    def _publish(self, got: list[tuple[bytes, str]]) -> int:
        """Datagrams of one drain as one RawBatch per sender on the bus (dropped and counted when
        the bus is full); drops past a full ring counted too."""
        if self.ring is not None:
            dropped = int(self.ring.stats()["ring_dropped"])
            if dropped > self._ring_dropped:
                self.counters.receive(self.transport, RING_SOURCE, dropped - self._ring_dropped)
                self.counters.drop(self.transport, RING_SOURCE, dropped - self._ring_dropped)
                self._ring_dropped = dropped
        by_source: dict[str, list[bytes]] = {}
        sizes: dict[str, int] = {}
        for data, host in got:
            # One datagram is one message: line breaks inside it do not start new messages.
            by_source.setdefault(host, []).append(data.rstrip(b"\r\n\x00").replace(b"\n", b" "))
            sizes[host] = sizes.get(host, 0) + len(data)
        if not by_source:
            return 0
        now = dt.datetime.now(dt.UTC)
        for source, lines in by_source.items():
            self.counters.receive(self.transport, source, len(lines), sizes[source])
            batch = RawBatch(b"\n".join(lines) + b"\n", now, source, self.transport, "syslog-udp", f"udp:{source}")
            if not self.bus.publish(batch, block=False):
                self.counters.drop(self.transport, source, len(lines))
        return sum(len(lines) for lines in by_source.values())
