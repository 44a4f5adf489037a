"""Bad input is counted and quarantined with a reason; it never raises and never vanishes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import REFERENCE, parse_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

DIR = Path(__file__).parent / "fixtures" / "bad"
CASES = sorted(DIR.glob("*.raw"))


@pytest.mark.parametrize("pure_python", [False, True], ids=["c-scanner", "python-scanner"])
@pytest.mark.parametrize("raw", CASES, ids=[p.stem for p in CASES])
def test_bad_line_is_quarantined_with_reason(raw: Path, pure_python: bool) -> None:
    want = yaml.safe_load(raw.with_suffix(".yml").read_text())
    result, _ = parse_bytes(raw.read_bytes(), pure_python=pure_python)
    assert len(result.quarantined) == 1
    q = result.quarantined[0]
    assert q.reason.startswith(want["reason"]), q.reason
    assert q.line_no == want["line_no"]
    assert len(result.events) == want["events"]  # the good lines around it still count
    assert result.accounted == result.lines == 3
    assert q.raw_len >= len(q.raw) and len(q.raw) <= 4096


def test_blank_lines_are_counted() -> None:
    result, _ = parse_bytes(b"\n\r\n   \n")
    assert (result.lines, result.blank, result.accounted) == (3, 3, 3)


def test_other_syslog_is_traffic_not_quarantine() -> None:
    result, parser = parse_bytes(b"<13>Nov 25 10:00:16 linuxhost sshd[812]: Accepted publickey for admin\n")
    assert (result.other, result.quarantined) == (1, [])
    assert [a.source for a in parser.drain_activity()] == ["linuxhost"]


def test_final_line_without_newline_is_parsed() -> None:
    result, _ = parse_bytes(b"<166>Nov 25 2026 10:00:16 fw-edge : %ASA-1-105032: LAN Failover interface is down")
    assert [e.kind for e in result.events] == ["failover_link_down"]


LINE = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"<166>Nov 25 2026 10:00:16 fw-a : %ASA-1-104001: (Primary) Switching to ACTIVE - HELLO not heard from mate.",
            b"<166>Nov 25 2026 10:00:16 fw-a : %ASA-6-302013: Built inbound TCP connection 9",
            b"2026-11-25T10:00:16.120+00:00 192.0.2.10 %ASA-1-105009: (Secondary) Testing on interface inside Failed",
            b"<166>%ASA-1-1040",
            b"",
            b"%ASA-1-104002: (Primary) Switching to STNDBY - Detected an Active mate",
            b"<161>Dec 31 9999 23:59:59 -01:00 fwx : %ASA-1-104001: (Primary) Switching to ACTIVE",
            b"<161>Nov 25 2026 10:60:00 fwy : %ASA-1-104001: (Primary) Switching to ACTIVE",
            b"<161>Nov 25 0999 10:00:00 fwy : %ASA-6-302013: Built inbound TCP connection 9",
            b"<161>Nov 25 2026 10:00:00 fwz : %ASA-1-210022: LU missed 99999999999999999999999 updates",
        ]
    ),
    st.text(max_size=120).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, max_size=30))
def test_any_bytes_are_accounted_for_and_both_scanners_agree(lines: list[bytes]) -> None:
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    results = []
    for pure in (False, True):
        result, parser = parse_bytes(data, pure_python=pure)
        assert result.accounted == result.lines
        results.append(
            (
                result.lines,
                result.blank,
                result.ordinary,
                result.other,
                [e.to_json() for e in result.events],
                [(q.line_no, q.reason) for q in result.quarantined],
                sorted((a.source, a.hour, a.lines, a.last_at, a.seconds) for a in parser.drain_activity()),
            )
        )
    assert results[0] == results[1]


def test_the_c_scanner_is_built_where_ci_runs() -> None:
    import os

    from hamon.parse import batch

    if os.environ.get("CI") and batch._c_scan is None:
        pytest.fail("the C line scanner did not build; the parity tests would only test the Python scanner")
    if batch._c_scan is None:
        pytest.skip("no C scanner in this build")
    assert batch.BatchParser(lambda d, s: s)._scan is batch._c_scan


def test_one_relay_address_forwarding_two_firewalls_keeps_both_messages() -> None:
    same = "%ASA-1-105032: LAN Failover interface is down"
    data = f"<161>Nov 25 2026 10:00:00 fw-a : {same}\n<161>Nov 25 2026 10:00:00 fw-b : {same}\n".encode()
    from hamon.model import RawBatch
    from hamon.parse.batch import BatchParser
    from hamon.resolve.pairs import PairResolver

    batch = RawBatch(data, REFERENCE, "192.0.2.99", "udp", "syslog-udp")  # live: one sender address
    events = BatchParser(PairResolver().resolve).parse(batch).events
    assert [e.pair for e in events] == ["fw-a", "fw-b"]
    assert len({e.event_id for e in events}) == 2


@pytest.mark.parametrize("pure_python", [False, True], ids=["c-scanner", "python-scanner"])
def test_class_tagged_messages_are_ordinary_or_failover_messages_not_malformed(pure_python: bool) -> None:
    data = (
        b"<164>Nov 25 2026 10:00:15 fw-edge : %ASA-auth-4-113004: AAA user authentication Successful\n"
        b"<161>Nov 25 2026 10:00:16 fw-edge : %ASA-ha-1-104001: (Secondary) Switching to ACTIVE - HELLO not heard"
        b" from mate.\n"
    )
    result, parser = parse_bytes(data, pure_python=pure_python)
    assert result.quarantined == []
    assert (result.ordinary, [e.kind for e in result.events]) == (1, ["switch_active"])
    assert sum(a.lines for a in parser.drain_activity()) == 2
