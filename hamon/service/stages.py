"""The service as composed stages: what `hamon serve`, the Kafka sink, `hamon worker` and
`hamon consume` each do with what they take in, and in which order.

    serve    listen → journal → parse  → store          → commit journal   → correlate       → announce
    sink     listen → journal → parse  → publish        → commit delivered
    worker   kafka            → decode → store new ones → commit offsets   → correlate owned → announce
    consume  kafka            → parse  → store          → commit offsets   → correlate       → announce

Each role is one `Stages` value built by one function below (`serve_stages`, `sink_stages`,
`worker_stages`, `consume_stages`); `Service` runs whichever it is given and knows nothing of the
roles: it takes groups off the bus, hands them to `Stages.carry`, holds them while the store is
away, and ticks and announces what the correlate stage decides. The commit order — why nothing
accepted is lost — is `Stages.carry`, in one place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hamon.bus.counters import Counters
from hamon.bus.journal import JournalBus
from hamon.bus.kafka import Consumed, Ingest, KafkaAddress, KafkaSink, Poll, Rebalance, partition_for
from hamon.correlate.live import LiveCorrelator
from hamon.errors import StoreError, StoreRefused
from hamon.model import Activity, Event, Output, PolledEvents, Quarantined
from hamon.parse.batch import BatchParser
from hamon.store import Store

log = logging.getLogger("hamon.serve")
UTC = dt.UTC


@dataclass
class Item:
    """What one group of batches produced: events, quarantined lines, and the per-sender activity a
    sink counted (read from Kafka by a worker: (ingest, activity) pairs)."""

    events: list[Event]
    quarantined: list[Quarantined] = field(default_factory=list)
    activity: list[tuple[Any, list[Activity]]] = field(default_factory=list)
    heard: list[Activity] = field(default_factory=list)  # when senders were heard, for the correlator

    def size(self) -> int:
        return len(self.events) + len(self.quarantined)

    def empty(self) -> bool:
        return not self.size() and not self.activity


@dataclass
class Group:
    """One group on its way through the stages: what it produced, and the positions to commit once
    it is kept — a journal position (listeners) or Kafka offsets (a Kafka intake)."""

    item: Item
    offsets: list[dict[int, int]] = field(default_factory=list)
    mark: int | None = None


# -- parse ----------------------------------------------------------------------------------------
class Parse:
    """Batches taken off the bus into groups: raw lines parsed, a sink's events decoded (a worker),
    traps' and polls' events kept to their pairs' `senders:`, polls handed to the keep stage. A
    Kafka rebalance ends the group before it (what came before is kept first)."""

    def __init__(
        self, parser: BatchParser, counters: Counters, store: Store, keep_poll: Callable[[Poll], None]
    ) -> None:
        self.parser = parser  # replaced when the inventory is reloaded
        self.counters = counters
        self.store = store
        self.keep_poll = keep_poll
        self.read_through: dt.datetime | None = None  # the newest receive time of what was parsed

    def split(self, batches: list[Any], mark: int | None) -> list[Group | Rebalance]:
        """The groups (and rebalances between them) of what was taken; the last group carries `mark`."""
        out: list[Group | Rebalance] = []
        c = self.counters
        events: list[Event] = []
        quarantined: list[Quarantined] = []
        activity: list[tuple[Any, list[Activity]]] = []
        offsets: list[dict[int, int]] = []
        for batch in batches:
            if isinstance(batch, Rebalance):
                out.append(Group(Item(events, quarantined, activity, self._heard(activity)), offsets))
                out.append(batch)
                events, quarantined, activity, offsets = [], [], [], []
                continue
            if isinstance(batch, Consumed):
                offsets.append(batch.offsets)
                if batch.batch is None:  # the events topic: parsed by the sink already
                    for d in batch.decoded:
                        events += self.store.stamp(d.events)  # arrival order here: the tie-break
                        quarantined += d.quarantined
                        if d.ingest is not None:
                            activity.append((d.ingest, d.activity))
                        if d.poll is not None:
                            self.keep_poll(d.poll)
                        c.add("events", len(d.events))
                        c.add("quarantined", len(d.quarantined))
                    quarantined += batch.bad
                    c.add("quarantined", len(batch.bad))
                    continue
                batch = batch.batch
            if isinstance(batch, PolledEvents):
                batch = self.permitted(batch)
                c.add("polled_events", len(batch.events))
                events += self.store.stamp(batch.events)  # arrival order: the tie-break within a second
                if batch.polled is not None:
                    pair, unit, document = batch.polled
                    self.keep_poll(Poll(pair, unit, dt.datetime.now(UTC), batch.source, document))
                continue
            if self.read_through is None or batch.received_at > self.read_through:
                self.read_through = batch.received_at
            res = self.parser.parse(batch)
            events += res.events
            quarantined += res.quarantined
            c.add("batches")
            c.add("lines", res.lines)
            c.add("events", len(res.events))
            c.add("quarantined", len(res.quarantined))
            c.add("ordinary", res.ordinary)
            c.add("blank", res.blank)
            c.add("other", res.other)
        out.append(Group(Item(events, quarantined, activity, self._heard(activity)), offsets, mark))
        return out

    def _heard(self, activity: list[tuple[Any, list[Activity]]]) -> list[Activity]:
        """When senders were heard: by the lines parsed here, and by a sink's count (a worker)."""
        return self.parser.take_heard() + [a for _, acts in activity for a in acts]

    def permitted(self, batch: PolledEvents) -> PolledEvents:
        """A trap's or poll's events, less those for a pair whose `senders:` do not list the sender
        (refused and counted, as a syslog line from there is)."""
        keep = []
        for e in batch.events:
            why = self.parser.refused_address(e.pair, batch.source, batch.transport)
            if why is None:
                keep.append(e)
            else:
                self.counters.reject(batch.transport, batch.source, why)
        polled = batch.polled
        if polled is not None and (why := self.parser.refused_address(polled[0], batch.source, batch.transport)):
            self.counters.reject(batch.transport, batch.source, why)
            polled = None
        if len(keep) == len(batch.events) and polled is batch.polled:
            return batch
        return PolledEvents(tuple(keep), batch.source, batch.transport, polled)


