"""The highest UDP rate received with zero loss in every run: hamon serve against syslog-ng's udp()
source, alternating, at the same requested receive buffer, quiet or under load.

    python benchmarks/udp_rate.py [--rates 100000,150000,200000,300000,400000] [--seconds 3]
                                  [--runs 3] [--load N] [--buffer 67108864]

For each rate (lowest first), `--runs` pairs of runs, hamon and syslog-ng alternately: the server
starts on 127.0.0.1 (pinned to core 0), a sender process (pinned to core 1; `udp_sender.c`, built
with cc on first use, sendmmsg, so the sender is not the limit — the Python sender of
benchmarks/serve.py without a compiler) sends the rate for `--seconds` (1 % failover lines of 200
pairs, the rest connection build/teardown), and what the server took is counted — hamon's own counters (received,
dropped), syslog-ng's source `processed` counter (`syslog-ng-ctl stats`); the kernel's UDP
RcvbufErrors are reported beside. A side's zero-loss rate is the highest rate at which every one of
its runs lost nothing; it is not tried at higher rates once one run lost.

syslog-ng does the job hamon does on the live path at its best: `udp(so-rcvbuf(BUFFER))`, the
failover filter and the cisco-parser, to a file (`threaded(yes)`, flow control into the file). The
receive buffer each side actually got is read from the socket (`ss -m`, rb) and printed.

`--load N` starts N CPU-bound processes (a Python busy loop each, not pinned) for both sides' runs:
a production sink shares its host, and an incident storm loads it most.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from replay import FILTER, loadavg, start_load, syslog_ng_command  # shared with the replay benchmark
from serve import (  # the same traffic and counters as the serve benchmark
    SENDER,
    pin,
    run_sender,
    start_serve,
    status,
    udp_rcvbuf_errors,
)

SYSLOG_NG_UDP = """@version: 3.38
@include "scl.conf"
options {{ threaded(yes); stats_freq(0); keep_hostname(yes); }};
source s_udp {{ udp(ip("127.0.0.1") port({port}) so-rcvbuf({buffer}) log-iw-size(100000) log-fetch-limit(1000)); }};
filter f_failover {{ message('{filter}' type(pcre)); }};
parser p_cisco {{ cisco-parser(); }};
destination d_out {{ file("{out}"); }};
log {{ source(s_udp); filter(f_failover); parser(p_cisco); destination(d_out); flags(flow-control); }};
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def granted(port: int) -> int | None:
    """The receive buffer (rb) the kernel gave the socket bound to port, from `ss -m`."""
    if shutil.which("ss") is None:
        return None
    out = subprocess.run(["ss", "-uamnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    m = re.search(r"rb(\d+)", out)
    return int(m.group(1)) if m else None


def wait_until(check, target: int, timeout: float, settle: float = 3.0) -> int:  # type: ignore[no-untyped-def]
    """Poll check() until it reaches target or stops growing for `settle` seconds (or timeout)."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = check()
        if now >= target:
            return int(now)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            break
        time.sleep(0.2)
    return last


def c_sender() -> list[str] | None:
    """benchmarks/udp_sender.c built once (with cc), or None: the Python sender is used."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    src = Path(__file__).parent / "udp_sender.c"
    exe = Path(tempfile.gettempdir()) / "hamon-udp-sender"
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        subprocess.run([cc, "-O2", "-o", str(exe), str(src)], check=True)
    return [str(exe)]


SENDER_CMD = c_sender() or [sys.executable, "-c", SENDER]


def send(port: int, rate: int, seconds: float) -> tuple[int, float]:
    return run_sender([*SENDER_CMD, str(port), str(rate), str(seconds)])


def run_hamon(work: Path, rate: int, seconds: float) -> dict[str, float]:
    db = work / "hamon.db"
    for f in work.glob("hamon.db*"):
        f.unlink()
    port = free_port()
    log = work / "hamon.log"
    server = start_serve(db, log, "--syslog-udp", f"127.0.0.1:{port}")
    try:
        rb = granted(port)
        kernel = udp_rcvbuf_errors()
        sent, took = send(port, rate, seconds)

        def counters() -> dict[str, list[dict[str, int]]]:
            return status(db)  # type: ignore[return-value]

        def taken() -> int:  # received and not dropped (by the bus, or past a full receive ring)
            snap = counters()
            return sum(r["count"] for r in snap.get("received", [])) - sum(r["count"] for r in snap.get("dropped", []))

        received = wait_until(taken, sent, 60)
        dropped = sum(r["count"] for r in counters().get("dropped", []))
        return {
            "sent": sent,
            "rate": sent / took,
            "received": received,
            "dropped": dropped,
            "kernel": udp_rcvbuf_errors() - kernel,
            "rb": rb or 0,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_syslog_ng(work: Path, rate: int, seconds: float, buffer: int) -> dict[str, float]:
    exe = shutil.which("syslog-ng")
    ctl_exe = shutil.which("syslog-ng-ctl")
    assert exe and ctl_exe
    port = free_port()
    out = work / "syslog-ng-out.log"
    out.unlink(missing_ok=True)
    conf = work / "syslog-ng-udp.conf"
    conf.write_text(SYSLOG_NG_UDP.format(port=port, buffer=buffer, filter=FILTER, out=out))
    state = work / "syslog-ng-state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir()
    ctl = state / "ctl"
    server = subprocess.Popen(
        syslog_ng_command(exe, conf, state),
        stdout=subprocess.DEVNULL,
        stderr=(work / "syslog-ng.log").open("w"),
        preexec_fn=lambda: pin(0),
    )
    try:

        def processed() -> int:
            text = subprocess.run([ctl_exe, "stats", "-c", str(ctl)], capture_output=True, text=True).stdout
            return sum(
                int(line.rsplit(";", 1)[1])
                for line in text.splitlines()
                if line.startswith("source;s_udp;") and ";processed;" in line
            )

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ctl.exists() and granted(port) is not None:
                break
            time.sleep(0.05)
        rb = granted(port)
        kernel = udp_rcvbuf_errors()
        sent, took = send(port, rate, seconds)
        received = wait_until(processed, sent, 60)
        return {
            "sent": sent,
            "rate": sent / took,
            "received": received,
            "dropped": 0,
            "kernel": udp_rcvbuf_errors() - kernel,
            "rb": rb or 0,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    print(f"sender: {'C (sendmmsg)' if SENDER_CMD[0] != sys.executable else 'Python'}")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="100000,150000,200000,300000,400000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--load", type=int, default=0, help="CPU-bound processes running during both sides' runs")
    ap.add_argument("--buffer", type=int, default=64 << 20, help="receive buffer both sides ask for (bytes)")
    args = ap.parse_args()
    if shutil.which("syslog-ng") is None or shutil.which("syslog-ng-ctl") is None:
        sys.exit("syslog-ng is not installed (apt-get install syslog-ng-core syslog-ng-scl)")
    rates = [int(r) for r in args.rates.split(",")]
    print(f"cores: {os.cpu_count()}; load average before: {loadavg()}; --load {args.load}")
    rmem = Path("/proc/sys/net/core/rmem_max")
    before = int(rmem.read_text())
    if before < args.buffer:  # syslog-ng asks with SO_RCVBUF, which rmem_max caps: the same for both
        try:
            rmem.write_text(str(args.buffer))
            print(f"net.core.rmem_max raised from {before} to {args.buffer} for the runs")
        except OSError:
            print(f"net.core.rmem_max is {before} (not writable here): syslog-ng gets at most that")
    hogs = start_load(args.load)
    best: dict[str, int | None] = {"hamon": None, "syslog-ng": None}
    failed: set[str] = set()
    try:
        with tempfile.TemporaryDirectory(prefix="hamon-udp-rate-") as tmp:
            work = Path(tmp)
            for rate in rates:
                clean = {"hamon": True, "syslog-ng": True}
                for run in range(args.runs):
                    for side in ("hamon", "syslog-ng") if run % 2 == 0 else ("syslog-ng", "hamon"):
                        if side in failed:
                            continue
                        r = (
                            run_hamon(work, rate, args.seconds)
                            if side == "hamon"
                            else run_syslog_ng(work, rate, args.seconds, args.buffer)
                        )
                        lost = int(r["sent"] - r["received"])
                        reached = r["rate"] >= rate * 0.97  # the sender kept the rate
                        clean[side] = clean[side] and lost == 0 and reached
                        print(
                            f"{rate:>7,}/s run {run + 1} {side:<9}: sent {int(r['sent']):,} at {r['rate']:,.0f}/s, "
                            f"took {int(r['received']):,}, dropped {int(r['dropped']):,}, lost {lost:,} "
                            f"(kernel RcvbufErrors +{int(r['kernel']):,}; rb {int(r['rb']) >> 20} MiB); "
                            f"load {loadavg()}",
                            flush=True,
                        )
                for side, ok in clean.items():
                    if side in failed:
                        continue
                    if ok:
                        best[side] = rate
                    else:
                        failed.add(side)
                if len(failed) == 2:
                    break
    finally:
        for h in hogs:
            h.kill()
        if int(rmem.read_text()) != before:
            rmem.write_text(str(before))
    for side, rate in best.items():
        print(f"{side}: zero loss in every run up to {rate:,}/s" if rate else f"{side}: lost at every rate tried")
    if best["hamon"] and best["syslog-ng"]:
        print(f"hamon / syslog-ng zero-loss rate: {best['hamon'] / best['syslog-ng']:.2f}")


if __name__ == "__main__":
    main()
