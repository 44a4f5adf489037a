"""Correlator benchmark: throughput of the state machine, and a fleet replay.

    python benchmarks/correlate.py [--pairs 1000] [--ordinary 1000] [--out benchmarks/out]

1. A fleet capture: `--pairs` pairs (a quarter of them Active/Active), one day each, with realistic
   failover activity — unit losses with rejoin and config sync, manual switches, interface
   failovers, failover-link flaps, config-sync failures; 0 to 3 incidents a pair — mixed into
   `--ordinary` connection build/teardown and ACL-deny lines per pair, all sorted by time.
2. Times `hamon replay` of it end to end into a fresh SQLite store (parse, store, correlate),
   and `hamon correlate` (every pair from scratch, from the stored events).
3. Times the pure state machine alone over the same events (events/s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAY = 86400.0


def incidents(rng: random.Random, aa: bool) -> list[tuple[float, str, int, str, int]]:
    """(seconds into the day, unit, msg id, text, severity) of one pair's failover activity."""
    out: list[tuple[float, str, int, str, int]] = []
    g = lambda u, grp: f"({u}_group_{grp})" if aa else f"({u})"  # noqa: E731
    out.append(
        (rng.uniform(0, 60), "Primary", 104001, f"{g('Primary', 1)} Switching to ACTIVE - No Active unit found", 1)
    )
    if aa:
        out.append(
            (
                rng.uniform(60, 120),
                "Secondary",
                104001,
                f"{g('Secondary', 2)} Switching to ACTIVE - No Active unit found",
                1,
            )
        )
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        t = rng.uniform(600, DAY - 3600)
        kind = rng.choice(["loss", "manual", "interface", "link", "sync"])
        grp = 1
        if kind == "loss":
            hold = rng.choice([15, 15, 15, 17, 31])
            out += [
                (
                    t,
                    "Secondary",
                    105005,
                    f"{g('Secondary', grp)} Lost Failover communications with mate on interface failover",
                    1,
                ),
                (t + 3, "Secondary", 105008, f"{g('Secondary', grp)} Testing Interface inside", 1),
                (t + 6, "Secondary", 105009, f"{g('Secondary', grp)} Testing on interface inside Passed", 1),
                (
                    t + hold,
                    "Secondary",
                    103001,
                    f"{g('Secondary', grp)} No response from other firewall (reason code = 4).",
                    1,
                ),
                (
                    t + hold,
                    "Secondary",
                    104001,
                    f"{g('Secondary', grp)} Switching to ACTIVE - HELLO not heard from mate.",
                    1,
                ),
                (t + 600, "Primary", 105002, f"{g('Primary', grp)} Enabling failover.", 1),
                (t + 602, "Primary", 104002, f"{g('Primary', grp)} Switching to STANDBY - Detected an Active mate", 1),
                (
                    t + 603,
                    "Primary",
                    709005,
                    f"{g('Primary', grp)} Beginning configuration replication: Receiving from mate.",
                    1,
                ),
                (t + 611, "Primary", 709006, f"{g('Primary', grp)} End Configuration Replication (STB)", 1),
            ]
        elif kind == "manual":
            out += [
                (
                    t,
                    "Primary",
                    104002,
                    f"{g('Primary', grp)} Switching to STANDBY - Other unit wants me Standby. Secondary unit switch reason: Set by the config command.",
                    1,
                ),
                (
                    t + rng.choice([0, 1]),
                    "Secondary",
                    104001,
                    f"{g('Secondary', grp)} Switching to ACTIVE - Other unit wants me Active.",
                    1,
                ),
                (
                    t + 1800,
                    "Secondary",
                    104002,
                    f"{g('Secondary', grp)} Switching to STANDBY - Other unit wants me Standby. Primary unit switch reason: Set by the config command.",
                    1,
                ),
                (
                    t + 1800,
                    "Primary",
                    104001,
                    f"{g('Primary', grp)} Switching to ACTIVE - Other unit wants me Active.",
                    1,
                ),
            ]
        elif kind == "interface":
            out += [
                (t, "Primary", 105008, f"{g('Primary', grp)} Testing Interface outside", 1),
                (t + 10, "Primary", 105009, f"{g('Primary', grp)} Testing on interface outside Failed", 1),
                (t + 11, "Primary", 104002, f"{g('Primary', grp)} Switching to STANDBY - Interface check", 1),
                (
                    t + 11,
                    "Secondary",
                    104001,
                    f"{g('Secondary', grp)} Switching to ACTIVE - Other unit wants me Active. Primary unit switch reason: Interface check.",
                    1,
                ),
                (t + 900, "Primary", 105009, f"{g('Primary', grp)} Testing on interface outside Passed", 1),
            ]
        elif kind == "link":
            out += [
                (t, "Primary", 105043, f"{g('Primary', grp)} Failover interface failed", 1),
                (t, "", 105032, "LAN Failover interface is down", 1),
                (t + 45, "Primary", 105042, f"{g('Primary', grp)} Failover interface OK", 1),
                (t + 45, "", 105031, "Failover LAN interface is up", 1),
            ]
        else:
            out += [
                (
                    t,
                    "Primary",
                    105022,
                    f"{g('Primary', grp)} Config replication failed with reason = CFG_SYNC_TIMEOUT",
                    1,
                ),
                (t + 120, "Secondary", 709006, f"{g('Secondary', grp)} End Configuration Replication (STB)", 1),
            ]
    return out


