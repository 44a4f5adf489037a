"""The live correlator's cost per failover event, as `serve` feeds it: submit, then tick.

    python benchmarks/live_correlate.py [--pairs 2000] [--seconds 5] [--runs 3] [--load N]

Each second of event time, every one of `--pairs` pairs logs one failover line (interface tests,
their results, lost failover communications: what a storm is made of); the lines are parsed and
stored as `serve` does, then handed to `LiveCorrelator.submit` and a tick. Only submit + tick is
timed (parse and store have their own benchmarks), in microseconds per event, with the share the
pair's rewind copy takes (`PairState.frozen`) and the machine's load average. With `--load N`,
each run is made quiet and then beside N CPU-bound processes, alternately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from replay import loadavg, start_load

from hamon.correlate import state
from hamon.correlate.live import LiveCorrelator
from hamon.model import RawBatch
from hamon.parse.batch import BatchParser
from hamon.resolve.pairs import PairResolver
from hamon.store import Store

MESSAGES = (
    "%ASA-1-105008: (Primary) Testing Interface inside",
    "%ASA-1-105009: (Primary) Testing on interface inside Passed",
    "%ASA-1-105005: (Secondary) Lost Failover communications with mate on interface folink",
)


def one_run(pairs: int, seconds: int, seed: int) -> tuple[float, float]:
    """(µs per event in submit + tick, µs per event of it in the rewind copy)."""
    frozen = state.PairState.frozen
    spent_copy = [0.0]

    def timed(self: state.PairState) -> bytes:
        a = time.perf_counter()
        try:
            return frozen(self)
        finally:
            spent_copy[0] += time.perf_counter() - a

    state.PairState.frozen = timed  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{tmp}/live.db")
            live = LiveCorrelator(store, window=0.0)
            parser = BatchParser(PairResolver(None).resolve, tz=dt.UTC, next_seq=store.next_seq)
            rng = random.Random(seed)
            t0 = dt.datetime(2026, 12, 1, 10, 0, 0, tzinfo=dt.UTC)
            events, spent = 0, 0.0
            for sec in range(seconds):
                t = t0 + dt.timedelta(seconds=sec)
                lines = [f"{t:%Y-%m-%dT%H:%M:%S}Z fw{p} {rng.choice(MESSAGES)}" for p in range(pairs)]
                res = parser.parse(RawBatch(("\n".join(lines) + "\n").encode(), t, "bench", "file", "files", "bench"))
                store.add_events(res.events)
                a = time.perf_counter()
                live.submit(res.events)
                live.tick((t + dt.timedelta(seconds=1)).timestamp())
                spent += time.perf_counter() - a
                events += len(res.events)
            store.close()
    finally:
        state.PairState.frozen = frozen  # type: ignore[method-assign]
    return spent / events * 1e6, spent_copy[0] / events * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--load", type=int, default=0, help="CPU-bound processes beside the loaded runs")
    a = ap.parse_args()
    print(f"load before: {loadavg()}; {a.pairs:,} pairs, {a.seconds} s of events, {a.runs} runs")
    results: dict[str, list[tuple[float, float]]] = {"quiet": [], "loaded": []}
    for run in range(a.runs):
        for kind in ("quiet", "loaded") if a.load else ("quiet",):
            hogs = start_load(a.load) if kind == "loaded" else []
            try:
                us, c = one_run(a.pairs, a.seconds, run)
            finally:
                for h in hogs:
                    h.kill()
                    h.wait()
            results[kind].append((us, c))
            print(
                f"  run {run + 1} {kind}: {us:.1f} us/event in submit+tick, {c:.1f} of it the rewind copy; load {loadavg()}"
            )
    for kind, rows in results.items():
        if rows:
            per = [r[0] for r in rows]
            copy = [r[1] for r in rows]
            print(
                f"{kind}: median {statistics.median(per):.1f} us/event (min {min(per):.1f}), "
                f"rewind copy {statistics.median(copy):.1f} us/event"
            )
    print(f"load after: {loadavg()}")


if __name__ == "__main__":
    main()
