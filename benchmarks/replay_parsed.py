"""A replay correlating its events as parsed, against the same replay reading them back from the store.

    python benchmarks/replay_parsed.py [--lines 1000000] [--share 0.10] [--runs 3] [--load N]

Generates the replay benchmark's capture (`replay.py generate`: that share of failover lines among
connection traffic of 40 units), then runs `hamon replay` into a fresh SQLite store, alternately
as it is (the events it parsed are correlated without a read-back: the store held none of their
pairs) and with the read-back forced (`HELD_MAX` 0, as for a replay of more events than it keeps).
Prints wall and CPU (user + system) for each, min and median, and the machine's load average. With
`--load N`, N CPU-bound processes run beside both sides.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from replay import children_cpu, generate, loadavg, start_load

RUN = """
import sys
from hamon.service import replay
replay.HELD_MAX = int(sys.argv[1])
from hamon.cli import main
sys.argv = ["hamon", "--db", sys.argv[2], "replay", sys.argv[3], "--json", "--no-progress"]
main()
"""


def one(capture: Path, work: Path, held_max: int) -> tuple[float, float]:
    db = work / f"run-{time.monotonic_ns()}.db"
    cpu = children_cpu()
    t = time.perf_counter()
    cmd = [sys.executable, "-c", RUN, str(held_max), f"sqlite:///{db}", str(capture)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=1800)
    wall = time.perf_counter() - t
    for f in work.glob(db.name + "*"):
        f.unlink()
    return wall, children_cpu() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--share", type=float, default=0.10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--load", type=int, default=0)
    args = ap.parse_args()
    print(f"load before: {loadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        capture = work / "capture.log"
        failover = generate(capture, args.lines, share=args.share)
        print(f"{args.lines:,} lines, {failover:,} failover lines; {args.runs} runs each, alternating")
        load = start_load(args.load)
        try:
            got: dict[str, list[tuple[float, float]]] = {"as parsed": [], "read back": []}
            for i in range(args.runs):
                order = [("as parsed", 10**9), ("read back", 0)]
                for name, held_max in order if i % 2 == 0 else order[::-1]:
                    got[name].append(one(capture, work, held_max))
                    wall, cpu = got[name][-1]
                    print(f"  run {i + 1} {name}: wall {wall:.2f} s, CPU {cpu:.2f} s; load {loadavg()}")
        finally:
            for p in load:
                p.kill()
        for name, runs in got.items():
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            print(
                f"{name}: wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}), "
                f"CPU median {statistics.median(cpus):.2f} s (min {min(cpus):.2f})"
                + (f", beside {args.load} CPU-bound processes" if args.load else "")
            )
    print(f"load after: {loadavg()}")


if __name__ == "__main__":
    main()
