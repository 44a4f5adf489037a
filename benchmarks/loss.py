"""What a stop costs `hamon serve`: SIGTERM and kill -9 under a TCP stream, quiet and loaded.

    python benchmarks/loss.py [--rate 5000] [--seconds 4] [--runs 3] [--load 2] [--postgres URL]

A sender writes numbered failover lines over one TCP connection at `--rate` lines a second to
`hamon serve` on 127.0.0.1 (an embedded store, or PostgreSQL with `--postgres`). *Acknowledged*
lines are those the sender's kernel saw acknowledged (bytes written less the socket's unacknowledged
queue, SIOCOUTQ), read just before the signal. Each run:

1. kill -9 `--seconds` into the stream, then serve started again on the same journal: how many
   acknowledged lines are not stored once it has taken up what the journal held;
2. SIGTERM right after the sender's last byte was acknowledged: how long the stop took, and how many
   acknowledged lines are stored after the next start.

Runs alternate quiet and loaded (`--load N` CPU-bound processes beside both serve and the sender;
0 for quiet only); every line of output carries the machine's load average.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import fcntl
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from kafka_bus import fresh_db
from replay import loadavg, start_load

LINE = "<166>{t:%b %d %Y %H:%M:%S} fw-loss : %ASA-1-105008: (Primary) Testing Interface if{n:07d}\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unacked(sock: socket.socket) -> int:
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0])


class Serve:
    def __init__(self, db: str, journal: Path, log: Path) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "hamon", "--db", db, "serve", "--syslog-tcp", f"127.0.0.1:{self.port}"]
        self.log = log
        self.proc = subprocess.Popen([*cmd, "--journal-dir", str(journal)], stderr=log.open("a"))
        deadline = time.monotonic() + 60
        while f"127.0.0.1:{self.port}" not in log.read_text() and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited: {log.read_text()[-2000:]}")
            time.sleep(0.05)


class Sender(threading.Thread):
    """Lines at `rate` a second; `sample` is (bytes written, unacknowledged) after the latest write."""

    def __init__(self, port: int, rate: float, first: int = 0) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.rate, self.next, self.written = rate, first, 0
        self.ends: list[int] = []
        self.sample = (0, 0)
        self.halt = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        start, first = time.monotonic(), self.next
        while not self.halt.is_set():
            due = first + int((time.monotonic() - start) * self.rate) + 1
            if due <= self.next:
                time.sleep(0.001)
                continue
            now = dt.datetime.now(dt.UTC)
            data = b"".join(LINE.format(t=now, n=n).encode() for n in range(self.next, due))
            try:
                self.sock.sendall(data)
            except OSError:
                return
            size = len(data) // (due - self.next)
            with self.lock:
                self.ends += [self.written + size * (i + 1) for i in range(due - self.next)]
                self.written += len(data)
                self.next = due
                try:
                    self.sample = (self.written, unacked(self.sock))
                except OSError:
                    return

    def acked(self) -> int:
        """Lines wholly acknowledged at the latest sample."""
        with self.lock:
            written, queued = self.sample
            return bisect.bisect_right(self.ends, written - queued)


def stored(db: str, below: int, first: int = 0) -> int:
    """How many of lines first..first+below-1 are stored (each line is one event)."""
    from hamon.store import Store

    store = Store(db, migrate=False)
    try:
        pattern = re.compile(r"if(\d{7})")
        numbers = (int(m[1]) for e in store.events(pair="fw-loss") if (m := pattern.search(e.text)))
        return len({n for n in numbers if first <= n < first + below})
    finally:
        store.close()


def settle(db: str, below: int, first: int = 0, timeout: float = 120.0) -> int:
    """The stored count of lines first..first+below-1 once it stops changing (serve took up its journal)."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = stored(db, below, first)
        if n != last:
            last, since = n, time.monotonic()
        elif n == below or time.monotonic() - since > 3.0:
            return n
        time.sleep(0.5)
    return last


def run(args: argparse.Namespace, loaded: bool) -> tuple[str, str]:
    load = start_load(args.load) if loaded else []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            db = args.postgres_db(work) if args.postgres else f"sqlite:///{work / 'loss.db'}"
            journal, log = work / "journal", work / "serve.log"
            # 1. kill -9 in the middle of the stream
            s = Serve(db, journal, log)
            sender = Sender(s.port, args.rate)
            sender.start()
            time.sleep(args.seconds)
            acked = sender.acked()
            s.proc.kill()
            s.proc.wait()
            sender.halt.set()
            sender.join(5)
            again = Serve(db, journal, log)
            kept = settle(db, acked)
            killed = f"kill -9 at {args.rate:,.0f}/s: {acked - kept:,} of {acked:,} acknowledged lines lost"
            # 2. SIGTERM once the sender's last byte was acknowledged
            first = sender.next  # the second stream's line numbers start here
            sender = Sender(again.port, args.rate, first=first)
            sender.start()
            time.sleep(args.seconds)
            sender.halt.set()
            sender.join(5)
            deadline = time.monotonic() + 10
            while unacked(sender.sock) and time.monotonic() < deadline:
                time.sleep(0.01)
            sender.sample = (sender.written, unacked(sender.sock))
            total = sender.acked()
            time.sleep(0.2)  # serve reads what its kernel holds
            t0 = time.monotonic()
            again.proc.send_signal(signal.SIGTERM)
            code = again.proc.wait(timeout=60)
            took = time.monotonic() - t0
            third = Serve(db, journal, log)
            kept = settle(db, total, first)
            third.proc.send_signal(signal.SIGTERM)
            third.proc.wait(timeout=60)
            termed = f"SIGTERM: exit {code} after {took:.2f} s, {total - kept:,} of {total:,} acknowledged lines lost"
            return killed, termed
    finally:
        for p in load:
            p.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=5000.0, help="lines a second (default 5,000)")
    ap.add_argument("--seconds", type=float, default=4.0, help="of stream before each signal (default 4)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each, quiet and loaded alternating")
    ap.add_argument("--load", type=int, default=2, help="CPU-bound processes for the loaded runs (0: quiet only)")
    ap.add_argument("--postgres", metavar="URL", help="an admin URL: each run gets a database of its own")
    args = ap.parse_args()
    args.postgres_db = (lambda _work: fresh_db(args.postgres)) if args.postgres else None
    print(f"hamon serve, TCP, {args.rate:,.0f} lines/s, {os.cpu_count()} cores; store {args.postgres or 'SQLite'}")
    for i in range(args.runs):
        for loaded in (False, True) if args.load else (False,):
            before = loadavg()
            killed, termed = run(args, loaded)
            what = f"loaded ({args.load} busy)" if loaded else "quiet"
            print(f"run {i + 1} {what:<14} {killed}; {termed}  [load {before} → {loadavg()}]", flush=True)


if __name__ == "__main__":
    main()
