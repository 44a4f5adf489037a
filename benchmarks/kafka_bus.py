"""hamon on Kafka: sink ingest, worker throughput, end-to-end alert latency, a 10,000-pair fleet.

    python benchmarks/kafka_bus.py --broker 127.0.0.1:9092 --db postgresql+psycopg://hamon@127.0.0.1/postgres \
        [--rate 100000 --seconds 3] [--fleet-pairs 10000]

(without --broker one is started with scripts/kafka/broker.sh; --db is a PostgreSQL server URL, a
fresh database is made on it for each part). Parts:

1. UDP ingest of `hamon serve --bus kafka://` and of `hamon serve` (memory bus) alternately, at
   `--rate` datagrams/s for `--seconds` (1 % failover lines): received, dropped by hamon, dropped
   by the kernel (UDP receive-buffer errors), what the sink published.
2. Events/s through one worker and through two (the events topic filled beforehand from a fleet
   capture), and datagram-to-stored-alert latency p50/p99 through sink → broker → worker.
3. A fleet of `--fleet-pairs` pairs through two workers: time to store and correlate, peak RSS per
   worker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
HAMON = [sys.executable, "-m", "hamon"]


def fresh_db(server: str) -> str:
    name = f"hamon_bench_{uuid.uuid4().hex[:8]}"
    e = create_engine(server, isolation_level="AUTOCOMMIT")
    with e.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    e.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def scalar(db: str, sql: str) -> int:
    e = create_engine(db)
    try:
        with e.connect() as c:
            return int(c.execute(text(sql)).scalar() or 0)
    except Exception:
        return 0
    finally:
        e.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(work: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    log = (work / f"{name}.log").open("wb")
    return subprocess.Popen([*HAMON, *args], stdout=log, stderr=subprocess.STDOUT)


def wait_text(work: Path, name: str, needle: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in (work / f"{name}.log").read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise SystemExit(f"{name}: no {needle!r}: {(work / f'{name}.log').read_text()[-1500:]}")


def stop(p: subprocess.Popen[bytes]) -> None:
    p.terminate()
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def udp_errors() -> int:
    lines = Path("/proc/net/snmp").read_text().splitlines()
    head, vals = [x for x in lines if x.startswith("Udp:")][:2]
    return int(dict(zip(head.split()[1:], vals.split()[1:], strict=True))["RcvbufErrors"])


def init(broker: str, prefix: str, partitions: int) -> None:
    subprocess.run([*HAMON, "kafka", "init", "--bus", f"kafka://{broker}", "--topic-prefix", prefix,
                    "--partitions", str(partitions)], check=True, capture_output=True)  # fmt: skip


def datagrams(n: int) -> list[bytes]:
    now = dt.datetime.now(dt.UTC)
    out = []
    for i in range(n):
        host = f"fw{i % 200:03d}"
        if i % 100 == 0:
            msg = f"%ASA-1-105009: (Primary) Testing on interface in{i % 7} Failed"
        else:
            msg = f"%ASA-6-302013: Built inbound TCP connection {i} for outside:198.51.100.{i % 250}/4{i % 9999} to inside:10.0.0.1/443"
        out.append(f"<166>{now:%b %d %Y %H:%M:%S} {host} : {msg}".encode())
    return out


def ingest(work: Path, broker: str, rate: int, seconds: float, kafka: bool) -> dict[str, float]:
    prefix = f"b{uuid.uuid4().hex[:8]}"
    port = free_port()
    args = ["--db", f"sqlite:///{work / f'{prefix}.db'}", "serve", "--syslog-udp", f"127.0.0.1:{port}"]
    if kafka:
        init(broker, prefix, 12)
        args += ["--bus", f"kafka://{broker}", "--topic-prefix", prefix]
    p = start(work, prefix, *args)
    wait_text(work, prefix, "listening:")
    msgs = datagrams(rate)  # one second's worth, sent again each second
    kernel0 = udp_errors()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        for i, m in enumerate(msgs):
            s.sendto(m, ("127.0.0.1", port))
            if i % 1000 == 999:
                ahead = (sent + i + 1) / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        sent += len(msgs)
    wall = time.monotonic() - t0
    time.sleep(3)
    kernel = udp_errors() - kernel0
    status = subprocess.run([*HAMON, "--db", f"sqlite:///{work / f'{prefix}.db'}", "status", "--json"],
                            capture_output=True, text=True).stdout  # fmt: skip
    stop(p)
    import json

    c = json.loads(status)["services"][0]["counters"]
    received = sum(r["count"] for r in c["received"])
    dropped = sum(r["count"] for r in c["dropped"])
    return {"sent": sent, "rate": sent / wall, "received": received, "dropped": dropped, "kernel_dropped": kernel,
            "published": c.get("kafka", {}).get("delivered", 0)}  # fmt: skip


def fleet_capture(path: Path, pairs: int, per_pair: int) -> int:
    spec = importlib.util.spec_from_file_location("fleet", ROOT / "benchmarks" / "correlate.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return int(mod.generate(path, pairs, per_pair, seed=5))


def fill(broker: str, prefix: str, capture: Path) -> int:
    """Publish the capture's events to <prefix>.events as a sink would; returns how many."""
    from hamon.bus.counters import Counters
    from hamon.bus.kafka import KafkaSink, parse_address
    from hamon.model import RawBatch
    from hamon.parse.batch import BatchParser
    from hamon.resolve.pairs import PairResolver

    parser = BatchParser(PairResolver(None).resolve)
    sink = KafkaSink(parse_address(f"kafka://{broker}"), prefix, Counters())
    n = 0
    with capture.open("rb") as f:
        while chunk := f.read(4 << 20):
            chunk += f.readline()
            res = parser.parse(RawBatch(chunk, dt.datetime.now(dt.UTC), "bench", "file", "files", str(capture)))
            sink.publish(res.events, res.quarantined)
            n += len(res.events)
    sink.close(60)
    return n


