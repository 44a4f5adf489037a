"""Live correlation gives what a replay of the same events gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from helpers import parse_bytes
from scenario import S, Scenario, capture, play
from test_correlate_alerts import FULL

from hamon.correlate.live import LiveCorrelator
from hamon.model import Event
from hamon.store import Store, outputs


def _events() -> list[Event]:
    result, _ = parse_bytes(capture(FULL).encode())
    return result.events


def _shapes(s: Scenario) -> tuple[object, ...]:
    return s.failovers(), s.alerts(), s.pair()


@pytest.mark.parametrize("window", [0.0, 5.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_live_with_reordering_equals_replay(tmp_path: Path, seed: int, window: float) -> None:
    (tmp_path / "replay").mkdir()
    (tmp_path / "live").mkdir()
    replayed = play(tmp_path / "replay", FULL)

    live_view = Scenario(tmp_path / "live")
    store = Store(live_view.db)
    live = LiveCorrelator(store, window=window)
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
    if window:
        assert live.counts.late == 0  # reordering within the window needs no re-run
    assert _shapes(live_view) == _shapes(replayed)  # with no window, late events re-run their pair


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


def test_a_stream_of_late_lines_reruns_its_pair_once_a_second_not_once_a_line(tmp_path: Path) -> None:
    """Forty lines each far older than the window, arriving 50 ms apart (a relay flushing a
    backlog behind live traffic): the pair is re-run from the store at most once per second of
    wall time, and the outcome is still the replay's."""
    (tmp_path / "replay").mkdir()
    (tmp_path / "live").mkdir()
    late = [S(3600 + n, 105008, f"Testing Interface late{n}") for n in range(40)]
    replayed = play(tmp_path / "replay", [*FULL, *late])
    live_view = Scenario(tmp_path / "live")
    store = Store(live_view.db)
    live = LiveCorrelator(store, window=5.0)
    events, _ = parse_bytes(capture([*FULL, *late]).encode())
    wanted = {e.event_id for e in events.events if "late" in (e.interface or "")}
    on_time = [e for e in events.events if e.event_id not in wanted]
    held = sorted((e for e in events.events if e.event_id in wanted), key=lambda e: e.at)
    wall = 1_000_000.0
    for e in on_time:
        store.add_events([e])
        live.submit([e], arrived=wall)
        live.tick(e.at.timestamp())
    held = held[::-1]  # newest first: each later line is older than the one before it
    for i, e in enumerate(held):
        store.add_events([e])
        live.submit([e], arrived=wall + 0.05 * i)
        live.tick(everything=False, wall=wall + 0.05 * i)
    live.flush()
    span = 0.05 * (len(held) - 1)
    assert live.counts.late >= len(held) - 1
    assert 1 <= live.counts.reruns <= span / live.rerun_every + 2, live.counts.reruns
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


# Symptoms repeated within seconds, as a unit logs them while its interfaces are tested.
BURSTS = (
    FULL
    + [S(103, 105008, f"Testing Interface if{n}") for n in range(6)]
    + [S(100, 105005, f"Lost Failover communications with mate on interface if{n}") for n in range(4)]
)


def _bursts(tmp_path: Path) -> tuple[Scenario, Scenario, Store, LiveCorrelator, dict[float, list[Event]]]:
    """BURSTS replayed, and what the live side needs to play it: its view, store, correlator, and
    the capture's events by second."""
    (tmp_path / "replay").mkdir()
    (tmp_path / "live").mkdir()
    replayed = play(tmp_path / "replay", BURSTS)
    live_view = Scenario(tmp_path / "live")
    store = Store(live_view.db)
    seconds: dict[float, list[Event]] = {}
    parsed, _ = parse_bytes(capture(BURSTS).encode())
    for e in parsed.events:
        seconds.setdefault(e.at.timestamp(), []).append(e)
    return replayed, live_view, store, LiveCorrelator(store, window=0.0), seconds


def test_one_second_stamps_out_of_order_are_put_in_place_in_memory(tmp_path: Path) -> None:
    """With no window, events of a second arriving out of (time, id) order are put in place.

    In memory when the outputs already stored stay the same, by a re-run from the store otherwise;
    either way the result is the replay's.
    """
    replayed, live_view, store, live, seconds = _bursts(tmp_path)
    assert any(len(v) > 1 for v in seconds.values())  # the capture has seconds with several events
    for t in sorted(seconds):
        for e in sorted(seconds[t], key=lambda e: e.event_id, reverse=True):  # worst order in the second
            store.add_events([e])
            live.submit([e])
            live.tick(t + 0.5)  # the wall clock is half a second on
    live.flush()
    assert live.counts.rewinds >= 5 and live.counts.reruns >= 1  # both ways were taken
    assert live.counts.rewinds + live.counts.reruns == live.counts.late
    assert _shapes(live_view) == _shapes(replayed)