# -- keep: store or publish -----------------------------------------------------------------------
class StoreEvents:
    """Store a group's events, quarantined lines and a sink's activity; the events to correlate
    come back. `only_new` (a worker reading Kafka, which may redeliver): only events the store did
    not hold yet are correlated. `own_activity`: the service's own per-sender activity is written
    with its status (a worker parses no lines of its own)."""

    name = "store"
    stores = True  # needs the store: held while it is away

    def __init__(self, store: Store, counters: Counters, *, only_new: bool = False, own_activity: bool = True) -> None:
        self.store = store
        self.counters = counters
        self.only_new = only_new
        self.own_activity = own_activity
        if only_new:
            self.name = "store new ones"

    def keep(self, item: Item) -> list[Event]:
        """Store an item (StoreError: the store is away, nothing of the item counts as kept). A
        group the store refuses for its values goes in an event at a time, and each event it refuses
        is quarantined with the store's reason — one hostile line never holds up the rest, nor is it
        retried forever as an outage would be."""
        if item.empty():
            return []
        try:
            return self._store(item)
        except StoreRefused as exc:
            log.error("the store refused a batch (%s): storing it an event at a time", exc)
        fresh: list[Event] = []
        refused: list[Quarantined] = []
        for e in item.events:
            try:
                fresh += self._store(Item([e]))
            except StoreRefused as exc:
                text = e.text.encode("utf-8", "surrogateescape")
                reason = f"refused by the store: {exc}"[:500]
                refused.append(Quarantined(e.event_id, e.received_at, e.source, f"store:{e.source}", 0, reason,
                                           text[:4096], len(text)))  # fmt: skip
        self.counters.add("quarantined", len(refused))
        self.counters.add("store_refused", len(refused))
        self._store(Item([], item.quarantined + refused, item.activity))
        return fresh

    def _store(self, item: Item) -> list[Event]:
        fresh = item.events
        if item.events and self.only_new:
            fresh = self.store.add_new_events(item.events)
            self.counters.add("events_new", len(fresh))
            self.counters.add("events_redelivered", len(item.events) - len(fresh))
        elif item.events:
            self.counters.add("events_new", self.store.add_events(item.events))
        if item.quarantined:
            self.store.add_quarantined(item.quarantined)
        now = dt.datetime.now(UTC)
        for ingest, acts in item.activity:  # a sink's activity, read from Kafka
            self.store.record_ingest(
                ingest.ingest_id, "serve", ingest.name, ingest.started_at, now, ingest.counts, acts, accumulate=True
            )
        return fresh

    def keep_poll(self, poll: Poll) -> None:
        """A unit's last poll (the next poll will do if the store is away now)."""
        with contextlib.suppress(StoreError):
            self.store.record_poll(poll.pair, poll.unit, poll.polled_at, poll.source, poll.document)

    def report(self, ingest: Ingest, acts: list[Activity], now: dt.datetime) -> None:
        """The service's own counts and per-sender activity since the last report (StoreError: the
        caller keeps the activity for the next one)."""
        if self.own_activity:
            self.store.record_ingest(
                ingest.ingest_id, "serve", ingest.name, ingest.started_at, now, ingest.counts, acts, accumulate=True
            )

    def open(self) -> None:
        """The schema is checked as the service catches up (a store that is down does not keep it
        from listening)."""

    def describe(self) -> None:
        return None

    def has_room(self) -> bool:
        return True

    def status(self) -> dict[str, Any] | None:
        return None

    def close(self, timeout: float) -> None:
        """Nothing waits in a store stage once `keep` returned."""


