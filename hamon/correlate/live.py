"""Live correlation (`hamon serve`): events as they arrive, in any order within a reorder window.

Per pair, arriving events wait in a buffer until event time has moved `window` seconds past them;
then they go to the pair's machine in (device time, arrival, event id) order — the order a replay uses — and
`tick` fires the machine's timers on event time. The outputs are therefore the ones a replay of the
same events gives. An event that arrives later than the window allows is put in its place:
cheaply in memory when it falls after the pair's last in-memory copy (the machine is rebuilt from
that copy by applying the events since it again, and kept when the outputs already stored stay the
same — the common case with one-second device stamps and a window of 0), otherwise by re-running
the pair from a stored checkpoint, which is what a replay of the store would do. The copy is taken
once per REWIND_SPAN seconds or REWIND_EVENTS events of a pair, not per event.

Events must be in the store before they are submitted (the collectors store, then hand over).
"""

from __future__ import annotations

import datetime as dt
import heapq
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from hamon.correlate.engine import checkpoint, end_of_input, resume_pair, snapshot
from hamon.correlate.machine import PairMachine
from hamon.correlate.state import PairState
from hamon.correlate.traffic import HOUR, Traffic
from hamon.errors import StoreError
from hamon.model import Activity, AlertOpen, Event, Failover, Output
from hamon.resolve.inventory import Inventory, PairConfig
from hamon.store import outputs as store_outputs
from hamon.store.db import Store

UTC = dt.UTC
Key = tuple[float, int, str]  # (device time, arrival order, event id): the order events are applied in
FIRST: Key = (float("-inf"), 0, "")
LAST_SEQ = 2**62
RERUN_EVERY = 1.0  # seconds of wall time between two re-runs of one pair from the store (late events)
# A pair's in-memory copy for rewinds is renewed after REWIND_EVENTS events applied since it, or
# REWIND_SPAN seconds of event time, whichever comes first: one copy serves a pair's next events (a
# copy per 32 lines, not one per line), a rewind re-applies at most REWIND_EVENTS events, and a
# pair that logs a line a minute can still put a line a few lines late in place.
REWIND_SPAN = 300.0
REWIND_EVENTS = 32
REWIND_KEEP = 60.0  # seconds of wall time a quiet pair keeps that copy
# Resume from the newest checkpoint of all, even one stamped ahead of the clock.
CATCH_UP_AHEAD = 366 * 86400.0


@dataclass
class LiveCounts:
    """What live correlation has done since it started."""

    events: int = 0
    duplicates: int = 0
    late: int = 0
    rewinds: int = 0
    reruns: int = 0
    failovers: int = 0
    alerts_opened: int = 0


@dataclass
class Rewind:
    """A pair's machine as it was before its latest events (at most REWIND_SPAN seconds and
    REWIND_EVENTS events), and what followed.

    The state is kept pickled (`PairState.frozen`): taking it costs one serialisation; it is read
    back only when a late event is put in its place, which few seconds of a pair see."""

    state: bytes
    now: float | None
    fired: float
    key: Key  # the last event applied before the copy
    start: float  # time of the first event after the copy
    events: list[Event] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)