def test_a_quiet_pairs_copy_for_rewinds_is_let_go_and_late_lines_rerun_it_to_the_same_result(tmp_path: Path) -> None:
    """The copy a pair keeps to put late lines in place costs memory per pair; after REWIND_KEEP
    seconds of quiet it goes, its machine stays, and a late line re-runs the pair from the store —
    to the replay's result all the same."""
    import time

    from hamon.correlate.live import REWIND_KEEP

    replayed, live_view, store, live, seconds = _bursts(tmp_path)
    for t in sorted(seconds):
        for e in sorted(seconds[t], key=lambda e: e.event_id, reverse=True):
            store.add_events([e])
            assert live.prune(time.time() + REWIND_KEEP + 1) == 0  # quiet, not idle: the machine stays
            assert not live.rewinds
            live.submit([e])
            live.tick(t + 0.5)
    live.flush()
    assert live.counts.late > 0 and live.counts.rewinds == 0 and live.counts.reruns >= 1
    assert _shapes(live_view) == _shapes(replayed)


def test_idle_pairs_are_forgotten_and_come_back_from_the_store(tmp_path: Path) -> None:
    import time

    from helpers import parse_bytes
    from scenario import P, capture

    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    live = LiveCorrelator(store, window=0.0)
    result, _ = parse_bytes(capture([P(0, 105032, "LAN Failover interface is down")], host="fw-idle").encode())
    store.add_events(result.events)
    live.submit(result.events)
    live.tick(result.events[0].at.timestamp())
    assert "fw-idle" in live.machines
    assert live.prune(time.time() + 7200) == 1 and "fw-idle" not in live.machines
    later, _ = parse_bytes(capture([P(60, 105031, "Failover LAN interface is up")], host="fw-idle").encode())
    store.add_events(later.events)
    live.submit(later.events)
    outs = live.tick(later.events[0].at.timestamp())
    from hamon.model import AlertResolve

    assert [type(o) for o in outs if isinstance(o, AlertResolve)] == [AlertResolve]  # its open alert came back


def test_timers_fire_on_the_wall_clock_when_due_among_thousands_of_idle_pairs(tmp_path: Path) -> None:
    """A tick visits the pairs whose next timer is due (a heap of deadlines), not every pair: the
    split-brain grace of one pair ends when its event time — running with the wall clock from
    its newest event — reaches it, with 2,000 idle pairs beside it, and not a tick before."""
    import datetime as dt

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    live = LiveCorrelator(store, window=0.0)
    t0 = dt.datetime(2026, 11, 25, 10, 0, 0, tzinfo=dt.UTC)
    lines = [
        f"<161>{t0:%b %d %Y %H:%M:%S} idle-{i} : %ASA-1-104001: (Primary) Switching to ACTIVE - No Active unit found."
        for i in range(2000)
    ]
    lines += [
        f"<161>{t0:%b %d %Y %H:%M:%S} fw-s : %ASA-1-104001: (Primary) Switching to ACTIVE - No Active unit found.",
        f"<161>{t0 + dt.timedelta(seconds=4):%b %d %Y %H:%M:%S} fw-s : %ASA-1-104001: (Secondary) Switching to ACTIVE - No Active unit found.",
    ]
    result, _ = parse_bytes(("\n".join(lines) + "\n").encode())
    store.add_events(result.events)
    w0 = 1_000_000.0
    live.submit(result.events, arrived=w0)
    live.tick(wall=w0)
    # fw-s's newest event is t0+4 s at wall w0; its grace ends at t0+14 s: wall w0+10 s
    for wall in (w0 + 1, w0 + 5, w0 + 9.9):
        live.tick(wall=wall)
        assert not [a for a in outputs.alert_list(store, pair="fw-s") if a["kind"] == "split_brain"], wall
    assert len(live.deadlines) <= 2 + 2000  # one entry per pair with a timer, at most
    live.tick(wall=w0 + 10.0)
    (split,) = [a for a in outputs.alert_list(store, pair="fw-s") if a["kind"] == "split_brain"]
    assert split["started_at"] == (t0 + dt.timedelta(seconds=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not [a for a in outputs.alert_list(store) if a["pair"].startswith("idle-")]
    store.close()
