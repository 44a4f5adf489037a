"""Files and stdin as a source: syslog captures replayed through the same pipeline as live data."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import os
import queue
import sys
import threading
from collections.abc import Iterator
from typing import BinaryIO

from hamon.errors import InputError
from hamon.model import RawBatch
from hamon.parse import traps

BATCH_BYTES = 2 << 20  # large enough that per-batch work is noise, small enough for flat memory


def _regular(path: str) -> os.stat_result:
    """A file's status, or a clear error when it is missing or not a regular file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    if not os.path.isfile(path):
        raise InputError(f"{path}: not a regular file")
    return st


class FileSource:
    """One file (plain or .gz) or `-` for stdin, read in newline-aligned batches.

    `received_at` of every batch is the file's modification time (stdin: the time reading
    started): it stands in for the receive time of lines that carry none, and is the
    reference for year-less timestamps.
    """

    kind = "file"

    def __init__(self, path: str, source: str | None = None) -> None:
        self.path = path
        self.name = "stdin" if path == "-" else path
        self.bytes_read = 0
        self._sha = hashlib.sha256()
        if path == "-":
            self.size: int | None = None
            self.received_at = dt.datetime.now(dt.UTC)
            self.source = source or "stdin"
        else:
            st = _regular(path)
            self.size = st.st_size
            self.received_at = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)
            self.source = source or os.path.basename(path)

    def _open(self) -> BinaryIO:
        if self.path == "-":
            return sys.stdin.buffer
        try:
            if self.path.endswith(".gz"):
                return gzip.open(self.path, "rb")  # type: ignore[return-value]
            return open(self.path, "rb", buffering=0)
        except OSError as exc:
            raise InputError(f"{self.path}: {exc.strerror or exc}") from exc

    def batches(self) -> Iterator[RawBatch]:
        """Newline-aligned batches; a final line without a newline is still delivered.

        Reading and hashing run on a helper thread (both release the GIL), one block ahead of
        the parser, so they use the second core.
        """
        rest = b""
        for block in self._blocks():
            data = rest + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) < 4 * BATCH_BYTES:
                    rest = data  # a very long line: keep reading until its end
                    continue
                cut = len(data)  # no newline in 16 MiB: deliver it; the parser quarantines it
            rest = data[cut:]
            yield self._batch(data[:cut])
        if rest:
            yield self._batch(rest)

    def _blocks(self) -> Iterator[bytes]:
        f = self._open()
        blocks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def read() -> None:
            try:
                while not stop.is_set():
                    block = f.read(BATCH_BYTES)
                    if not block:
                        break
                    self._sha.update(block)
                    self.bytes_read += len(block)
                    blocks.put(block)
                blocks.put(None)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                blocks.put(InputError(f"{self.name}: read failed: {exc}"))
            finally:
                if f is not sys.stdin.buffer:
                    f.close()

        reader = threading.Thread(target=read, name=f"read {self.name}", daemon=True)
        reader.start()
        try:
            while (item := blocks.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while reader.is_alive():  # unblock a reader waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    blocks.get(timeout=0.05)
            reader.join()

    def _batch(self, data: bytes) -> RawBatch:
        return RawBatch(data, self.received_at, self.source, "file", "files", self.name)

    def digest(self) -> str:
        """Content digest of what was read: the identity of this input."""
        return self._sha.hexdigest()


def open_inputs(paths: list[str], source: str | None = None) -> list[FileSource]:
    """Sources for the given paths; every path is checked before anything is read."""
    if paths.count("-") > 1:
        raise InputError("stdin ('-') can be given only once")
    return [FileSource(p, source) for p in paths]


class TrapFile:
    """A file of SNMP traps: hamon's trap capture (what `serve` keeps) or snmptrapd's log (plain or
    .gz), read whole (trap files are small: a trap is a failover message). `batches` gives each
    trap as `hamon.parse.traps` reads it (a Trap, or an Unreadable line or block), in file order."""

    kind = "traps"

    def __init__(self, path: str, tz: dt.tzinfo = dt.UTC) -> None:
        self.path = path
        self.name = path
        self.tz = tz
        self.bytes_read = 0
        self._sha = hashlib.sha256()
        self.size: int | None = _regular(path).st_size

    def batches(self) -> Iterator[traps.Trap | traps.Unreadable]:
        try:
            if self.path.endswith(".gz"):
                with gzip.open(self.path, "rb") as f:
                    data = f.read()
            else:
                with open(self.path, "rb") as f:
                    data = f.read()
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(f"{self.path}: read failed: {exc}") from exc
        self._sha.update(data)
        self.bytes_read = len(data)
        yield from traps.read(data, self.tz)

    def digest(self) -> str:
        return self._sha.hexdigest()
