"""What an idle `hamon serve` costs with many known pairs: CPU while nothing arrives.

    python benchmarks/idle_serve.py [--pairs 10000] [--seconds 20] [--runs 2]

A fresh `hamon serve` (SQLite, UDP on 127.0.0.1) is told about `--pairs` pairs — each pair's two
units start (`Switching to ACTIVE - No Active unit found`, `Switching to STANDBY - Detected an
Active mate`), so every pair has a machine in memory — then, once every line is stored and the
pairs' timers have run out, nothing more is sent. The service's own CPU (user + system, from
/proc) is read over `--seconds` of that silence and printed as a share of one core, with the
machine's load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from replay import loadavg

TICKS = 100  # clock ticks a second (/proc/PID/stat)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0


def one_run(pairs: int, seconds: float) -> tuple[float, float]:
    """(CPU share of one core while idle, seconds to take the pairs in)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "idle.db"
        port = free_udp_port()
        cmd = [sys.executable, "-m", "hamon", "--db", f"sqlite:///{db}", "serve", "--syslog-udp", f"127.0.0.1:{port}"]
        log = (Path(tmp) / "serve.log").open("w")
        proc = subprocess.Popen([*cmd, "--journal-dir", str(Path(tmp) / "journal")], stderr=log)
        try:
            deadline = time.monotonic() + 60
            while "listening" not in (Path(tmp) / "serve.log").read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            t0 = time.monotonic()
            now = dt.datetime.now(dt.UTC)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for i in range(pairs):
                    for text in (
                        "%ASA-1-104001: (Primary) Switching to ACTIVE - No Active unit found.",
                        "%ASA-1-104002: (Secondary) Switching to STANDBY - Detected an Active mate",
                    ):
                        s.sendto(f"<161>{now:%b %d %Y %H:%M:%S} fw-idle-{i} : {text}".encode(), ("127.0.0.1", port))
                    if i % 500 == 499:
                        time.sleep(0.1)  # well under what the service takes: nothing is dropped
            deadline = time.monotonic() + 300
            while stored(db) < 2 * pairs and time.monotonic() < deadline:
                time.sleep(0.5)
            took = time.monotonic() - t0
            if stored(db) < 2 * pairs:
                raise SystemExit(f"only {stored(db)} of {2 * pairs} lines stored in 300 s")
            time.sleep(15)  # merge windows and grace periods of the startup run out
            c0, w0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(seconds)
            share = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - w0)
            return share, took
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    print(f"hamon serve idle with {args.pairs:,} pairs in memory, {args.seconds:g} s measured; load {loadavg()}")
    for run in range(1, args.runs + 1):
        share, took = one_run(args.pairs, args.seconds)
        print(f"run {run}: {share * 100:.1f} % of a core while idle (pairs taken in {took:.1f} s)  [load {loadavg()}]")


if __name__ == "__main__":
    main()
