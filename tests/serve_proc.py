"""`hamon serve` as a real process, a TCP sender that knows what the kernel acknowledged, and
CPU-bound neighbours for a loaded machine: the parts of the stop and crash tests."""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import fcntl
import re
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

from helpers import wait_for

LINE = "<166>{t:%b %d %Y %H:%M:%S} fw-out : %ASA-1-105008: (Primary) Testing Interface if{n:07d}\n"
LINE_RE = re.compile(r"if(\d{7})")


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> tuple[int, int]:
    """A process's resident set now and at its peak (VmRSS, VmHWM), in KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


class ServeProcess:
    """`python -m hamon --db URL serve --syslog-tcp 127.0.0.1:PORT --journal-dir DIR [ARGS]`."""

    def __init__(
        self, db: str, journal: Path, log: Path, *args: str, port: int | None = None, inventory: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self.log = log
        cmd = [sys.executable, "-m", "hamon", "--db", db]
        cmd += ["--inventory", str(inventory)] if inventory else []
        cmd += ["serve", "--syslog-tcp", f"127.0.0.1:{self.port}"]
        cmd += ["--journal-dir", str(journal), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("a"))
        ready = wait_for(lambda: self.proc.poll() is not None or f"127.0.0.1:{self.port}" in self.text(), timeout=60)
        assert ready and self.proc.poll() is None, self.text()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def term(self, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM: the exit code and how long the stop took. A serve that does not stop in time is
        asked for its threads' stacks (SIGUSR1), and the failure carries its log."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(2.0)
            raise AssertionError(
                f"serve did not stop {timeout:g} s after SIGTERM; its log:\n{self.text()[-20000:]}"
            ) from None
        return rc, time.monotonic() - t0

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()


def unacked(sock: socket.socket) -> int:
    """Bytes of a TCP socket's send queue the peer's kernel has not acknowledged (SIOCOUTQ)."""
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0])


class TcpSender:
    """Lines numbered from `first` on one connection; `acked()` is how many of them the receiving
    kernel acknowledged (bytes written less the unacknowledged send queue)."""

    def __init__(self, port: int, first: int = 0, source: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source or "", 0))
        self.first = first
        self.next = first
        self.ends: list[int] = []  # bytes written after each line
        self.written = 0
        self.sample: tuple[int, int] = (0, 0)  # (bytes written, unacknowledged) at the last look
        self.longest_block = 0.0  # the longest one sendall took
        self.error: BaseException | None = None

    def send(self, n: int, rate: float | None = None, stop: threading.Event | None = None) -> None:
        """Write n lines, `rate` a second (in 10 ms slices), or until `stop`."""
        start = time.monotonic()
        done = 0
        while done < n and not (stop is not None and stop.is_set()):
            if rate:
                due = int((time.monotonic() - start) * rate) + 1
                if due <= done:
                    time.sleep(0.002)
                    continue
                k = min(n - done, due - done)
            else:
                k = min(n - done, 500)
            now = dt.datetime.now(dt.UTC)
            data = b"".join(LINE.format(t=now, n=self.next + i).encode() for i in range(k))
            t0 = time.monotonic()
            try:
                self.sock.sendall(data)
            except OSError as exc:
                self.error = exc
                return
            self.longest_block = max(self.longest_block, time.monotonic() - t0)
            size = len(data) // k
            self.ends += [self.written + size * (i + 1) for i in range(k)]
            self.written += len(data)
            self.next += k
            done += k
            with contextlib.suppress(OSError):
                self.sample = (self.written, unacked(self.sock))

    def acked(self, at: tuple[int, int] | None = None) -> int:
        """Lines wholly acknowledged (at the given (written, unacked) sample, else now)."""
        written, queued = at if at is not None else (self.written, unacked(self.sock))
        through = written - queued
        return bisect.bisect_right(self.ends, through)

    def wait_acked(self, timeout: float = 30.0) -> int:
        assert wait_for(lambda: unacked(self.sock) == 0, timeout=timeout), "the receiver never read what was sent"
        return self.acked()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def stored_numbers(db: str) -> set[int]:
    """The line numbers of fw-out's stored events."""
    from hamon.store import Store

    store = Store(db, migrate=False)
    try:
        return {int(m.group(1)) for e in store.events(pair="fw-out") if (m := LINE_RE.search(e.text))}
    finally:
        store.close()


class Busy:
    """Two CPU-bound processes beside the test: the loaded machine the issue's figures came from."""

    def __init__(self, n: int = 2) -> None:
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]

    def __enter__(self) -> Busy:
        return self

    def __exit__(self, *_: Any) -> None:
        for p in self.procs:
            p.kill()
            p.wait(timeout=10)
