"""The replay loop: sources → parse → store, with accounting of every line."""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hamon.errors import HamonError
from hamon.model import Event, ParseResult, Quarantined, RawBatch, iso
from hamon.parse.batch import BatchParser, Resolve, quarantined
from hamon.resolve.inventory import Inventory
from hamon.resolve.pairs import PairResolver

if TYPE_CHECKING:
    from hamon.notify.pipeline import Pipeline
    from hamon.store import Store

UTC = dt.UTC
# Events a replay keeps as parsed to correlate them without reading them back from the store (the
# read-back is about a third of correlation's cost); beyond this many, it reads them back.
HELD_MAX = 200_000


class Source(Protocol):
    """A finite input (a file, stdin): batches, then a digest identifying its content."""

    kind: str
    name: str
    size: int | None
    bytes_read: int

    def batches(self) -> Iterator[Any]: ...  # RawBatch; a trap file: hamon.parse.traps items

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
    earliest: dict[str, dt.datetime] = field(default_factory=dict)  # per pair: its earliest event here
    failovers: int = 0
    alerts_opened: int = 0
    notifications: dict[str, Any] | None = None

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
            "failovers": self.failovers,
            "alerts_opened": self.alerts_opened,
            "notifications": self.notifications,
            "pairs": {k: {"events": v.events, "lines": v.lines} for k, v in sorted(self.pairs.items())},
        }


Progress = Callable[[Source, int], None]


COMMIT_WITHIN = 0.5  # seconds a parsed batch waits for others to be committed with


