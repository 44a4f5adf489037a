"""Replay benchmark: hamon against syslog-ng doing the same job, end to end, alternately.

    python benchmarks/replay.py [--lines 1000000] [--shares 0.01,0.10,0.50] [--runs 5] [--load N]
                                [--postgres URL] [--no-correlate] [--senders 40] [--memory]

1. Generates a realistic capture for each failover share: that share of failover lines
   (switchovers, interface tests, config sync, link messages) among connection build/teardown and
   ACL denies from `--senders` units, in the ASA's own framing with device-id, a fifth of it relayed
   by rsyslog (ISO header in front). 1 % is a normal day; 10 % an incident storm; 50 % the worst.
2. For each capture, `--runs` pairs of runs, alternating which side goes first: `hamon replay`
   (with correlation; `--no-correlate` adds a row without) into a fresh SQLite store — and, with
   `--postgres URL`, into a fresh PostgreSQL database on that server — and syslog-ng at its best on
   the same job (Debian packages syslog-ng-core and syslog-ng-scl): the capture piped to
   stdin(flags(no-parse) log-iw-size(100000) log-fetch-limit(1000)) with flags(flow-control), a
   regex filter on the failover ids, cisco-parser(), matches written to a file.
3. Reports wall and CPU (user + system of the process tree) for each side, min and median, and the
   ratios hamon speed / syslog-ng speed (>1: hamon faster) from the medians.
4. `--memory`: hamon's peak RSS on the 1 % capture with 1 and with 10,000 senders.

`--load N` starts N CPU-bound processes (a Python busy loop each) for both sides' runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
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


def generate(path: Path, lines: int, seed: int = 1, share: float = 0.01, senders: int = 40) -> int:
    """Write the capture; returns the number of failover lines in it."""
    rng = random.Random(seed)
    hosts = [f"fw-{i:02d}" for i in range(senders)]
    addrs = {h: f"10.{100 + i // 65536}.{i // 256 % 256}.{i % 256}" for i, h in enumerate(hosts)}
    t0 = dt.datetime(2026, 11, 25, 8, 0, 0)
    step = 3600.0 / lines  # an hour of a busy sink
    failovers = 0
    with path.open("w") as out:
        for i in range(lines):
            t = t0 + dt.timedelta(seconds=i * step)
            host = rng.choice(hosts)
            r = rng.random()
            if r < share:
                sev, mid, text = rng.choice(FAILOVER)
                msg = f"%ASA-{sev}-{mid}: {text}"
                failovers += 1
            elif r < share + (1 - share) * 0.45:
                a, p = rng.randrange(1, 254), rng.randrange(1024, 65535)
                msg = (
                    f"%ASA-6-302013: Built inbound TCP connection {i} for outside:198.51.100.{a}/{p} "
                    f"(198.51.100.{a}/{p}) to inside:10.{a % 16}.{a}.{a % 200}/443 (10.{a % 16}.{a}.{a % 200}/443)"
                )
            elif r < share + (1 - share) * 0.9:
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


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Postgres:
    """A fresh database per run on the server of `--postgres`."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.url = url
        self.n = 0

    def fresh(self) -> str:
        self.n += 1
        name = f"hamon_bench_{self.n}"
        with self.admin.connect() as c:
            c.execute(self.sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            c.execute(self.sa.text(f"CREATE DATABASE {name}"))
        return self.sa.make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as c:
            for i in range(1, self.n + 1):
                c.execute(self.sa.text(f"DROP DATABASE IF EXISTS hamon_bench_{i} WITH (FORCE)"))
        self.admin.dispose()


def time_hamon(capture: Path, work: Path, *extra: str, db: str | None = None) -> tuple[float, float, dict[str, object]]:
    """(wall, CPU, replay summary) of one `hamon replay` into a fresh store."""
    path = work / f"bench-{time.monotonic_ns()}.db"
    cmd = [
        sys.executable,
        "-m",
        "hamon",
        "--db",
        db or f"sqlite:///{path}",
        "replay",
        str(capture),
        "--json",
        "--no-progress",
        *extra,
    ]
    cpu = children_cpu()
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t
    cpu = children_cpu() - cpu
    for f in work.glob(path.name + "*"):
        f.unlink()
    return elapsed, cpu, json.loads(proc.stdout)


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


def syslog_ng_command(exe: str, conf: Path, state: Path) -> list[str]:
    """syslog-ng in the foreground on `conf`, its persist file, pid file and control socket in `state`."""
    return [
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


def time_syslog_ng(capture: Path, work: Path) -> tuple[float, float, int] | None:
    exe = shutil.which("syslog-ng")
    if exe is None:
        return None
    out = work / "syslog-ng-out.log"
    out.unlink(missing_ok=True)
    conf = work / "syslog-ng.conf"
    conf.write_text(SYSLOG_NG_CONF.format(filter=FILTER, out=out))
    state = work / "syslog-ng-state"
    state.mkdir(exist_ok=True)
    cmd = syslog_ng_command(exe, conf, state)
    with capture.open("rb") as src:
        cpu = children_cpu()
        t = time.perf_counter()
        cat = subprocess.Popen(["cat"], stdin=src, stdout=subprocess.PIPE)
        subprocess.run(cmd, stdin=cat.stdout, capture_output=True, check=True, timeout=600)
        cat.wait()
        elapsed = time.perf_counter() - t
        cpu = children_cpu() - cpu
    return elapsed, cpu, sum(1 for _ in out.open("rb"))


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_load(n: int) -> list[subprocess.Popen[bytes]]:
    """`--load N`: N CPU-bound processes (a Python busy loop each), not pinned: they take what the
    scheduler gives them, on every core, for both sides' runs. Kill them when done."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def summary(name: str, walls: list[float], cpus: list[float], lines: int) -> str:
    return (
        f"{name:<34} wall min {min(walls):.3f} / median {statistics.median(walls):.3f} s "
        f"({lines / statistics.median(walls):,.0f} lines/s); CPU min {min(cpus):.3f} / median "
        f"{statistics.median(cpus):.3f} s"
    )


def compare(capture: Path, work: Path, lines: int, fo: int, args: argparse.Namespace, pg: Postgres | None) -> None:
    sides: dict[str, tuple[list[float], list[float]]] = {}
    variants: list[tuple[str, tuple[str, ...], bool]] = [("hamon replay, SQLite", (), False)]
    if args.no_correlate:
        variants.append(("hamon replay --no-correlate, SQLite", ("--no-correlate",), False))
    if pg is not None:
        variants.append(("hamon replay, PostgreSQL", (), True))
    matched = 0
    for run in range(args.runs):
        order = ["syslog-ng", *[v[0] for v in variants]]
        if run % 2 == 0:
            order.reverse()
        for name in order:
            if name == "syslog-ng":
                r = time_syslog_ng(capture, work)
                if r is None:
                    sys.exit("syslog-ng is not installed (apt-get install syslog-ng-core syslog-ng-scl)")
                wall, cpu, matched = r
            else:
                extra, on_pg = next((v[1], v[2]) for v in variants if v[0] == name)
                wall, cpu, out = time_hamon(capture, work, *extra, db=pg.fresh() if on_pg and pg else None)
                if out.get("events") != fo:
                    sys.exit(f"{name} stored {out.get('events')} events, the capture has {fo}")
            sides.setdefault(name, ([], []))
            sides[name][0].append(wall)
            sides[name][1].append(cpu)
    sw, sc = sides["syslog-ng"]
    print(summary("syslog-ng (filter + cisco-parser)", sw, sc, lines) + f"; {matched:,} lines matched")
    for name, _extra, _pg in variants:
        w, c = sides[name]
        print(
            summary(name, w, c, lines)
            + f"; speed vs syslog-ng: wall {statistics.median(sw) / statistics.median(w):.2f}, "
            f"CPU {statistics.median(sc) / statistics.median(c):.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--shares", default="0.01,0.10,0.50", help="failover shares, one capture each")
    ap.add_argument("--runs", type=int, default=5, help="pairs of runs, alternating")
    ap.add_argument("--load", type=int, default=0, help="CPU-bound processes running during every run")
    ap.add_argument("--postgres", metavar="URL", help="also replay into a fresh database on this server")
    ap.add_argument("--no-correlate", action="store_true", help="also time hamon replay --no-correlate")
    ap.add_argument("--senders", type=int, default=40)
    ap.add_argument("--memory", action="store_true", help="peak RSS with 1 and with 10,000 senders")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}; load average before: {loadavg()}; --load {args.load}", flush=True)
    hogs = start_load(args.load)
    pg = Postgres(args.postgres) if args.postgres else None
    try:
        with tempfile.TemporaryDirectory(dir=args.out) as tmp:
            work = Path(tmp)
            for share in (float(x) for x in args.shares.split(",")):
                capture = work / "capture.log"
                fo = generate(capture, args.lines, share=share, senders=args.senders)
                size_mb = capture.stat().st_size / 1e6
                print(
                    f"capture: {args.lines:,} lines, {size_mb:.0f} MB, {fo:,} failover lines ({share:.0%}), "
                    f"{args.senders:,} senders",
                    flush=True,
                )
                compare(capture, work, args.lines, fo, args, pg)
                print(f"load average after: {loadavg()}", flush=True)
            if args.memory:
                for senders in (1, 10_000):
                    capture = work / "capture.log"
                    generate(capture, args.lines, senders=senders)
                    print(
                        f"hamon peak memory, {args.lines:,} lines from {senders:,} senders: "
                        f"{peak_rss_of(capture, work):.0f} MiB",
                        flush=True,
                    )
    finally:
        for h in hogs:
            h.kill()
        if pg is not None:
            pg.drop_all()


if __name__ == "__main__":
    main()
