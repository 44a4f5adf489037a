"""Hostile lines: absurd times, huge numbers, markup and terminal escapes. Each is quarantined with a
reason or shown as literal text; the rest of its batch is stored; nothing later fails to read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import parse_bytes

from hamon.cli import main

GOOD = b"<161>Nov 25 2026 10:00:01 fwok : %ASA-1-104001: (Primary) Switching to ACTIVE - Set by the config command."
HOSTILE = {
    b"<161>Dec 31 9999 23:59:59 -01:00 fwx : %ASA-1-104001: (Primary) Switching to ACTIVE": "not a real date",
    b"<161>9999-12-31T23:59:59-01:00 fwx : %ASA-1-104001: (Primary) Switching to ACTIVE": "not a real date",
    b"<161>0001-01-01T00:00:00+01:00 fwx : %ASA-1-104001: (Primary) Switching to ACTIVE": "not a real date",
    b"<161>Nov 25 0999 10:00:00 fwy : %ASA-1-104001: (Primary) Switching to ACTIVE": "before 1990",
    b"<161>Nov 25 2031 10:00:00 fwy : %ASA-1-104001: (Primary) Switching to ACTIVE": "more than 2 days after",
    b"<161>Nov 25 2026 10:60:00 fwy : %ASA-1-104001: (Primary) Switching to ACTIVE": "not a real date",
    b"<161>Nov 25 2026 10:00:00 fwz : %ASA-1-210022: LU missed 99999999999999999999999 updates": "value",
    b"<161>Nov 25 2026 10:00:00 fwz : %ASA-1-104001: (Primary_group_99999999999999999999999) Switching to ACTIVE": (
        "failover group"
    ),
}


@pytest.mark.parametrize("pure_python", [False, True], ids=["c-scanner", "python-scanner"])
def test_hostile_lines_are_quarantined_and_the_rest_is_kept(pure_python: bool) -> None:
    data = b"\n".join([*HOSTILE, GOOD]) + b"\n"
    result, _ = parse_bytes(data, pure_python=pure_python)
    assert [e.device_id for e in result.events] == ["fwok"]
    assert result.accounted == result.lines == len(HOSTILE) + 1
    for q, want in zip(result.quarantined, HOSTILE.values(), strict=True):
        assert want in q.reason, (q.raw, q.reason)


def test_a_replay_with_hostile_lines_stores_the_rest_and_every_read_works(tmp_path: Path) -> None:
    capture = tmp_path / "hostile.log"
    capture.write_bytes(b"\n".join([*HOSTILE, GOOD]) + b"\n")
    db = ["--db", f"sqlite:///{tmp_path / 'h.db'}"]
    summary = CliRunner().invoke(main, [*db, "replay", str(capture), "--json", "--no-progress"])
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout)["quarantined"] == len(HOSTILE)
    for command in (["events"], ["sources"], ["quarantine"], ["correlate"], ["pairs"], ["failovers"], ["alerts"]):
        result = CliRunner().invoke(main, [*db, *command, "--json"])
        assert result.exit_code == 0, (command, result.output)
    assert [e["source"] for e in json.loads(CliRunner().invoke(main, [*db, "events", "--json"]).stdout)] == ["fwok"]


def test_markup_and_terminal_escapes_from_the_wire_are_shown_as_literal_text(tmp_path: Path) -> None:
    capture = tmp_path / "escapes.log"
    capture.write_bytes(
        b"<161>Nov 25 2026 10:00:00 fw-x : %ASA-1-104001: (Primary) Switching to ACTIVE - [/bold] "
        b"\x1b]0;pwned\x07\x1b[2J\n"
        b"<161>Nov 25 2026 10:00:05 fw-x : %ASA-1-104002: (Secondary) Switching to STANDBY - [red]x\x1b[31m\n"
        b"<161>Nov 25 2026 10:00:06 fw-x : %ASA-1-104001: \x1b[2J garbage that is not a takeover text\n"
        b"<161>Nov 25 2026 10:00:07 fw[/bold]\x1b[2J : %ASA-1-104001: (Primary) Switching to ACTIVE\n"
    )
    db = ["--db", f"sqlite:///{tmp_path / 'e.db'}"]
    assert CliRunner().invoke(main, [*db, "replay", str(capture), "--no-progress"]).exit_code == 0
    for command in (
        ["events"],
        ["failovers"],
        ["alerts"],
        ["pairs"],
        ["quarantine"],
        ["sources"],
        ["timeline", "fw-x"],
    ):
        result = CliRunner().invoke(main, [*db, *command])
        assert result.exit_code == 0, (command, result.output)
        assert "\x1b" not in result.output and "\x07" not in result.output, command
    events = CliRunner().invoke(main, [*db, "events"]).output
    assert "[/bold]" in events and "#033]0;pwned#007#033[2J" in events  # shown, literally, as rsyslog does
    quarantined = json.loads(CliRunner().invoke(main, [*db, "quarantine", "--json"]).stdout)
    reasons = sorted(q["reason"] for q in quarantined)
    assert reasons[0].startswith("malformed: 104001") and reasons[1].startswith("pair name 'fw[/bold]")


def test_a_database_password_is_never_printed() -> None:
    url = "postgresql+psycopg://hamon:s3cret-pw@127.0.0.1:1/hamon?connect_timeout=1"
    result = CliRunner().invoke(main, ["--db", url, "db", "info"])
    assert result.exit_code == 1 and "cannot connect to PostgreSQL at 127.0.0.1:1:" in result.output
    assert "(--db / HAMON_DB)" in result.output and "s3cret-pw" not in result.output