class Publish:
    """A Kafka sink's keep stage: a group's events, quarantined lines, polls and activity go to
    `<prefix>.events` (the workers store them, in order with each pair's events)."""

    name = "publish"
    stores = False

    def __init__(self, address: KafkaAddress, prefix: str, counters: Counters, buffer_bytes: int) -> None:
        self.address, self.prefix, self.counters, self.buffer_bytes = address, prefix, counters, buffer_bytes
        self._sink: KafkaSink | None = None

    def open(self) -> None:
        """Reach the broker (before any listener opens: a missing topic or broker is said at once)."""
        self._sink = KafkaSink(self.address, self.prefix, self.counters, buffer_bytes=self.buffer_bytes)

    @property
    def sink(self) -> KafkaSink:
        if self._sink is None:
            raise RuntimeError("the Kafka sink is not open yet")
        return self._sink

    def describe(self) -> str:
        return f"{self.address} topic {self.sink.topic} ({self.sink.partitions} partitions)"

    def keep(self, item: Item) -> list[Event]:
        self.sink.publish(item.events, item.quarantined)
        return []  # a sink does not correlate: its workers do

    def keep_poll(self, poll: Poll) -> None:
        self.sink.publish_poll(poll)

    def report(self, ingest: Ingest, acts: list[Activity], now: dt.datetime) -> None:
        self.sink.publish_activity(ingest, acts)

    def has_room(self) -> bool:
        """Not while the producer holds its buffer's worth (the journal keeps the rest)."""
        return self.sink.has_room()

    def status(self) -> dict[str, Any]:
        return {"bus": str(self.address), "topic": self.sink.topic, **self.sink.state()}

    def close(self, timeout: float) -> None:
        self.sink.close(timeout=timeout)


# -- commit ---------------------------------------------------------------------------------------
class CommitJournal:
    """The journal's committed position moves past a group once it is stored."""

    name = "commit journal"

    def __init__(self, bus: JournalBus) -> None:
        self.bus = bus

    def commit(self, group: Group) -> None:
        if group.mark is not None:
            self.bus.commit(group.mark)

    def settle(self) -> None:
        """Every loop: the committed position saved within sync_every, idle or not."""
        self.bus.journal.flush_commit()


class CommitDelivered:
    """A sink's journal position moves past a group once the broker acknowledged every message
    published for it (and so past no message that could still be lost in the producer)."""

    name = "commit delivered"

    def __init__(self, bus: JournalBus, publish: Publish) -> None:
        self.bus = bus
        self.publish = publish

    def commit(self, group: Group) -> None:
        if group.mark is not None:
            self.publish.sink.mark(group.mark)
        self.settle()

    def settle(self) -> None:
        if done := self.publish.sink.delivered_mark():
            self.bus.commit(done)
        self.bus.journal.flush_commit()


