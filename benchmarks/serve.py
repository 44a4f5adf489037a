"""`hamon serve` benchmarks, each with a separate sender process on loopback.

    python benchmarks/serve.py [--rate 100000] [--seconds 10] [--latency-samples 200] [--split-samples 20]

1. Sustained UDP ingest: a sender process sends `--rate` datagrams a second for `--seconds` (1 % of
   them failover lines of 200 pairs, the rest connection build/teardown) to `hamon serve` pinned to
   one core (the sender to another); hamon's counters must show every datagram received, none dropped, and the
   kernel's UDP receive-buffer error counter must not move.
2. Alert latency: with background traffic at a tenth of the rate still flowing, a second sender
   sends, for a fresh pair each time, and the time until the output is in the store is measured
   (the store is polled every millisecond); p50/p99/max over the samples:
   - `LAN Failover interface is down` → the failover_link_down alert;
   - a complete manual failover (the new active's `Switching to ACTIVE` and the old active's
     `Switching to STANDBY`) → the failover and its alert, from the completing datagram;
   - both units `Switching to ACTIVE - No Active unit found` → the split_brain alert, which is due
     after the 10 s grace: its latency is reported beyond the grace (samples run side by side).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRACE = 10.0  # the correlator's split-brain grace (hamon.correlate.machine.Timing.split_grace)


def udp_rcvbuf_errors() -> int:
    """The kernel's count of UDP datagrams lost to full receive buffers."""
    header, values = [
        line.split()[1:] for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")
    ]
    return int(values[header.index("RcvbufErrors")])


SENDER = r"""
import socket, sys, time
port, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
templates = []
for i in range(1000):  # 1 % failover lines of 200 pairs, the rest connection build/teardown
    host = f"fw{i % 200:03d}"
    if i % 100 == 0:
        templates.append((161, host, f"%ASA-1-105008: (Primary) Testing Interface if{i}"))
    elif i % 2:
        templates.append((166, host, f"%ASA-6-302013: Built inbound TCP connection {i} for outside:198.51.100.{i % 250}/{40000 + i} (198.51.100.{i % 250}/{40000 + i}) to inside:10.0.0.{i % 250}/443 (10.0.0.{i % 250}/443)"))
    else:
        templates.append((166, host, f"%ASA-6-302014: Teardown TCP connection {i} for outside:198.51.100.{i % 250}/{40000 + i} to inside:10.0.0.{i % 250}/443 duration 0:00:{i % 60:02d} bytes {i * 13} TCP FINs"))
def stamped():  # the current second, as a firewall stamps its messages
    stamp = time.strftime("%b %d %Y %H:%M:%S", time.gmtime())
    return [f"<{pri}>{stamp} {host} : {msg}".encode() for pri, host, msg in templates], int(time.time())
"""
# Sends `rate` lines a second for `seconds` from what `stamped()` (defined before it) gives: the
# current second's lines and that second. Prints how many were sent and how long it took.
PACE = r"""
lines, second = stamped()
addr = ("127.0.0.1", port)
total = int(rate * seconds)
sent = 0
t0 = time.perf_counter()
step = max(rate // 1000, 1)  # datagrams per millisecond
while sent < total:
    if int(time.time()) != second:
        lines, second = stamped()
    for _ in range(min(step, total - sent)):
        s.sendto(lines[sent % len(lines)], addr)
        sent += 1
    ahead = sent / rate - (time.perf_counter() - t0)
    if ahead > 0:
        time.sleep(ahead)
print(sent, time.perf_counter() - t0)
"""
SENDER += PACE


def pin(cpu: int) -> None:
    """Run the calling process on one core (when the machine has it)."""
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})


def start_serve(db: Path, log: Path, *args: str, cpu: int = 0) -> subprocess.Popen[bytes]:
    """`hamon serve` on a SQLite store, pinned to a core, its log in a file (a pipe nobody reads
    fills up and stops the service at its next log line); returns once it listens (30 s at most)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "hamon", "--db", f"sqlite:///{db}", "serve", *args],
        stderr=log.open("w"),
        preexec_fn=lambda: pin(cpu),
    )
    deadline = time.monotonic() + 30
    while "listening:" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    return server


def run_sender(cmd: list[str], cpu: int = 1) -> tuple[int, float]:
    """Run a sender pinned to a core until it is done: (datagrams sent, seconds it took)."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, preexec_fn=lambda: pin(cpu)).stdout.split()
    return int(out[0]), float(out[1])


