"""Listing benchmark: `hamon events --json` of a large store against `sqlite3 -json` of the same table.

    python benchmarks/listing.py [--events 1000000] [--runs 3] [--out benchmarks/out]

1. Generates a capture of failover lines only, a second apart (every line becomes a stored event)
   from 40 units, and replays it with `hamon replay --no-correlate` into a fresh SQLite store.
2. Alternately, `--runs` times each: `hamon events --json` and `sqlite3 -json` selecting every column
   of the events table in the same order, both written to a file. Reports wall, CPU (user+system)
   and peak RSS of each side from GNU time, and the machine's load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from replay import FAILOVER


def generate(path: Path, n: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    # A second apart, ending a day before now: stamps after the receive time would be quarantined.
    t0 = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(days=1, seconds=n)
    with path.open("w") as out:
        for i in range(n):
            t = t0 + dt.timedelta(seconds=i)
            sev, mid, text = rng.choice(FAILOVER)
            out.write(f"<16{sev}>{t:%b %d %Y %H:%M:%S} fw-{rng.randrange(40):02d} : %ASA-{sev}-{mid}: {text}\n")


def timed(cmd: list[str], out: Path) -> dict[str, float]:
    """Wall, CPU and peak RSS of one command (GNU time), its stdout into `out`."""
    fmt = "%e %U %S %M"
    with out.open("wb") as f:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", fmt, *cmd], stdout=f, stderr=subprocess.PIPE, check=True, timeout=1800
        )
    wall, user, system, rss_kb = proc.stderr.decode().strip().splitlines()[-1].split()
    return {"wall_s": float(wall), "cpu_s": float(user) + float(system), "peak_rss_mb": int(rss_kb) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = ap.parse_args()
    sqlite3 = shutil.which("sqlite3")
    if not Path("/usr/bin/time").exists():
        sys.exit("needs GNU time at /usr/bin/time (Debian package time)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        capture = work / "failover.log"
        generate(capture, args.events)
        db = work / "store.db"
        t = time.perf_counter()
        replay = ["replay", str(capture), "--no-correlate", "--no-progress", "--json"]
        stored = json.loads(
            subprocess.run(
                [sys.executable, "-m", "hamon", "--db", f"sqlite:///{db}", *replay],
                check=True,
                capture_output=True,
                timeout=3600,
            ).stdout
        )["stored"]  # identical lines of one unit in one second are one event
        print(f"store of {stored:,} events built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        hamon_cmd = [sys.executable, "-m", "hamon", "--db", f"sqlite:///{db}", "events", "--json"]
        sql = "SELECT * FROM events ORDER BY at, seq, event_id"
        runs: dict[str, list[dict[str, float]]] = {"hamon": [], "sqlite3": []}
        load = [os.getloadavg()[0]]
        for i in range(args.runs):
            runs["hamon"].append(timed(hamon_cmd, work / "hamon.json"))
            if sqlite3:
                runs["sqlite3"].append(timed([sqlite3, "-json", str(db), sql], work / "sqlite3.json"))
            load.append(os.getloadavg()[0])
            print(f"run {i + 1}: " + json.dumps({k: v[-1] for k, v in runs.items() if v}), file=sys.stderr)
        listed = sum(1 for _ in json.load((work / "hamon.json").open()))
        assert listed == stored, f"hamon listed {listed:,} of {stored:,} events"

    def summary(rows: list[dict[str, float]]) -> dict[str, float]:
        return {f"{k}_{f.__name__}": round(f(r[k] for r in rows), 3) for k in rows[0] for f in (min, statistics.median)}

    result: dict[str, object] = {
        "lines": args.events,
        "events": stored,
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "load_average_during": [round(x, 2) for x in load],
        "hamon": summary(runs["hamon"]),
    }
    if runs["sqlite3"]:
        result["sqlite3"] = summary(runs["sqlite3"])
        h, s = runs["hamon"], runs["sqlite3"]
        result["sqlite3_wall_over_hamon_wall_median"] = round(
            statistics.median(x["wall_s"] for x in s) / statistics.median(x["wall_s"] for x in h), 3
        )
    else:
        result["sqlite3"] = "not installed (Debian package sqlite3): no comparison"
    (args.out / "listing.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