class CommitOffsets:
    """A Kafka intake's offsets are acknowledged once their group is stored (Kafka is its journal)."""

    name = "commit offsets"

    def __init__(self, intake: Any) -> None:
        self.intake = intake  # a KafkaIntake: its source commits acknowledged offsets on its own thread

    def commit(self, group: Group) -> None:
        for o in group.offsets:
            self.intake.ack(o)

    def settle(self) -> None:
        """The source commits on its own thread."""


# -- correlate and announce -----------------------------------------------------------------------
class Correlate:
    """The live correlator fed with what was kept. `owns` names the pairs this process correlates
    (a worker: those of its partitions); `resume_all` catches every stored pair up at start (a
    worker resumes pairs as their partitions are given instead)."""

    name = "correlate"

    def __init__(self, live: LiveCorrelator, owns: Callable[[str], bool] | None = None, *, resume_all: bool = True):
        self.live = live
        self.owns = owns or (lambda _pair: True)
        self.resume_all = resume_all
        if owns is not None:
            self.name = "correlate owned"

    def catch_up(self) -> None:
        if self.resume_all:
            self.live.catch_up()

    def submit(self, events: list[Event], wall: float | None, heard: Sequence[Activity] = ()) -> None:
        # Only pairs owned now: a partition handed on while its events were held (the store away)
        # is the new owner's, which resumes it from the store.
        mine = [e for e in events if self.owns(e.pair)]
        if mine:
            self.live.submit(mine, arrived=wall)
        if heard:
            self.live.heard(a for a in heard if self.owns(a.pair))

    def tick(self, *, everything: bool, wall: float | None) -> list[Output]:
        return self.live.tick(everything=everything, wall=wall)


class Announce:
    """Each alert opened or resolved in the log (journalctl, kubectl logs), and to the notifier."""

    name = "announce"

    def __init__(self, notifier: Any = None) -> None:
        self.notifier = notifier  # NotifyWorkers, or None without --notify

    def announce(self, outs: list[Any]) -> None:
        from hamon.model import AlertOpen, AlertResolve

        for o in outs:
            if isinstance(o, AlertOpen):
                where = "".join(f" {x}" for x in (o.unit, f"group {o.group}" if o.group else None) if x)
                log.info("alert opened: %s %s %s%s: %s (id %s)", o.severity, o.pair, o.kind, where, o.detail,
                         o.alert_id[:8])  # fmt: skip
            elif isinstance(o, AlertResolve):
                log.info("alert resolved: id %s at %s", o.alert_id[:8], o.ended_at.isoformat())
        if outs and self.notifier is not None:  # sent on the notifier's own threads: ingest goes on
            self.notifier.submit(sorted({o.alert_id for o in outs if isinstance(o, AlertOpen | AlertResolve)}))


class Partitions:
    """A worker's share of `<prefix>.events`: the partitions the group gave it. A pair lives in one
    partition (its key), so one worker at a time owns it; handed on, its pairs are let go; given,
    they are taken over from the store where the previous owner left them."""

    def __init__(self, live: LiveCorrelator, store: Store) -> None:
        self.live = live
        self.store = store
        self.owned: set[int] = set()
        self.total = 1

    def owns(self, pair: str) -> bool:
        return partition_for(pair, self.total) in self.owned

    def rebalance(self, change: Rebalance) -> None:
        """StoreError: the partitions are this worker's all the same; each pair resumes from the
        store with its next event."""
        self.total = change.total
        mine = change.partitions
        if change.kind == "revoke":
            self.owned -= mine
            gone = [p for p in self.live.held_pairs() if partition_for(p, self.total) in mine]
            self.live.forget(gone)
            log.info("partitions %s handed on: %d pairs let go", sorted(mine), len(gone))
            return
        self.owned |= mine
        self.store.renew_seq()  # the previous owner stored its pairs' events: go on after them
        pairs = [p for p in self.store.pairs() if partition_for(p, self.total) in mine]
        self.live.take_over(pairs)
        log.info("partitions %s taken: %d pairs resumed from the store", sorted(mine), len(pairs))


