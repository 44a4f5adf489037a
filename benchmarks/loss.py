"""What a stop costs `hamon serve` under a failover-heavy TCP stream (a separate sender process).

    python benchmarks/loss.py [--messages 20000] [--per-second 1000]

A sender writes `--messages` failover lines over one TCP connection, `--per-second` of them stamped
with each device second (an incident storm), to `hamon serve` on 127.0.0.1. Then:
1. SIGTERM right after the last byte is written: how long the drain takes and whether every
   message the sender wrote is stored (the unit files give 15 s);
2. kill -9 in the middle of a stream written at `--rate` messages a second: how many written
   messages are not stored — what a crash loses: what was in the kernel's socket buffers and on the
   bus, not yet in a store transaction.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(messages: int, per_second: int, kill: bool, rate: float = 5000.0) -> tuple[int, float, int]:
    """(written but not stored, seconds from the signal to the exit, exit code or messages written)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "loss.db"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "hamon", "--db", f"sqlite:///{db}", "serve", "--syslog-tcp", f"127.0.0.1:{port}"],
            stderr=(Path(tmp) / "serve.log").open("w"),  # a file: a pipe nobody reads would stop it
        )
        deadline = time.monotonic() + 30
        while "listening:" not in (Path(tmp) / "serve.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        base = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=messages // per_second + 1)
        lines = []
        for i in range(messages):
            t = base + dt.timedelta(seconds=i // per_second)
            who = "Primary" if i % 2 else "Secondary"
            lines.append(
                f"<161>{t:%b %d %Y %H:%M:%S} fw-{i % 50:02d} : %ASA-1-105008: ({who}) Testing Interface if{i}\n"
            )
        written = 0
        with socket.create_connection(("127.0.0.1", port)) as s:
            if kill:  # a steady stream, cut in the middle
                start = time.perf_counter()
                for i in range(0, messages, 100):
                    s.sendall("".join(lines[i : i + 100]).encode())
                    written = min(i + 100, messages)
                    ahead = written / rate - (time.perf_counter() - start)
                    if ahead > 0:
                        time.sleep(ahead)
                    if written >= messages // 2:
                        break
            else:
                s.sendall("".join(lines).encode())
                written = messages
            t0 = time.perf_counter()
            if kill:
                os.kill(server.pid, signal.SIGKILL)
            else:
                server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=600)
        elapsed = time.perf_counter() - t0
        con = sqlite3.connect(str(db))
        stored = con.execute("SELECT count(*) FROM events").fetchone()[0]
        con.close()
        return written - stored, elapsed, code if not kill else written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--per-second", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=5000.0)
    args = ap.parse_args()
    lost, elapsed, code = run(args.messages, args.per_second, kill=False)
    print(f"SIGTERM after the last byte: exit {code} after {elapsed:.2f} s, {lost:,} of {args.messages:,} lost")
    for _ in range(3):
        lost, _, written = run(args.messages, args.per_second, kill=True, rate=args.rate)
        print(f"kill -9 in a stream at {args.rate:,.0f}/s: {lost:,} of {written:,} written messages not stored")


if __name__ == "__main__":
    main()
