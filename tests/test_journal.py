"""The intake journal on its own: what goes in comes back, in order, after a reopen, a torn write, a
damaged record, a full disk; committed segments go; the folder is private and held by one process."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import mounted_tmpfs

from hamon.bus.journal import HEAD, Backlog, Journal, JournalBus, decode, encode, record
from hamon.errors import ConfigError
from hamon.model import PolledEvents, RawBatch, Unit
from hamon.parse.batch import BatchParser
from hamon.parse.timestamps import zone

T0 = dt.datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=dt.UTC)
TAKEOVER = b"<161>fw-a : %ASA-1-104001: (Secondary) Switching to ACTIVE - mate want me Active\n"


def raw(i: int, size: int = 40) -> RawBatch:
    body = f"<166>fw-{i % 7} : %ASA-1-105008: (Primary) Testing Interface if{i}".encode()
    return RawBatch(
        body + b"z" * max(0, size - len(body)) + b"\n",
        T0 + dt.timedelta(microseconds=i),
        f"192.0.2.{i % 250}",
        "tls",
        "syslog-tls",
        f"tls:192.0.2.{i % 250}",
        ("sha256:ab", f"CN=fw-{i}"),
    )


def test_a_raw_batch_and_a_poll_come_back_as_they_went_in() -> None:
    b = raw(3)
    assert decode(encode(b)) == b
    odd = RawBatch(b"\xff\x00\n", T0, "h\udcff", "udp", "syslog-udp", "", ())  # bytes and names as received
    assert decode(encode(odd)) == odd
    parsed = BatchParser(lambda device, source: device or source, zone("UTC")).parse(
        RawBatch(TAKEOVER, T0, "10.0.0.1", "snmp", "snmp-trap", "snmp:10.0.0.1")
    )
    e = parsed.events[0]
    assert e.unit is Unit.SECONDARY
    polled = PolledEvents((e,), "10.0.0.1", "snmp", ("lab-a", "primary", {"hosts": [1, 2]}))
    back = decode(encode(polled))
    assert isinstance(back, PolledEvents) and back.events == (e,) and back.polled == polled.polled


def test_appended_batches_read_back_in_order_across_segments_and_a_reopen(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", segment_bytes=4096)
    where = [j.append(raw(i)) for i in range(300)]
    assert all(w is not None for w in where) and len(list((tmp_path / "j").glob("*.hjl"))) > 5
    got = j.read(0, max_records=1000)
    assert [e.batch for e in got] == [raw(i) for i in range(300)]
    assert [(e.start, e.end) for e in got] == where
    j.commit(got[99].end, force=True)  # the first 100 are stored
    j.close()
    j = Journal(tmp_path / "j", segment_bytes=4096)
    assert j.committed == got[99].end and j.recovered == j.end - got[99].end
    assert [e.batch for e in j.read(j.committed, max_records=1000)] == [raw(i) for i in range(100, 300)]
    first = min(int(p.stem, 16) for p in (tmp_path / "j").glob("*.hjl"))
    assert first > 0 and first <= got[99].end, "segments wholly committed are removed, the rest kept"
    j.close()


def test_a_record_cut_short_at_the_end_is_removed_and_the_rest_kept(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    for i in range(10):
        j.append(raw(i))
    j.close()
    seg = next((tmp_path / "j").glob("*.hjl"))
    whole = seg.stat().st_size
    with seg.open("ab") as f:
        f.write(record(raw(10))[:25])  # a crash in the middle of a write
    j = Journal(tmp_path / "j")
    assert j.end == whole and seg.stat().st_size == whole
    assert [e.batch for e in j.read(0)] == [raw(i) for i in range(10)]
    assert j.append(raw(11)) == (whole, whole + len(record(raw(11))))
    assert [e.batch for e in j.read(0)][-1] == raw(11)
    j.close()


def test_a_damaged_record_is_skipped_counted_and_the_next_ones_read(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    spots = [j.append(raw(i, 200)) for i in range(5)]
    seg = next((tmp_path / "j").glob("*.hjl"))
    data = bytearray(seg.read_bytes())
    start = spots[2][0]  # type: ignore[index]
    data[start + HEAD.size + 50] ^= 0xFF  # bit rot inside the third record's payload
    seg.write_bytes(bytes(data))
    got = [e.batch for e in j.read(0)]
    assert got == [raw(0, 200), raw(1, 200), raw(3, 200), raw(4, 200)]
    assert j.corrupt_bytes == spots[2][1] - spots[2][0]  # type: ignore[index]
    j.close()


def test_full_journal_refuses_new_input_and_keeps_what_it_holds(tmp_path: Path) -> None:
    size = len(record(raw(0, 1000)))
    j = Journal(tmp_path / "j", max_bytes=size * 5)
    taken = [j.append(raw(i, 1000)) for i in range(8)]
    assert taken.count(None) == 3 and j.refused == 3 and j.refusing and "full" in j.refusing
    j.commit(taken[1][1], force=True)  # type: ignore[index]  # two stored: room for two more
    assert j.append(raw(20, 1000)) is not None and j.refusing is None
    assert [e.batch for e in j.read(j.committed)] == [raw(i, 1000) for i in (2, 3, 4)] + [raw(20, 1000)]
    j.close()


def test_the_backlog_says_how_fast_it_is_stored_and_when_it_will_be_empty(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    now = [100.0]
    backlog = Backlog(j, clock=lambda: now[0])
    size = len(record(raw(0, 1000)))
    ends = [j.append(raw(i, 1000))[1] for i in range(10)]  # type: ignore[index]
    now[0] += 2.0
    first = backlog.read()  # 10 records in, none stored: not shrinking
    assert first == {"stored_bytes_per_s": 0.0, "received_bytes_per_s": round(10 * size / 2, 1), "empty_in_s": None}
    j.commit(ends[5], force=True)  # 6 stored and 1 more in, in 1 s
    j.append(raw(10, 1000))
    now[0] += 1.0
    second = backlog.read()
    late = len(record(raw(10, 1000)))
    assert second["stored_bytes_per_s"] == 6 * size and second["received_bytes_per_s"] == late
    assert second["empty_in_s"] == round((4 * size + late) / (6 * size - late), 1)
    j.commit(j.end, force=True)
    now[0] += 1.0
    assert backlog.read()["empty_in_s"] == 0.0 and backlog.last["stored_bytes_per_s"] == 4 * size + late
    j.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB file system (tmpfs) that fills up for real: writes there fail with ENOSPC."""
    yield from mounted_tmpfs(tmp_path / "disk", "256k")