class StoreWriter:
    """Writes parsed batches on a helper thread, so the database works while the next batch parses.

    The queue is bounded in events, not batches (backpressure, flat memory: a 2 MiB batch of
    failover lines only is some 20,000 events, one of ordinary traffic a few hundred). Batches are
    committed together, `commit_events` at a time (each commit of the embedded store rewrites the
    index pages it touched, so a few large commits cost far less than many small ones), or sooner
    when the reader waits for room. `close()` waits until everything queued is committed and
    re-raises the first error the writer met: nothing is dropped silently. A batch waits at most
    COMMIT_WITHIN for others (a slow stdin is stored as it comes).
    """

    def __init__(self, store: Store, max_events: int = 20_000, commit_events: int = 10_000) -> None:
        self._store = store
        self._max = max_events
        self._commit = min(commit_events, max_events)
        self._items: collections.deque[tuple[list[Event], list[Quarantined]] | None] = collections.deque()
        self._queued = 0  # events and quarantined lines waiting or being written
        self._waiting = False  # the reader waits for room
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self.stored = 0
        self._thread = threading.Thread(target=self._run, name="store writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        held: list[tuple[list[Event], list[Quarantined]]] = []
        n = 0
        closing = False
        since = 0.0  # when the oldest batch held came

        def ready() -> bool:  # something to take, or the reader needs what is held written now
            return bool(self._items) or (bool(held) and self._waiting)

        while not closing:
            with self._cond:
                self._cond.wait_for(ready, timeout=max(0.0, since + COMMIT_WITHIN - time.monotonic()) if held else None)
                if not held:
                    since = time.monotonic()
                while self._items:
                    item = self._items.popleft()
                    if item is None:
                        closing = True
                        break
                    held.append(item)
                    n += len(item[0]) + len(item[1])
                due = time.monotonic() - since >= COMMIT_WITHIN
                if not (closing or n >= self._commit or self._waiting or due):
                    continue
            if held and self._error is None:  # after a failure only drain; close() reports it
                try:
                    with self._store.one_transaction("storing events"):
                        self.stored += self._store.add_events([e for evs, _ in held for e in evs])
                        self._store.add_quarantined([q for _, qs in held for q in qs])
                except BaseException as exc:  # handed to the caller in close()
                    self._error = exc
            with self._cond:
                self._queued -= n
                self._cond.notify_all()
            held.clear()
            n = 0

    def put(self, evs: list[Event], quarantined: list[Quarantined]) -> None:
        """Queue one batch; blocks while `max_events` wait before it (one batch always goes)."""
        if self._error is not None:
            raise self._error
        if not (evs or quarantined):
            return
        n = len(evs) + len(quarantined)

        def room() -> bool:
            return self._queued == 0 or self._queued + n <= self._max

        with self._cond:
            if not room():
                self._waiting = True
                self._cond.notify_all()
                self._cond.wait_for(room)
                self._waiting = False
            self._queued += n
            self._items.append((evs, quarantined))
            self._cond.notify_all()

    def close(self) -> int:
        """Wait for every queued batch; returns the number of new events stored."""
        with self._cond:
            self._items.append(None)
            self._cond.notify_all()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.stored


def replay(
    sources: Sequence[Source],
    store: Store,
    *,
    inventory: Inventory | None = None,
    tz: dt.tzinfo = UTC,
    year: int | None = None,
    progress: Progress | None = None,
    correlate: bool = True,
    notify: Pipeline | None = None,
    notify_within: dt.timedelta | None = dt.timedelta(hours=1),
) -> Summary:
    """Parse every source into the store, then correlate the pairs it touched.

    Replaying the same input again changes nothing.
    """
    resolver = PairResolver(inventory)
    summary = Summary()
    t0 = time.perf_counter()
    # per pair, the events parsed, by id (the first of duplicates: the one the store keeps)
    held: dict[str, dict[str, Event]] | None = {} if correlate else None
    for src in sources:
        started = dt.datetime.now(UTC)
        parser = BatchParser(
            resolver.resolve,
            tz=tz,
            year=year,
            zones=inventory.zones() if inventory else None,
            next_seq=store.next_seq,
        )
        counts = {"lines": 0, "events": 0, "quarantined": 0}
        writer = StoreWriter(store)
        try:
            items = src.batches() if src.kind != "traps" else _trap_batches(src, resolver.resolve, store, src.name)
            for batch in items:
                # a trap file's group-state events and unreadable lines come as results of their own
                res = parser.parse(batch) if isinstance(batch, RawBatch) else batch
                writer.put(res.events, res.quarantined)
                if held is not None:
                    for e in res.events:
                        held.setdefault(e.pair, {}).setdefault(e.event_id, e)
                    if summary.events + len(res.events) > HELD_MAX:
                        held = None  # too many to keep: read back
                summary.lines += res.lines
                summary.events += len(res.events)
                summary.quarantined += len(res.quarantined)
                summary.ordinary += res.ordinary
                summary.other += res.other
                summary.blank += res.blank
                counts["lines"] += res.lines
                counts["events"] += len(res.events)
                counts["quarantined"] += len(res.quarantined)
                for e in res.events:
                    summary.pairs.setdefault(e.pair, PairCount()).events += 1
                    first = summary.earliest.get(e.pair)
                    if first is None or e.at < first:
                        summary.earliest[e.pair] = e.at
                if progress is not None and isinstance(batch, RawBatch):
                    progress(src, len(batch.data))
        finally:
            stored = writer.close()
        summary.stored += stored
        summary.duplicates += counts["events"] - stored
        activity = parser.drain_activity()
        for a in activity:
            summary.pairs.setdefault(a.pair, PairCount()).lines += a.lines
        summary.bytes += src.bytes_read
        summary.inputs.append(src.name)
        store.record_ingest(
            f"{src.kind}:{src.digest()}", src.kind, src.name, started, dt.datetime.now(UTC), counts, activity
        )
    if correlate and summary.earliest:
        from hamon.correlate.engine import correlate as run_correlator

        result = run_correlator(store, dict(summary.earliest), inventory, _fresh(store, held, summary))
        summary.failovers = result.failovers
        summary.alerts_opened = result.alerts_opened
        if notify is not None:
            from hamon.notify.pipeline import notices_for

            # A replay pages only for what is still going on: alerts open at the end of the input that
            # started within `notify_within` of now. An archive's openings and resolutions are history.
            # (`notify_within` None: every opening and resolution, as when the input was live.)
            notices = notices_for(store, sorted(result.alert_ids), notify.wording)
            current = notices
            if notify_within is not None:
                cutoff = dt.datetime.now(UTC) - notify_within
                ended = {n.alert_id for n in notices if n.state == "resolved"}
                current = [
                    n for n in notices if n.state == "firing" and n.alert_id not in ended and n.started_at >= cutoff
                ]
            report = notify.process(current)
            summary.notifications = {**report.to_json(), "historical": len(notices) - len(current)}
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def _fresh(store: Store, held: dict[str, dict[str, Event]] | None, summary: Summary) -> dict[str, list[Event]] | None:
    """The pairs whose every stored event is one this replay parsed and stored (the first of its
    duplicates), with those events: they are correlated as parsed. When an event was already in
    the store before (its stored copy's arrival order is not the parsed one's), or the store holds
    more of a pair than this replay parsed, that pair is read back."""
    if held is None or summary.stored != sum(len(evs) for evs in held.values()):
        return None  # some parsed event was stored before: which pair's is not known here
    stored = store.event_counts()
    return {pair: list(evs.values()) for pair, evs in held.items() if stored.get(pair) == len(evs)}


def _trap_batches(src: Source, resolve: Resolve, store: Store, name: str) -> Iterator[RawBatch | ParseResult]:
    """A trap file's traps as the live receiver hands them on (`as_batch`): a syslog line to parse,
    or a group's HA state (an event, with its arrival order); other MIBs' traps and unreadable lines
    as a result of their own (counted as `other`, quarantined with the reason)."""
    from hamon.collectors.snmp_trap import as_batch
    from hamon.parse import traps

    for n, item in enumerate(src.batches(), 1):
        if isinstance(item, traps.Unreadable):
            q = quarantined(name, name, dt.datetime.now(UTC), item.line_no, item.raw, item.reason)
            yield ParseResult(lines=1, quarantined=[q])
            continue
        meaning = traps.decode(item)
        if isinstance(meaning, traps.Other):
            yield ParseResult(lines=1, other=1)
        elif isinstance(meaning, traps.Bad):
            q = quarantined(item.source, name, item.at, n, item.to_line(), meaning.reason)
            yield ParseResult(lines=1, quarantined=[q])
        else:
            batch = as_batch(item, meaning, resolve)
            if isinstance(batch, RawBatch):
                yield batch
            else:
                yield ParseResult(lines=1, events=store.stamp(list(batch.events)))


def replay_cli(
    paths: list[str],
    store: Store,
    pair: str,
    *,
    unit: str | None = None,
    inventory: Inventory | None = None,
    correlate: bool = True,
) -> dict[str, Any]:
    """Store saved `show failover` outputs as polled evidence for `pair`, then correlate it.

    History rows keep the device's own times; a `show failover` stands for the moment the file was
    written (its modification time), as a poll stands for the moment it ran.
    """
    from pathlib import Path

    from hamon.poll.offline import events as cli_events
    from hamon.poll.offline import read
    from hamon.poll.parse import CliParseError, FailoverStatus

    tz = inventory.pair(pair).tz if inventory else None
    found: list[Event] = []
    commands: list[str] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
            at = dt.datetime.fromtimestamp(Path(path).stat().st_mtime, UTC)
        except OSError as exc:
            raise HamonError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            outputs = read(text, tz)
            found += cli_events(outputs, pair, unit, at)
        except CliParseError as exc:
            raise HamonError(f"{path}: {exc}") from exc
        commands += [o.command for o in outputs]
        for o in outputs:
            if isinstance(o.result, FailoverStatus) and o.result.unit:
                store.record_poll(pair, o.result.unit, at, f"file:{path}", {**o.result.to_json(), "polled_at": iso(at)})
    stamped = store.stamp(found)
    stored = store.add_events(stamped)
    summary: dict[str, Any] = {
        "pair": pair,
        "inputs": list(paths),
        "commands": commands,
        "events": len(found),
        "stored": stored,
    }
    if correlate and found:
        from hamon.correlate.engine import correlate as run_correlator

        result = run_correlator(store, {pair: min(e.at for e in found)}, inventory)
        summary |= {"failovers": result.failovers, "alerts_opened": result.alerts_opened}
    return summary