def drain(work: Path, broker: str, server: str, prefix: str, expected: int, workers: int) -> dict[str, float]:
    db = fresh_db(server)
    subprocess.run([*HAMON, "--db", db, "db", "upgrade"], capture_output=True)
    t0 = time.monotonic()
    procs = [start(work, f"{prefix}-w{i}", "--db", db, "worker", "--bus", f"kafka://{broker}", "--topic-prefix",
                   prefix, "--group", f"g{uuid.uuid4().hex[:6]}", "--name", f"w{i}") for i in range(workers)]  # fmt: skip
    deadline = time.monotonic() + 1800
    while scalar(db, "select count(*) from events") < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    stored = time.monotonic() - t0
    # Correlated too: every worker's pairs have their state written.
    pairs = scalar(db, "select count(distinct pair) from events")
    while scalar(db, "select count(*) from pair_state") < pairs and time.monotonic() < deadline:
        time.sleep(0.5)
    done = time.monotonic() - t0
    rss = [peak_rss_mb(p.pid) for p in procs]
    for p in procs:
        stop(p)
    return {"events": expected, "stored_s": stored, "correlated_s": done, "events_per_s": expected / done,
            "peak_rss_mb": max(rss), "pairs": pairs}  # fmt: skip


def latency(work: Path, broker: str, server: str, n: int = 60) -> dict[str, float]:
    prefix = f"l{uuid.uuid4().hex[:8]}"
    init(broker, prefix, 12)
    db = fresh_db(server)
    port = free_port()
    sink = start(work, "lat-sink", "--db", f"sqlite:///{work / 'lat.db'}", "serve", "--syslog-udp",
                 f"127.0.0.1:{port}", "--bus", f"kafka://{broker}", "--topic-prefix", prefix)  # fmt: skip
    w = start(work, "lat-w", "--db", db, "worker", "--bus", f"kafka://{broker}", "--topic-prefix", prefix,
              "--group", f"g{prefix}", "--name", "lat")  # fmt: skip
    wait_text(work, "lat-sink", "publishing:")
    wait_text(work, "lat-w", "partitions")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    e = create_engine(db)
    out = []
    for i in range(n):
        pair = f"lat{i:03d}"
        now = dt.datetime.now(dt.UTC)
        line = f"<161>{now:%b %d %Y %H:%M:%S} {pair} : %ASA-1-105032: LAN Failover interface is down"
        t0 = time.monotonic()
        s.sendto(line.encode(), ("127.0.0.1", port))
        while time.monotonic() - t0 < 10:
            with e.connect() as c:
                if c.execute(text("select 1 from alerts where pair = :p"), {"p": pair}).first():
                    break
            time.sleep(0.002)
        out.append((time.monotonic() - t0) * 1000)
        time.sleep(0.05)
    e.dispose()
    stop(sink)
    stop(w)
    q = statistics.quantiles(out, n=100)
    return {"p50_ms": statistics.median(out), "p99_ms": q[98], "n": n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", help="HOST:PORT of a broker (default: start one)")
    ap.add_argument("--db", default=os.environ.get("HAMON_TEST_POSTGRES"), help="PostgreSQL server URL")
    ap.add_argument("--rate", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--fleet-pairs", type=int, default=10_000)
    ap.add_argument("--events-pairs", type=int, default=1000)
    a = ap.parse_args()
    if not a.db:
        raise SystemExit("give --db postgresql+psycopg://USER@HOST:PORT/postgres (or HAMON_TEST_POSTGRES)")
    work = Path(tempfile.mkdtemp(prefix="hamon-kbench-"))
    broker_dir = None
    if not a.broker:
        broker_dir = work / "broker"
        port = 29092
        subprocess.run(["bash", str(ROOT / "scripts/kafka/broker.sh"), "start", str(broker_dir), str(port)], check=True)
        a.broker = f"127.0.0.1:{port}"
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    try:
        for run in range(a.runs):
            for kafka in (True, False):
                r = ingest(work, a.broker, a.rate, a.seconds, kafka)
                label = "serve --bus kafka" if kafka else "serve (memory)   "
                print(f"ingest run {run + 1} {label}: {r['rate']:,.0f} msg/s sent {r['sent']:,}, received "
                      f"{r['received']:,}, dropped by hamon {r['dropped']:,}, by the kernel {r['kernel_dropped']:,}"
                      + (f", published {r['published']:,} messages" if kafka else ""))  # fmt: skip
        capture = work / "events.log"
        fleet_capture(capture, a.events_pairs, 5)
        for workers in (1, 2):
            prefix = f"e{uuid.uuid4().hex[:8]}"
            init(a.broker, prefix, 12)
            n = fill(a.broker, prefix, capture)
            r = drain(work, a.broker, a.db, prefix, n, workers)
            print(f"{workers} worker(s): {r['events']:,} events of {r['pairs']:,} pairs stored in {r['stored_s']:.1f} s, "
                  f"correlated in {r['correlated_s']:.1f} s = {r['events_per_s']:,.0f} events/s; "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB per worker")  # fmt: skip
        lat = latency(work, a.broker, a.db)
        print(
            f"datagram -> stored alert via sink, broker, worker: p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms ({lat['n']} alerts)"
        )
        capture = work / "fleet.log"
        fleet_capture(capture, a.fleet_pairs, 2)
        prefix = f"f{uuid.uuid4().hex[:8]}"
        init(a.broker, prefix, 12)
        n = fill(a.broker, prefix, capture)
        r = drain(work, a.broker, a.db, prefix, n, 2)
        print(f"fleet of {r['pairs']:,} pairs, 2 workers: {r['events']:,} events correlated in {r['correlated_s']:.1f} s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB per worker")  # fmt: skip
    finally:
        if broker_dir is not None:
            subprocess.run(["bash", str(ROOT / "scripts/kafka/broker.sh"), "stop", str(broker_dir)])
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