# -- the roles ------------------------------------------------------------------------------------
@dataclass
class Stages:
    """One role's stages, in the order a group goes through them."""

    intake: tuple[str, ...]  # what takes messages in, before parsing (named for status)
    parse: Parse
    keep: StoreEvents | Publish
    commit: CommitJournal | CommitDelivered | CommitOffsets
    correlate: Correlate | None = None
    announce: Announce | None = None
    partitions: Partitions | None = None  # a worker: the share of the events topic it owns

    def names(self) -> list[str]:
        """`["listen", "journal", "parse", "store", "commit journal", "correlate", "announce"]`."""
        parts = [self.keep, self.commit, self.correlate, self.announce]
        parse = "decode" if self.partitions is not None else "parse"
        return [*self.intake, parse, *(p.name for p in parts if p is not None)]

    def carry(self, group: Group, wall: float | None) -> None:
        """The commit order, in one place (why nothing accepted is lost):

        1. the intake made the batch durable before it read on — a collector appended it to the
           journal before a datagram's successor or the next read of a TCP connection; a Kafka
           intake leaves it in Kafka, its offset not committed;
        2. the keep stage stores the group (or publishes it to Kafka). A StoreError here means
           nothing of it counts as kept: it propagates, the service holds the group in memory, in
           order, takes nothing more and carries it again when the store is back;
        3. only then is the group's position committed — the journal's (a sink's: once the broker
           acknowledged every message of it), or the Kafka offsets;
        4. then its events go to the correlator, which decides on its next tick; what correlation
           decides is re-derived from the store after a crash (each pair resumes from its
           checkpoint), and announce tells the alerts it opened or resolved.

        A crash between 2 and 3 keeps the group again at the next start: events keep their ids, so
        nothing is stored twice, and a worker correlates only the events new to the store.
        """
        fresh = self.keep.keep(group.item)  # 2
        self.commit.commit(group)  # 3
        if self.correlate is not None:  # 4
            self.correlate.submit(fresh, wall, group.item.heard)


def serve_stages(
    bus: JournalBus, parser: BatchParser, counters: Counters, store: Store, live: LiveCorrelator, notifier: Any
) -> Stages:
    """`hamon serve`: listen → journal → parse → store → commit journal → correlate → announce."""
    keep = StoreEvents(store, counters)
    return Stages(
        ("listen", "journal"),
        Parse(parser, counters, store, keep.keep_poll),
        keep,
        CommitJournal(bus),
        Correlate(live),
        Announce(notifier),
    )


def sink_stages(bus: JournalBus, parser: BatchParser, counters: Counters, store: Store, publish: Publish) -> Stages:
    """`hamon serve --bus kafka://…`: listen → journal → parse → publish → commit delivered."""
    parse = Parse(parser, counters, store, publish.keep_poll)
    return Stages(("listen", "journal"), parse, publish, CommitDelivered(bus, publish))


def _from_kafka(
    keep: StoreEvents,
    intake: Any,
    parser: BatchParser,
    counters: Counters,
    store: Store,
    correlate: Correlate,
    notifier: Any,
    *more: Any,
) -> Stages:
    """kafka → parse → store → commit offsets → correlate → announce, the shape both readers share."""
    return Stages(
        ("kafka",),
        Parse(parser, counters, store, keep.keep_poll),
        keep,
        CommitOffsets(intake),
        correlate,
        Announce(notifier),
        *more,
    )


def worker_stages(
    intake: Any, parser: BatchParser, counters: Counters, store: Store, live: LiveCorrelator, notifier: Any
) -> Stages:
    """`hamon worker`: kafka → decode → store new ones → commit offsets → correlate owned → announce."""
    keep = StoreEvents(store, counters, only_new=True, own_activity=False)
    partitions = Partitions(live, store)
    correlate = Correlate(live, partitions.owns, resume_all=False)
    return _from_kafka(keep, intake, parser, counters, store, correlate, notifier, partitions)


def consume_stages(
    intake: Any, parser: BatchParser, counters: Counters, store: Store, live: LiveCorrelator, notifier: Any
) -> Stages:
    """`hamon consume`: kafka → parse → store → commit offsets → correlate → announce."""
    return _from_kafka(StoreEvents(store, counters), intake, parser, counters, store, Correlate(live), notifier)
