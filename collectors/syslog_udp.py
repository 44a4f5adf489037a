"""Syslog over UDP: a non-blocking socket drained until it would block, on its own thread.

A plain asyncio DatagramProtocol keeps only a fraction of a burst; reading until EWOULDBLOCK after
each wake-up keeps up. The receive buffer is made as large as the system allows. Datagrams of one
drain are grouped per sender into one RawBatch each. When the bus is full they are dropped and
counted per sender — never silently.
"""

from __future__ import annotations

import datetime as dt
import logging
import select
import socket
import sys
import threading
import time

from hamon.bus import Bus
from hamon.bus.counters import Counters
from hamon.model import RawBatch

log = logging.getLogger(__name__)

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

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after draining what the socket holds."""
        self._stop.set()
        if self._thread.ident is not None:  # closed before it started: nothing to wait for
            self._thread.join(timeout=5)
        self.sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if ready and self._drain() < SMALL:
                time.sleep(GATHER)  # the kernel buffer holds them; the parser gets the core meanwhile
        self._drain()

    def _drain(self) -> int:
        by_source: dict[str, list[bytes]] = {}
        for _ in range(MAX_DRAIN):
            try:
                data, addr = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return 0
            # One datagram is one message: line breaks inside it do not start new messages.
            by_source.setdefault(addr[0], []).append(data.rstrip(b"\r\n\x00").replace(b"\n", b" "))
        if not by_source:
            return 0
        now = dt.datetime.now(dt.UTC)
        for source, lines in by_source.items():
            self.counters.receive(self.transport, source, len(lines))
            batch = RawBatch(b"\n".join(lines) + b"\n", now, source, self.transport, "syslog-udp", f"udp:{source}")
            if not self.bus.publish(batch, block=False):
                self.counters.drop(self.transport, source, len(lines))
        return sum(len(lines) for lines in by_source.values())