class LiveCorrelator:
    """All pairs' machines, kept in memory, fed by `submit` and `tick`."""

    def __init__(self, store: Store, inventory: Inventory | None = None, window: float = 5.0) -> None:
        self.store = store
        self.inventory = inventory
        self.window = window
        self.machines: dict[str, PairMachine] = {}
        self.buffers: dict[str, list[tuple[float, int, str, Event]]] = {}
        self.last_key: dict[str, Key] = {}  # per pair: the order key of the last applied
        self.last_checkpoint: dict[str, float | None] = {}
        self.dirty: dict[str, float] = {}  # pairs to re-run from before this time (late events)
        self.reran: dict[str, float] = {}  # per pair: wall time of its last re-run
        self.rerun_every = RERUN_EVERY
        self.rewinds: dict[str, Rewind] = {}
        self.restated: set[str] = set()  # pairs whose stored snapshot is behind after a rewind
        self.recent: dict[str, set[str]] = {}  # per pair: ids buffered or applied since its copy
        self.clocks: dict[str, tuple[float, float]] = {}  # per pair: newest event time, wall time it came
        # Pairs whose state may be in the store though not in memory (None: any pair may). Once every
        # stored pair was resumed (catch_up, or a worker given its partitions), a pair seen for the
        # first time starts from nothing, without reading the store for it.
        self.resumable: set[str] | None = None
        # Per pair with events waiting but no machine yet: when its senders were heard (merged
        # into the machine's traffic as it is made).
        self.heard_new: dict[str, dict[str, dict[float, int]]] = {}
        # When each pair's next timer is due, in wall-clock time: a heap of (wall time, pair), the
        # entry that counts per pair, and pairs to work it out for again. A tick visits the pairs
        # with events waiting and those whose timers are due, not every pair it holds.
        self.deadlines: list[tuple[float, str]] = []
        self.deadline_of: dict[str, float] = {}
        self.revisit: set[str] = set()
        self.pruned_at = float("-inf")  # wall time of the last prune
        self.counts = LiveCounts()

    def config(self, pair: str) -> PairConfig:
        return self.inventory.pair(pair) if self.inventory else PairConfig(name=pair)

    def catch_up(self) -> int:
        """Correlate what the store already holds, leaving every pair's machine ready to go on.

        Each pair resumes from its newest checkpoint (only what follows it is run again), so a
        service with a large store starts in the time its last hour of events takes, not all of it.
        """
        n = self.resume_pairs(self.store.pairs())
        self.resumable = set()
        return n

    def resume_pairs(self, pairs: Iterable[str]) -> int:
        """Resume these pairs from the store (a worker given their partitions): each from its newest
        checkpoint, its clock going on with the wall clock from where its stored events left it."""
        wall = time.time()
        n = 0
        for pair in sorted(pairs):
            self._count(self._resume(pair, wall + CATCH_UP_AHEAD))
            machine = self.machines[pair]
            if machine.now is not None:
                self.clocks[pair] = (machine.now, wall)
            n += 1
            if self.resumable is not None:
                self.resumable.discard(pair)
        return n

    def held_pairs(self) -> set[str]:
        """Every pair this correlator holds anything of: a machine, waiting events, a re-run due."""
        return set(self.machines) | set(self.buffers) | set(self.dirty)

    def take_over(self, pairs: Iterable[str]) -> int:
        """These pairs are this correlator's from now on (a worker given their partitions): what it
        held of them is dropped and each resumes from the store, where their previous owner left
        them. Afterwards a pair never seen starts from nothing. Returns how many were resumed."""
        pairs = list(pairs)
        self.forget(pairs)
        n = self.resume_pairs(pairs)
        if self.resumable is None:  # every stored pair it was given is resumed now
            self.resumable = set()
        return n

    def forget(self, pairs: Iterable[str]) -> None:
        """Stop holding these pairs (idle, or handed to another worker): their state is in the store."""
        for pair in pairs:
            if self.resumable is not None:
                self.resumable.add(pair)
            self.revisit.discard(pair)
            for table in (
                self.deadline_of,
                self.heard_new,
                self.machines,
                self.buffers,
                self.last_key,
                self.last_checkpoint,
                self.rewinds,
                self.recent,
                self.clocks,
                self.dirty,
                self.reran,
            ):
                table.pop(pair, None)
            self.restated.discard(pair)

    def heard(self, acts: Iterable[Activity]) -> None:
        """When senders were heard, as the parser counts it (each sender's seconds of an hour).

        A replay's machine reads it from the store; live, the service writes it to the store only
        with its status, so each pair's machine learns it here as the lines arrive — a unit falling
        silent before a takeover is timed the same live as replayed. Hours older than two before
        a sender's newest are let go (the silence rules look back minutes).
        """
        for a in acts:
            machine = self.machines.get(a.pair)
            if machine is not None:
                senders = machine.traffic.heard
            elif a.pair in self.buffers:
                senders = self.heard_new.setdefault(a.pair, {})
            else:
                continue  # no events of it waiting: its machine, when made, reads the store
            _add_heard(senders, a.source, a.hour.timestamp(), int.from_bytes(a.seconds or b"", "little"))

    def _adopt_heard(self, pair: str, machine: PairMachine, before: Traffic | None = None) -> None:
        """What was heard and is not stored yet joins a pair's new machine (and its old one's)."""
        for senders in (before.heard if before is not None else {}, self.heard_new.pop(pair, {})):
            for source, hours in senders.items():
                for hour, mask in hours.items():
                    _add_heard(machine.traffic.heard, source, hour, mask)

    def _resume(self, pair: str, before: float | None) -> list[Output]:
        earliest = None if before is None else dt.datetime.fromtimestamp(before, UTC)
        self.rewinds.pop(pair, None)
        self.recent.pop(pair, None)
        self.last_key.pop(pair, None)
        old = self.machines.get(pair)
        machine, outs, _ = resume_pair(
            self.store,
            self.config(pair),
            earliest,
            finish=False,
            observer=self,
            prepare=lambda m: self._adopt_heard(pair, m, old.traffic if old is not None else None),
        )
        self.machines[pair] = machine
        self.revisit.add(pair)
        if earliest is not None and pair not in self.last_key and machine.s.last_t is not None:
            # Resumed from a checkpoint with no event after it: anything at its time or before is late.
            self.last_key[pair] = (machine.s.last_t, LAST_SEQ, "\uffff")
        self.last_checkpoint[pair] = None
        return outs

    def before(self, machine: PairMachine, e: Event) -> None:
        """About to apply `e`: renew the pair's in-memory copy when its span is over."""
        t = e.at.timestamp()
        rw = self.rewinds.get(e.pair)
        if rw is None or t >= rw.start + REWIND_SPAN or len(rw.events) >= REWIND_EVENTS:
            key = self.last_key.get(e.pair, FIRST)
            self.rewinds[e.pair] = Rewind(machine.s.frozen(), machine.now, machine.fired, key, t)
            buf = self.buffers.get(e.pair, [])
            self.recent[e.pair] = {x[2] for x in buf}

    def after(self, machine: PairMachine, e: Event, outs: list[Output]) -> None:
        """Applied `e`, giving `outs`."""
        rw = self.rewinds[e.pair]
        rw.events.append(e)
        rw.outputs += outs
        self.recent[e.pair].add(e.event_id)
        self.last_key[e.pair] = _key(e)

    def submit(self, events: list[Event], arrived: float | None = None) -> None:
        """Hand over stored events; they are applied once they are older than the window.

        `arrived` is the wall-clock time they count as heard at (default now): a service reading
        a backlog gives the time they were received, so no pair's clock runs ahead of its backlog.
        """
        arrived = time.time() if arrived is None else arrived
        for e in events:
            t = e.at.timestamp()
            self.counts.events += 1
            seen = self.clocks.get(e.pair)
            if seen is None or t > seen[0]:
                self.clocks[e.pair] = (t, arrived)
                self.revisit.add(e.pair)  # its clock moved: its timers are due at another wall time
            recent = self.recent.setdefault(e.pair, set())
            if e.event_id in recent:  # a relay's duplicate: already buffered or applied
                self.counts.duplicates += 1
                continue
            machine = self.machines.get(e.pair)
            if _key(e) <= self.last_key.get(e.pair, FIRST) or (machine is not None and t < machine.fired):
                # Later than the window allows (after an event or a timer it should precede).
                self.counts.late += 1
                if self._rewind(e, t):
                    self.counts.rewinds += 1
                    recent.add(e.event_id)
                    continue
                # Re-run the pair from a checkpoint before it.
                self.dirty[e.pair] = min(self.dirty.get(e.pair, t), t)
                continue
            heapq.heappush(self.buffers.setdefault(e.pair, []), (*_key(e), e))
            recent.add(e.event_id)

    def prune(self, wall: float, idle: float = 3600.0, every: float = 0.0) -> int:
        """Forget the machines of pairs quiet for `idle` seconds of wall time with nothing pending
        (their state is in the store and comes back with their next event): spoofed or retired
        pairs cost no memory. Returns how many were forgotten. With `every`, at most once in that
        many seconds (it walks every pair held)."""
        if every and wall - self.pruned_at < every:
            return 0
        self.pruned_at = wall
        gone = [
            pair
            for pair, machine in self.machines.items()
            if not self.buffers.get(pair)
            and pair not in self.dirty
            and machine.quiet()
            and not machine.s.timers
            and wall - self.clocks.get(pair, (0.0, wall))[1] >= idle
        ]
        self.forget(gone)
        # A pair's in-memory copy for rewinds (its state, events and outputs of its current second)
        # outlives its use once the pair has been quiet a while: a line that late re-runs the pair
        # from the store instead (at most once a second). Thousands of briefly heard pairs (invented
        # host names) then hold their machines only.
        stale = [p for p in self.rewinds if wall - self.clocks.get(p, (0.0, wall))[1] >= REWIND_KEEP]
        for pair in stale:
            del self.rewinds[pair]
        return len(gone)

    def pair_now(self, pair: str, wall: float) -> float | None:
        """A pair's event time at wall-clock `wall`: its newest event plus the wall time since it came.

        Each pair keeps its own clock, so units whose clocks differ from each other's (or one
        sender's absurd stamp) move no other pair's timers.
        """
        seen = self.clocks.get(pair)
        return None if seen is None else seen[0] + max(0.0, wall - seen[1])

    def tick(self, now: float | None = None, *, everything: bool = True, wall: float | None = None) -> list[Output]:
        """Move event time on: apply what is older than the window, fire timers, store outputs.

        With `now` every pair moves to that event time; without, each pair to its own clock at the
        wall-clock time `wall` (default: the time now). With `everything` false only the pairs with
        waiting events move (the cheap tick a service runs after each arrival); the others' timers
        wait for the next full tick.
        """
        wall = time.time() if wall is None else wall
        produced = self._rerun_dirty(wall, every=now is None)
        failed: StoreError | None = None
        for pair in sorted(self.restated - set(self.buffers)):
            store_outputs.write_outputs(self.store, pair, [], [], snapshot(self.machines[pair]))
        self.restated.clear()
        runs: list[store_outputs.Run] = []
        began_at: dict[str, float] = {}
        waiting = {p for p, buf in self.buffers.items() if buf}
        visit = self._due(waiting, wall, everything=everything, all_pairs=now is not None)
        first_seen = sorted(
            p for p in waiting if p not in self.machines and self.resumable is not None and p not in self.resumable
        )
        if first_seen and self.resumable is not None:
            # Another process (a replay into this store) may have correlated one meanwhile: resumed.
            self.resumable |= store_outputs.correlated(self.store, first_seen)
            first_seen = [p for p in first_seen if p not in self.resumable]
        heard = self.store.traffic_of(first_seen) if first_seen else {}
        for pair in sorted(visit):
            if pair in self.dirty:
                continue  # its re-run from the store is due within rerun_every
            machine = self.machines.get(pair)
            if machine is None and self.resumable is not None and pair not in self.resumable:
                # New since every stored pair was resumed: nothing of it is stored but the events
                # waiting here (which it applies like any other) and its senders' activity.
                machine = self.machines[pair] = PairMachine(self.config(pair), traffic=Traffic(heard.get(pair)))
                self._adopt_heard(pair, machine)
                self.last_checkpoint[pair] = None
            elif machine is None:
                # A pair not in memory (new, or pruned while idle): it resumes from its newest
                # checkpoint over its stored events (the waiting ones among them), and what they
                # decided is told like any other output.
                produced += self._resume(pair, wall + CATCH_UP_AHEAD)
                machine = self.machines[pair]
                if self.resumable is not None:
                    self.resumable.discard(pair)
            pair_now = now if now is not None else self.pair_now(pair, wall)
            if pair_now is None:
                continue  # nothing arrived for it in this run yet: its clock has not started
            watermark = pair_now - self.window
            began = machine.now if machine.now is not None else 0.0
            outs, cks = self._apply_waiting(pair, machine, watermark)
            timed = machine.advance(watermark)
            if pair in self.rewinds:
                self.rewinds[pair].outputs += timed
            outs += timed
            self._deadline(pair, machine)
            if outs or cks:
                runs.append((pair, outs, cks, snapshot(machine)))
                began_at[pair] = began
        if runs:  # every pair's run of this tick in one transaction
            try:
                store_outputs.write_runs(self.store, runs)
            except StoreError as exc:
                # Not stored: the pairs are run again from the store once it is back.
                for pair, _, _, _ in runs:
                    self.dirty[pair] = min(self.dirty.get(pair, began_at[pair]), began_at[pair])
                failed = exc
            else:
                for _, written, _, _ in runs:
                    produced.extend(written)
        self._count(produced)
        if failed is not None:
            raise failed
        return produced

    def _apply_waiting(
        self, pair: str, machine: PairMachine, watermark: float
    ) -> tuple[list[Output], list[tuple[dt.datetime, dict[str, object]]]]:
        """Apply the pair's waiting events up to `watermark`, checkpointing at quiet points."""
        outs: list[Output] = []
        cks: list[tuple[dt.datetime, dict[str, object]]] = []
        buf = self.buffers.get(pair, [])
        while buf and buf[0][0] <= watermark:
            t, _, _, e = heapq.heappop(buf)
            if _key(e) <= self.last_key.get(pair, FIRST):
                continue  # applied by the run from the store
            ck = checkpoint(machine, t, self.last_checkpoint.get(pair))
            if ck is not None:
                cks.append(ck)
                self.last_checkpoint[pair] = ck[0].timestamp()
            self.before(machine, e)
            new = machine.apply(e)
            self.after(machine, e, new)
            outs += new
        if not buf:
            self.buffers.pop(pair, None)
        return outs, cks

    def _due(self, waiting: set[str], wall: float, *, everything: bool, all_pairs: bool) -> set[str]:
        """The pairs a tick visits: those with events waiting and, on a full tick, those whose next
        timer is due by `wall` (every pair it holds when event time is given for all)."""
        if not everything:
            return waiting
        if all_pairs:
            return waiting | set(self.machines)
        due = self.revisit
        self.revisit = set()
        while self.deadlines and self.deadlines[0][0] <= wall:
            at, pair = heapq.heappop(self.deadlines)
            if self.deadline_of.get(pair) == at:
                del self.deadline_of[pair]
                due.add(pair)
        return waiting | {p for p in due if p in self.machines}

    def _deadline(self, pair: str, machine: PairMachine) -> None:
        """When, in wall-clock time, the pair's next timer is due: its event time runs with the wall
        clock from its newest event (`pair_now`), and fires `window` behind."""
        seen = self.clocks.get(pair)
        if not machine.s.timers or seen is None:
            self.deadline_of.pop(pair, None)
            return
        at = seen[1] + (machine.s.timers[0].due + self.window - seen[0])
        if self.deadline_of.get(pair) != at:
            self.deadline_of[pair] = at
            heapq.heappush(self.deadlines, (at, pair))

    def _rerun_dirty(self, wall: float, *, every: bool) -> list[Output]:
        """Re-run the pairs with late events from the store. With `every`, a pair at most once per
        rerun_every of wall time (every late line of a stream far out of order would otherwise
        re-run it once each); meanwhile its waiting events stay buffered for that run."""
        produced: list[Output] = []
        for pair in sorted(self.dirty):
            if every and wall - self.reran.get(pair, float("-inf")) < self.rerun_every:
                continue
            self.counts.reruns += 1
            self.reran[pair] = wall
            self.buffers.pop(pair, None)  # the re-run reads them from the store
            produced += self._resume(pair, self.dirty.pop(pair))
        return produced

    def _rewind(self, e: Event, t: float) -> bool:
        """Put a late event in its place from the pair's in-memory copy, if no stored output changes."""
        pair = e.pair
        rw, machine = self.rewinds.get(pair), self.machines.get(pair)
        last_ck = self.last_checkpoint.get(pair)
        if rw is None or machine is None or _key(e) <= rw.key or t < rw.fired:
            return False
        if last_ck is not None and t <= last_ck:  # a stored checkpoint claims to hold everything before it
            return False
        rebuilt = PairMachine(machine.cfg, PairState.thaw(rw.state), machine.timing, machine.traffic)
        rebuilt.now, rebuilt.fired = rw.now, rw.fired
        events = sorted([*rw.events, e], key=_key)
        outs: list[Output] = []
        for ev in events:
            outs += rebuilt.apply(ev)
        if machine.now is not None:
            outs += rebuilt.advance(machine.now)
        if outs != rw.outputs:
            return False
        self.machines[pair] = rebuilt
        self.revisit.add(pair)
        rw.events = events
        self.last_key[pair] = max(self.last_key[pair], _key(e))
        self.restated.add(pair)
        return True

    def flush(self, wall: float | None = None) -> list[Output]:
        """End of the data, as a replay ends it: apply everything, then `end_of_input` at the wall clock."""
        times = [x[0] for buf in self.buffers.values() for x in buf]
        times += [k[0] for k in self.last_key.values() if k[0] != float("-inf")]
        if not times and not self.dirty:
            return []
        outs = self.tick(max(times, default=0.0) + self.window)
        rest_all: list[Output] = []
        wall = time.time() if wall is None else wall
        for pair, machine in sorted(self.machines.items()):
            rest = end_of_input(machine, wall)
            if rest:
                store_outputs.write_outputs(self.store, pair, rest, [], snapshot(machine))
                rest_all += rest
        self._count(rest_all)
        return outs + rest_all

    def _count(self, outs: list[Output]) -> None:
        self.counts.failovers += len({o.failover_id for o in outs if isinstance(o, Failover)})
        self.counts.alerts_opened += sum(1 for o in outs if isinstance(o, AlertOpen))


def _key(e: Event) -> Key:
    return (e.at.timestamp(), e.seq, e.event_id)


def _add_heard(senders: dict[str, dict[float, int]], source: str, hour: float, mask: int) -> None:
    hours = senders.setdefault(source, {})
    if hour not in hours:
        for old in [h for h in hours if h < hour - 2 * HOUR]:
            del hours[old]
    hours[hour] = hours.get(hour, 0) | mask
