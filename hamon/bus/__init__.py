"""The seam between ingestion and correlation (ARCHITECTURE.md §4).

Collectors publish RawBatch values (pollers PolledEvents); the service consumes them. Embedded: a
bounded in-process queue. Distributed: `hamon.bus.kafka` — a sink publishes what it parsed to
`<prefix>.events` keyed by pair, and workers read it back onto their own in-process bus.
"""

from __future__ import annotations

import queue
from typing import Protocol

from hamon.model import Batch


class Bus(Protocol):
    """What collectors and the service need of a bus."""

    def publish(self, batch: Batch, *, block: bool) -> bool:
        """Hand a batch over; with block=False, False means the bus is full and nothing was taken."""
        ...

    def consume(self, timeout: float) -> Batch | None:
        """The next batch, or None after `timeout` seconds without one."""
        ...

    def depth(self) -> int:
        """Batches waiting."""
        ...


class Collector(Protocol):
    """A source on the bus: a listener (syslog UDP/TCP/TLS, SNMP traps) or a poller (SSH, SNMP).

    Listeners have an `address` (what they are bound to); pollers have none.
    """

    transport: str

    def start(self) -> None:
        """Begin receiving (or polling) on a thread of its own."""
        ...

    def stop(self) -> None:
        """Stop at once; what was received is on the bus already."""
        ...


class MemoryBus:
    """A bounded queue: UDP collectors drop (and count) when it is full, TCP collectors wait."""

    def __init__(self, capacity: int = 4096) -> None:
        self._queue: queue.Queue[Batch] = queue.Queue(maxsize=capacity)

    def publish(self, batch: Batch, *, block: bool) -> bool:
        try:
            self._queue.put(batch, block=block, timeout=None if block else 0)
        except queue.Full:
            return False
        return True

    def consume(self, timeout: float) -> Batch | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def depth(self) -> int:
        return self._queue.qsize()
