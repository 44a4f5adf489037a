"""Where `hamon serve` keeps what it received while the store cannot take it.

Parsed batches (events and quarantined lines, in arrival order) wait in memory up to `memory_events`,
then in a file under `directory` up to `disk_bytes`; beyond that, new batches are dropped and counted
per sender. When the store is back they are stored in the order they came, and nothing accepted is
lost unless the disk bound was reached (the count says how much).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamon.model import Activity, Event, Quarantined


@dataclass
class Item:
    """One handled group of batches."""

    events: list[Event]
    quarantined: list[Quarantined] = field(default_factory=list)
    # Per-sender activity a sink counted, read from Kafka by a worker: (ingest, activity) pairs.
    activity: list[tuple[Any, list[Activity]]] = field(default_factory=list)

    def size(self) -> int:
        return len(self.events) + len(self.quarantined)


class Spool:
    """A FIFO of Items: memory first, then one append-only file."""

    def __init__(self, directory: str | None = None, memory_events: int = 200_000, disk_bytes: int = 1 << 30) -> None:
        self.directory = Path(directory) if directory else Path(tempfile.gettempdir()) / "hamon-spool"
        self.memory_events = memory_events
        self.disk_bytes = disk_bytes
        self._memory: deque[Item] = deque()
        self._in_memory = 0
        self._file: Path | None = None
        self._write_at = 0  # bytes written to the file
        self._read_at = 0  # bytes of the file already handed back
        self._on_disk = 0  # items in the file not yet handed back
        self.held = 0  # events and quarantined lines waiting
        self.dropped_items: list[Item] = []  # beyond the bounds (the caller counts them per sender)

    def __len__(self) -> int:
        return len(self._memory) + self._on_disk

    @property
    def bytes_on_disk(self) -> int:
        return self._write_at - self._read_at

    def put(self, item: Item) -> bool:
        """Hold an item; False when it had to be dropped (both bounds reached)."""
        if self._on_disk == 0 and self._in_memory + item.size() <= self.memory_events:
            self._memory.append(item)
            self._in_memory += item.size()
            self.held += item.size()
            return True
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        if self.bytes_on_disk + len(data) + 8 > self.disk_bytes:
            self.dropped_items.append(item)
            return False
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="spool-", suffix=".bin", dir=self.directory)
            os.close(fd)
            self._file = Path(name)
        try:
            with self._file.open("ab") as f:
                f.write(len(data).to_bytes(8, "little") + data)
        except OSError:  # a full or read-only disk: the item is dropped and counted
            self.dropped_items.append(item)
            return False
        self._write_at += len(data) + 8
        self._on_disk += 1
        self.held += item.size()
        return True

    def peek(self) -> Item | None:
        """The oldest item, left in place (taken with `pop` once it is stored)."""
        if self._memory:
            return self._memory[0]
        if self._on_disk and self._file is not None:
            with self._file.open("rb") as f:
                f.seek(self._read_at)
                n = int.from_bytes(f.read(8), "little")
                item: Item = pickle.loads(f.read(n))
            return item
        return None

    def pop(self) -> None:
        """Forget the oldest item (it is stored)."""
        if self._memory:
            item = self._memory.popleft()
            self._in_memory -= item.size()
            self.held -= item.size()
            return
        if self._on_disk and self._file is not None:
            with self._file.open("rb") as f:
                f.seek(self._read_at)
                n = int.from_bytes(f.read(8), "little")
                item = pickle.loads(f.read(n))
            self._read_at += 8 + n
            self._on_disk -= 1
            self.held -= item.size()
            if not self._on_disk:
                self._file.unlink(missing_ok=True)
                self._file, self._write_at, self._read_at = None, 0, 0

    def drain_dropped(self) -> Iterator[Item]:
        while self.dropped_items:
            yield self.dropped_items.pop(0)
