"""The intake journal: every batch a collector accepts, on disk before anything else happens to it.

Collectors append what they received (the raw bytes with sender, transport and receive time; a
poll's events) to segment files in a folder private to the service (mode 0700). Storing,
correlating and publishing read the journal in order and advance a *committed position* once what
they read is in the store (or acknowledged by the broker); at start the service reads on from the
committed position, so a stop, a crash or a store outage only makes that position lag.

Format (no pickle, nothing executable): segment files `<first position as 16 hex digits>.hjl`,
each a run of records::

    magic  4 bytes  b"HJR1"
    length u32 LE   payload bytes
    crc    u32 LE   CRC-32C of the payload
    payload: kind u8 (1 raw batch, 2 polled events), received_at i64 LE (µs since the epoch, UTC),
             then kind 1: transport, collector, source, origin (u16 LE length + UTF-8 each),
             peer count u16 + each peer (u16 length + UTF-8), the bytes as received (the rest);
             kind 2: a JSON document (the events as the Kafka events topic carries them).

A position is a byte offset over all segments (a segment's name is the position of its first
byte). The committed position lives in `committed` (written by rename; it can only lag what the
store holds, so what it names again is stored again, and stored events keep their ids).

Durability: an append is a write(2) into the segment before the collector goes on (a TCP reader
reads its socket again only after it), so kill -9 loses nothing appended; the segment is fsync'd
every `sync_every` seconds (0.1 s by default), which bounds what a power loss can take. A torn
record at the end (a crash in the middle of a write) is cut off at the next start; a damaged one in
the middle is skipped up to the next record that checks out, counted and logged.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import stat
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crc32c import crc32c

from hamon.errors import ConfigError
from hamon.model import PolledEvents, RawBatch

log = logging.getLogger("hamon.serve")

MAGIC = b"HJR1"
HEAD = struct.Struct("<4sII")
FIXED = struct.Struct("<Bq")
U16 = struct.Struct("<H")
RAW, POLLED = 1, 2
SUFFIX = ".hjl"
MAX_RECORD = 16 << 20  # a record claiming more is damage, not a batch
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
READ_BYTES = 4 << 20  # read back from disk this much at a time
REPEAT_LOG = 60.0  # seconds before the same refusal is logged again


class JournalCorrupt(ValueError):
    """A record that does not check out."""


def _text(value: str) -> bytes:
    b = value.encode("utf-8", "surrogateescape")[:0xFFFF]
    return U16.pack(len(b)) + b


def encode(batch: RawBatch | PolledEvents) -> bytes:
    """A batch as a journal payload."""
    if isinstance(batch, RawBatch):
        micros = (batch.received_at - EPOCH) // dt.timedelta(microseconds=1)
        parts = [FIXED.pack(RAW, micros)]
        parts += [_text(x) for x in (batch.transport, batch.collector, batch.source, batch.origin)]
        parts.append(U16.pack(len(batch.peer)))
        parts += [_text(p) for p in batch.peer]
        parts.append(batch.data)
        return b"".join(parts)
    from hamon.bus.kafka import encode_events

    doc = {
        "events": json.loads(encode_events(batch.events)),
        "source": batch.source,
        "transport": batch.transport,
        "polled": list(batch.polled) if batch.polled is not None else None,
    }
    micros = (dt.datetime.now(dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
    return FIXED.pack(POLLED, micros) + json.dumps(doc, separators=(",", ":")).encode()


def decode(payload: bytes) -> RawBatch | PolledEvents:
    """A journal payload back into its batch; JournalCorrupt when it is not one."""
    try:
        kind, micros = FIXED.unpack_from(payload, 0)
        at = EPOCH + dt.timedelta(microseconds=micros)
        if kind == POLLED:
            from hamon.bus.kafka import decode as decode_message

            doc = json.loads(payload[FIXED.size :])
            events = decode_message(json.dumps(doc["events"]).encode()).events
            polled = doc["polled"]
            return PolledEvents(
                tuple(events), doc["source"], doc["transport"], tuple(polled) if polled is not None else None
            )
        if kind != RAW:
            raise JournalCorrupt(f"unknown record kind {kind}")
        pos = FIXED.size
        texts: list[str] = []
        for _ in range(4):
            (n,) = U16.unpack_from(payload, pos)
            texts.append(payload[pos + 2 : pos + 2 + n].decode("utf-8", "surrogateescape"))
            pos += 2 + n
        (count,) = U16.unpack_from(payload, pos)
        pos += 2
        peer: list[str] = []
        for _ in range(count):
            (n,) = U16.unpack_from(payload, pos)
            peer.append(payload[pos + 2 : pos + 2 + n].decode("utf-8", "surrogateescape"))
            pos += 2 + n
        if pos > len(payload):
            raise JournalCorrupt("record shorter than its fields")
        transport, collector, source, origin = texts
        return RawBatch(payload[pos:], at, source, transport, collector, origin, tuple(peer))
    except JournalCorrupt:
        raise
    except Exception as exc:  # struct.error, a JSON or Unicode error, a missing key
        raise JournalCorrupt(f"{type(exc).__name__}: {str(exc)[:120]}") from exc


def record(batch: RawBatch | PolledEvents) -> bytes:
    payload = encode(batch)
    return HEAD.pack(MAGIC, len(payload), crc32c(payload)) + payload


@dataclass
class Entry:
    """A record read back: where it starts and ends, and its batch."""

    start: int
    end: int
    batch: RawBatch | PolledEvents


def private_dir(path: Path) -> Path:
    """The folder, made mode 0700 if missing; refused when another user owns it or others may write
    in it (a journal there could be swapped by them)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise ConfigError(f"journal folder {path} belongs to another user (uid {st.st_uid}): give one of hamon's own")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def default_dir(store_url: str) -> Path:
    """Where the journal lives unless told: beside an embedded store's file (`<file>.journal`);
    otherwise under systemd's StateDirectory, $XDG_STATE_HOME/hamon or ~/.local/state/hamon."""
    if store_url.startswith("sqlite:///"):
        db = Path(store_url.removeprefix("sqlite:///"))
        return db.parent / f"{db.name}.journal"
    base = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if not base:
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        base = str(Path(xdg) / "hamon")
    return Path(base) / "journal"


