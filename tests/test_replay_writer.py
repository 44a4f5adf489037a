"""The replay's store writer: bounded by events waiting, nothing lost, a store error surfaces."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from hamon.errors import StoreError
from hamon.model import RawBatch
from hamon.parse.batch import BatchParser
from hamon.service.replay import StoreWriter
from hamon.store import Store

LINE = "<161>Nov 25 2026 10:{m:02d}:{s:02d} fw-{u} : %ASA-1-105008: (Primary) Testing Interface if{n}\n"


def parsed(n: int, offset: int = 0):
    data = "".join(LINE.format(m=(i // 60) % 60, s=i % 60, u=i % 7, n=i + offset) for i in range(n)).encode()
    import datetime as dt

    res = BatchParser(lambda device_id, source: device_id or source).parse(
        RawBatch(data, dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC), "file", "file", "test", "t")
    )
    assert len(res.events) == n
    return res.events


def test_every_batch_is_stored_and_waiting_events_stay_bounded(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    writer = StoreWriter(store, max_events=50)
    highest = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal highest
        while not stop.is_set():
            highest = max(highest, writer._queued)
            time.sleep(0.0005)

    w = threading.Thread(target=watch)
    w.start()
    try:
        batches = [parsed(30, offset=k * 30) for k in range(20)]
        for b in batches:
            writer.put(b, [])
        while writer._queued:  # the small batches written
            time.sleep(0.001)
        small = highest
        writer.put(parsed(120, offset=10_000), [])  # bigger than the bound: it goes alone
        assert writer.close() == 20 * 30 + 120
    finally:
        stop.set()
        w.join()
    assert len(store.events()) == 720
    assert 0 < small <= 50  # never more than the bound waited
    assert highest <= 120


def test_a_store_error_is_raised_not_dropped(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    writer = StoreWriter(store, max_events=50)
    store.engine.dispose()
    (tmp_path / "s.db").unlink()
    (tmp_path / "s.db").mkdir()  # the store's file is gone and cannot come back
    with pytest.raises(StoreError):
        for k in range(5):
            writer.put(parsed(30, offset=k * 30), [])
            time.sleep(0.05)
        writer.close()


def test_batches_are_committed_together_but_a_trickle_is_stored_as_it_comes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    writer = StoreWriter(store, max_events=10_000, commit_events=10_000)
    try:
        writer.put(parsed(30), [])  # far fewer than a commit's worth, and nothing follows for now
        reader = Store(f"sqlite:///{tmp_path / 's.db'}")
        deadline = time.monotonic() + 5
        seen = 0
        while time.monotonic() < deadline and seen < 30:
            seen = len(reader.events())
            time.sleep(0.02)
        assert seen == 30, "a lone batch waited for others longer than COMMIT_WITHIN"
        assert time.monotonic() < deadline
        for k in range(1, 11):
            writer.put(parsed(30, offset=k * 30), [])
    finally:
        assert writer.close() == 11 * 30
    assert len(store.events()) == 330


@pytest.mark.parametrize("n", [10, 2500])  # a prepared INSERT, and COPY through a temporary table
def test_new_events_come_back_once_whichever_way_they_are_written(store_url: str, n: int) -> None:
    store = Store(store_url)
    first = parsed(n)
    assert [e.event_id for e in store.add_new_events(first[: n // 2])] == [e.event_id for e in first[: n // 2]]
    # Half of it again, the rest new, a duplicate of a new one inside the batch: only the new come
    # back, once each, in the order given — and the first of two copies is the one stored.
    again = first + [first[-1]]
    assert [e.event_id for e in store.add_new_events(again)] == [e.event_id for e in first[n // 2 :]]
    assert store.add_new_events(first) == []
    with store.one_transaction("two batches"):  # two large batches in one transaction
        more = parsed(n, offset=100_000)
        assert len(store.add_new_events(more[: n // 2])) == n // 2
        assert len(store.add_new_events(more)) == n - n // 2
    stored = store.events()
    assert len(stored) == 2 * n
    assert sorted(e.event_id for e in stored) == sorted({e.event_id for e in first + more})
    assert {e.event_id: e for e in stored}[first[0].event_id] == first[0]
