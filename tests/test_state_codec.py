"""The pair state's one versioned JSON codec: a checkpoint read back is the state it was written from,
and a machine resumed from it goes on exactly as the one that wrote it."""

from __future__ import annotations

import json

import pytest
from helpers import parse_bytes
from pair_sim import ActiveActiveSim, PairSim

from hamon.correlate.machine import PairMachine
from hamon.correlate.state import STATE_VERSION, PairState
from hamon.resolve.inventory import PairConfig


def _through_json(s: PairState) -> PairState:
    back = PairState.from_json(json.loads(json.dumps(s.to_json())))
    assert back is not None
    return back


# 70268: a written-off old active kept for a restatement (`restate`); the others cover A/A groups,
# split checks, drafts and the health rules' timers.
@pytest.mark.parametrize("sim", [PairSim(70268), PairSim(1212), PairSim(5), ActiveActiveSim(20_003)], ids=repr)
def test_every_state_of_a_simulated_pair_survives_its_checkpoint(sim: PairSim | ActiveActiveSim) -> None:
    lines = "\n".join(text for _, text in sim.render()) + "\n"
    result, _ = parse_bytes(lines.encode())
    events = sorted(result.events, key=lambda e: (e.at, e.seq))
    m = PairMachine(PairConfig(name=sim.name))
    fields_seen: set[str] = set()
    for i, e in enumerate(events):
        m.apply(e)
        doc = m.s.to_json()
        assert _through_json(m.s).to_json() == doc
        fields_seen |= {k for k, v in doc.items() if v}
        if i % 7 == 0:  # resumed from this checkpoint, a machine goes on as this one does
            resumed = PairMachine(m.cfg, _through_json(m.s))
            resumed.now, resumed.fired = m.now, m.fired
            rest = events[i + 1 : i + 40]
            mine = [m.s.copy()]
            a = PairMachine(m.cfg, mine[0])
            a.now, a.fired = m.now, m.fired
            assert [a.apply(x) for x in rest] == [resumed.apply(x) for x in rest]
    assert {"roles", "claims", "timers", "alerts"} <= fields_seen


def test_a_checkpoint_of_another_version_is_recomputed_not_misread() -> None:
    doc = PairState("fw").to_json()
    assert doc["version"] == STATE_VERSION
    assert PairState.from_json({**doc, "version": STATE_VERSION - 1}) is None


def test_a_failover_kept_to_be_told_again_survives_the_checkpoint() -> None:
    import datetime as dt

    from hamon.correlate.state import Restate
    from hamon.model import Failover

    at = dt.datetime(2026, 11, 25, 10, 0, 12, tzinfo=dt.UTC)
    timed = Failover("fw", None, at, "secondary", "primary", "peer_unreachable", None, 8.0, ("e1", "e2"), at, at)
    alive = Failover("fw", None, at, "secondary", "primary", "peer_unreachable", None, None, ("e1",), at, None)
    s = PairState("fw", restate={0: Restate("primary", timed, alive)})
    back = _through_json(s)
    assert back.restate == s.restate and back.restate[0].timed.failover_id == timed.failover_id