class Journal:
    """Segments on disk, appended by the collectors' threads, read in order by one consumer."""

    def __init__(
        self,
        directory: str | Path,
        *,
        max_bytes: int = 1 << 30,
        segment_bytes: int = 64 << 20,
        sync_every: float = 0.1,
        fsync: bool = True,
    ) -> None:
        self.directory = private_dir(Path(directory))
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.sync_every = sync_every
        self.fsync = fsync
        self._lock = threading.Lock()
        self._lockfile = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lockfile)
            raise ConfigError(
                f"journal {self.directory} is in use by another hamon process (give each its own --journal-dir)"
            ) from None
        self.corrupt_bytes = 0  # skipped as damaged (counted, logged)
        self.refused = 0  # batches refused: journal full or the disk failing
        self.appended = 0
        self._refusing: str | None = None  # why appends are refused now
        self._said: dict[str, float] = {}  # when each reason was last logged
        self.committed = self._read_committed()
        self._saved = self.committed
        self._saved_at = 0.0
        self._fd = -1
        self._bases: list[int] = []  # closed segments, oldest first
        self._sizes: dict[int, int] = {}  # their sizes
        self._base = 0  # position of the open segment's first byte
        self._size = 0  # bytes in the open segment
        self._dirty = False
        self._closed = False
        self.end = self._recover()
        self.recovered = self.end - self.committed  # bytes a previous run left to store
        self._reader: tuple[int, int] | None = None  # (segment base, fd) the consumer reads
        self._syncer = threading.Thread(target=self._sync_loop, name="journal-sync", daemon=True)
        self._syncer.start()

    # -- opening ---------------------------------------------------------------------------------
    def _segments(self) -> list[int]:
        out = []
        for p in self.directory.glob(f"*{SUFFIX}"):
            with contextlib.suppress(ValueError):
                out.append(int(p.stem, 16))
        return sorted(out)

    def _path(self, base: int) -> Path:
        return self.directory / f"{base:016x}{SUFFIX}"

    def _read_committed(self) -> int:
        try:
            return int(json.loads((self.directory / "committed").read_text())["position"])
        except FileNotFoundError:
            return 0
        except (ValueError, KeyError, TypeError, OSError) as exc:
            # Unreadable: start from the oldest segment (stored again, not lost; events keep their ids).
            log.error(
                "journal %s: committed position unreadable (%s): reading from its oldest segment", self.directory, exc
            )
            return 0

    def _recover(self) -> int:
        """The end of what the segments hold; a torn tail is cut off, segments wholly committed removed."""
        segments = self._segments()
        if not segments:
            self._open_segment(self.committed)
            return self.committed
        if self.committed < segments[0]:
            self.committed = segments[0]  # older segments were removed once committed
        for base in segments[:-1]:
            size = self._path(base).stat().st_size
            if base + size <= self.committed:
                self._path(base).unlink(missing_ok=True)
            else:
                self._bases.append(base)
                self._sizes[base] = size
        last = segments[-1]
        path = self._path(last)
        data = path.read_bytes()
        good = self._valid_prefix(data)
        if good < len(data):
            log.warning(
                "journal %s: %d bytes of a record cut short at its end (a stop in the middle of a write) removed",
                path.name,
                len(data) - good,
            )
            with path.open("r+b") as f:
                f.truncate(good)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._base, self._size = last, good
        self.committed = max(min(self.committed, last + good), segments[0])
        return last + good

    @staticmethod
    def _valid_prefix(data: bytes) -> int:
        """How many leading bytes are whole records (a torn last record is not)."""
        pos = 0
        while pos + HEAD.size <= len(data):
            magic, n, crc = HEAD.unpack_from(data, pos)
            end = pos + HEAD.size + n
            if magic != MAGIC or n > MAX_RECORD or end > len(data):
                break
            if crc32c(data[pos + HEAD.size : end]) != crc:
                break
            pos = end
        return pos

    def _open_segment(self, base: int) -> None:
        if self._fd >= 0:
            self._sync_fd(self._fd)
            os.close(self._fd)
            self._bases.append(self._base)
            self._sizes[self._base] = self._size
        self._fd = os.open(self._path(base), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._base, self._size = base, 0
        self._sync_dir()

    def _sync_dir(self) -> None:
        if not self.fsync:
            return
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _sync_fd(self, fd: int) -> None:
        if self.fsync:
            with contextlib.suppress(OSError):
                os.fsync(fd)

    # -- appending (collectors' threads) -----------------------------------------------------------
    def append(self, batch: RawBatch | PolledEvents) -> tuple[int, int] | None:
        """Write one batch; its (start, end) positions, or None when it was refused (the journal is
        full or the disk failed: counted, and logged once until appends succeed again)."""
        data = record(batch)
        with self._lock:
            if self._closed:
                return None
            if self.end - self.committed + len(data) > self.max_bytes:
                self._refuse(f"the journal is full ({self.max_bytes:,} bytes not yet stored)")
                return None
            try:
                if self._size and self._size + len(data) > self.segment_bytes:
                    self._open_segment(self.end)
                try:
                    self._write(data)
                except OSError:
                    if not self._size:
                        raise
                    # A full disk: a new segment lets the committed ones before it be removed
                    # (their space comes back as the store catches up); if it fails too, refuse.
                    self._open_segment(self.end)
                    self._write(data)
            except OSError as exc:
                self._refuse(f"writing the journal failed: {exc.strerror or exc}")
                return None
            start = self.end
            self.end += len(data)
            self._size += len(data)
            self._dirty = True
            self.appended += 1
            self._refusing = None
            return start, self.end

    def _write(self, data: bytes) -> None:
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])
        except OSError:
            if done:  # a record cut short on a full disk: taken back, the segment stays whole
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
            raise

    def _refuse(self, why: str) -> None:
        self.refused += 1
        now = time.monotonic()
        # Once per reason a minute: at the edge of a full disk appends fail and succeed in turn.
        if self._said.get(why, -REPEAT_LOG) + REPEAT_LOG <= now:
            self._said[why] = now
            log.error(
                "journal %s: %s; datagrams and traps are dropped and counted, stream readers wait; what it holds is kept",
                self.directory,
                why,
            )
        self._refusing = why

    @property
    def refusing(self) -> str | None:
        return self._refusing

    @property
    def closed(self) -> bool:
        return self._closed

    def _sync_loop(self) -> None:
        while not self._closed:
            time.sleep(self.sync_every)
            self.sync()

    def sync(self) -> None:
        """fsync what was appended since the last sync (outside the append lock)."""
        with self._lock:
            if not self._dirty or self._fd < 0 or self._closed:
                return
            self._dirty = False
            fd = os.dup(self._fd)
        try:
            self._sync_fd(fd)
        finally:
            os.close(fd)

    # -- reading and committing (the consumer's thread) -------------------------------------------
    def read(self, position: int, max_records: int = 256, max_bytes: int = 8 << 20) -> list[Entry]:
        """Records from `position` on (at most that many, about that many bytes)."""
        out: list[Entry] = []
        taken = 0
        while position < self.end and len(out) < max_records and taken < max_bytes:
            base = self._segment_of(position)
            if base is None:
                break
            fd = self._reader_fd(base)
            head = os.pread(fd, HEAD.size, position - base)
            if len(head) < HEAD.size:  # the segment ends here: the next one goes on
                nxt = self._next_segment(base)
                if nxt is None or nxt <= position:
                    break
                position = nxt
                continue
            magic, n, crc = HEAD.unpack(head)
            payload = os.pread(fd, n, position - base + HEAD.size) if magic == MAGIC and n <= MAX_RECORD else b""
            if magic != MAGIC or len(payload) != n or crc32c(payload) != crc:
                position = self._skip_damage(fd, base, position)
                continue
            try:
                batch = decode(payload)
            except JournalCorrupt as exc:
                log.error("journal: record at %d does not read back (%s): skipped and counted", position, exc)
                self.corrupt_bytes += HEAD.size + n
                position += HEAD.size + n
                continue
            end = position + HEAD.size + n
            out.append(Entry(position, end, batch))
            taken += n
            position = end
        return out

    def _skip_damage(self, fd: int, base: int, position: int) -> int:
        """A damaged record: on to the next one that checks out in its segment (counted, logged)."""
        data = os.pread(fd, max(0, self._segment_end(base) - (position - base)), position - base)
        at = 1
        while (at := data.find(MAGIC, at)) >= 0:
            if self._valid_prefix(data[at:]) > 0:
                break
            at += 1
        skip = at if at >= 0 else len(data)
        self.corrupt_bytes += skip
        log.error("journal: %d damaged bytes at position %d skipped (counted)", skip, position)
        return position + max(skip, 1)

    def _segment_end(self, base: int) -> int:
        """Bytes in the segment that starts at `base`."""
        if base == self._base:
            return self._size
        return self._sizes.get(base, 0)

    def _segment_of(self, position: int) -> int | None:
        with self._lock:
            if position >= self._base:
                return self._base
            i = bisect.bisect_right(self._bases, position)
            return self._bases[i - 1] if i else None

    def _next_segment(self, base: int) -> int | None:
        with self._lock:
            i = bisect.bisect_right(self._bases, base)
            if i < len(self._bases):
                return self._bases[i]
            return self._base if self._base > base else None

    def _reader_fd(self, base: int) -> int:
        if self._reader is not None and self._reader[0] == base:
            return self._reader[1]
        if self._reader is not None:
            os.close(self._reader[1])
        fd = os.open(self._path(base), os.O_RDONLY)
        self._reader = (base, fd)
        return fd

    def commit(self, position: int, *, force: bool = False) -> None:
        """What precedes `position` is stored: remember it (at most every sync_every, or now), and
        remove the segments wholly before it."""
        if position > self.committed:
            self.committed = position
        # Segments wholly stored go first: on a full disk that is where the room comes from (a
        # stop before the position is saved only makes the next start begin at the oldest left).
        with self._lock:
            gone = [b for b in self._bases if b + self._sizes[b] <= self.committed]
            for b in gone:
                self._bases.remove(b)
                del self._sizes[b]
        for base in gone:
            if self._reader is not None and self._reader[0] == base:
                os.close(self._reader[1])
                self._reader = None
            self._path(base).unlink(missing_ok=True)
        now = time.monotonic()
        if self.committed == self._saved or (not force and now - self._saved_at < self.sync_every):
            return
        tmp = self.directory / "committed.tmp"
        try:
            tmp.write_text(json.dumps({"position": self.committed}) + "\n")
            os.replace(tmp, self.directory / "committed")
        except OSError as exc:  # the position lags (stored again later), nothing is lost
            log.warning("journal %s: committed position not saved: %s", self.directory, exc.strerror or exc)
            return
        self._saved, self._saved_at = self.committed, now

    def flush_commit(self) -> None:
        """Save the committed position if sync_every has passed since it was last saved (the
        service calls it every loop, so an idle service saves it too)."""
        self.commit(self.committed)

    @property
    def held(self) -> int:
        """Bytes appended and not yet committed."""
        return self.end - self.committed

    def close(self) -> None:
        """Sync, save the committed position, let the folder go."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fd >= 0:
                self._sync_fd(self._fd)
                os.close(self._fd)
                self._fd = -1
        self.commit(self.committed, force=True)
        if self._reader is not None:
            os.close(self._reader[1])
            self._reader = None
        with contextlib.suppress(OSError):
            fcntl.flock(self._lockfile, fcntl.LOCK_UN)
        os.close(self._lockfile)

    def state(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "held_bytes": self.held,
            "end": self.end,
            "committed": self.committed,
            "appended": self.appended,
            "refused": self.refused,
            "corrupt_bytes": self.corrupt_bytes,
            "refusing": self._refusing,
            "max_bytes": self.max_bytes,
        }


class Backlog:
    """How fast the journal's backlog is stored and when it will be empty, from how far the
    committed position and the end moved since the previous reading (the service reads it once per
    status write, so the rates are over the last status interval)."""

    def __init__(self, journal: Journal, clock: Any = time.monotonic) -> None:
        self.journal = journal
        self.clock = clock
        self._at, self._committed, self._end = clock(), journal.committed, journal.end
        self.last: dict[str, Any] = {"stored_bytes_per_s": 0.0, "received_bytes_per_s": 0.0, "empty_in_s": 0.0}

    def read(self) -> dict[str, Any]:
        """`stored_bytes_per_s`, `received_bytes_per_s` and `empty_in_s`: 0 when nothing waits,
        None while the backlog is not shrinking (the store away, or slower than intake)."""
        now, committed, end = self.clock(), self.journal.committed, self.journal.end
        elapsed = max(now - self._at, 1e-6)
        stored, received = (committed - self._committed) / elapsed, (end - self._end) / elapsed
        held = end - committed
        empty: float | None = 0.0
        if held:
            empty = round(held / (stored - received), 1) if stored > received else None
        self._at, self._committed, self._end = now, committed, end
        self.last = {"stored_bytes_per_s": round(stored, 1), "received_bytes_per_s": round(received, 1),
                     "empty_in_s": empty}  # fmt: skip
        return self.last


class JournalBus:
    """The bus of `hamon serve`: a batch is in the journal when `publish` returns True.

    What was appended is also kept in memory for the consumer (up to `memory_bytes`); beyond that,
    or after a restart, the consumer reads it back from the journal, in the same order. So a store
    outage never blocks intake: the consumer stops taking, collectors go on appending, and the
    backlog is read from disk in bounded batches when the store is back. The consumer's
    `position` is the end of the last batch it took; `commit` it once that is stored.
    """

    def __init__(self, journal: Journal, memory_bytes: int = 64 << 20) -> None:
        self.journal = journal
        self.memory_bytes = memory_bytes
        self._cache: deque[Entry] = deque()
        self._cached = 0  # bytes of batches in the cache
        self._ready = threading.Condition()
        self._disk: deque[Entry] = deque()  # read back from the journal, waiting to be taken
        self.position = journal.committed  # the end of the last batch taken
        self.read_back = 0  # batches read back from the journal (not from memory)

    def publish(self, batch: RawBatch | PolledEvents, *, block: bool, stop: threading.Event | None = None) -> bool:
        """Append a batch; False when the journal refused it. With `block` (a TCP reader) a full
        journal is waited on, so the sender's TCP window closes, until it has room or `stop`."""
        while True:
            where = self.journal.append(batch)
            if where is not None:
                break
            if not block or (stop is not None and stop.is_set()) or self.journal.closed:
                return False
            time.sleep(0.05)
        size = len(batch.data) if isinstance(batch, RawBatch) else 1024
        with self._ready:
            if self._cached + size <= self.memory_bytes:
                self._cache.append(Entry(where[0], where[1], batch))
                self._cached += size
            self._ready.notify()
        return True

    def consume(self, timeout: float) -> RawBatch | PolledEvents | None:
        """The next batch in journal order (memory when it holds it, else read back from disk)."""
        entry = self._next()
        if entry is None and timeout > 0:
            with self._ready:
                if not self._cache and self.journal.end <= self.position:
                    self._ready.wait(timeout)
            entry = self._next()
        if entry is None:
            return None
        self.position = entry.end
        return entry.batch

    def _next(self) -> Entry | None:
        with self._ready:
            while self._cache and self._cache[0].start < self.position:  # read back from disk already
                self._drop_head()
            if self._cache and self._cache[0].start == self.position:
                return self._drop_head()
        if self._disk and self._disk[0].start < self.position:
            self._disk.clear()
        if not self._disk and self.journal.end > self.position:
            self._disk.extend(self.journal.read(self.position, max_bytes=READ_BYTES))
        if self._disk:
            self.read_back += 1
            return self._disk.popleft()
        return None

    def _drop_head(self) -> Entry:
        e = self._cache.popleft()
        self._cached -= len(e.batch.data) if isinstance(e.batch, RawBatch) else 1024
        return e

    def commit(self, position: int, *, force: bool = False) -> None:
        self.journal.commit(position, force=force)

    def depth(self) -> int:
        """Batches waiting in memory (the journal's backlog in bytes is `journal.held`)."""
        return len(self._cache) + len(self._disk)

    @property
    def cached_bytes(self) -> int:
        return self._cached
