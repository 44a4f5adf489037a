"""The replay loop: sources → parse → store, with accounting of every line."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hamon.inventory import Inventory
from hamon.model import RawBatch
from hamon.parse.batch import BatchParser
from hamon.resolve import PairResolver
from hamon.store import Store

UTC = dt.UTC


class Source(Protocol):
    """A finite input (a file, stdin): batches, then a digest identifying its content."""

    kind: str
    name: str
    size: int | None
    bytes_read: int

    def batches(self) -> Iterator[RawBatch]: ...

    def digest(self) -> str: ...


@dataclass
class PairCount:
    """Per pair: events parsed and lines seen."""

    events: int = 0
    lines: int = 0


@dataclass
class Summary:
    """What a replay did; `lines` equals the sum of the other line counters."""

    inputs: list[str] = field(default_factory=list)
    lines: int = 0
    events: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    ordinary: int = 0
    other: int = 0
    blank: int = 0
    bytes: int = 0
    elapsed_s: float = 0.0
    pairs: dict[str, PairCount] = field(default_factory=dict)

    @property
    def lines_per_s(self) -> float:
        """Throughput over the whole run."""
        return self.lines / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The documented summary JSON shape."""
        return {
            "inputs": self.inputs,
            "lines": self.lines,
            "events": self.events,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "ordinary": self.ordinary,
            "other": self.other,
            "blank": self.blank,
            "bytes": self.bytes,
            "elapsed_s": round(self.elapsed_s, 3),
            "lines_per_s": round(self.lines_per_s, 1),
            "pairs": {k: {"events": v.events, "lines": v.lines} for k, v in sorted(self.pairs.items())},
        }


Progress = Callable[[Source, int], None]


def replay(
    sources: Sequence[Source],
    store: Store,
    *,
    inventory: Inventory | None = None,
    tz: dt.tzinfo = UTC,
    year: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Parse every source into the store. Replaying the same input again changes nothing."""
    resolver = PairResolver(inventory)
    summary = Summary()
    t0 = time.perf_counter()
    for src in sources:
        started = dt.datetime.now(UTC)
        parser = BatchParser(resolver.resolve, tz=tz, year=year)
        counts = {"lines": 0, "events": 0, "quarantined": 0}
        for batch in src.batches():
            res = parser.parse(batch)
            stored = store.add_events(res.events)
            store.add_quarantined(res.quarantined)
            summary.lines += res.lines
            summary.events += len(res.events)
            summary.stored += stored
            summary.duplicates += len(res.events) - stored
            summary.quarantined += len(res.quarantined)
            summary.ordinary += res.ordinary
            summary.other += res.other
            summary.blank += res.blank
            counts["lines"] += res.lines
            counts["events"] += len(res.events)
            counts["quarantined"] += len(res.quarantined)
            for e in res.events:
                summary.pairs.setdefault(e.pair, PairCount()).events += 1
            if progress is not None:
                progress(src, len(batch.data))
        activity = parser.drain_activity()
        for a in activity:
            summary.pairs.setdefault(a.pair, PairCount()).lines += a.lines
        summary.bytes += src.bytes_read
        summary.inputs.append(src.name)
        store.record_ingest(
            f"{src.kind}:{src.digest()}", src.kind, src.name, started, dt.datetime.now(UTC), counts, activity
        )
    summary.elapsed_s = time.perf_counter() - t0
    return summary