def test_a_full_disk_refuses_whole_records_and_takes_input_again_as_committed_segments_go(small_disk: Path) -> None:
    j = Journal(small_disk / "j", segment_bytes=32 << 10, fsync=False)
    spots = [j.append(raw(i, 1000)) for i in range(400)]
    ok = [s for s in spots if s is not None]
    assert 150 < len(ok) < 260 and j.refused == 400 - len(ok)
    assert j.refusing is not None and "No space left on device" in j.refusing
    assert [e.batch for e in j.read(0, max_records=1000)] == [raw(i, 1000) for i in range(len(ok))], (
        "every accepted batch reads back whole, none cut short by the full disk"
    )
    j.commit(ok[150][1], force=True)  # the store took the first 151: their segments go
    assert j.append(raw(1000, 1000)) is not None and j.refusing is None
    j.close()
    j = Journal(small_disk / "j", fsync=False)
    back = [e.batch for e in j.read(j.committed, max_records=1000)]
    assert back == [raw(i, 1000) for i in range(151, len(ok))] + [raw(1000, 1000)]
    j.close()


def test_the_folder_is_private_and_held_by_one_process(tmp_path: Path) -> None:
    d = tmp_path / "shared"
    d.mkdir(mode=0o777)
    os.chmod(d, 0o777)
    j = Journal(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE(next(d.glob("*.hjl")).stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="in use by another hamon process"):
        Journal(d)
    j.close()
    Journal(d).close()  # free again once closed
    if os.getuid() == 0:
        other = tmp_path / "other"
        other.mkdir()
        os.chown(other, 12345, 12345)
        with pytest.raises(ConfigError, match="belongs to another user"):
            Journal(other)


def test_the_bus_reads_back_from_disk_what_memory_could_not_hold(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    bus = JournalBus(j, memory_bytes=5000)
    for i in range(50):
        assert bus.publish(raw(i, 500), block=False)
    assert bus.depth() < 15, "memory holds what fits; the rest is only in the journal"
    got = []
    while (b := bus.consume(0.0)) is not None:
        got.append(b)
    assert got == [raw(i, 500) for i in range(50)] and bus.read_back > 0
    assert bus.position == j.end
    bus.commit(bus.position, force=True)
    assert j.held == 0
    j.close()
