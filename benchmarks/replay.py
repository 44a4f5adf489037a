"""Replay benchmark: hamon against syslog-ng doing the same job, end to end, on one capture.

    python benchmarks/replay.py [--lines 1000000] [--runs 3] [--out benchmarks/out]

1. Generates a realistic capture: ~1% failover lines (switchovers, interface tests, config sync,
   link messages) among connection build/teardown and ACL denies from 40 units, in the ASA's
   own framing with device-id, a share of it relayed by rsyslog (ISO header in front).
2. Times `hamon replay --no-correlate` end to end (process start to exit) into a fresh SQLite store:
   the job syslog-ng does below (and, separately, `hamon replay` with correlation).
3. Times syslog-ng at its best on the same job (Debian packages syslog-ng-core and
   syslog-ng-scl): the capture piped to stdin(flags(no-parse) log-iw-size(100000)
   log-fetch-limit(1000)) with flags(flow-control), a regex filter on the failover ids,
   cisco-parser(), matches written to a file.
4. Measures hamon's peak memory at a quarter and at the full size (streaming: it must stay
   flat) and its start-up cost (`hamon --version`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAILOVER = [
    (1, 104001, "(Secondary) Switching to ACTIVE - HELLO not heard from mate."),
    (
        1,
        104002,
        "(Primary) Switching to STANDBY - Other unit wants me Standby. Secondary unit switch reason: Set by the config command.",
    ),
    (1, 105008, "(Primary) Testing Interface inside"),
    (1, 105009, "(Primary) Testing on interface inside Passed"),
    (1, 105005, "(Secondary) Lost Failover communications with mate on interface inside"),
    (1, 103001, "(Secondary) No response from other firewall (reason code = 4)."),
    (1, 709003, "(Primary) Beginning configuration replication: Send to mate."),
    (1, 709004, "(Primary) End Configuration Replication (ACT)"),
    (6, 311001, "LU loading standby start"),
    (4, 411002, "Line protocol on Interface GigabitEthernet0/1, changed state to down"),
    (1, 105032, "LAN Failover interface is down"),
    (1, 105009, "(Secondary_group_1) Testing on interface inside Status Undetermined"),
]

FILTER = "%(?:ASA|FTD|PIX)-[0-7]-(?:10[1-5][0-9]{3}|210[0-9]{3}|311[0-9]{3}|709[0-9]{3}|72[017][0-9]{3}|41100[1-4])"
SYSLOG_NG_CONF = """@version: 3.38
@include "scl.conf"
options {{ threaded(yes); stats_freq(0); }};
source s_in {{ stdin(flags(no-parse) log-iw-size(100000) log-fetch-limit(1000)); }};
filter f_failover {{ message('{filter}' type(pcre)); }};
parser p_cisco {{ cisco-parser(); }};
destination d_out {{ file("{out}"); }};
log {{ source(s_in); filter(f_failover); parser(p_cisco); destination(d_out); flags(flow-control); }};
"""


def generate(path: Path, lines: int, seed: int = 1) -> int:
    """Write the capture; returns the number of failover lines in it."""
    rng = random.Random(seed)
    hosts = [f"fw-{i:02d}" for i in range(40)]
    addrs = {h: f"192.0.2.{i + 10}" for i, h in enumerate(hosts)}
    t0 = dt.datetime(2026, 11, 25, 8, 0, 0)
    step = 3600.0 / lines  # an hour of a busy sink
    failovers = 0
    with path.open("w") as out:
        for i in range(lines):
            t = t0 + dt.timedelta(seconds=i * step)
            host = rng.choice(hosts)
            r = rng.random()
            if r < 0.01:
                sev, mid, text = rng.choice(FAILOVER)
                msg = f"%ASA-{sev}-{mid}: {text}"
                failovers += 1
            elif r < 0.46:
                a, p = rng.randrange(1, 254), rng.randrange(1024, 65535)
                msg = (
                    f"%ASA-6-302013: Built inbound TCP connection {i} for outside:198.51.100.{a}/{p} "
                    f"(198.51.100.{a}/{p}) to inside:10.{a % 16}.{a}.{a % 200}/443 (10.{a % 16}.{a}.{a % 200}/443)"
                )
            elif r < 0.91:
                a, p = rng.randrange(1, 254), rng.randrange(1024, 65535)
                msg = (
                    f"%ASA-6-302014: Teardown TCP connection {i} for outside:198.51.100.{a}/{p} to "
                    f"inside:10.{a % 16}.{a}.{a % 200}/443 duration 0:{a % 60:02d}:{p % 60:02d} bytes {p * 31} TCP FINs"
                )
            else:
                a, p = rng.randrange(1, 254), rng.randrange(1024, 65535)
                msg = (
                    f"%ASA-4-106023: Deny tcp src outside:203.0.113.{a}/{p} dst inside:10.{a % 16}.0.{a}/22 "
                    f'by access-group "outside_in" [0x8ed66b60, 0x0]'
                )
            sev = msg[5]
            if i % 5 == 0:  # a share arrives through an rsyslog relay with its own ISO header
                out.write(f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}+00:00 {addrs[host]} {msg}\n")
            else:
                out.write(f"<16{sev}>{t:%b %d %Y %H:%M:%S} {host} : {msg}\n")
    return failovers


def child_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def time_hamon(capture: Path, work: Path, *extra: str) -> tuple[float, dict[str, object]]:
    db = work / f"bench-{time.monotonic_ns()}.db"
    cmd = [
        sys.executable,
        "-m",
        "hamon",
        "--db",
        f"sqlite:///{db}",
        "replay",
        str(capture),
        "--json",
        "--no-progress",
        *extra,
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t
    for f in work.glob(db.name + "*"):
        f.unlink()
    return elapsed, json.loads(proc.stdout)


def peak_rss_of(capture: Path, work: Path) -> float:
    """Peak RSS of one hamon replay, measured in a fresh child so earlier runs do not count."""
    code = (
        "import resource,subprocess,sys;"
        f"subprocess.run([sys.executable,'-m','hamon','--db','sqlite:///{work}/rss.db','replay','{capture}',"
        "'--json','--no-progress'],check=True,capture_output=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for f in work.glob("rss.db*"):
        f.unlink()
    return int(out) / 1024.0


def time_syslog_ng(capture: Path, work: Path) -> tuple[float, int] | None:
    exe = shutil.which("syslog-ng")
    if exe is None:
        return None
    out = work / "syslog-ng-out.log"
    out.unlink(missing_ok=True)
    conf = work / "syslog-ng.conf"
    conf.write_text(SYSLOG_NG_CONF.format(filter=FILTER, out=out))
    state = work / "syslog-ng-state"
    state.mkdir(exist_ok=True)
    cmd = [
        exe,
        "-F",
        "-f",
        str(conf),
        "--no-caps",
        "-R",
        str(state / "persist"),
        "-p",
        str(state / "pid"),
        "-c",
        str(state / "ctl"),
    ]
    with capture.open("rb") as src:
        t = time.perf_counter()
        cat = subprocess.Popen(["cat"], stdin=src, stdout=subprocess.PIPE)
        subprocess.run(cmd, stdin=cat.stdout, capture_output=True, check=True, timeout=600)
        cat.wait()
        elapsed = time.perf_counter() - t
    return elapsed, sum(1 for _ in out.open("rb"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        work = Path(tmp)
        capture = work / "capture.log"
        quarter = work / "capture-quarter.log"
        fo = generate(capture, args.lines)
        generate(quarter, args.lines // 4)
        size_mb = capture.stat().st_size / 1e6
        print(f"capture: {args.lines:,} lines, {size_mb:.0f} MB, {fo:,} failover lines", flush=True)

        starts = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "hamon", "--version"], capture_output=True, check=True)
            starts.append(time.perf_counter() - t)
        start_s = statistics.median(starts)

        hamon_runs = []
        summary: dict[str, object] = {}
        for _ in range(args.runs):
            elapsed, summary = time_hamon(capture, work, "--no-correlate")
            hamon_runs.append(elapsed)
        h = statistics.median(hamon_runs)
        print(
            f"hamon replay --no-correlate:  {h:.3f} s end to end ({args.lines / h:,.0f} lines/s), "
            f"{summary['events']:,} events, start-up {start_s * 1000:.0f} ms",
            flush=True,
        )
        corr = statistics.median(time_hamon(capture, work)[0] for _ in range(args.runs))
        print(f"hamon replay (with correlation): {corr:.3f} s end to end", flush=True)

        sng_runs = []
        matched = 0
        for _ in range(args.runs):
            r = time_syslog_ng(capture, work)
            if r is None:
                break
            sng_runs.append(r[0])
            matched = r[1]
        if sng_runs:
            s = statistics.median(sng_runs)
            print(f"syslog-ng:     {s:.3f} s end to end ({args.lines / s:,.0f} lines/s), {matched:,} lines matched")
            print(f"hamon / syslog-ng speed: {s / h:.2f}x")
        else:
            print("syslog-ng:     not installed (apt-get install syslog-ng-core syslog-ng-scl)")

        rss_q = peak_rss_of(quarter, work)
        rss_f = peak_rss_of(capture, work)
        print(
            f"hamon peak memory: {rss_q:.0f} MiB at {args.lines // 4:,} lines, {rss_f:.0f} MiB at {args.lines:,} lines"
        )
        if summary.get("events") != fo:
            sys.exit(f"hamon stored {summary.get('events')} events, the capture has {fo}")


if __name__ == "__main__":
    main()
