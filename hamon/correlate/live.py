"""Live correlation (`hamon serve`): events as they arrive, in any order within a reorder window.

Per pair, arriving events wait in a buffer until event time has moved `window` seconds past them;
then they go to the pair's machine in (device time, event id) order — the order a replay uses — and
`tick` fires the machine's timers on event time. The outputs are therefore the ones a replay of the
same events gives. An event that arrives later than the window allows re-runs its pair from a
checkpoint, which is what a replay of the store would do.

Events must be in the store before they are submitted (the collectors store, then hand over).
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass, field

from hamon.correlate.engine import checkpoint, resume_pair, snapshot
from hamon.correlate.machine import PairMachine
from hamon.correlate.model import AlertOpen, Failover, Output
from hamon.inventory import Inventory, PairConfig
from hamon.model import Event
from hamon.store import outputs as store_outputs
from hamon.store.db import Store
from hamon.store.schema import events as events_table

UTC = dt.UTC


@dataclass
class LiveCounts:
    """What live correlation has done since it started."""

    events: int = 0
    late: int = 0
    reruns: int = 0
    failovers: int = 0
    alerts_opened: int = 0
    outputs: list[Output] = field(default_factory=list)  # the latest tick's, for notifiers


class LiveCorrelator:
    """All pairs' machines, kept in memory, fed by `submit` and `tick`."""

    def __init__(self, store: Store, inventory: Inventory | None = None, window: float = 5.0) -> None:
        self.store = store
        self.inventory = inventory
        self.window = window
        self.machines: dict[str, PairMachine] = {}
        self.buffers: dict[str, list[tuple[float, str, Event]]] = {}
        self.applied: dict[str, float] = {}  # per pair: event time up to which events are applied
        self.last_checkpoint: dict[str, float | None] = {}
        self.dirty: dict[str, float] = {}  # pairs to re-run from before this time (late events)
        self.counts = LiveCounts()

    def config(self, pair: str) -> PairConfig:
        return self.inventory.pair(pair) if self.inventory else PairConfig(name=pair)

    def catch_up(self) -> int:
        """Correlate what the store already holds, leaving every pair's machine ready to go on."""
        from sqlalchemy import select

        with self.store.engine.connect() as conn:
            pairs = [r[0] for r in conn.execute(select(events_table.c.pair).distinct())]
        for pair in sorted(pairs):
            self._resume(pair, None)
        return len(pairs)

    def _resume(self, pair: str, before: float | None) -> None:
        earliest = None if before is None else dt.datetime.fromtimestamp(before, UTC)
        machine, outs, _ = resume_pair(self.store, self.config(pair), earliest, finish=False)
        self.machines[pair] = machine
        self.applied[pair] = machine.s.last_t if machine.s.last_t is not None else float("-inf")
        self.last_checkpoint[pair] = None
        self._count(outs)

    def submit(self, events: list[Event]) -> None:
        """Hand over stored events; they are applied once they are older than the window."""
        for e in events:
            t = e.at.timestamp()
            self.counts.events += 1
            if t <= self.applied.get(e.pair, float("-inf")):
                # Later than the window allows: replay the pair from a checkpoint before it.
                self.counts.late += 1
                self.dirty[e.pair] = min(self.dirty.get(e.pair, t), t)
                continue
            heapq.heappush(self.buffers.setdefault(e.pair, []), (t, e.event_id, e))

    def tick(self, now: float) -> list[Output]:
        """Move event time to `now`: apply what is older than the window, fire timers, store outputs."""
        watermark = now - self.window
        produced: list[Output] = []
        for pair in sorted(self.dirty):
            self.counts.reruns += 1
            self.buffers.pop(pair, None)  # the re-run reads them from the store
            self._resume(pair, self.dirty[pair])
        self.dirty.clear()
        for pair in sorted(set(self.buffers) | set(self.machines)):
            machine = self.machines.get(pair)
            if machine is None:
                self._resume(pair, None)
                machine = self.machines[pair]
            outs: list[Output] = []
            cks: list[tuple[dt.datetime, dict[str, object]]] = []
            buf = self.buffers.get(pair, [])
            while buf and buf[0][0] <= watermark:
                t, _, e = heapq.heappop(buf)
                ck = checkpoint(machine, t, self.last_checkpoint.get(pair))
                if ck is not None:
                    cks.append(ck)
                    self.last_checkpoint[pair] = ck[0].timestamp()
                outs += machine.apply(e)
                self.applied[pair] = t
            outs += machine.advance(watermark)
            if outs or cks:
                store_outputs.write_outputs(self.store, pair, outs, cks, snapshot(machine))
                produced += outs
        self._count(produced)
        self.counts.outputs = produced
        return produced

    def flush(self) -> list[Output]:
        """End of the data, as a replay ends it: apply everything, then emit the pending failovers.

        Timers due after the last event are not fired (a replay does not know that future either).
        """
        times = [t for buf in self.buffers.values() for t, _, _ in buf]
        times += [t for t in self.applied.values() if t != float("-inf")]
        if not times and not self.dirty:
            return []
        outs = self.tick(max(times, default=0.0) + self.window)
        rest_all: list[Output] = []
        for pair, machine in sorted(self.machines.items()):
            rest = machine.finish()
            if rest:
                store_outputs.write_outputs(self.store, pair, rest, [], snapshot(machine))
                rest_all += rest
        self._count(rest_all)
        return outs + rest_all

    def _count(self, outs: list[Output]) -> None:
        self.counts.failovers += sum(1 for o in outs if isinstance(o, Failover))
        self.counts.alerts_opened += sum(1 for o in outs if isinstance(o, AlertOpen))
