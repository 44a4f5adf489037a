"""Counters of the running service, per transport and sender: received, dropped, rejected."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

OTHER = "other"  # the sender every sender beyond MAX_SENDERS is counted as
MAX_SENDERS = 1024  # distinct senders kept per counter: spoofed sources cannot grow memory or metrics


class Counters:
    """Thread-safe counters; collectors count, the service and metrics read.

    At most MAX_SENDERS distinct senders are kept per counter; the rest are counted together as
    `other`, so a flood of spoofed source addresses adds one series, not thousands.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._senders: set[str] = set()
        self.received: Counter[tuple[str, str]] = Counter()
        self.received_bytes: Counter[tuple[str, str]] = Counter()  # where a transport has bytes (not traps, polls)
        self.dropped: Counter[tuple[str, str]] = Counter()
        self.rejected: Counter[tuple[str, str, str]] = Counter()  # (transport, sender, reason)
        self.totals: Counter[str] = Counter()  # lines, events, quarantined, batches …

    def _sender(self, source: str) -> str:
        if source in self._senders:
            return source
        if len(self._senders) >= MAX_SENDERS:
            return OTHER
        self._senders.add(source)
        return source

    def receive(self, transport: str, source: str, n: int = 1, nbytes: int | None = None) -> None:
        """`n` messages from a sender, `nbytes` bytes of them as received (None: the transport has
        no byte count of its own, as a decoded trap or a poll)."""
        with self._lock:
            key = (transport, self._sender(source))
            self.received[key] += n
            if nbytes is not None:
                self.received_bytes[key] += nbytes

    def drop(self, transport: str, source: str, n: int = 1) -> None:
        with self._lock:
            self.dropped[(transport, self._sender(source))] += n

    def reject(self, transport: str, source: str, reason: str, n: int = 1) -> None:
        with self._lock:
            self.rejected[(transport, self._sender(source), reason[:120])] += n

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.totals[name] += n

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        with self._lock:
            return {
                "received": [
                    {"transport": t, "source": s, "count": n}
                    | ({"bytes": self.received_bytes[(t, s)]} if (t, s) in self.received_bytes else {})
                    for (t, s), n in sorted(self.received.items())
                ],
                "dropped": [{"transport": t, "source": s, "count": n} for (t, s), n in sorted(self.dropped.items())],
                "rejected": [
                    {"transport": t, "source": s, "reason": r, "count": n}
                    for (t, s, r), n in sorted(self.rejected.items())
                ],
                "totals": dict(sorted(self.totals.items())),
            }


class Rates:
    """Per-sender line and byte rates: what was received since the previous reading, per second.
    The service reads it once per status write, so a rate is over the last status interval."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._at = clock()
        self._lines: dict[tuple[str, str], int] = {}
        self._bytes: dict[tuple[str, str], int] = {}

    def read(self, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        """The rates since the last reading of a `Counters.snapshot()`, busiest sender first."""
        now = self.clock()
        elapsed = max(now - self._at, 1e-6)
        out = []
        lines: dict[tuple[str, str], int] = {}
        sizes: dict[tuple[str, str], int] = {}
        for r in snapshot["received"]:
            key = (r["transport"], r["source"])
            lines[key] = r["count"]
            row: dict[str, Any] = {
                "transport": key[0],
                "source": key[1],
                "lines_per_s": round((r["count"] - self._lines.get(key, 0)) / elapsed, 1),
            }
            if "bytes" in r:
                sizes[key] = r["bytes"]
                row["bytes_per_s"] = round((r["bytes"] - self._bytes.get(key, 0)) / elapsed, 1)
            out.append(row)
        self._at, self._lines, self._bytes = now, lines, sizes
        return sorted(out, key=lambda x: (-x["lines_per_s"], x["transport"], x["source"]))


class Throttle:
    """Says whether a recurring message is due: once per `every` seconds per key (a broker away, a
    webhook refusing): one log line while a condition lasts, not one per occurrence."""

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}

    def due(self, key: str = "") -> bool:
        now = self.clock()
        if now - self._last.get(key, float("-inf")) < self.every:
            return False
        self._last[key] = now
        return True