def ordinary(rng: random.Random, i: int) -> str:
    a, p = rng.randrange(1, 254), rng.randrange(1024, 65535)
    r = rng.random()
    if r < 0.45:
        return (
            f"%ASA-6-302013: Built inbound TCP connection {i} for outside:198.51.100.{a}/{p} "
            f"(198.51.100.{a}/{p}) to inside:10.0.{a}.1/443 (10.0.{a}.1/443)"
        )
    if r < 0.9:
        return f"%ASA-6-302014: Teardown TCP connection {i} for outside:198.51.100.{a}/{p} to inside:10.0.{a}.1/443 duration 0:00:{p % 60:02d} bytes {p} TCP FINs"
    return f'%ASA-4-106023: Deny tcp src outside:203.0.113.{a}/{p} dst inside:10.0.0.{a}/22 by access-group "outside_in" [0x0, 0x0]'


def generate(path: Path, pairs: int, per_pair: int, seed: int = 7) -> int:
    """Write the fleet capture, sorted by time; returns the number of failover lines."""
    rng = random.Random(seed)
    t0 = dt.datetime(2026, 11, 24, 0, 0, 0)
    timed: list[tuple[float, str]] = []
    failover_lines = 0
    for n in range(pairs):
        host = f"fw{n:04d}"
        msgs = [(t, f"%ASA-{sev}-{mid}: {text}") for t, _unit, mid, text, sev in incidents(rng, aa=n % 4 == 0)]
        failover_lines += len(msgs)
        msgs += [(rng.uniform(0, DAY), ordinary(rng, i)) for i in range(per_pair)]
        for t, msg in msgs:
            stamp = t0 + dt.timedelta(seconds=t)
            timed.append((t, f"<16{msg[5]}>{stamp:%b %d %Y %H:%M:%S} {host} : {msg}"))
    timed.sort(key=lambda x: x[0])
    with path.open("w") as f:
        f.writelines(line + "\n" for _, line in timed)
    return failover_lines


def hamon(*args: str) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hamon", *args], capture_output=True, text=True, check=True)
    return time.perf_counter() - t, proc.stdout


def machine_throughput(db: str) -> tuple[int, float]:
    """Events per second through the pure state machine (events already parsed and in memory)."""
    from hamon.correlate.engine import run
    from hamon.correlate.machine import PairMachine
    from hamon.resolve.inventory import PairConfig
    from hamon.store import Store

    store = Store(db)
    by_pair: dict[str, list[object]] = {}
    for e in store.events():
        by_pair.setdefault(e.pair, []).append(e)
    n = sum(len(v) for v in by_pair.values())
    t = time.perf_counter()
    for pair, evs in by_pair.items():
        machine = PairMachine(PairConfig(name=pair))
        run(machine, evs)  # type: ignore[arg-type]
        machine.finish()
    return n, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--ordinary", type=int, default=1000, help="ordinary lines per pair")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        capture = Path(tmp) / "fleet.log"
        fo = generate(capture, args.pairs, args.ordinary)
        total = sum(1 for _ in capture.open("rb"))
        print(
            f"fleet capture: {args.pairs:,} pairs, one day, {total:,} lines ({fo:,} failover lines), "
            f"{capture.stat().st_size / 1e6:.0f} MB",
            flush=True,
        )
        db = f"sqlite:///{tmp}/fleet.db"
        elapsed, out = hamon("--db", db, "replay", str(capture), "--json", "--no-progress")
        s = json.loads(out)
        print(
            f"hamon replay (parse, store, correlate): {elapsed:.2f} s end to end, {s['events']:,} events, "
            f"{s['failovers']:,} failovers, {s['alerts_opened']:,} alerts",
            flush=True,
        )
        elapsed, out = hamon("--db", db, "correlate", "--json")
        c = json.loads(out)
        print(
            f"hamon correlate (every pair from scratch, from the store): {elapsed:.2f} s, "
            f"{c['events'] / elapsed:,.0f} events/s end to end",
            flush=True,
        )
        n, secs = machine_throughput(db)
        print(f"state machine alone: {n:,} events in {secs:.3f} s = {n / secs:,.0f} events/s")


if __name__ == "__main__":
    main()
