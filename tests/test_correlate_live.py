"""Live correlation gives what a replay of the same events gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from helpers import parse_bytes
from scenario import Scenario, capture, play
from test_correlate_alerts import FULL

from hamon.correlate.live import LiveCorrelator
from hamon.model import Event
from hamon.store import Store


def _events() -> list[Event]:
    result, _ = parse_bytes(capture(FULL).encode())
    return result.events


def _shapes(s: Scenario) -> tuple[object, ...]:
    return s.failovers(), s.alerts(), s.pair()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_live_with_reordering_within_the_window_equals_replay(tmp_path: Path, seed: int) -> None:
    (tmp_path / "replay").mkdir()
    (tmp_path / "live").mkdir()
    replayed = play(tmp_path / "replay", FULL)

    live_view = Scenario(tmp_path / "live")
    store = Store(live_view.db)
    live = LiveCorrelator(store, window=5.0)
    assert live.catch_up() == 0
    rng = random.Random(seed)
    arriving = sorted(_events(), key=lambda e: e.at.timestamp() + rng.uniform(0, 4.0))  # UDP reorders
    latest = 0.0
    for i in range(0, len(arriving), 3):
        chunk = arriving[i : i + 3]
        store.add_events(chunk)
        live.submit(chunk)
        latest = max([latest] + [e.at.timestamp() for e in chunk])
        live.tick(latest)
    live.flush()
    assert live.counts.late == 0
    assert _shapes(live_view) == _shapes(replayed)


def test_an_event_later_than_the_window_reruns_its_pair(tmp_path: Path) -> None:
    (tmp_path / "replay").mkdir()
    (tmp_path / "live").mkdir()
    replayed = play(tmp_path / "replay", FULL)
    live_view = Scenario(tmp_path / "live")
    store = Store(live_view.db)
    live = LiveCorrelator(store, window=5.0)
    events = _events()
    held_back = events[5]  # the takeover of the unit loss arrives an hour late
    for e in events:
        if e is held_back:
            continue
        store.add_events([e])
        live.submit([e])
        live.tick(e.at.timestamp())
    store.add_events([held_back])
    live.submit([held_back])
    live.tick(events[-1].at.timestamp())
    live.flush()
    assert live.counts.late == 1 and live.counts.reruns == 1
    assert _shapes(live_view) == _shapes(replayed)


def test_catch_up_continues_from_the_store(tmp_path: Path) -> None:
    (tmp_path / "replay").mkdir()
    (tmp_path / "live").mkdir()
    replayed = play(tmp_path / "replay", FULL)
    live_view = Scenario(tmp_path / "live")
    live_view.replay(capture(FULL[:12]))  # stored and correlated before the service starts
    store = Store(live_view.db)
    live = LiveCorrelator(store, window=5.0)
    assert live.catch_up() == 1
    for e in _events()[12:]:
        store.add_events([e])
        live.submit([e])
        live.tick(e.at.timestamp())
    live.flush()
    assert _shapes(live_view) == _shapes(replayed)
