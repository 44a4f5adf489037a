"""pair_silent: a pair that normally talks falls silent for its silent_after — opened on the wall
clock from the stored per-sender activity, resolved when the pair is heard again (real store)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hamon.model import Activity, AlertOpen, AlertResolve
from hamon.resolve.inventory import parse_inventory
from hamon.service.silent import SilenceWatch
from hamon.store import Store
from hamon.store.outputs import alert_list

UTC = dt.UTC


def heard(store: Store, pair: str, source: str, seconds: list[dt.datetime]) -> None:
    """Record that `source` of `pair` was heard in these seconds (as serve writes its activity)."""
    by_hour: dict[dt.datetime, Activity] = {}
    for t in seconds:
        hour = t.replace(minute=0, second=0, microsecond=0)
        a = by_hour.setdefault(hour, Activity(source, pair, hour))
        bits = int.from_bytes(a.seconds, "little") | (1 << int((t - hour).total_seconds()))
        a.seconds = bits.to_bytes(450, "little")
        a.lines += 1
        a.last_at = max(a.last_at or t, t)
    store.record_ingest(
        f"test:{pair}:{source}", "serve", "test", seconds[0], seconds[-1], {"lines": len(seconds)}, list(by_hour.values()),
        accumulate=True,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'hamon.db'}")
    s.ensure_schema()
    return s


def test_a_pair_that_normally_talks_and_falls_silent_is_told_and_resolved_when_heard_again(store: Store) -> None:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    last = now - dt.timedelta(minutes=20)
    heard(store, "fw-s", "192.0.2.10", [last - dt.timedelta(seconds=30 * i) for i in range(100, -1, -1)])
    watch = SilenceWatch(store)
    (opened,) = watch.check(now)
    assert isinstance(opened, AlertOpen) and opened.kind == "pair_silent" and opened.severity == "warning"
    assert opened.started_at == last and opened.pair == "fw-s"
    assert "no message from fw-s for 20 min" in opened.detail and "192.0.2.10" in opened.detail
    assert watch.check(now) == []  # told once
    (stored,) = alert_list(store, open_only=True)
    assert stored["kind"] == "pair_silent" and stored["started_at"] == last.isoformat().replace("+00:00", "Z")
    back = now + dt.timedelta(seconds=5)
    heard(store, "fw-s", "192.0.2.10", [back])
    (resolved,) = watch.check(back + dt.timedelta(seconds=1))
    assert isinstance(resolved, AlertResolve) and resolved.alert_id == opened.alert_id and resolved.ended_at == back
    assert alert_list(store, open_only=True) == []


def test_quiet_pairs_recent_pairs_and_pairs_switched_off_are_not_told(store: Store) -> None:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    long_ago = now - dt.timedelta(minutes=30)
    # Talks now and then only (10 seconds in the hour before it fell quiet): not "normally talking".
    heard(store, "fw-rare", "192.0.2.20", [long_ago - dt.timedelta(minutes=5 * i) for i in range(10, -1, -1)])
    # Talks a lot, but was heard 5 minutes ago (silent_after is 15 min by default).
    recent = now - dt.timedelta(minutes=5)
    heard(store, "fw-busy", "192.0.2.30", [recent - dt.timedelta(seconds=10 * i) for i in range(200, -1, -1)])
    # Talks a lot and fell silent long ago, but its inventory switches the alert off.
    heard(store, "fw-off", "192.0.2.40", [long_ago - dt.timedelta(seconds=10 * i) for i in range(200, -1, -1)])
    inventory = parse_inventory(
        {"pairs": [{"name": "fw-off", "match": ["fw-off"], "silent_after": 0},
                   {"name": "fw-busy", "match": ["fw-busy"]}, {"name": "fw-rare", "match": ["fw-rare"]}]},
        "inventory",
    )  # fmt: skip
    assert SilenceWatch(store, inventory).check(now) == []
    # A worker only tells of the pairs it owns.
    assert SilenceWatch(store, owns=lambda p: p != "fw-off").check(now) == []
    (only,) = SilenceWatch(store).check(now)
    assert only.pair == "fw-off"  # without the inventory's `silent_after: 0`


def test_silent_after_in_the_inventory_is_checked() -> None:
    from hamon.errors import ConfigError

    ok = parse_inventory({"pairs": [{"name": "a", "match": ["a"], "silent_after": "300s"}]}, "inv")
    assert ok.pairs[0].silent_after == 300.0
    with pytest.raises(ConfigError, match="silent_after"):
        parse_inventory({"pairs": [{"name": "a", "match": ["a"], "silent_after": 5}]}, "inv")


def test_serve_tells_pair_silent_on_its_own_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import ServiceThread, wait_for

    from hamon.service import silent

    db = f"sqlite:///{tmp_path / 'hamon.db'}"
    s = Store(db)
    s.ensure_schema()
    now = dt.datetime.now(UTC).replace(microsecond=0)
    last = now - dt.timedelta(minutes=16)
    heard(s, "fw-live", "192.0.2.50", [last - dt.timedelta(seconds=20 * i) for i in range(100, -1, -1)])
    monkeypatch.setattr(silent, "CHECK_EVERY", 0.0)
    svc = ServiceThread(db, None)
    try:
        (alert,) = wait_for(lambda: alert_list(s, open_only=True), timeout=15)
        assert alert["kind"] == "pair_silent" and alert["pair"] == "fw-live"
    finally:
        svc.stop()


def test_pairs_of_a_replayed_archive_are_history_not_silent(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hamon.cli import main

    db = f"sqlite:///{tmp_path / 'hamon.db'}"
    example = Path(__file__).resolve().parent.parent / "examples" / "asa-pair.log"
    assert CliRunner().invoke(main, ["--db", db, "replay", str(example), "--no-progress"]).exit_code == 0
    store = Store(db)
    assert store.sources()  # the archive's senders were heard, days ago
    assert SilenceWatch(store).check(dt.datetime.now(UTC)) == []


def test_one_sender_of_a_pair_falling_silent_is_told_with_its_unit(store: Store) -> None:
    """The standby's address stops logging while the active's still talks: pair_silent for that
    sender, with the unit a poll found answering there; the pair itself is not silent."""
    now = dt.datetime.now(UTC).replace(microsecond=0)
    quiet_since = now - dt.timedelta(minutes=20)
    heard(store, "fw-u", "192.0.2.21", [quiet_since - dt.timedelta(seconds=30 * i) for i in range(100, -1, -1)])
    heard(store, "fw-u", "192.0.2.20", [now - dt.timedelta(seconds=30 * i) for i in range(150, -1, -1)])
    store.record_poll("fw-u", "secondary", now - dt.timedelta(hours=1), "192.0.2.21:22", {"hosts": {}})
    watch = SilenceWatch(store)
    (opened,) = watch.check(now)
    assert isinstance(opened, AlertOpen) and opened.unit == "secondary" and opened.started_at == quiet_since
    assert opened.detail.startswith("sender 192.0.2.21 (secondary, by its last poll) of fw-u not heard for 20 min")
    assert watch.check(now) == []  # told once
    later = now + dt.timedelta(seconds=40)
    heard(store, "fw-u", "192.0.2.21", [later])
    (resolved,) = watch.check(later + dt.timedelta(seconds=1))
    assert isinstance(resolved, AlertResolve) and resolved.alert_id == opened.alert_id


def test_a_whole_pair_silent_is_one_alert_not_one_per_sender(store: Store) -> None:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    last = now - dt.timedelta(minutes=30)
    for sender in ("192.0.2.30", "192.0.2.31"):
        heard(store, "fw-w", sender, [last - dt.timedelta(seconds=30 * i) for i in range(100, -1, -1)])
    (opened,) = SilenceWatch(store).check(now)
    assert opened.unit is None and opened.detail.startswith("no message from fw-w for 30 min")


def test_a_sender_that_seldom_talks_is_not_told_for_being_quiet(store: Store) -> None:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    heard(store, "fw-q", "192.0.2.40", [now - dt.timedelta(minutes=20), now - dt.timedelta(minutes=50)])
    heard(store, "fw-q", "192.0.2.41", [now - dt.timedelta(seconds=30 * i) for i in range(150, -1, -1)])
    assert SilenceWatch(store).check(now) == []


def test_pairs_shows_a_silent_pair(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from hamon.cli import main

    db = f"sqlite:///{tmp_path / 'h.db'}"
    example = Path(__file__).parent.parent / "examples" / "asa-pair.log"
    assert CliRunner().invoke(main, ["--db", db, "replay", str(example), "--no-progress"]).exit_code == 0
    store = Store(db)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    last = now - dt.timedelta(minutes=25)
    heard(store, "fw-edge", "192.0.2.50", [last - dt.timedelta(seconds=30 * i) for i in range(100, -1, -1)])
    (opened,) = SilenceWatch(store).check(now)
    store.close()
    pairs = {p["pair"]: p for p in json.loads(CliRunner().invoke(main, ["--db", db, "pairs", "--json"]).stdout)}
    assert pairs["fw-edge"]["silent_since"] == opened.started_at.isoformat().replace("+00:00", "Z")
    assert pairs["fw-dc"]["silent_since"] is None
    text = CliRunner().invoke(main, ["--db", db, "pairs"]).stdout
    edge = next(line for line in text.splitlines() if line.startswith("fw-edge"))
    dc = next(line for line in text.splitlines() if line.startswith("fw-dc"))
    assert f"since {last:%H:%M:%S}Z (25m" in edge and " no " in dc
