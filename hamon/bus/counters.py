"""Counters of the running service, per transport and sender: received, dropped, rejected."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Counters:
    """Thread-safe counters; collectors count, the service and metrics read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: Counter[tuple[str, str]] = Counter()
        self.dropped: Counter[tuple[str, str]] = Counter()
        self.rejected: Counter[tuple[str, str, str]] = Counter()  # (transport, sender, reason)
        self.totals: Counter[str] = Counter()  # lines, events, quarantined, batches …

    def receive(self, transport: str, source: str, n: int = 1) -> None:
        with self._lock:
            self.received[(transport, source)] += n

    def drop(self, transport: str, source: str, n: int = 1) -> None:
        with self._lock:
            self.dropped[(transport, source)] += n

    def reject(self, transport: str, source: str, reason: str, n: int = 1) -> None:
        with self._lock:
            self.rejected[(transport, source, reason)] += n

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.totals[name] += n

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        with self._lock:
            return {
                "received": [{"transport": t, "source": s, "count": n} for (t, s), n in sorted(self.received.items())],
                "dropped": [{"transport": t, "source": s, "count": n} for (t, s), n in sorted(self.dropped.items())],
                "rejected": [
                    {"transport": t, "source": s, "reason": r, "count": n}
                    for (t, s, r), n in sorted(self.rejected.items())
                ],
                "totals": dict(sorted(self.totals.items())),
            }
