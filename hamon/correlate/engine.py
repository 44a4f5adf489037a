"""Run the correlator over stored events, pair by pair, resuming from checkpoints.

A run for a pair: take the newest checkpoint before the earliest event of the new input, take back
every output decided after it, and run the machine over the pair's stored events from there in
(device time, arrival order, event id) order. The same events therefore always give the same outputs — replaying
a capture in two halves gives what replaying it whole gives, and a late event is simply included.

Checkpoints are taken only where the machine is quiet (no failover being assembled, no split-brain
being checked), every CHECKPOINT_EVERY of event time.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from hamon.correlate.machine import PairMachine
from hamon.correlate.state import UNITS, PairState, Role
from hamon.correlate.traffic import Traffic
from hamon.model import AlertOpen, AlertResolve, Event, Failover, Output
from hamon.resolve.inventory import Inventory, PairConfig
from hamon.store import outputs as store_outputs
from hamon.store.db import Store

UTC = dt.UTC
CHECKPOINT_EVERY = 3600.0


@dataclass
class CorrelationSummary:
    """What a correlation run decided."""

    pairs: int = 0
    events: int = 0
    failovers: int = 0
    alerts_opened: int = 0
    per_pair: dict[str, dict[str, int]] = field(default_factory=dict)
    alert_ids: set[str] = field(default_factory=set)  # alerts opened or resolved by this run


def correlate(
    store: Store,
    earliest: dict[str, dt.datetime | None],
    inventory: Inventory | None = None,
    parsed: dict[str, list[Event]] | None = None,
) -> CorrelationSummary:
    """Correlate the given pairs; `earliest[pair]` is the earliest new event (None: from scratch).

    `parsed[pair]`, when given, is every event the store holds of that pair, as parsed (a replay
    that stored them just now, into a store that had none of the pair): the pair is correlated from
    scratch over them without reading them back."""
    summary = CorrelationSummary()
    names = sorted(earliest)
    wall = time.time()
    for i in range(0, len(names), WRITE_BATCH):
        # WRITE_BATCH pairs: their reads and their outputs in one transaction; a pair's events
        # read EVENT_CHUNK at a time, outputs written in statements of up to WRITE_OUTPUTS rows
        # (memory stays flat in a storm and for a pair of any size)
        with store.one_transaction("correlating pairs"):
            pending: list[store_outputs.Run] = []
            held = 0
            part = names[i : i + WRITE_BATCH]
            known = store_outputs.with_outputs(store, part)
            for pair in part:
                cfg = inventory.pair(pair) if inventory else PairConfig(name=pair)
                tally = _Tally()
                mine = (parsed or {}).get(pair)
                for outs, n in _correlate_pair(store, cfg, earliest[pair], pair in known, pending, wall, mine):
                    tally.add(outs, n)
                    held += len(outs)
                    if held >= WRITE_OUTPUTS:
                        store_outputs.write_runs(store, pending)
                        pending.clear()
                        held = 0
                tally.into(summary, pair)
            store_outputs.write_runs(store, pending)
    return summary


def _correlate_pair(
    store: Store,
    cfg: PairConfig,
    earliest: dt.datetime | None,
    has_outputs: bool,
    pending: list[store_outputs.Run],
    wall: float,
    held: list[Event] | None = None,
) -> Iterator[tuple[list[Output], int]]:
    """`resume_pair` to the end of the input, a chunk of events at a time: each chunk's run is
    appended to `pending` (outputs, checkpoints, the pair as it then stands) and its outputs and
    event count given back; a failover refined in a later chunk replaces what an earlier wrote.
    With `held` (all of the pair's stored events, as parsed), from scratch over them."""
    state, since = _restart(store, cfg, None if held is not None else earliest, has_outputs)
    machine: PairMachine | None = None
    last_ck = since.timestamp() if since else None
    chunks: Iterable[list[Event]]
    if held is not None:
        ordered = sorted(held, key=lambda e: (e.at, e.seq, e.event_id))  # the store's correlation order
        chunks = (ordered[i : i + EVENT_CHUNK] for i in range(0, len(ordered), EVENT_CHUNK))
    else:
        chunks = store.pair_events(cfg.name, after=since, chunk=EVENT_CHUNK)
    for chunk in chunks:
        if machine is None:
            machine = PairMachine(cfg, state, traffic=Traffic(store.traffic(cfg.name, since=since)))
        outs, cks = run(machine, chunk, last_ck)
        if cks:
            last_ck = cks[-1][0].timestamp()
        pending.append((cfg.name, outs, cks, snapshot(machine)))
        yield outs, len(chunk)
    if machine is None:
        machine = PairMachine(cfg, state, traffic=Traffic())
    outs = end_of_input(machine, wall)
    pending.append((cfg.name, outs, [], snapshot(machine)))
    yield outs, 0


@dataclass
class _Tally:
    """What one pair's run decided, over its chunks."""

    events: int = 0
    opened: int = 0
    failover_ids: set[str] = field(default_factory=set)  # refined ones come again
    alert_ids: set[str] = field(default_factory=set)

    def add(self, outs: list[Output], n: int) -> None:
        self.events += n
        for o in outs:
            if isinstance(o, Failover):
                self.failover_ids.add(o.failover_id)
            elif isinstance(o, AlertOpen):
                self.opened += 1
                self.alert_ids.add(o.alert_id)
            elif isinstance(o, AlertResolve):
                self.alert_ids.add(o.alert_id)

    def into(self, summary: CorrelationSummary, pair: str) -> None:
        summary.alert_ids |= self.alert_ids
        summary.pairs += 1
        summary.events += self.events
        summary.failovers += len(self.failover_ids)
        summary.alerts_opened += self.opened
        summary.per_pair[pair] = {"failovers": len(self.failover_ids), "alerts": self.opened}


WRITE_BATCH = 200  # pairs that `correlate` reads and stores in one transaction
WRITE_OUTPUTS = 20_000  # outputs held before they are written
EVENT_CHUNK = 20_000  # a pair's events read and applied at a time


class Observer(Protocol):
    """Told of every event a run applies (the live correlator keeps its in-memory copies so)."""

    def before(self, machine: PairMachine, e: Event) -> None: ...

    def after(self, machine: PairMachine, e: Event, outs: list[Output]) -> None: ...


def resume_pair(
    store: Store,
    cfg: PairConfig,
    earliest: dt.datetime | None,
    *,
    finish: bool,
    observer: Observer | None = None,
    wall: float | None = None,
    prepare: Callable[[PairMachine], None] | None = None,
) -> tuple[PairMachine, list[Output], int]:
    """Re-run a pair from its newest checkpoint before `earliest` over its stored events, and store
    what it decides (the live correlator's way; `correlate` reads and writes in chunks).

    With `finish` the run ends the data as a replay does (`end_of_input` at the wall clock, `wall`
    or now); without, the machine is left as it stands, to go on live.
    """
    state, since = _restart(store, cfg, earliest, True)
    events = [e for chunk in store.pair_events(cfg.name, after=since) for e in chunk]
    traffic = Traffic(store.traffic(cfg.name, since=since)) if events else Traffic()
    machine = PairMachine(cfg, state, traffic=traffic)
    if prepare is not None:  # the live correlator adds what it heard and the store does not hold yet
        prepare(machine)
    outs, cks = run(machine, events, since.timestamp() if since else None, observer)
    if finish:
        outs += end_of_input(machine, time.time() if wall is None else wall)
    store_outputs.write_outputs(store, cfg.name, outs, cks, snapshot(machine))
    return machine, outs, len(events)


def _restart(
    store: Store, cfg: PairConfig, earliest: dt.datetime | None, has_outputs: bool
) -> tuple[PairState | None, dt.datetime | None]:
    """Where a pair's run starts: its newest checkpoint before `earliest` (state and time; none:
    from scratch), everything decided after it taken back. `has_outputs` False (the caller read
    that the store holds no output of the pair) spares the reads and deletes that find nothing."""
    state: PairState | None = None
    since: dt.datetime | None = None
    if earliest is not None and has_outputs:
        ck = store_outputs.latest_checkpoint(store, cfg.name, earliest)
        if ck is not None:
            state = PairState.from_json(ck[1])
            since = ck[0] if state is not None else None
    if has_outputs:
        store_outputs.reset_outputs(store, cfg.name, since)
    return state, since


def end_of_input(machine: PairMachine, wall: float) -> list[Output]:
    """The input is over: event time moves on to the wall clock when the input is in the past.

    Grace periods and settle times that really elapsed since the last event fire (a split-brain at
    the end of a capture is declared; an old capture's failover alerts settle); then failovers still
    being assembled (input from a clock ahead of this one) are settled as they stand. Nothing of
    this is checkpointed: a later replay of later lines re-runs from a checkpoint before them, so
    replaying in pieces still gives what replaying whole gives.
    """
    outs: list[Output] = []
    if machine.now is not None and wall > machine.now:
        outs += machine.advance(wall)
    return outs + machine.finish()


def run(
    machine: PairMachine,
    events: Iterable[Event],
    last_checkpoint: float | None = None,
    observer: Observer | None = None,
) -> tuple[list[Output], list[tuple[dt.datetime, dict[str, object]]]]:
    """Apply events in order; checkpoint at quiet points between distinct event times."""
    outs: list[Output] = []
    cks: list[tuple[dt.datetime, dict[str, object]]] = []
    for e in events:
        ck = checkpoint(machine, e.at.timestamp(), last_checkpoint)
        if ck is not None:
            cks.append(ck)
            last_checkpoint = ck[0].timestamp()
        if observer is None:
            outs += machine.apply(e)
            continue
        observer.before(machine, e)
        new = machine.apply(e)
        observer.after(machine, e, new)
        outs += new
    return outs, cks


def checkpoint(
    machine: PairMachine, next_at: float, last: float | None
) -> tuple[dt.datetime, dict[str, object]] | None:
    """The machine's state as a checkpoint, when taking one before an event at `next_at` is right.

    Right when nothing is pending, the machine's time is before the next event (so every event up
    to the stamp is applied), and the last checkpoint is old enough.
    """
    now = machine.now
    if now is None or next_at <= now or not machine.quiet() or (last is not None and now - last < CHECKPOINT_EVERY):
        return None
    # A copy: the machine goes on mutating its state after this point.
    return dt.datetime.fromtimestamp(now, UTC), json.loads(json.dumps(machine.s.to_json()))


def snapshot(machine: PairMachine) -> store_outputs.PairSnapshot:
    """The pair as it stands after the run."""
    s = machine.s
    mode = s.mode or "active-standby"
    if mode == "active-active":
        units: dict[str, str] = {}
        for u in UNITS:
            roles = [s.role(g, u) for g in (1, 2)]
            if Role.FAILED in roles:
                units[u] = Role.FAILED.value
            elif Role.ACTIVE in roles:
                units[u] = Role.ACTIVE.value
            elif Role.SYNCING in roles:
                units[u] = Role.SYNCING.value
            elif all(r == Role.STANDBY for r in roles):
                units[u] = Role.STANDBY.value
            else:
                units[u] = str(next((r for r in roles if r != Role.UNKNOWN), Role.UNKNOWN))
        groups = {str(g): next((u.value for u in UNITS if s.role(g, u) == Role.ACTIVE), None) for g in (1, 2)}
    else:
        units = {u: str(s.role(0, u)) for u in UNITS}
        groups = {}
    return store_outputs.PairSnapshot(
        pair=s.pair,
        mode=mode,
        units=units,
        groups=groups,
        failover_link=s.failover_link,
        state_link=s.state_link,
        last_failover_at=_time(s.last_failover_at),
        last_event_at=_time(s.last_t),
    )


def _time(t: float | None) -> dt.datetime | None:
    return None if t is None else dt.datetime.fromtimestamp(t, UTC)
