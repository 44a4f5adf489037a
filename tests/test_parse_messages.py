"""Every catalog id: `fixtures/messages/<id>.raw` beside `<id>.yml`, one expectation per line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import parse_bytes

from hamon.parse.catalog import CATALOG, is_failover

DIR = Path(__file__).parent / "fixtures" / "messages"
CASES = sorted(DIR.glob("*.raw"))
FIELDS = (
    "kind",
    "unit",
    "group",
    "cause",
    "cause_text",
    "interface",
    "reason_code",
    "value",
    "mate_version",
    "our_version",
    "command",
    "status",
    "my_state",
    "peer_state",
)


def _field(event: object, name: str) -> object:
    value = getattr(event, name)
    return getattr(value, "value", value)


@pytest.mark.parametrize("raw", CASES, ids=[p.stem for p in CASES])
def test_message_fixture(raw: Path) -> None:
    expected = yaml.safe_load(raw.with_suffix(".yml").read_text())
    result, _ = parse_bytes(raw.read_bytes())
    assert not result.quarantined, [q.reason for q in result.quarantined]
    assert len(result.events) == len(expected)
    for event, want in zip(result.events, expected, strict=True):
        assert event.msg_id == want["msg_id"]
        assert event.severity == want["severity"]
        for name in FIELDS:
            assert _field(event, name) == want.get(name), f"{raw.stem} {name}: {event.text}"


def test_every_catalog_id_has_a_fixture() -> None:
    have = {int(p.stem) for p in CASES}
    missing = sorted(set(CATALOG) - have)
    assert not missing, f"catalog ids without a fixture: {missing}"


def test_unknown_ids_in_failover_ranges_are_kept_as_generic_events() -> None:
    generic = [int(p.stem) for p in CASES if int(p.stem) not in CATALOG]
    assert generic, "there must be fixtures for unknown failover ids"
    assert all(is_failover(i) for i in generic)


def test_non_failover_ids_are_counted_not_stored() -> None:
    data = (
        b"<166>Nov 25 2026 10:00:16 fw-edge : %ASA-6-302013: Built inbound TCP connection 1 for outside:"
        b"198.51.100.1/443 (198.51.100.1/443) to inside:10.0.0.1/51000 (10.0.0.1/51000)\n"
        b"<164>Nov 25 2026 10:00:17 fw-edge : %ASA-4-106023: Deny tcp src outside:203.0.113.9/4431 dst "
        b'inside:10.0.0.5/22 by access-group "outside_in" [0x0, 0x0]\n'
    )
    result, parser = parse_bytes(data)
    assert result.events == [] and result.quarantined == []
    assert result.ordinary == 2
    (act,) = parser.drain_activity()
    assert (act.source, act.lines) == ("fw-edge", 2)
    assert act.last_at is not None and act.last_at.second == 17


def test_failover_id_quoted_inside_another_message_is_not_an_event() -> None:
    data = b"<166>Nov 25 2026 10:00:16 fw-edge : %ASA-6-199005: text mentions %ASA-1-104001: Switching to ACTIVE\n"
    for pure in (False, True):
        result, _ = parse_bytes(data, pure_python=pure)
        assert result.events == [] and result.ordinary == 1


def test_a_line_repeated_in_a_batch_is_parsed_once_and_is_the_same_event(monkeypatch) -> None:
    import datetime as dt

    from hamon.model import RawBatch
    from hamon.parse import batch as batch_mod
    from hamon.parse.batch import BatchParser

    calls: list[int] = []
    real = batch_mod.parse_message

    def counting(msg_id: int, text: str):  # type: ignore[no-untyped-def]
        calls.append(msg_id)
        return real(msg_id, text)

    monkeypatch.setattr(batch_mod, "parse_message", counting)
    one = (
        "<161>Nov 25 2026 10:00:01 fw-a : %ASA-1-104001: (Secondary) Switching to ACTIVE - HELLO not heard from mate.\n"
    )
    two = "<161>Nov 25 2026 10:00:01 fw-a : %ASA-1-105008: (Primary) Testing Interface inside\n"
    data = (one + two + one + one + two).encode()
    seq = iter(range(100, 200))
    res = BatchParser(lambda d, s: d or s, next_seq=lambda: next(seq)).parse(
        RawBatch(data, dt.datetime(2026, 11, 25, 10, 0, 5, tzinfo=dt.UTC), "file", "file", "test", "t")
    )
    assert len(calls) == 2  # each distinct line parsed once
    assert [e.seq for e in res.events] == [100, 101, 102, 103, 104]  # arrival order kept
    assert [e.msg_id for e in res.events] == [104001, 105008, 104001, 104001, 105008]
    first, again = res.events[0], res.events[2]
    assert again.event_id == first.event_id and again != first
    assert {f: getattr(again, f) for f in first.__dataclass_fields__ if f != "seq"} == {
        f: getattr(first, f) for f in first.__dataclass_fields__ if f != "seq"
    }
    assert res.lines == 5 and res.ordinary == 0 and not res.quarantined