def status(db: Path) -> dict[str, object]:
    con = sqlite3.connect(str(db), timeout=5)
    try:
        row = con.execute("SELECT counters FROM service_status WHERE name = 'serve'").fetchone()
        return json.loads(row[0]) if row else {}
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--latency-samples", type=int, default=200)
    ap.add_argument("--split-samples", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "serve.db"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = start_serve(db, Path(tmp) / "serve.log", "--syslog-udp", f"127.0.0.1:{port}", "--reorder-window", "0")
        try:
            kernel_before = udp_rcvbuf_errors()
            t0 = time.perf_counter()
            sent, send_s = run_sender([sys.executable, "-c", SENDER, str(port), str(args.rate), str(args.seconds)])
            deadline = time.monotonic() + 60
            received = dropped = 0
            while time.monotonic() < deadline:
                snap = status(db)
                received = sum(r["count"] for r in snap.get("received", []))  # type: ignore[union-attr]
                dropped = sum(r["count"] for r in snap.get("dropped", []))  # type: ignore[union-attr]
                lines = snap.get("totals", {}).get("lines", 0)  # type: ignore[union-attr]
                if received >= sent and lines >= sent:
                    break
                time.sleep(0.5)
            elapsed = time.perf_counter() - t0
            kernel_lost = udp_rcvbuf_errors() - kernel_before
            print(
                f"UDP ingest: {sent:,} datagrams sent in {send_s:.2f} s ({sent / send_s:,.0f}/s); "
                f"hamon received {received:,}, dropped {dropped:,}, kernel receive-buffer errors {kernel_lost:,}; "
                f"all parsed and stored {elapsed:.2f} s after the first datagram"
            )

            # Alert latency, with background traffic at a tenth of the rate.
            background = subprocess.Popen(
                [sys.executable, "-c", SENDER, str(port), str(args.rate // 10), str(args.latency_samples * 0.12 + 45)],
                stdout=subprocess.DEVNULL,
                preexec_fn=lambda: pin(1),
            )
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            con = sqlite3.connect(str(db), timeout=5)

            def line(pair: str, text: str) -> bytes:
                return f"<161>{time.strftime('%b %d %Y %H:%M:%S', time.gmtime())} {pair} : {text}".encode()

            def wait_for(sql: str, pair: str, since: float, limit: float = 5.0) -> float:
                while time.perf_counter() - since < limit:
                    if con.execute(sql, (pair,)).fetchone():
                        return time.perf_counter() - since
                    time.sleep(0.001)
                return float("inf")

            link, failover = [], []
            for n in range(args.latency_samples):
                pair = f"lat{n:05d}"
                t_send = time.perf_counter()
                sock.sendto(line(pair, "%ASA-1-105032: LAN Failover interface is down"), ("127.0.0.1", port))
                link.append(
                    wait_for("SELECT 1 FROM alerts WHERE pair = ? AND kind = 'failover_link_down'", pair, t_send)
                )
                pair = f"fo{n:05d}"
                sock.sendto(
                    line(pair, "%ASA-1-104001: (Secondary) Switching to ACTIVE - Set by the config command."),
                    ("127.0.0.1", port),
                )
                t_send = time.perf_counter()
                sock.sendto(
                    line(pair, "%ASA-1-104002: (Primary) Switching to STANDBY - Other unit wants me Standby."),
                    ("127.0.0.1", port),
                )
                failover.append(
                    wait_for(
                        "SELECT 1 FROM failovers f JOIN alerts a ON a.pair = f.pair AND a.kind = 'failover' "
                        "WHERE f.pair = ? AND f.new_active = 'secondary'",
                        pair,
                        t_send,
                    )
                )
                time.sleep(0.05)
            split_sent: dict[str, float] = {}
            for n in range(args.split_samples):
                pair = f"sb{n:05d}"
                sock.sendto(
                    line(pair, "%ASA-1-104001: (Primary) Switching to ACTIVE - No Active unit found"),
                    ("127.0.0.1", port),
                )
                sock.sendto(
                    line(pair, "%ASA-1-104001: (Secondary) Switching to ACTIVE - No Active unit found"),
                    ("127.0.0.1", port),
                )
                split_sent[pair] = time.perf_counter()
                time.sleep(0.05)
            split = [
                wait_for("SELECT 1 FROM alerts WHERE pair = ? AND kind = 'split_brain'", p, t, 30.0) - GRACE
                for p, t in split_sent.items()
            ]
            background.wait(timeout=120)
            for name, values in (
                ("failover_link_down alert", link),
                ("complete failover + its alert", failover),
                ("split_brain alert beyond the 10 s grace", split),
            ):
                ms = sorted(x * 1000 for x in values)
                p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
                print(
                    f"latency of the {name} (datagram → stored), {len(ms)} samples under {args.rate // 10:,}/s "
                    f"background: p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
    if os.environ.get("HAMON_BENCH_STRICT") and (dropped or kernel_lost or received < sent):
        sys.exit("lost datagrams")


if __name__ == "__main__":
    main()
