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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from hamon.correlate.machine import PairMachine
from hamon.correlate.state import UNITS, PairState
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
) -> CorrelationSummary:
    """Correlate the given pairs; `earliest[pair]` is the earliest new event (None: from scratch)."""
    summary = CorrelationSummary()
    names = sorted(earliest)
    for i in range(0, len(names), WRITE_BATCH):
        # WRITE_BATCH pairs: their reads and their outputs in one transaction; outputs written in
        # statements of up to WRITE_OUTPUTS rows (memory stays flat in a storm)
        with store.one_transaction("correlating pairs"):
            pending: list[store_outputs.Run] = []
            held = 0
            part = names[i : i + WRITE_BATCH]
            known = store_outputs.with_outputs(store, part)
            for pair in part:
                cfg = inventory.pair(pair) if inventory else PairConfig(name=pair)
                _, outs, n = resume_pair(
                    store, cfg, earliest[pair], finish=True, written=pending, has_outputs=pair in known
                )
                _tally(summary, pair, outs, n)
                held += len(outs)
                if held >= WRITE_OUTPUTS:
                    store_outputs.write_runs(store, pending)
                    pending, held = [], 0
            store_outputs.write_runs(store, pending)
    return summary


def _tally(summary: CorrelationSummary, pair: str, outs: list[Output], n: int) -> None:
    """A pair's run in the summary."""
    fos = len({o.failover_id for o in outs if isinstance(o, Failover)})  # refined ones come again
    opened = sum(1 for o in outs if isinstance(o, AlertOpen))
    summary.alert_ids |= {o.alert_id for o in outs if isinstance(o, AlertOpen | AlertResolve)}
    summary.pairs += 1
    summary.events += n
    summary.failovers += fos
    summary.alerts_opened += opened
    summary.per_pair[pair] = {"failovers": fos, "alerts": opened}


WRITE_BATCH = 200  # pairs that `correlate` reads and stores in one transaction
WRITE_OUTPUTS = 20_000  # outputs held before they are written


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
    written: list[store_outputs.Run] | None = None,
    has_outputs: bool = True,
) -> tuple[PairMachine, list[Output], int]:
    """Re-run a pair from its newest checkpoint before `earliest` over its stored events.

    With `finish` the run ends the data as a replay does (`end_of_input` at the wall clock, `wall`
    or now); without, the machine is left as it stands, to go on live. With `written` the run's
    outputs are appended there for the caller to store with other pairs' (one transaction for many
    pairs), else they are stored now. `has_outputs` False (the caller read that the store holds no
    output of the pair) spares the reads and deletes that would find nothing.
    """
    state: PairState | None = None
    since: dt.datetime | None = None
    if earliest is not None and has_outputs:
        ck = store_outputs.latest_checkpoint(store, cfg.name, earliest)
        if ck is not None:
            state = PairState.from_json(ck[1])
            since = ck[0] if state is not None else None
    if has_outputs:
        store_outputs.reset_outputs(store, cfg.name, since)
    events = store.pair_events(cfg.name, after=since)
    traffic = Traffic(store.traffic(cfg.name, since=since)) if events else Traffic()
    machine = PairMachine(cfg, state, traffic=traffic)
    outs, cks = run(machine, events, since.timestamp() if since else None, observer)
    if finish:
        outs += end_of_input(machine, time.time() if wall is None else wall)
    if written is not None:
        written.append((cfg.name, outs, cks, snapshot(machine)))
    else:
        store_outputs.write_outputs(store, cfg.name, outs, cks, snapshot(machine))
    return machine, outs, len(events)


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
            if "failed" in roles:
                units[u] = "failed"
            elif "active" in roles:
                units[u] = "active"
            elif "syncing" in roles:
                units[u] = "syncing"
            elif all(r == "standby" for r in roles):
                units[u] = "standby"
            else:
                units[u] = next((r for r in roles if r != "unknown"), "unknown")
        groups = {str(g): next((u for u in UNITS if s.role(g, u) == "active"), None) for g in (1, 2)}
    else:
        units = {u: s.role(0, u) for u in UNITS}
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
